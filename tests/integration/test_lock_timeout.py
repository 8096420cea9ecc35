"""How long a migration waits for a lock.

A migration waiting for a table's lock queues every later query on that table behind
it: an ALTER TABLE behind a long report stopped the application until the report
ended. Staging and production runs wait at most ``DEFAULT_LOCK_TIMEOUT_MS`` where
nobody chose a lock_timeout; whoever did (the run's --lock-timeout, the URL, the role,
the database, postgresql.conf) is obeyed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from kubemigrate.domain.migrations import DEFAULT_LOCK_TIMEOUT_MS
from tests.conftest import run_cli
from tests.integration.helpers import (
    BREAKPOINT,
    applied_names,
    backends,
    connect,
    index_state,
    numbered,
    output,
    popen_cli,
    query,
    wait_for,
    write_drizzle,
)

# Each migration notes the lock_timeout it ran under; the second sets its own first,
# which must not carry over to the third.
NOTE = "INSERT INTO seen VALUES ({n}, current_setting('lock_timeout'));"
MIGRATIONS = numbered(
    ("seen", "CREATE TABLE seen (n int, lock_timeout text);" + NOTE.format(n=1), None),
    ("own", "SET lock_timeout = 0;\n" + NOTE.format(n=2), None),
    ("after", NOTE.format(n=3), None),
)
DEFAULT = f"{DEFAULT_LOCK_TIMEOUT_MS // 1000}s"


def migrate(tmp_path: Path, url: str, *args: str):  # type: ignore[no-untyped-def]
    folder = write_drizzle(tmp_path / "d", MIGRATIONS)
    result = run_cli("migrate", "--dir", str(folder), *args, database_url=url)
    assert result.returncode == 0, output(result)
    return dict(query(url, "SELECT n, lock_timeout FROM seen"))


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_staging_and_production_wait_a_few_seconds_for_a_lock(
    tmp_path: Path, database_url: str, environment: str
) -> None:
    assert migrate(tmp_path, database_url, "--env", environment) == {
        1: DEFAULT,
        2: "0",  # the migration's own
        3: DEFAULT,
    }


def test_development_keeps_the_server_s_setting(tmp_path: Path, database_url: str) -> None:
    assert migrate(tmp_path, database_url, "--env", "development") == {1: "0", 2: "0", 3: "0"}


def test_a_lock_timeout_someone_chose_is_kept(tmp_path: Path, database_url: str) -> None:
    with connect(database_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET lock_timeout = '10s'").format(sql.Identifier(name))
        )
    assert migrate(tmp_path, database_url, "--env", "production") == {1: "10s", 2: "0", 3: "10s"}


def test_the_run_s_own_lock_timeout_comes_first(tmp_path: Path, database_url: str) -> None:
    seen = migrate(tmp_path, database_url, "--env", "production", "--lock-timeout", "500")
    assert seen == {1: "500ms", 2: "0", 3: "500ms"}


def test_a_production_migration_behind_a_long_transaction_gives_up(
    tmp_path: Path, database_url: str
) -> None:
    """The report holding the table goes on; the migration is rolled back, the run
    exits 75 (worth retrying) and says why waiting longer is no answer."""
    folder = write_drizzle(
        tmp_path / "d",
        numbered(
            ("orders", "CREATE TABLE orders (id int);", None),
            ("note", "ALTER TABLE orders ADD COLUMN note text;", None),
        ),
    )
    first = run_cli("migrate", "--dir", str(folder), "--target", "0000", database_url=database_url)
    assert first.returncode == 0, output(first)
    with psycopg.connect(database_url) as report:  # a transaction, until the block ends
        report.execute("SELECT count(*) FROM orders")  # holds ACCESS SHARE until then
        result = run_cli(
            "migrate", "--dir", str(folder), "--env", "production", "--json",
            database_url=database_url,
        )  # fmt: skip
    assert result.returncode == 75, output(result)
    error = json.loads(result.stdout)["error"]
    assert error["reason"] == "LockTimeout"
    assert error["migration"] == "0001_note.sql"
    assert "canceling statement due to lock timeout" in error["message"]
    assert "the application's queries on that table wait behind it" in error["hint"]
    assert applied_names(database_url) == ["0000_orders.sql"]


def waiting_past_the_default(url: str) -> bool:
    """A kubemigrate session has waited for a lock a second longer than the default."""
    return bool(
        backends(
            url,
            "application_name LIKE 'kubemigrate%%' AND wait_event_type = 'Lock' "
            "AND clock_timestamp() - query_start > %s * interval '1 ms'",
            (DEFAULT_LOCK_TIMEOUT_MS + 1000,),
        )
    )


def index_behind_a_report(
    tmp_path: Path, url: str, index_file: str
) -> tuple[Path, psycopg.Connection[Any]]:
    """Tables ``orders`` and ``other`` applied, then the migration ``index_file`` pending;
    and a report's transaction (REPEATABLE READ, on ``other``), whose snapshot a build
    on ``orders`` waits for until it is committed (returned, open)."""
    folder = write_drizzle(
        tmp_path / "d",
        numbered(
            (
                "tables",
                "CREATE TABLE orders (id int);" + BREAKPOINT + "CREATE TABLE other (id int);",
                None,
            ),
            ("idx", index_file, None),
        ),
    )
    first = run_cli("migrate", "--dir", str(folder), "--target", "0000", database_url=url)
    assert first.returncode == 0, output(first)
    report = psycopg.connect(url)  # a transaction, until committed
    report.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    report.execute("SELECT count(*) FROM other")  # its snapshot lives until the commit
    return folder, report


def test_a_production_index_built_concurrently_waits_out_a_long_transaction(
    tmp_path: Path, database_url: str
) -> None:
    """CREATE INDEX CONCURRENTLY waits for every older snapshot in the database,
    whatever table it reads, and blocks none of the application's queries meanwhile: the
    default lock timeout stopped the build behind a report on another table, its index
    left INVALID and the database dirty, for a person to drop and repair. The default
    is back for the file's next statement."""
    folder, report = index_behind_a_report(
        tmp_path,
        database_url,
        "-- kubemigrate:no-transaction\n"
        "CREATE INDEX CONCURRENTLY orders_id ON orders (id);"
        + BREAKPOINT
        + "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout;",
    )
    with report:
        run = popen_cli(
            "migrate", "--dir", str(folder), "--env", "production", database_url=database_url
        )
        try:
            wait_for(
                lambda: run.poll() is not None or waiting_past_the_default(database_url),
                what="the build to wait past the default lock timeout, or the run to end",
            )
            assert run.poll() is None, run.communicate()
        finally:
            report.commit()
            _, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    assert applied_names(database_url) == ["0000_tables.sql", "0001_idx.sql"]
    assert index_state(database_url, "orders_id") is True
    assert query(database_url, "SELECT lock_timeout FROM seen") == [(DEFAULT,)]


@pytest.mark.parametrize("chosen", [("--lock-timeout", "300"), ()])
def test_a_lock_timeout_chosen_for_a_concurrent_build_stands(
    tmp_path: Path, database_url: str, chosen: tuple[str, ...]
) -> None:
    """The run's --lock-timeout, or the file's own SET (as squawk's require-lock-timeout
    asks): whoever chose one for the build gets it. The build stopped, its INVALID index
    is dropped (nothing else of the file ran), so the run is one to retry (75), and
    the retry, once the report is over, builds it."""
    own = "" if chosen else "SET lock_timeout = '300ms';" + BREAKPOINT
    folder, report = index_behind_a_report(
        tmp_path, database_url, own + "CREATE INDEX CONCURRENTLY orders_id ON orders (id);"
    )
    with report:
        result = run_cli(
            "migrate", "--dir", str(folder), "--env", "production", "--json", *chosen,
            database_url=database_url,
        )  # fmt: skip
    assert result.returncode == 75, output(result)
    told = json.loads(result.stdout)
    assert told["error"]["sqlState"] == "55P03"
    assert not told.get("dirty")
    assert "retry once they have ended" in told["error"]["hint"]
    assert index_state(database_url, "orders_id") is None
    retried = run_cli(
        "migrate", "--dir", str(folder), "--env", "production", *chosen, database_url=database_url
    )
    assert retried.returncode == 0, output(retried)
    assert index_state(database_url, "orders_id") is True
