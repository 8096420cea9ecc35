"""drizzle's history wherever its migrator was told to keep it.

drizzle-orm's ``migrate()`` takes ``migrationsSchema`` and ``migrationsTable``
(drizzle-kit's ``migrations: { schema, table }``): teams set them when several
applications share a database, or when the role may not create the ``drizzle``
schema. kubemigrate looked at ``drizzle.__drizzle_migrations`` alone, saw no history,
and its first migrate ran everything again: with older drizzle-kit output (``CREATE
TABLE IF NOT EXISTS``, enums in ``DO ... EXCEPTION`` blocks) the schema statements
pass, and a data migration's seed is inserted a second time.

Every database here is migrated by the real drizzle-orm migrator (pinned as in
``test_drizzle_compat.py``), and kubemigrate runs as its console script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import applied_names, connect, scalar, table_exists
from tests.integration.test_drizzle1_compat import (
    MIGRATIONS as DRIZZLE_1_MIGRATIONS,
)
from tests.integration.test_drizzle1_compat import (
    NPM_PACKAGES as DRIZZLE_1_PACKAGES,
)
from tests.integration.test_drizzle_compat import NPM_PACKAGES, install_migrator

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="npm/node not on PATH: drizzle's own migrator (an npm package) is the reference",
)

# drizzle-kit 0.2x's output: idempotent DDL, so a second run of the schema passes and
# only the data migration shows it ran twice.
INITIAL = """\
DO $$ BEGIN
 CREATE TYPE "public"."currency" AS ENUM('EUR', 'USD');
EXCEPTION
 WHEN duplicate_object THEN null;
END $$;
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "settings" (
\t"key" text PRIMARY KEY NOT NULL,
\t"currency" "currency" NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "audit_log" (
\t"id" serial PRIMARY KEY NOT NULL,
\t"event" text NOT NULL
);
"""
SEED = """\
-- Custom SQL migration file, put your code below! --
INSERT INTO "audit_log" ("event") VALUES ('seeded');
"""
ITEMS = 'CREATE TABLE IF NOT EXISTS "items" (\n\t"id" serial PRIMARY KEY NOT NULL\n);\n'


def drizzle_folder(directory: Path, *migrations: tuple[str, str, int]) -> Path:
    """A drizzle-kit 0.x folder: (tag, SQL, the journal's ``when``) in journal order."""
    (directory / "meta").mkdir(parents=True, exist_ok=True)
    for tag, sql, _ in migrations:
        (directory / f"{tag}.sql").write_text(sql)
    entries = [
        {"idx": i, "version": "7", "when": when, "tag": tag, "breakpoints": True}
        for i, (tag, _, when) in enumerate(migrations)
    ]
    journal = {"version": "7", "dialect": "postgresql", "entries": entries}
    (directory / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2))
    return directory


def project(directory: Path) -> Path:
    """The project's first two migrations, as drizzle ran them."""
    return drizzle_folder(
        directory,
        ("0000_initial", INITIAL, 1716200000000),
        ("0001_seed", SEED, 1716300000000),
    )


def add_items(directory: Path) -> None:
    """The migration written after the switch to kubemigrate."""
    drizzle_folder(
        directory,
        ("0000_initial", INITIAL, 1716200000000),
        ("0001_seed", SEED, 1716300000000),
        ("0002_items", ITEMS, 1716400000000),
    )


@pytest.fixture(scope="module")
def drizzle() -> Path:
    return install_migrator(NPM_PACKAGES)


@pytest.fixture(scope="module")
def drizzle1() -> Path:
    return install_migrator(DRIZZLE_1_PACKAGES)


def drizzle_migrate(
    migrator: Path, url: str, folder: Path, schema: str = "", table: str = ""
) -> None:
    """drizzle-orm's ``migrate()`` with ``migrationsSchema`` / ``migrationsTable``."""
    ran = subprocess.run(
        ["node", str(migrator), url, str(folder), schema, table],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert ran.returncode == 0, f"drizzle's migrator failed:\n{ran.stderr}"


def cli(folder: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--dir", str(folder), database_url=url)


def said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stderr.split())


def seeded(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM audit_log WHERE event = 'seeded'"))


@pytest.mark.parametrize(
    ("schema", "table", "shown"),
    [
        ("app", "migrations", "app.migrations"),
        # the config of a role that may not create a schema
        ("public", "__drizzle_migrations", "public.__drizzle_migrations"),
        # drizzle quotes both names: case is kept, and a hint's SQL must quote it too
        ("Billing", "Migrations", '"Billing"."Migrations"'),
    ],
)
def test_a_database_drizzle_migrated_into_its_own_table_is_refused_then_adopted(
    tmp_path: Path, database_url: str, drizzle: Path, schema: str, table: str, shown: str
) -> None:
    """migrate found no history and ran both files again: the seed twice."""
    folder = project(tmp_path / "drizzle")
    drizzle_migrate(drizzle, database_url, folder, schema, table)
    assert seeded(database_url) == 1

    for attempt in (("migrate",), ("migrate", "--dry-run"), ("plan",)):
        refused = cli(folder, database_url, *attempt)
        assert refused.returncode == 5, refused.stderr
        assert f"migrated by drizzle ({shown} records 2 migration(s) as run)" in said(refused)
        assert "`kubemigrate baseline` first" in refused.stderr
    assert seeded(database_url) == 1
    assert applied_names(database_url) == []

    add_items(folder)
    baseline = cli(folder, database_url, "baseline", "--env", "production")
    assert baseline.returncode == 0, baseline.stderr
    assert "Baselined 2 migration(s)" in baseline.stdout
    assert applied_names(database_url) == ["0000_initial.sql", "0001_seed.sql"]

    done = cli(folder, database_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert "Applied 1 migration(s)" in done.stdout
    assert applied_names(database_url) == ["0000_initial.sql", "0001_seed.sql", "0002_items.sql"]
    assert table_exists(database_url, "items")
    assert seeded(database_url) == 1


def test_drizzle_1_s_table_with_its_name_and_applied_at_columns_is_found(
    tmp_path: Path, database_url: str, drizzle1: Path
) -> None:
    """drizzle-orm 1.0 creates its table with two more columns (name, applied_at)."""
    folder = tmp_path / "drizzle"
    shutil.copytree(DRIZZLE_1_MIGRATIONS, folder)
    drizzle_migrate(drizzle1, database_url, folder, "ops", "schema_history")
    columns = scalar(
        database_url,
        "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = 'ops.schema_history'::regclass AND attnum > 0",
    )
    assert columns == "id,hash,created_at,name,applied_at"

    refused = cli(folder, database_url, "migrate")
    assert refused.returncode == 5, refused.stderr
    assert "ops.schema_history records 5 migration(s) as run" in said(refused)
    baseline = cli(folder, database_url, "baseline", "--env", "production")
    assert baseline.returncode == 0, baseline.stderr
    assert "Baselined 5 migration(s)" in baseline.stdout
    done = cli(folder, database_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert "Nothing to migrate: 5 applied, 0 pending." in done.stdout


def test_two_tables_that_record_the_folder_are_refused_until_one_is_named(
    tmp_path: Path, database_url: str, drizzle: Path
) -> None:
    """drizzle ran the first migration into public.migrations, then (its config
    changed) both into app.migrations: which one the migrator uses now is in the
    project's config, not the database."""
    first = drizzle_folder(tmp_path / "first", ("0000_initial", INITIAL, 1716200000000))
    drizzle_migrate(drizzle, database_url, first, "public", "migrations")
    folder = project(tmp_path / "drizzle")
    drizzle_migrate(drizzle, database_url, folder, "app", "migrations")

    for attempt in (("migrate",), ("baseline",), ("baseline", "--dry-run"), ("plan",)):
        refused = cli(folder, database_url, *attempt)
        assert refused.returncode == 2, refused.stderr
        message = said(refused)
        assert "could be recorded in any of app.migrations, public.migrations" in message
        assert "--drizzle-table SCHEMA.TABLE" in message
    assert applied_names(database_url) == []
    assert seeded(database_url) == 1

    # the flag picks one: the old table records the first migration only
    old = cli(folder, database_url, "baseline", "--dry-run", "--drizzle-table", "public.migrations")
    assert old.returncode == 0, old.stderr
    assert "Would baseline 1 migration(s)" in old.stdout

    named = ("--drizzle-table", "app.migrations")
    refused = cli(folder, database_url, "migrate", *named)
    assert refused.returncode == 5, refused.stderr
    assert "app.migrations records 2 migration(s) as run" in said(refused)
    assert "--drizzle-table app.migrations" in said(refused)  # baseline needs it too
    baseline = cli(folder, database_url, "baseline", *named)
    assert baseline.returncode == 0, baseline.stderr
    assert applied_names(database_url) == ["0000_initial.sql", "0001_seed.sql"]
    add_items(folder)
    done = cli(folder, database_url, "migrate")  # adopted: no table is looked for again
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url)[-1] == "0002_items.sql"
    assert seeded(database_url) == 1


def test_another_application_s_drizzle_table_stops_nothing(
    tmp_path: Path, database_url: str, drizzle: Path
) -> None:
    """Another team's drizzle project keeps its history in its own schema of the same
    database (the usual reason for migrationsSchema): it records none of this
    folder's files, by hash or by time, and a new project's migrate runs."""
    other = drizzle_folder(
        tmp_path / "other",
        ("0000_orders", 'CREATE TABLE IF NOT EXISTS "orders" ("id" integer);', 1690000000000),
    )
    drizzle_migrate(drizzle, database_url, other, "orders", "__drizzle_migrations")
    folder = project(tmp_path / "drizzle")
    done = cli(folder, database_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert seeded(database_url) == 1


def test_files_edited_since_drizzle_ran_them_are_still_its_history(
    tmp_path: Path, database_url: str, drizzle: Path
) -> None:
    """drizzle's migrator goes by time: files edited after they ran match no hash, and
    the table still records them (by the journal's ``when``). Baseline then cannot
    tell where drizzle stopped, and says which table to look in."""
    folder = project(tmp_path / "drizzle")
    drizzle_migrate(drizzle, database_url, folder, "app", "migrations")
    for name in ("0000_initial.sql", "0001_seed.sql"):
        path = folder / name
        path.write_text(path.read_text() + "-- reviewed\n")

    refused = cli(folder, database_url, "migrate")
    assert refused.returncode == 5, refused.stderr
    assert "app.migrations records 2 migration(s) as run" in said(refused)
    baseline = cli(folder, database_url, "baseline")
    assert baseline.returncode == 4, baseline.stderr
    message = said(baseline)
    assert "app.migrations (drizzle's history) lists 2 migration(s), but only 0" in message
    assert "`SELECT created_at FROM app.migrations`" in message
    assert seeded(database_url) == 1


def test_a_gap_in_drizzle_s_history_names_its_table(
    tmp_path: Path, database_url: str, drizzle: Path
) -> None:
    """0001 merged after drizzle ran 0002 (its ``when`` older): drizzle's 0.x migrator
    never runs it, and baseline refuses, naming the table the history is in."""
    folder = drizzle_folder(
        tmp_path / "drizzle",
        ("0000_initial", INITIAL, 1716200000000),
        ("0002_items", ITEMS, 1716400000000),
    )
    drizzle_migrate(drizzle, database_url, folder, "app", "migrations")
    add_items(folder)  # 0001_seed, journaled between them

    refused = cli(folder, database_url, "baseline")
    assert refused.returncode == 4, refused.stderr
    assert (
        "app.migrations (drizzle's history) records 0002_items.sql as run, but not "
        "0001_seed.sql before it" in said(refused)
    )
    assert applied_names(database_url) == []


def test_a_named_table_that_does_not_exist_or_is_not_drizzle_s(
    tmp_path: Path, database_url: str, drizzle: Path
) -> None:
    """The flag is kept for every environment: on a new database drizzle never
    migrated, migrate runs; on one whose history is elsewhere, a typo would run it all
    again."""
    folder = project(tmp_path / "drizzle")
    typo = ("--drizzle-table", "app.migration")
    fresh = cli(folder, database_url, "migrate", "--dry-run", *typo)
    assert fresh.returncode == 0, fresh.stderr
    assert "Dry run: 2 migration(s) would run" in fresh.stdout

    drizzle_migrate(drizzle, database_url, folder, "app", "migrations")
    refused = cli(folder, database_url, "migrate", *typo)
    assert refused.returncode == 2, refused.stderr
    assert (
        "app.migration (--drizzle-table) does not exist, but app.migrations records some "
        "of these migrations" in said(refused)
    )
    wrong = cli(folder, database_url, "baseline", "--drizzle-table", "public.audit_log")
    assert wrong.returncode == 2, wrong.stderr
    assert "audit_log has no hash column: it is not a drizzle migrations table" in said(wrong)
    assert applied_names(database_url) == []
    assert seeded(database_url) == 1


def test_a_drizzle_table_this_user_may_not_read_is_not_looked_at(
    tmp_path: Path, database_url: str
) -> None:
    """Another team's drizzle history in a schema this user has no rights on: looking
    for drizzle's history must not stop the run with "permission denied"."""
    role, password = f"team_a_{os.getpid()}", "Quartz-Zebra-1937"
    database = database_url.rsplit("/", 1)[1]
    with connect(database_url) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
        conn.execute(f"GRANT ALL ON SCHEMA public TO {role}")
        conn.execute("CREATE SCHEMA team_b")
        conn.execute(
            "CREATE TABLE team_b.migrations (id serial PRIMARY KEY, hash text NOT NULL, "
            "created_at bigint)"
        )
        conn.execute("INSERT INTO team_b.migrations (hash, created_at) VALUES ('x', 1)")
    url = f"postgresql://{role}:{password}@{database_url.split('@', 1)[1]}"
    try:
        done = cli(project(tmp_path / "drizzle"), url, "migrate")
        assert done.returncode == 0, done.stderr
        assert seeded(database_url) == 1
    finally:
        with connect(database_url) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
