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

import psycopg
import pytest
from psycopg import sql

from kubemigrate.domain.migrations import DEFAULT_LOCK_TIMEOUT_MS
from tests.conftest import run_cli
from tests.integration.helpers import (
    applied_names,
    connect,
    numbered,
    output,
    query,
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
