"""A folder made by the real ``drizzle-kit generate`` gives the schema drizzle's migrator gives.

The issue promises drizzle users that they can point kubemigrate at their existing
``drizzle/`` folder unchanged. The only convincing check is against drizzle itself:
the fixture in ``tests/fixtures/drizzle-kit/`` was produced by drizzle-kit (see its
README), drizzle-orm's own ``migrate()`` applies it to database A, ``kubemigrate
migrate`` applies it to database B, and ``pg_dump --schema-only`` of the two must
match once each tool's bookkeeping tables are left out.

The real drizzle output has traits a hand-written sample would miss: the
``--> statement-breakpoint`` marker at the *end* of a statement's line, a custom
migration whose first line is a comment, a plpgsql body with semicolons inside
dollar quotes, ``ALTER TYPE ... ADD VALUE`` in a transaction, and no ``.down.sql``.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kubemigrate.devcluster import postgres
from tests.integration.helpers import CATALOG_BACK, ENUM_BACK, finish_by_hand, pg_dump_schema

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "drizzle-kit"
MIGRATIONS = FIXTURE / "drizzle"

# Pinned to the versions recorded in the fixture's README: the migrator's behaviour
# (one transaction, its own hash table) is what the comparison is against.
NPM_PACKAGES = {"drizzle-orm": "0.45.4", "pg": "8.23.1"}

# drizzle-orm's migrator, as a drizzle user's deploy script would call it. The
# ``{ client }`` form works in 0.45 and 1.0; 1.0 no longer takes a bare Pool (it reads
# one as a connection config and connects to localhost:5432 instead). The optional
# fourth and fifth arguments are its migrationsSchema and migrationsTable options.
MIGRATOR_JS = """\
const { drizzle } = require("drizzle-orm/node-postgres");
const { migrate } = require("drizzle-orm/node-postgres/migrator");
const { Pool } = require("pg");

(async () => {
  const pool = new Pool({ connectionString: process.argv[2] });
  const config = { migrationsFolder: process.argv[3] };
  if (process.argv[4]) config.migrationsSchema = process.argv[4];
  if (process.argv[5]) config.migrationsTable = process.argv[5];
  try {
    await migrate(drizzle({ client: pool }), config);
  } finally {
    await pool.end();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
"""

# Each tool's own bookkeeping, which is not part of the user's schema.
PG_DUMP_EXCLUDES = [
    "--exclude-schema=drizzle",  # drizzle.__drizzle_migrations
    "--exclude-table=public.__drizzle_migrations*",  # older drizzle versions, in public
    # kubemigrate's __migration_tracking (and its id sequence), __migration_history and
    # __migration_dirty: every table of ours shares the prefix.
    "--exclude-table=public.__migration_*",
]

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="npm/node not on PATH: drizzle's own migrator (an npm package) is the reference",
)


def _npm_cache(packages: dict[str, str] = NPM_PACKAGES) -> Path:
    """Where the pinned npm packages live: a user cache outside the git tree, reused."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = "-".join(f"{name}-{version}" for name, version in sorted(packages.items()))
    return base / "kubemigrate" / "npm" / tag


def install_migrator(packages: dict[str, str]) -> Path:
    """Install ``packages`` (pinned) once, and return the migrator script's path.

    The script sits in the install prefix so that node resolves ``require`` there.
    drizzle-orm 1.0 keeps the entry points (``drizzle-orm/node-postgres`` and
    ``drizzle-orm/node-postgres/migrator``), so one script serves both versions.
    """
    prefix = _npm_cache(packages)
    prefix.mkdir(parents=True, exist_ok=True)
    installed = all(
        _installed_version(prefix, name) == version for name, version in packages.items()
    )
    if not installed:
        specs = [f"{name}@{version}" for name, version in packages.items()]
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), *specs],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"npm install {specs} failed:\n{result.stderr}"
    script = prefix / "drizzle-migrate.cjs"
    script.write_text(MIGRATOR_JS)
    return script


@pytest.fixture(scope="module")
def drizzle_migrator() -> Path:
    """drizzle-orm + pg as pinned above, and the migrator script."""
    return install_migrator(NPM_PACKAGES)


def _installed_version(prefix: Path, package: str) -> str | None:
    manifest = prefix / "node_modules" / package / "package.json"
    if not manifest.exists():
        return None
    version = json.loads(manifest.read_text()).get("version")
    return version if isinstance(version, str) else None


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.PostgresServer]:
    """A throwaway server for this module; each test creates its own databases."""
    srv = postgres.start()
    try:
        yield srv
    finally:
        srv.destroy()


def _kubemigrate() -> list[str]:
    """The installed console script of the interpreter running the tests."""
    beside = Path(sys.executable).parent / "kubemigrate"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("kubemigrate")
    assert found, "the kubemigrate console script is not installed (pip install -e .)"
    return [found]


def _schema_dump(server: postgres.PostgresServer, database: str) -> str:
    """The schema as pg_dump prints it, minus lines that differ between any two dumps
    (``pg_dump_schema``) and whatever is bookkeeping: drizzle's table, kubemigrate's."""
    lines = pg_dump_schema(server.url(database), "--no-owner", "--no-privileges", *PG_DUMP_EXCLUDES)
    return "\n".join(lines)


def _clean_env() -> dict[str, str]:
    """The environment for the CLI, pinned to development whatever the caller's shell says."""
    env = {k: v for k, v in os.environ.items() if k not in {"NODE_ENV", "DATABASE_URL"}}
    env["KUBEMIGRATE_ENV"] = "development"
    return env


def test_drizzle_kit_folder_gives_the_same_schema_as_drizzles_migrator(
    server: postgres.PostgresServer, drizzle_migrator: Path
) -> None:
    server.create_database("by_drizzle")
    server.create_database("by_kubemigrate")

    by_drizzle = subprocess.run(
        ["node", str(drizzle_migrator), server.url("by_drizzle"), str(MIGRATIONS)],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    assert by_drizzle.returncode == 0, f"drizzle's migrator failed:\n{by_drizzle.stderr}"

    by_kubemigrate = subprocess.run(
        [
            *_kubemigrate(),
            "migrate",
            "--database-url",
            server.url("by_kubemigrate"),
            "--dir",
            str(MIGRATIONS),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    assert by_kubemigrate.returncode == 0, (
        f"kubemigrate migrate failed ({by_kubemigrate.returncode}):\n"
        f"{by_kubemigrate.stdout}\n{by_kubemigrate.stderr}"
    )

    expected = _schema_dump(server, "by_drizzle")
    actual = _schema_dump(server, "by_kubemigrate")
    # Guard against a vacuous pass (two empty dumps): the last migrations are there.
    assert "CREATE TABLE public.catalog_items" in expected
    assert "CREATE TRIGGER order_items_total" in expected
    diff = "\n".join(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            "drizzle-orm migrate()",
            "kubemigrate",
            lineterm="",
        )
    )
    assert actual == expected, f"schemas differ:\n{diff}"


def test_kubemigrate_records_each_drizzle_kit_file_once(
    server: postgres.PostgresServer,
) -> None:
    """The journal's order is the applied order, by file name, and a re-run is a no-op."""
    url = server.create_database("recorded")
    journal = json.loads((MIGRATIONS / "meta" / "_journal.json").read_text())
    expected = [f"{entry['tag']}.sql" for entry in journal["entries"]]
    command = [*_kubemigrate(), "migrate", "--database-url", url, "--dir", str(MIGRATIONS)]

    for _ in range(2):
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, env=_clean_env()
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"

    with psycopg.connect(url) as conn:
        names = [
            row[0]
            for row in conn.execute("SELECT migration_name FROM __migration_tracking ORDER BY id")
        ]
    assert names == expected


def _checkout(target: Path, form: str) -> Path:
    """The fixture folder as another checkout holds it: ``lf`` as committed, ``crlf`` as
    git's core.autocrlf writes it on Windows, ``bom`` as an editor that adds one saves it
    (drizzle's migrator sends a BOM to the server, which fails on it: never ``ran``)."""
    shutil.copytree(MIGRATIONS, target)
    for path in target.glob("*.sql"):
        data = path.read_bytes()
        if form == "crlf":
            path.write_bytes(data.replace(b"\n", b"\r\n"))
        elif form == "bom":
            path.write_bytes(b"\xef\xbb\xbf" + data)
    return target


@pytest.mark.parametrize(("ran", "here"), [("lf", "crlf"), ("crlf", "lf"), ("crlf", "bom")])
def test_a_database_drizzle_migrated_is_adopted_from_a_checkout_with_other_line_endings(
    server: postgres.PostgresServer, drizzle_migrator: Path, tmp_path: Path, ran: str, here: str
) -> None:
    """drizzle's migrator records the SHA-256 of each file as it read it; the folder
    kubemigrate adopts the database from may be another checkout, with other line
    endings. Baseline said "only 1 of the 5 files here match them: a file edited or
    removed since it ran"."""
    url = server.create_database(f"adopt_{ran}_{here}")
    by_drizzle = subprocess.run(
        ["node", str(drizzle_migrator), url, str(_checkout(tmp_path / ran, ran))],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    assert by_drizzle.returncode == 0, f"drizzle's migrator failed:\n{by_drizzle.stderr}"
    folder = _checkout(tmp_path / f"here_{here}", here)
    command = [*_kubemigrate(), "--database-url", url, "--dir", str(folder)]
    baseline = subprocess.run(
        [*command[:1], "baseline", "--env", "production", *command[1:]],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    assert baseline.returncode == 0, f"{baseline.stdout}\n{baseline.stderr}"
    assert "Baselined 5 migration(s)" in baseline.stdout
    migrate = subprocess.run(
        [*command[:1], "migrate", *command[1:]],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    assert migrate.returncode == 0, f"{migrate.stdout}\n{migrate.stderr}"
    assert "Nothing to migrate: 5 applied, 0 pending." in migrate.stdout


def test_a_folder_drizzle_migrated_gets_downs_it_ignores_and_rolls_back_after_baseline(
    server: postgres.PostgresServer, drizzle_migrator: Path, tmp_path: Path
) -> None:
    """A drizzle team's path: drizzle's own migrator applied the folder drizzle-kit wrote
    (no down files), kubemigrate adopts the database (baseline), then writes the downs.
    drizzle's migrator still runs the folder as before (it reads the journal's files
    alone), and kubemigrate rolls the database back to empty with the downs."""
    folder = Path(shutil.copytree(MIGRATIONS, tmp_path / "drizzle"))
    server.create_database("downs_empty")
    empty = _schema_dump(server, "downs_empty")
    url = server.create_database("downs_adopted")

    def km(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*_kubemigrate(), *args, "--database-url", url, "--dir", str(folder)],
            capture_output=True,
            text=True,
            check=False,
            env=_clean_env(),
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    def drizzle(database: str) -> None:
        ran = subprocess.run(
            ["node", str(drizzle_migrator), server.url(database), str(folder)],
            capture_output=True,
            text=True,
            check=False,
            env=_clean_env(),
        )
        assert ran.returncode == 0, f"drizzle's migrator failed:\n{ran.stderr}"

    drizzle("downs_adopted")
    migrated = _schema_dump(server, "downs_adopted")
    assert "Baselined 5 migration(s)" in km("baseline").stdout
    made = km("generate-downs")
    assert "5 down file(s) written (2 with a note)." in made.stdout
    assert made.stdout.count("applied, with no rollback SQL stored") == 5

    server.create_database("downs_by_drizzle")
    drizzle("downs_by_drizzle")  # the .down.sql files beside the journal's: ignored
    assert _schema_dump(server, "downs_by_drizzle") == migrated

    finish_by_hand(folder / "0002_rename_full_name.down.sql", ENUM_BACK)
    finish_by_hand(folder / "0003_rename_products_to_catalog_items.down.sql", CATALOG_BACK)
    km("rollback", "--force")  # --force: baselined migrations, whose downs drop what was there
    assert _schema_dump(server, "downs_adopted") == empty
