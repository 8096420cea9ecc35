"""Runs that meet: two ``migrate`` processes at once, a held lock, CIC under a waiter.

The engine serialises runs with a session-level advisory lock that it polls with a
deadline (never a blocking lock, which would deadlock with CREATE INDEX
CONCURRENTLY), and re-reads the applied list after taking it. These tests use the
real console script in separate processes against one database.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import (
    applied_names,
    backends,
    connect,
    create_table,
    history_actions,
    index_state,
    numbered,
    output,
    popen_cli,
    scalar,
    tracking,
    user_tables,
    wait_for,
    write_drizzle,
)

LOCK_CLASS = 0x6B6D
LOCK_KEY_SQL = "hashtext(current_database() || '.' || current_schema() || '.__migration_tracking')"
ROUNDS = 20
TABLES = ("alpha", "beta", "gamma")


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def _migrate_backends(url: str, *, polling: bool = False) -> list[tuple[Any, ...]]:
    where = "datname = %s AND application_name LIKE 'kubemigrate migrate%%'"
    if polling:
        where += " AND (query LIKE '%%pg_try_advisory_lock%%' OR query LIKE '%%pg_locks%%')"
    return backends(url, where, (_dbname(url),))


def _both_polling(url: str) -> bool:
    return len(_migrate_backends(url, polling=True)) == 2


def _check_round(url: str, results: list[tuple[int, str, str]]) -> None:
    codes = [code for code, _, _ in results]
    texts = [out + err for _, out, err in results]
    for text in texts:
        assert "duplicate key" not in text.lower(), text
        assert "23505" not in text, text
        assert "Traceback" not in text, text
    assert codes == [0, 0], texts
    winners = [t for t in texts if "✅ Applied 3 migration(s) (batch 1):" in t]
    losers = [t for t in texts if "Nothing to migrate: 3 applied, 0 pending." in t]
    assert len(winners) == 1, texts
    assert len(losers) == 1, texts
    names = applied_names(url)
    assert names == [f"{i:04d}_{t}.sql" for i, t in enumerate(TABLES)]
    assert len(set(names)) == len(names)
    assert [r["batch_number"] for r in tracking(url)] == [1, 1, 1]
    assert user_tables(url) == set(TABLES)
    applied = Counter(m for action, m in history_actions(url) if action == "applied")
    assert applied == Counter(names)
    assert all(action == "applied" for action, _ in history_actions(url))


def test_two_simultaneous_migrates_apply_everything_exactly_once(
    pg_server: Any, tmp_path: Path
) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(*(create_table(t) for t in TABLES)))
    for round_number in range(ROUNDS):
        name = f"race_{round_number}"
        url = pg_server.create_database(name)
        try:
            if round_number % 2:
                # Release both together: hold the lock until both runners are polling it.
                with connect(url) as holder:
                    holder.execute(f"SELECT pg_advisory_lock({LOCK_CLASS}, {LOCK_KEY_SQL})")
                    procs = [
                        popen_cli("migrate", "--dir", str(drizzle), database_url=url) for _ in "ab"
                    ]
                    wait_for(
                        functools.partial(_both_polling, url),
                        what="both runners polling the lock",
                    )
                    holder.execute(f"SELECT pg_advisory_unlock({LOCK_CLASS}, {LOCK_KEY_SQL})")
            else:
                # Started back to back: they race from connect to the lock.
                procs = [
                    popen_cli("migrate", "--dir", str(drizzle), database_url=url) for _ in "ab"
                ]
            results = []
            for proc in procs:
                out, err = proc.communicate(timeout=120)
                results.append((proc.returncode, out, err))
            _check_round(url, results)
        finally:
            pg_server.drop_database(name)


def test_lock_held_elsewhere_times_out_naming_the_holder(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("locked_out")))
    with connect(database_url, application_name="blocker-xyz") as holder:
        holder.execute(f"SELECT pg_advisory_lock({LOCK_CLASS}, {LOCK_KEY_SQL})")
        result = run_cli(
            "migrate", "--lock-wait", "1", "--dir", str(drizzle), database_url=database_url
        )
        as_json = run_cli(
            "migrate",
            "--lock-wait",
            "1",
            "--json",
            "--dir",
            str(drizzle),
            database_url=database_url,
        )
    assert result.returncode == 75, output(result)
    assert "blocker-xyz" in result.stderr
    assert "lock" in result.stderr.lower()
    assert "Traceback" not in output(result)
    assert as_json.returncode == 75
    error = json.loads(as_json.stdout)["error"]
    assert error["reason"] == "LockTimeout"
    assert "blocker-xyz" in error["holder"]
    # where the database is, even though the run never got the lock (was all zeros)
    assert json.loads(as_json.stdout)["counts"] == {"total": 1, "applied": 0, "pending": 1}
    assert applied_names(database_url) == []
    assert user_tables(database_url) == set()
    # Once the holder's session is gone, the same command succeeds.
    again = run_cli("migrate", "--lock-wait", "5", "--dir", str(drizzle), database_url=database_url)
    assert again.returncode == 0, output(again)
    assert applied_names(database_url) == ["0000_locked_out.sql"]


def test_a_dirty_mark_made_while_a_repair_waits_for_the_lock_is_not_cleared(
    tmp_path: Path, database_url: str
) -> None:
    """A run that stops in a migration outside a transaction while a repair waits for
    its lock leaves a mark no one has checked: the repair cleared it."""
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("first")))
    assert run_cli("migrate", "--dir", str(drizzle), database_url=database_url).returncode == 0
    with connect(database_url) as run:
        run.execute(f"SELECT pg_advisory_lock({LOCK_CLASS}, {LOCK_KEY_SQL})")
        repair = popen_cli("repair", "--dir", str(drizzle), database_url=database_url)
        assert repair.stderr is not None
        assert "waiting for the migration lock" in repair.stderr.readline()
        # the run marks the migration it starts outside a transaction, then dies
        run.execute(
            "INSERT INTO __migration_dirty (migration_name, statement_index, total_statements) "
            "VALUES ('0001_index.sql', 1, 2)"
        )
    out, err = repair.communicate(timeout=60)
    assert repair.returncode == 5, out + err
    assert "0001_index.sql was marked dirty while this repair waited for the lock" in err
    assert scalar(database_url, "SELECT count(*) FROM __migration_dirty") == 1


def test_an_interruption_while_waiting_for_the_lock_still_says_where_the_database_is(
    tmp_path: Path, database_url: str
) -> None:
    """A SIGTERM while waiting for another run's lock (a Job deleted during a deploy)
    reported counts of zero: a MigrationRun's status then read "0 applied, 0 pending"."""
    import os
    import signal

    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    done = run_cli("migrate", "--target", "0000", "--dir", str(drizzle), database_url=database_url)
    assert done.returncode == 0, output(done)
    polling = (
        "application_name LIKE 'kubemigrate migrate%%' "
        "AND (query LIKE '%%advisory%%' OR query LIKE '%%pg_locks%%')"
    )
    with connect(database_url, application_name="blocker") as holder:
        holder.execute(f"SELECT pg_advisory_lock({LOCK_CLASS}, {LOCK_KEY_SQL})")
        proc = popen_cli("migrate", "--json", "--dir", str(drizzle), database_url=database_url)
        try:
            wait_for(lambda: backends(database_url, polling), what="the run to wait for the lock")
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    result = json.loads(stdout)
    assert result["error"]["reason"] == "Interrupted"
    assert "waiting for the migration lock" in result["error"]["message"]
    assert result["counts"] == {"total": 2, "applied": 1, "pending": 1}


def _events_then_cic(tmp_path: Path, database_url: str) -> Path:
    """A table applied, then a pending CREATE INDEX CONCURRENTLY on it."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            (
                "events",
                "CREATE TABLE events (id serial PRIMARY KEY, kind text);",
                "DROP TABLE events;",
            ),
            (
                "events_kind_idx",
                "-- kubemigrate:no-transaction\n"
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_kind_idx ON events (kind);",
                "-- kubemigrate:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS events_kind_idx;",
            ),
        ),
    )
    first = run_cli(
        "migrate", "--target", "0000_events", "--dir", str(drizzle), database_url=database_url
    )
    assert first.returncode == 0, output(first)
    return drizzle


@contextmanager
def _migrate_held_in_cic(drizzle: Path, database_url: str) -> Iterator[tuple[Any, Any]]:
    """``migrate`` running the CREATE INDEX CONCURRENTLY, kept waiting by an open
    writing transaction (CIC waits for it in its first phase) until the block ends.
    Yields the migrate process and the CIC's backend row."""
    with connect(database_url) as writer:
        writer.execute("BEGIN")
        writer.execute("INSERT INTO events (kind) VALUES ('signup')")
        holder = popen_cli("migrate", "--dir", str(drizzle), database_url=database_url)
        cic = wait_for(
            lambda: backends(
                database_url,
                "query LIKE 'CREATE INDEX CONCURRENTLY%%' AND wait_event_type = 'Lock'",
            ),
            what="the CREATE INDEX CONCURRENTLY to be running",
        )
        yield holder, cic[0]
        writer.execute("COMMIT")


@pytest.mark.timeout(120)
def test_create_index_concurrently_while_another_runner_waits(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = _events_then_cic(tmp_path, database_url)
    with _migrate_held_in_cic(drizzle, database_url) as (holder, cic):
        waiter = popen_cli(
            "migrate", "--lock-wait", "60", "--dir", str(drizzle), database_url=database_url
        )
        wait_for(
            lambda: [
                row for row in _migrate_backends(database_url, polling=True) if row[0] != cic[0]
            ],
            what="the second runner to be polling the lock",
        )
    holder_out = holder.communicate(timeout=60)
    waiter_out = waiter.communicate(timeout=60)
    assert holder.returncode == 0, output(holder_out)
    assert waiter.returncode == 0, output(waiter_out)
    assert "✅ Applied 1 migration(s) (batch 2):" in holder_out[0]
    assert "Nothing to migrate" in waiter_out[0]
    assert index_state(database_url, "events_kind_idx") is True
    assert applied_names(database_url) == ["0000_events.sql", "0001_events_kind_idx.sql"]


def test_status_and_verify_during_a_non_transactional_migration_see_it_running(
    tmp_path: Path, database_url: str
) -> None:
    """A lock-free reader must not mistake a migration in progress for a dirty database."""
    drizzle = _events_then_cic(tmp_path, database_url)
    with _migrate_held_in_cic(drizzle, database_url) as (holder, _):
        verify = run_cli("verify", "--dir", str(drizzle), database_url=database_url)
        status = run_cli("status", "--dir", str(drizzle), database_url=database_url)
    holder_out = holder.communicate(timeout=60)
    assert holder.returncode == 0, output(holder_out)
    assert verify.returncode == 0, output(verify)
    assert status.returncode == 0, output(status)
    assert "dirty" not in status.stdout
    assert "0001_events_kind_idx.sql: being applied now outside a transaction" in status.stdout
    assert "⏳ Pending 0001_events_kind_idx.sql" in status.stdout
    after = run_cli("verify", "--dir", str(drizzle), database_url=database_url)
    assert after.returncode == 0, output(after)


def test_status_beside_a_transactional_migration_says_a_run_is_under_way(
    tmp_path: Path, database_url: str
) -> None:
    """A migration in a transaction shows nothing until it commits: status listed it
    pending and said nothing of the run behind it, stuck behind a report's lock."""
    drizzle = _events_then_cic(tmp_path, database_url)
    (drizzle / "0001_events_kind_idx.sql").write_text("ALTER TABLE events ADD COLUMN note text;")
    with connect(database_url) as report:
        report.execute("BEGIN")
        report.execute("SELECT count(*) FROM events")  # holds the table until it ends
        migrating = popen_cli("migrate", "--dir", str(drizzle), database_url=database_url)
        wait_for(
            lambda: backends(
                database_url, "query LIKE 'ALTER TABLE events%%' AND wait_event_type = 'Lock'"
            ),
            what="the migration to be waiting for the table",
        )
        status = run_cli("status", "--dir", str(drizzle), "--json", database_url=database_url)
        report.execute("COMMIT")
    done = migrating.communicate(timeout=60)
    assert migrating.returncode == 0, output(done)
    assert status.returncode == 0, output(status)
    (said,) = json.loads(status.stdout)["warnings"]
    assert said.startswith("a run holds the migration lock now: pid ")
    assert "(kubemigrate migrate " in said
    assert ", waiting for a table's lock); what it applies shows here once it commits" in said
    assert "ALTER TABLE" not in said  # never a statement's text (a role's PASSWORD ...)
    after = run_cli("status", "--dir", str(drizzle), "--json", database_url=database_url)
    assert json.loads(after.stdout)["warnings"] == []
