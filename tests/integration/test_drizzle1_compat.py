"""drizzle-kit 1.0's folder layout, read unchanged, gives the schema drizzle-orm 1.0 gives.

drizzle-kit 1.0 writes one ``<timestamp>_name/`` folder per migration (``migration.sql``
plus ``snapshot.json``) and no journal; ``tests/fixtures/drizzle-kit-1/`` is the real
output of ``drizzle-kit generate`` 1.0.0-rc.5 (see its README). As for the 0.x layout
(``test_drizzle_compat.py``), drizzle-orm 1.0's own ``migrate()`` applies it to one
database and ``kubemigrate migrate`` to another, and ``pg_dump --schema-only`` of the
two must match. The rest covers what kubemigrate adds on top of the layout: the
tracking names (``<folder>.sql``), ``--target`` by folder name, ``down.sql`` in the
folder for rollback, ``generate`` writing the next folder, and the switch from a 0.x
folder that ``drizzle-kit up`` converted.
"""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from kubemigrate.devcluster import postgres
from tests.integration.test_drizzle_compat import (
    MIGRATIONS as DRIZZLE_0_MIGRATIONS,
)
from tests.integration.test_drizzle_compat import (
    _clean_env,
    _kubemigrate,
    _schema_dump,
    install_migrator,
    server,
)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "drizzle-kit-1"
MIGRATIONS = FIXTURE / "drizzle"
FOLDERS = [
    "20261129085527_initial_schema",
    "20261129085532_add_phone_and_order_items",
    "20261129085536_rename_full_name",
    "20261129085542_rename_products_to_catalog_items",
    "20261129085545_order_totals_trigger",
]
NAMES = [f"{folder}.sql" for folder in FOLDERS]

# Pinned to the versions recorded in the fixture's README.
NPM_PACKAGES = {"drizzle-orm": "1.0.0-rc.5", "pg": "8.23.1"}

needs_node = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="npm/node not on PATH: drizzle's own migrator (an npm package) is the reference",
)

__all__ = ["server"]  # the module-scoped PostgreSQL fixture, shared with the 0.x test

# Rollbacks for the last two migrations, written by hand as a kubemigrate user does.
DOWNS = {
    FOLDERS[3]: (
        'ALTER TABLE "catalog_items" DROP COLUMN "stock";\n'
        "--> statement-breakpoint\n"
        'ALTER INDEX "catalog_items_sku_idx" RENAME TO "products_sku_idx";\n'
        "--> statement-breakpoint\n"
        'ALTER TABLE "catalog_items" RENAME TO "products";\n'
    ),
    FOLDERS[4]: (
        'DROP VIEW "customer_order_totals";\n'
        "--> statement-breakpoint\n"
        'DROP TRIGGER "order_items_total" ON "order_items";\n'
        "--> statement-breakpoint\n"
        'DROP FUNCTION "recompute_order_total"();\n'
    ),
}


@pytest.fixture(scope="module")
def drizzle1_migrator() -> Path:
    return install_migrator(NPM_PACKAGES)


def _drizzle(migrator: Path, url: str, folder: Path) -> None:
    result = subprocess.run(
        ["node", str(migrator), url, str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    assert result.returncode == 0, f"drizzle's migrator failed:\n{result.stderr}"


def _km(*args: str, url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_kubemigrate(), *args, "--database-url", url, "--dir", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _tracked(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT migration_name FROM __migration_tracking ORDER BY id")
        return [row[0] for row in rows]


def _same_schema(server: postgres.PostgresServer, expected_db: str, actual_db: str) -> None:
    expected = _schema_dump(server, expected_db)
    actual = _schema_dump(server, actual_db)
    diff = "\n".join(
        difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), expected_db, actual_db, lineterm=""
        )
    )
    assert actual == expected, f"schemas differ:\n{diff}"


def _with_downs(tmp_path: Path) -> Path:
    folder = Path(shutil.copytree(MIGRATIONS, tmp_path / "drizzle"))
    for name, down in DOWNS.items():
        (folder / name / "down.sql").write_text(down)
    return folder


@needs_node
def test_drizzle_kit_1_folder_gives_the_same_schema_as_drizzle_1s_migrator(
    server: postgres.PostgresServer, drizzle1_migrator: Path
) -> None:
    by_drizzle = server.create_database("dk1_by_drizzle")
    by_kubemigrate = server.create_database("dk1_by_kubemigrate")

    _drizzle(drizzle1_migrator, by_drizzle, MIGRATIONS)
    _ok(_km("migrate", url=by_kubemigrate, folder=MIGRATIONS))

    expected = _schema_dump(server, "dk1_by_drizzle")
    # Guard against a vacuous pass (two empty dumps): the last migrations are there.
    assert "CREATE TABLE public.catalog_items" in expected
    assert "CREATE TRIGGER order_items_total" in expected
    _same_schema(server, "dk1_by_drizzle", "dk1_by_kubemigrate")

    # Same order, same keys: drizzle records the folder name, kubemigrate folder + .sql.
    with psycopg.connect(by_drizzle) as conn:
        drizzle_names = [
            row[0]
            for row in conn.execute("SELECT name FROM drizzle.__drizzle_migrations ORDER BY id")
        ]
    assert drizzle_names == FOLDERS
    assert _tracked(by_kubemigrate) == NAMES
    # A re-run is a no-op.
    assert _ok(_km("migrate", url=by_kubemigrate, folder=MIGRATIONS)).stdout.startswith(
        "Nothing to migrate"
    )


@needs_node
def test_down_sql_and_generated_folders_are_ignored_by_drizzle_1(
    server: postgres.PostgresServer, drizzle1_migrator: Path, tmp_path: Path
) -> None:
    """kubemigrate's additions to the layout do not get in drizzle's way: a folder with
    ``down.sql`` files and one written by ``kubemigrate generate`` still migrates with
    drizzle-orm 1.0, to the schema kubemigrate gives."""
    folder = _with_downs(tmp_path)
    sql = tmp_path / "up.sql"
    sql.write_text('CREATE TABLE "audit" ("id" serial PRIMARY KEY, "note" text);\n')
    generated = subprocess.run(
        [*_kubemigrate(), "generate", "add_audit", "--sql", str(sql), "--dir", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    _ok(generated)
    new = sorted(p.name for p in folder.iterdir())[-1]
    assert new.endswith("_add_audit")
    assert new > FOLDERS[-1]
    assert (folder / new / "down.sql").read_text().startswith('DROP TABLE "audit"')

    by_drizzle = server.create_database("dk1_extra_by_drizzle")
    by_kubemigrate = server.create_database("dk1_extra_by_kubemigrate")
    _drizzle(drizzle1_migrator, by_drizzle, folder)
    _ok(_km("migrate", url=by_kubemigrate, folder=folder))
    assert "CREATE TABLE public.audit" in _schema_dump(server, "dk1_extra_by_drizzle")
    _same_schema(server, "dk1_extra_by_drizzle", "dk1_extra_by_kubemigrate")


@needs_node
def test_rollback_restores_what_drizzle_gives_for_the_earlier_folders(
    server: postgres.PostgresServer, drizzle1_migrator: Path, tmp_path: Path
) -> None:
    """migrate --target FOLDER, status, migrate, rollback (down.sql), status, migrate."""
    folder = _with_downs(tmp_path)
    url = server.create_database("dk1_rollback")

    _ok(_km("migrate", "--target", FOLDERS[2], url=url, folder=folder))
    assert _tracked(url) == NAMES[:3]
    status = _ok(_km("status", url=url, folder=folder)).stdout
    assert "Applied migrations: 3" in status
    assert f"  ⏳ Pending {NAMES[3]}\n" in status
    assert f"  ✅ Applied {NAMES[2]} " in status

    _ok(_km("migrate", url=url, folder=folder))
    assert _tracked(url) == NAMES
    rolled = _ok(_km("rollback", url=url, folder=folder))
    assert f"  - {NAMES[4]} (" in rolled.stdout
    assert f"  - {NAMES[3]} (" in rolled.stdout
    assert _tracked(url) == NAMES[:3]
    after = _ok(_km("status", "--json", url=url, folder=folder))
    data = json.loads(after.stdout)
    assert [(m["name"], m["status"]) for m in data["migrations"]] == [
        (name, "applied" if i < 3 else "pending") for i, name in enumerate(NAMES)
    ]

    # The rolled-back database has exactly drizzle's schema for the first three folders.
    first_three = tmp_path / "first_three"
    first_three.mkdir()
    for name in FOLDERS[:3]:
        shutil.copytree(MIGRATIONS / name, first_three / name)
    server.create_database("dk1_first_three")
    _drizzle(drizzle1_migrator, server.url("dk1_first_three"), first_three)
    _same_schema(server, "dk1_first_three", "dk1_rollback")

    _ok(_km("migrate", url=url, folder=folder))
    assert _tracked(url) == NAMES


def _as_drizzle_kit_up_leaves_it(old: Path, new: Path) -> list[tuple[str, str]]:
    """The 0.x fixture converted as ``drizzle-kit up`` 1.0.0-rc.5 converts it (checked
    by hand, see the fixture README): ``NNNN_name.sql`` moves byte for byte to
    ``<journal "when" as UTC YYYYMMDDHHMMSS>_name/migration.sql`` and ``meta/`` goes.
    Returns the (old, new) tracking names."""
    journal = json.loads((old / "meta" / "_journal.json").read_text())
    renames = []
    for entry in journal["entries"]:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(entry["when"] // 1000))
        folder = f"{stamp}_{entry['tag'].split('_', 1)[1]}"
        (new / folder).mkdir(parents=True)
        shutil.copyfile(old / f"{entry['tag']}.sql", new / folder / "migration.sql")
        renames.append((f"{entry['tag']}.sql", f"{folder}.sql"))
    return renames


def test_switching_a_database_to_the_folders_drizzle_kit_up_made(
    server: postgres.PostgresServer, tmp_path: Path
) -> None:
    """After ``drizzle-kit up`` the names change: kubemigrate sees each applied file's SQL
    under its new name, refuses to run anything again, and ``repair --accept-renames``
    records the new names (the history keeps the old ones); then nothing is pending and
    every checksum still matches."""
    url = server.create_database("dk1_switch")
    _ok(_km("migrate", url=url, folder=DRIZZLE_0_MIGRATIONS))
    converted = tmp_path / "drizzle"
    renames = _as_drizzle_kit_up_leaves_it(DRIZZLE_0_MIGRATIONS, converted)

    refused = _km("migrate", url=url, folder=converted)
    assert refused.returncode == 4, refused.stderr
    old, new = renames[0]
    assert f"{old}: renamed: applied, and its SQL is now {new} (same checksum)" in refused.stderr
    assert "`kubemigrate repair --accept-renames`" in refused.stderr
    assert _tracked(url) == [old for old, _ in renames]
    # status counts them as applied (nothing would run again), and says they were renamed
    status = _ok(_km("status", "--fail-on-pending", url=url, folder=converted)).stdout
    assert f"Applied migrations: {len(renames)}\nPending migrations: 0\n" in status
    assert f"  ✅ Applied {new} " in status
    assert f"{old}: renamed:" in status

    repaired = _ok(_km("repair", "--accept-renames", url=url, folder=converted))
    assert f"  - {new}: recorded under its new file name" in repaired.stdout
    assert _ok(_km("migrate", url=url, folder=converted)).stdout.startswith("Nothing to migrate")
    _ok(_km("verify", url=url, folder=converted))
    assert _tracked(url) == [new for _, new in renames]
    history = _ok(_km("history", url=url, folder=converted)).stdout
    assert f"renamed           {new}" in history
    assert f"was {old}" in history
