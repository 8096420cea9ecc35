"""Switching to kubemigrate on a database another tool migrated.

The folder's previous tool left its history in the database (drizzle's
``__drizzle_migrations``, golang-migrate's and dbmate's ``schema_migrations``, Flyway's
``flyway_schema_history``). A first migrate must not run again what it ran, and
``baseline`` must record exactly that, or refuse when it cannot.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import (
    applied_names,
    connect,
    create_table,
    numbered,
    table_exists,
    write_drizzle,
)

FLYWAY_HISTORY = """
CREATE TABLE flyway_schema_history (
  installed_rank integer PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
  type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum integer,
  installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(),
  execution_time integer NOT NULL, success boolean NOT NULL)"""


def cli(directory: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--dir", str(directory), database_url=url)


def golang_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_settings.up.sql").write_text("CREATE TABLE settings (k text, v text);")
    (folder / "2_seed.up.sql").write_text("INSERT INTO settings VALUES ('currency', 'EUR');")
    (folder / "3_items.up.sql").write_text("CREATE TABLE items (id bigint);")
    for down in ("1_settings.down.sql", "2_seed.down.sql", "3_items.down.sql"):
        table = "settings" if down.startswith("1") else "items"
        undo = "DELETE FROM settings;" if down.startswith("2") else f"DROP TABLE {table};"
        (folder / down).write_text(undo)
    return folder


def golang_ran(url: str, version: int) -> None:
    """golang-migrate's table as it leaves it: the newest version it ran, not dirty."""
    with connect(url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean)")
        conn.execute("INSERT INTO schema_migrations VALUES (%s, false)", (version,))


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with connect(url) as conn:
        return list(conn.execute(sql).fetchall())


def test_a_first_migrate_on_another_tool_s_database_is_refused_until_baseline(
    tmp_path: Path, database_url: str
) -> None:
    """golang-migrate ran 1 and 2 (a seed among them): migrate would insert the seed again."""
    folder = golang_folder(tmp_path)
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE settings (k text, v text)")
        conn.execute("INSERT INTO settings VALUES ('currency', 'EUR')")
    golang_ran(database_url, 2)
    fmt = ("--format", "golang-migrate")
    for attempt in (("migrate", "--env", "production"), ("migrate", "--dry-run")):
        refused = cli(folder, database_url, *attempt, *fmt)
        assert refused.returncode == 5, refused.stderr
        assert (
            "migrated by golang-migrate (schema_migrations records 2 of these migrations as "
            "run, up to 2_seed.up.sql)" in " ".join(refused.stderr.split())
        )
        assert "`kubemigrate baseline` first" in refused.stderr
    assert applied_names(database_url) == []
    assert not table_exists(database_url, "items")

    assert cli(folder, database_url, "baseline", *fmt).returncode == 0
    done = cli(folder, database_url, "migrate", *fmt)
    assert done.returncode == 0, done.stderr
    assert rows(database_url, "SELECT count(*) FROM settings") == [(1,)]
    assert table_exists(database_url, "items")
    # adopted: a reset empties the tracking table, and migrate runs everything again
    assert cli(folder, database_url, "reset", "--force", *fmt).returncode == 0
    assert cli(folder, database_url, "migrate", *fmt).returncode == 0


def test_drizzle_s_own_migrator_counts_too(tmp_path: Path, database_url: str) -> None:
    folder = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    ran = hashlib.sha256((folder / "0000_a.sql").read_bytes()).hexdigest()
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE a (id int)")
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations (id serial, hash text, created_at bigint)"
        )
        conn.execute("INSERT INTO drizzle.__drizzle_migrations (hash) VALUES (%s)", (ran,))
    refused = cli(folder, database_url, "migrate")
    assert refused.returncode == 5, refused.stderr
    assert "drizzle.__drizzle_migrations records 1 migration(s) as run" in (
        " ".join(refused.stderr.split())
    )
    # drizzle's migrator goes by time, not hash: a file edited since it ran matches no
    # hash, and is still this project's history (its seed ran twice)
    (folder / "0000_a.sql").write_text("CREATE TABLE IF NOT EXISTS a (id int); -- edited\n")
    refused = cli(folder, database_url, "migrate")
    assert refused.returncode == 5, refused.stderr
    assert applied_names(database_url) == []


def test_drizzle_s_hashes_from_a_checkout_with_other_line_endings_match(
    tmp_path: Path, database_url: str
) -> None:
    """drizzle's migrator ran from a Windows checkout (core.autocrlf: CRLF) and records
    the SHA-256 of those bytes; the folder here has LF, one file with a final newline an
    editor added, one saved with a BOM. Baseline said "only 0 of the 3 files here match
    them: a file edited or removed since it ran", claiming edits nobody made."""
    folder = write_drizzle(
        tmp_path / "d",
        numbered(
            ("a", "CREATE TABLE a (\n  id int\n);", "DROP TABLE a;"),
            ("b", "CREATE TABLE b (\n  id int\n);", "DROP TABLE b;"),
            create_table("c"),
        ),
    )
    windows = [b"CREATE TABLE a (\r\n  id int\r\n);", b"CREATE TABLE b (\r\n  id int\r\n);"]
    (folder / "0000_a.sql").write_bytes(b"CREATE TABLE a (\n  id int\n);\n")
    (folder / "0001_b.sql").write_bytes(b"\xef\xbb\xbfCREATE TABLE b (\n  id int\n);")
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations (id serial, hash text, created_at bigint)"
        )
        for data in windows:
            digest = hashlib.sha256(data).hexdigest()
            conn.execute("INSERT INTO drizzle.__drizzle_migrations (hash) VALUES (%s)", (digest,))
    done = cli(folder, database_url, "baseline", "--env", "production")
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]  # 0002 stays pending
    assert cli(folder, database_url, "migrate").returncode == 0
    assert table_exists(database_url, "c")


def test_a_history_that_records_none_of_the_files_stops_nothing(
    tmp_path: Path, database_url: str
) -> None:
    """Another application's schema_migrations (Rails), or Flyway's baseline of an
    existing database below the folder's first script: not this folder's history. The
    refusal could not be cleared (baseline recorded nothing), and no command ran them."""
    folder = tmp_path / "db" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_t1.sql").write_text("-- migrate:up\nCREATE TABLE t1 ();\n")
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version varchar PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES ('20190101120000')")
    done = cli(tmp_path, database_url, "migrate", "--format", "dbmate")
    assert done.returncode == 0, done.stderr
    assert table_exists(database_url, "t1")


def test_a_flyway_baseline_below_the_first_script_stops_nothing(
    tmp_path: Path, database_url: str
) -> None:
    flyway = flyway_folder(tmp_path, 3)
    (flyway / "V1__t1.sql").unlink()  # Flyway baselined the existing database at 1
    flyway_ran(database_url, ("1", "BASELINE"))
    done = cli(flyway, database_url, "migrate", "--format", "flyway")
    assert done.returncode == 0, done.stderr
    assert table_exists(database_url, "t2")


def test_kubemigrate_s_tables_in_a_schema_off_the_search_path_are_named(
    tmp_path: Path, database_url: str
) -> None:
    """Baselined through ?options=-csearch_path=app, then run with the default path: the
    refusal said kubemigrate had recorded nothing, and a baseline then started a second
    tracking table."""
    folder = golang_folder(tmp_path)
    golang_ran(database_url, 2)
    with connect(database_url) as conn:
        conn.execute("CREATE SCHEMA app")
    in_app = f"{database_url}?options={quote('-csearch_path=app')}"
    fmt = ("--format", "golang-migrate")
    assert cli(folder, in_app, "baseline", *fmt).returncode == 0
    refused = cli(folder, database_url, "migrate", *fmt)
    assert refused.returncode == 2, refused.stderr
    assert "kubemigrate's tables for these migrations are in schema app" in refused.stderr
    assert "options=-csearch_path%3Dapp" in refused.stderr


def test_a_url_that_lost_its_search_path_does_not_run_the_folder_again(
    tmp_path: Path, database_url: str
) -> None:
    """Migrated through ?options=-csearch_path=app, then a URL without the option (a CI
    job's beside the Job's): the whole folder ran again into public, exit 0."""
    folder = write_drizzle(tmp_path / "d", numbered(create_table("t1"), create_table("t2")))
    with connect(database_url) as conn:
        conn.execute("CREATE SCHEMA app")
    in_app = f"{database_url}?options={quote('-csearch_path=app')}"
    assert cli(folder, in_app, "migrate").returncode == 0

    refused = cli(folder, database_url, "migrate")
    assert refused.returncode == 2, refused.stderr
    assert "kubemigrate's tables for these migrations are in schema app" in refused.stderr
    assert "options=-csearch_path%3Dapp" in refused.stderr
    assert not table_exists(database_url, "public.t1")
    # the default given to the role again, as managed services do, is no choice either
    database = rows(database_url, "SELECT current_database()")[0][0]
    with connect(database_url) as conn:
        conn.execute(
            f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" SET search_path = "$user", public'
        )
    assert cli(folder, database_url, "migrate").returncode == 2
    assert not table_exists(database_url, "public.t1")
    status = cli(folder, database_url, "status")
    assert "kubemigrate's tables for these migrations are in schema app" in status.stdout
    baseline = cli(folder, database_url, "baseline", "--target", "0001_t2")
    assert baseline.returncode == 2, baseline.stderr  # not a second record either
    assert applied_names(database_url) == []

    # a schema chosen in the URL may get the folder's tables of its own (one per tenant)
    with connect(database_url) as conn:
        conn.execute("CREATE SCHEMA tenant_2")
    tenant = f"{database_url}?options={quote('-csearch_path=tenant_2')}"
    done = cli(folder, tenant, "migrate")
    assert done.returncode == 0, done.stderr
    assert table_exists(database_url, "tenant_2.t2")


def kubemigrate_tables(url: str) -> list[str]:
    """kubemigrate's own tables, schema-qualified, wherever they are."""
    found = rows(
        url,
        "SELECT schemaname || '.' || tablename FROM pg_tables "
        "WHERE tablename LIKE '\\_\\_migration\\_%%' ORDER BY 1",
    )
    return [str(row[0]) for row in found]


def _lost_search_path(
    tmp_path: Path, url: str, *, command: tuple[str, ...]
) -> tuple[Path, tuple[str, ...]]:
    """The folder migrated through ?options=-csearch_path=app; ``command`` without it."""
    folder = write_drizzle(tmp_path / "d", numbered(create_table("t1"), create_table("t2")))
    with connect(url) as conn:
        conn.execute("CREATE SCHEMA app")
    assert cli(folder, f"{url}?options={quote('-csearch_path=app')}", "migrate").returncode == 0
    return folder, command


def _golang_migrate_ran(tmp_path: Path, url: str) -> tuple[Path, tuple[str, ...]]:
    golang_ran(url, 2)
    return golang_folder(tmp_path), ("migrate", "--format", "golang-migrate")


def _drizzle_ran(tmp_path: Path, url: str) -> tuple[Path, tuple[str, ...]]:
    folder = write_drizzle(tmp_path / "d", numbered(create_table("t1"), create_table("t2")))
    digest = hashlib.sha256((folder / "0000_t1.sql").read_bytes()).hexdigest()
    with connect(url) as conn:
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations (id serial, hash text, created_at bigint)"
        )
        conn.execute("INSERT INTO drizzle.__drizzle_migrations (hash) VALUES (%s)", (digest,))
    return folder, ("migrate",)


def _new(tmp_path: Path, _url: str, *, command: tuple[str, ...]) -> tuple[Path, tuple[str, ...]]:
    """A new database; the second file does not parse."""
    folder = write_drizzle(tmp_path / "d", numbered(create_table("t1"), create_table("t2")))
    (folder / "0001_t2.sql").write_text("CREATE TABLE t2 (id integer PRIMARY KEY;")
    return folder, command


@pytest.mark.parametrize(
    ("refusal", "code"),
    [
        (functools.partial(_lost_search_path, command=("migrate",)), 2),
        (functools.partial(_lost_search_path, command=("baseline", "--target", "0000_t1")), 2),
        (_golang_migrate_ran, 5),  # NotAdopted
        (_drizzle_ran, 5),  # NotAdopted, by drizzle's own table
        (functools.partial(_new, command=("baseline", "--env", "production")), 5),  # blind
        (functools.partial(_new, command=("migrate",)), 1),  # a file that does not parse
        (functools.partial(_new, command=("repair", "--accept-checksum", "0000_t1")), 2),
    ],
    ids=[
        "search-path-migrate",
        "search-path-baseline",
        "golang-migrate",
        "drizzle",
        "production-baseline",
        "unparseable",
        "repair-not-applied",
    ],
)
def test_a_refused_first_run_leaves_no_tables_behind(
    tmp_path: Path,
    database_url: str,
    refusal: Callable[[Path, str], tuple[Path, tuple[str, ...]]],
    code: int,
) -> None:
    """The refusal came after kubemigrate had created its three tables, empty: a URL
    that lost its search_path left them in public, where a later status read an empty
    tracking table, and every refused first run left them in the schema it reached."""
    folder, command = refusal(tmp_path, database_url)
    before = kubemigrate_tables(database_url)

    refused = cli(folder, database_url, *command)

    assert refused.returncode == code, refused.stderr
    assert kubemigrate_tables(database_url) == before
    assert applied_names(database_url) == []


def test_another_team_s_tables_in_their_own_schema_are_not_this_folder_s(
    tmp_path: Path, database_url: str
) -> None:
    """Two teams on one database, each in its own schema: team A's first migrate was
    sent to team B's tracking table (the README warns against sharing one)."""
    folder = golang_folder(tmp_path)
    golang_ran(database_url, 2)
    other = write_drizzle(tmp_path / "b", numbered(create_table("b_only")))
    with connect(database_url) as conn:
        conn.execute("CREATE SCHEMA team_b")
    team_b = f"{database_url}?options={quote('-csearch_path=team_b')}"
    assert cli(other, team_b, "migrate").returncode == 0
    refused = cli(folder, database_url, "migrate", "--format", "golang-migrate")
    assert refused.returncode == 5, refused.stderr  # baseline first, not team B's schema
    assert "team_b" not in refused.stderr


def test_a_plan_on_the_original_system_s_bare_tracking_table(
    tmp_path: Path, database_url: str
) -> None:
    """The original system's tracking table alone, empty (no history table yet): plan and
    a dry run said "a bug in kubemigrate" (the history table was read)."""
    folder = golang_folder(tmp_path)
    with connect(database_url) as conn:
        conn.execute(
            "CREATE TABLE __migration_tracking (id SERIAL PRIMARY KEY, migration_name "
            "VARCHAR(255) UNIQUE NOT NULL, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, "
            "rollback_sql TEXT, checksum VARCHAR(64), batch_number INTEGER DEFAULT 1)"
        )
    for command in (("plan",), ("migrate", "--dry-run")):
        done = cli(folder, database_url, *command, "--format", "golang-migrate")
        assert done.returncode == 0, done.stderr


def test_a_tool_s_history_with_a_gap_is_refused_by_baseline(
    tmp_path: Path, database_url: str
) -> None:
    """dbmate ran 0101 and 0301 (0201 merged later, never run): recording 0101 alone
    would run 0301 a second time."""
    folder = tmp_path / "db" / "migrations"
    folder.mkdir(parents=True)
    for version in ("20240101000000", "20240201000000", "20240301000000"):
        (folder / f"{version}_m.sql").write_text(f"-- migrate:up\nCREATE TABLE t{version} ();\n")
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version varchar PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240301000000')")
    refused = cli(tmp_path, database_url, "baseline", "--format", "dbmate")
    assert refused.returncode == 4, refused.stderr
    assert "records 20240301000000_m.sql as run, but not 20240201000000_m.sql before it" in (
        refused.stderr
    )
    assert applied_names(database_url) == []


def flyway_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "sql"
    folder.mkdir()
    for n in range(1, count + 1):
        (folder / f"V{n}__t{n}.sql").write_text(f"CREATE TABLE t{n} (id bigint);")
    return folder


def flyway_ran(url: str, *history: tuple[str, str]) -> None:
    """Flyway's rows for these versions, with no checksum (a BASELINE row's is NULL; a
    script's would be the CRC-32 of the file it ran, which these do not stand for)."""
    with connect(url) as conn:
        conn.execute(FLYWAY_HISTORY)
        for rank, (version, kind) in enumerate(history, start=1):
            conn.execute(
                "INSERT INTO flyway_schema_history VALUES (%s, %s, 'x', %s, 'x', NULL, 'me', "
                "now(), 1, true)",
                (rank, version, kind),
            )


def test_flyway_s_baseline_row_stands_for_every_version_up_to_it(
    tmp_path: Path, database_url: str
) -> None:
    folder = flyway_folder(tmp_path, 6)
    flyway_ran(database_url, ("3", "BASELINE"), ("4", "SQL"), ("5", "SQL"))
    done = cli(folder, database_url, "baseline", "--format", "flyway")
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url) == [f"V{n}__t{n}.sql" for n in range(1, 6)]


def test_a_version_flyway_undid_is_pending_again(tmp_path: Path, database_url: str) -> None:
    folder = flyway_folder(tmp_path, 3)
    flyway_ran(database_url, ("1", "SQL"), ("2", "SQL"), ("3", "SQL"), ("3", "UNDO_SQL"))
    done = cli(folder, database_url, "baseline", "--format", "flyway")
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url) == ["V1__t1.sql", "V2__t2.sql"]


def test_golang_migrate_s_version_without_its_file_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    """golang-migrate itself says "no migration found for version 5"."""
    folder = golang_folder(tmp_path)
    golang_ran(database_url, 5)
    refused = cli(folder, database_url, "baseline", "--format", "golang-migrate")
    assert refused.returncode == 4, refused.stderr
    assert applied_names(database_url) == []


def test_golang_migrate_files_wrapped_in_begin_commit_run_as_written(
    tmp_path: Path, database_url: str
) -> None:
    """golang-migrate leaves transactions to its files, so its users wrap them in BEGIN;
    ... COMMIT;: what kubemigrate does anyway. Such files run and roll back as they are;
    a BEGIN that is not the whole file's wrapper is still refused, naming its file."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_init.up.sql").write_text(
        "BEGIN;\nCREATE TABLE a (id bigint);\nCREATE TABLE b (id bigint);\nCOMMIT;\n"
    )
    (folder / "1_init.down.sql").write_text("BEGIN;\nDROP TABLE b;\nDROP TABLE a;\nCOMMIT;\n")
    fmt = ("--format", "golang-migrate")
    done = cli(folder, database_url, "migrate", *fmt)
    assert done.returncode == 0, done.stderr
    assert table_exists(database_url, "a")
    assert table_exists(database_url, "b")
    back = cli(folder, database_url, "rollback", *fmt)
    assert back.returncode == 0, back.stderr
    assert not table_exists(database_url, "a")

    # a wrapper around what cannot run in a transaction asks for the impossible
    (folder / "2_cic.up.sql").write_text(
        "BEGIN;\nCREATE INDEX CONCURRENTLY a_id ON a (id);\nCOMMIT;\n"
    )
    assert cli(folder, database_url, "migrate", *fmt).returncode == 2
    (folder / "2_cic.up.sql").unlink()
    (folder / "2_half.up.sql").write_text("CREATE TABLE c (id bigint);\nBEGIN;\nSELECT 1;\n")
    refused = cli(folder, database_url, "migrate", *fmt)
    assert refused.returncode == 2, refused.stderr
    assert "2_half.up.sql (up) line 2: BEGIN controls the transaction itself" in refused.stderr
    assert applied_names(database_url) == []


def test_what_the_old_tool_runs_after_the_baseline_is_refused_too(
    tmp_path: Path, database_url: str
) -> None:
    """Teams keep the old tool running for a while: golang-migrate ran 3 (a seed) after
    kubemigrate adopted the database, and a migrate inserted the seed a second time."""
    folder = golang_folder(tmp_path)
    (folder / "3_items.up.sql").write_text("INSERT INTO settings VALUES ('locale', 'de');")
    (folder / "3_items.down.sql").write_text("DELETE FROM settings WHERE k = 'locale';")
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE settings (k text, v text)")
        conn.execute("INSERT INTO settings VALUES ('currency', 'EUR')")
    golang_ran(database_url, 2)
    fmt = ("--format", "golang-migrate")
    assert cli(folder, database_url, "baseline", *fmt).returncode == 0
    with connect(database_url) as conn:  # golang-migrate up, after the baseline
        conn.execute("INSERT INTO settings VALUES ('locale', 'de')")
        conn.execute("UPDATE schema_migrations SET version = 3")

    refused = cli(folder, database_url, "migrate", *fmt)
    assert refused.returncode == 5, refused.stderr
    said = " ".join(refused.stderr.split())
    assert "golang-migrate ran 3_items.up.sql on this database (schema_migrations records it)" in (
        said
    )
    assert "`kubemigrate baseline`" in said
    assert rows(database_url, "SELECT count(*) FROM settings WHERE k = 'locale'") == [(1,)]

    assert cli(folder, database_url, "baseline", *fmt).returncode == 0
    done = cli(folder, database_url, "migrate", *fmt)
    assert done.returncode == 0, done.stderr
    assert "Nothing to migrate: 3 applied, 0 pending." in done.stdout
    assert rows(database_url, "SELECT count(*) FROM settings WHERE k = 'locale'") == [(1,)]


def test_drizzle_s_migrator_run_after_the_baseline_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    folder = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE a (id int)")
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations (id serial, hash text, created_at bigint)"
        )
        conn.execute(
            "INSERT INTO drizzle.__drizzle_migrations (hash) VALUES (%s)",
            (hashlib.sha256((folder / "0000_a.sql").read_bytes()).hexdigest(),),
        )
    assert cli(folder, database_url, "baseline").returncode == 0
    with connect(database_url) as conn:  # drizzle's migrator ran 0001 since
        conn.execute("CREATE TABLE b (id int)")
        conn.execute(
            "INSERT INTO drizzle.__drizzle_migrations (hash) VALUES (%s)",
            (hashlib.sha256((folder / "0001_b.sql").read_bytes()).hexdigest(),),
        )
    refused = cli(folder, database_url, "migrate")
    assert refused.returncode == 5, refused.stderr
    assert "drizzle ran 0001_b.sql on this database" in " ".join(refused.stderr.split())
    assert applied_names(database_url) == ["0000_a.sql"]


def test_a_baseline_again_does_not_record_what_kubemigrate_rolled_back(
    tmp_path: Path, database_url: str
) -> None:
    """drizzle's table never learns of kubemigrate's rollback: a second baseline took it
    at its word, and the rolled-back tables read as applied, gone, never to be made."""
    folder = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE a (id integer PRIMARY KEY)")
        conn.execute("CREATE TABLE b (id integer PRIMARY KEY)")
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations (id serial, hash text, created_at bigint)"
        )
        for tag in ("0000_a", "0001_b"):
            ran = hashlib.sha256((folder / f"{tag}.sql").read_bytes()).hexdigest()
            conn.execute("INSERT INTO drizzle.__drizzle_migrations (hash) VALUES (%s)", (ran,))
    assert cli(folder, database_url, "baseline").returncode == 0
    undone = cli(folder, database_url, "rollback", "--force")
    assert undone.returncode == 0, undone.stderr
    assert not table_exists(database_url, "b")

    again = cli(folder, database_url, "baseline")
    assert again.returncode == 0, again.stderr
    assert "0001_b.sql: drizzle's history lists it as run, but kubemigrate rolled it back" in (
        " ".join((again.stdout + again.stderr).split())
    )
    assert applied_names(database_url) == []
    done = cli(folder, database_url, "migrate")  # not refused: kubemigrate undid them
    assert done.returncode == 0, done.stderr
    assert table_exists(database_url, "a")
    assert table_exists(database_url, "b")


def test_status_and_verify_tell_what_migrate_would_refuse(
    tmp_path: Path, database_url: str
) -> None:
    """verify, the CI gate, passed a database the deploy's migrate then refused (exit 5),
    and status listed the old tool's migrations as pending without a word."""
    folder = golang_folder(tmp_path)
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE settings (k text, v text)")
    golang_ran(database_url, 2)
    fmt = ("--format", "golang-migrate")
    status = cli(folder, database_url, "status", *fmt)
    assert status.returncode == 0, status.stderr
    said = " ".join((status.stdout + status.stderr).split())
    assert "migrated by golang-migrate (schema_migrations records 2 of these migrations" in said
    assert "`kubemigrate baseline` first" in said
    verify = cli(folder, database_url, "verify", *fmt)
    assert verify.returncode == 5, verify.stdout + verify.stderr
    assert "migrated by golang-migrate" in " ".join(verify.stderr.split())

    assert cli(folder, database_url, "baseline", *fmt).returncode == 0
    verify = cli(folder, database_url, "verify", *fmt)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    status = cli(folder, database_url, "status", *fmt)
    assert "golang-migrate" not in status.stdout + status.stderr


def test_baseline_with_a_target_keeps_to_what_the_old_tool_ran(
    tmp_path: Path, database_url: str
) -> None:
    """A target past golang-migrate's version recorded 2_seed and 3_items as applied,
    their tables never made and migrate never to make them (in production too)."""
    folder = golang_folder(tmp_path)
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE settings (k text, v text)")
    golang_ran(database_url, 1)
    fmt = ("--format", "golang-migrate", "--env", "production")
    refused = cli(folder, database_url, "baseline", "--target", "3", *fmt)
    assert refused.returncode == 4, refused.stderr
    said = " ".join(refused.stderr.split())
    assert (
        "schema_migrations (golang-migrate's history) does not record 2_seed.up.sql, "
        "3_items.up.sql as run: --target 3 would record it as applied" in said
    )
    assert "baseline with --target 1_settings.up.sql (the last it ran)" in said
    assert "`migrate force VERSION`" in said
    assert applied_names(database_url) == []
    done = cli(folder, database_url, "baseline", "--target", "1", *fmt)
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url) == ["1_settings.up.sql"]


def test_baseline_with_a_target_does_not_cross_a_dirty_version(
    tmp_path: Path, database_url: str
) -> None:
    folder = golang_folder(tmp_path)
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean)")
        conn.execute("INSERT INTO schema_migrations VALUES (2, true)")
    refused = cli(folder, database_url, "baseline", "--target", "2", "--format", "golang-migrate")
    assert refused.returncode == 4, refused.stderr
    assert "whose history says version 2 is dirty" in " ".join(refused.stderr.split())
    assert applied_names(database_url) == []


def test_baseline_with_a_target_does_not_record_a_version_flyway_skipped(
    tmp_path: Path, database_url: str
) -> None:
    folder = flyway_folder(tmp_path, 3)
    (folder / "V1_1__seed.sql").write_text("CREATE TABLE seeded (id bigint);")
    flyway_ran(database_url, ("1", "SQL"), ("2", "SQL"), ("3", "SQL"))
    refused = cli(folder, database_url, "baseline", "--target", "3", "--format", "flyway")
    assert refused.returncode == 4, refused.stderr
    assert "does not record V1_1__seed.sql as run" in " ".join(refused.stderr.split())
    assert applied_names(database_url) == []


def test_a_tool_s_history_under_another_name_or_schema_is_found(
    tmp_path: Path, database_url: str
) -> None:
    """golang-migrate's x-migrations-table, Flyway's flyway.schemas: the tables were
    looked for under their default names only, and migrate ran everything again (the
    seed twice; a second copy of Flyway's schema in public)."""
    folder = golang_folder(tmp_path)
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE settings (k text, v text)")
        conn.execute("INSERT INTO settings VALUES ('currency', 'EUR')")
        conn.execute("CREATE TABLE app_migrations (version bigint PRIMARY KEY, dirty boolean)")
        conn.execute("INSERT INTO app_migrations VALUES (2, false)")
    fmt = ("--format", "golang-migrate")
    refused = cli(folder, database_url, "migrate", *fmt)
    assert refused.returncode == 5, refused.stderr
    assert "migrated by golang-migrate (public.app_migrations records 2 of these migrations" in (
        " ".join(refused.stderr.split())
    )
    assert cli(folder, database_url, "baseline", *fmt).returncode == 0
    assert applied_names(database_url) == ["1_settings.up.sql", "2_seed.up.sql"]
    assert cli(folder, database_url, "migrate", *fmt).returncode == 0
    assert rows(database_url, "SELECT count(*) FROM settings") == [(1,)]

    flyway = flyway_folder(tmp_path, 2)
    other = database_url.rsplit("/", 1)[0] + "/" + "postgres"
    with connect(other) as conn:
        conn.execute("DROP DATABASE IF EXISTS flyway_app")
        conn.execute("CREATE DATABASE flyway_app")
    url = database_url.rsplit("/", 1)[0] + "/flyway_app"
    with connect(url) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute(FLYWAY_HISTORY.replace("flyway_schema_history", "app.flyway_schema_history"))
        conn.execute(
            "INSERT INTO app.flyway_schema_history VALUES (1, '1', 'x', 'SQL', 'x', 0, 'me', "
            "now(), 1, true)"
        )
        conn.execute("CREATE TABLE app.t1 (id bigint)")
    refused = cli(flyway, url, "migrate", "--format", "flyway")
    assert refused.returncode == 5, refused.stderr
    assert "(app.flyway_schema_history records 1 of these migrations" in (
        " ".join(refused.stderr.split())
    )
    assert not table_exists(url, "t2")


def test_two_histories_of_the_tool_that_record_the_folder_are_refused(
    tmp_path: Path, database_url: str
) -> None:
    folder = golang_folder(tmp_path)
    with connect(database_url) as conn:
        for table in ("schema_migrations", "old_migrations"):
            conn.execute(f"CREATE TABLE {table} (version bigint PRIMARY KEY, dirty boolean)")
            conn.execute(f"INSERT INTO {table} VALUES (1, false)")
    refused = cli(folder, database_url, "migrate", "--format", "golang-migrate")
    assert refused.returncode == 2, refused.stderr
    said = " ".join(refused.stderr.split())
    assert "could be any of schema_migrations, public.old_migrations" in said
    assert applied_names(database_url) == []


def test_a_script_edited_since_flyway_ran_it_is_not_baselined(
    tmp_path: Path, database_url: str
) -> None:
    """Flyway's history records each script's checksum (CRC-32 of its lines), which was
    never read: an edited V1 was baselined as applied, its new column never made, and
    verify then passed; Flyway's own validate says "checksum mismatch"."""
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "V1__init.sql").write_text("CREATE TABLE a (id int);\n")
    (folder / "V2__b.sql").write_text("CREATE TABLE b (id int);\n")
    with connect(database_url) as conn:
        conn.execute(FLYWAY_HISTORY)
        conn.execute(
            "INSERT INTO flyway_schema_history VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', "
            "-623083431, 'me', now(), 1, true)"
        )
        conn.execute("CREATE TABLE a (id int)")
    fmt = ("--format", "flyway")
    # as it ran, in a CRLF checkout: the same checksum
    (folder / "V1__init.sql").write_bytes(b"CREATE TABLE a (id int);\r\n")
    dry = cli(folder, database_url, "baseline", "--dry-run", *fmt)
    assert dry.returncode == 0, dry.stderr

    (folder / "V1__init.sql").write_text("CREATE TABLE a (id int, email text NOT NULL);\n")
    for attempt in (("baseline",), ("baseline", "--target", "1")):
        refused = cli(folder, database_url, *attempt, *fmt)
        assert refused.returncode == 4, refused.stderr
        said = " ".join(refused.stderr.split())
        assert (
            "flyway_schema_history (Flyway's history) records another checksum for "
            "V1__init.sql: edited since Flyway ran it" in said
        )
        assert "`flyway repair`" in said
    assert applied_names(database_url) == []
