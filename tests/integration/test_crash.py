"""A migration process killed with SIGKILL midway, as a node loss or an OOM kill would.

Inside a transactional migration, PostgreSQL rolls the transaction back when the
session ends: the database is as before that migration and a re-run completes.
Inside a non-transactional one, statements already run stay committed, so the
engine's dirty mark (committed before the first statement) makes every later
run refuse until a person has checked and run ``kubemigrate repair``.

Statements go to the server ahead of their results, COMMIT included, so the
server must notice by itself that the client died: kubemigrate sets
``client_connection_check_interval`` for its runs, and the tests below rely on
that alone (no ``pg_terminate_backend``): without it the server would finish the
sleeping statement and commit the migration of a run that was killed.

Ctrl-C and SIGTERM (a Job deleted or past its deadline) end a run cleanly instead:
the statement is cancelled, the migration rolled back, the interruption audited
and reported, exit 130.

The sleeping statement sleeps only when the session has ``kubemigrate_test.sleep``
set, so the file (and its checksum) is the same for the killed run and the
re-run. The setting reaches the server through the URL's ``options``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import (
    Partition,
    applied_names,
    backends,
    connect,
    create_table,
    history,
    history_actions,
    index_state,
    numbered,
    output,
    popen_cli,
    table_exists,
    tracking,
    wait_for,
    write_drizzle,
)

SLEEP = (
    "SELECT pg_sleep(CASE WHEN current_setting('kubemigrate_test.sleep', true) = 'on' "
    "THEN 30 ELSE 0 END);"
)
BREAK = "\n--> statement-breakpoint\n"

pytestmark = pytest.mark.timeout(120)


def sleepy(url: str) -> str:
    return f"{url}?options={quote('-c kubemigrate_test.sleep=on')}"


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


SLEEPING = "datname = %s AND query LIKE 'SELECT pg_sleep(%%' AND state = 'active'"


def signalled(
    url: str,
    *args: str,
    when: Callable[[], object],
    what: str,
    signals: Sequence[signal.Signals] = (signal.SIGKILL,),
    then: Callable[[], object] = lambda: None,
) -> subprocess.CompletedProcess[str]:
    """Run ``kubemigrate *args``; once ``when()`` holds, send ``signals`` (a person's
    pace between them: a second Ctrl-C), wait for the process to end, call ``then()``,
    and wait for its database session to end."""
    proc = popen_cli(*args, database_url=url)
    try:
        wait_for(when, what=what)
    finally:
        for n, sig in enumerate(signals):
            if n:
                time.sleep(0.005)  # the gap between two key presses, not a wait for anything
            os.kill(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=30)
    then()
    plain = url.split("?", 1)[0]
    wait_for(
        lambda: (
            not backends(
                plain, "datname = %s AND application_name LIKE 'kubemigrate%%'", (_dbname(url),)
            )
        ),
        what="the stopped run's database session to end",
    )
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def sleeping_for(url: str, call: str) -> Callable[[], object]:
    """Whether a session of ``url``'s database is running the statement ``call``."""
    where = "datname = %s AND query LIKE %s AND state = 'active'"
    return lambda: backends(url, where, (_dbname(url), f"%{call}%"))


def sleeping(url: str) -> Callable[[], object]:
    return lambda: backends(url, SLEEPING, (_dbname(url),))


def kill_during_sleep(
    url: str, directory: Path, sig: signal.Signals = signal.SIGKILL
) -> tuple[int, str]:
    """``migrate`` with sleeping on, sent ``sig`` once it sleeps: exit status and stderr."""
    done = signalled(
        sleepy(url),
        "migrate",
        "--dir",
        str(directory),
        when=sleeping(url),
        what="the migration's pg_sleep",
        signals=(sig,),
    )
    return done.returncode, done.stderr


def sleepy_middle(tmp_path: Path) -> Path:
    """before (quick), slow (a table, then the sleep), after (quick)."""
    return write_drizzle(
        tmp_path / "d",
        numbered(
            ("before", "CREATE TABLE before_crash (id int);", "DROP TABLE before_crash;"),
            ("slow", "CREATE TABLE crash_t (id int);" + BREAK + SLEEP, "DROP TABLE crash_t;"),
            ("after", "CREATE TABLE after_crash (id int);", "DROP TABLE after_crash;"),
        ),
    )


def sleepy_index(tmp_path: Path) -> Path:
    """items (quick), an index built CONCURRENTLY then the sleep (outside a transaction),
    later (quick)."""
    return write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", "CREATE TABLE items (id int, sku text);", "DROP TABLE items;"),
            (
                "items_sku_idx",
                "-- kubemigrate:no-transaction\n"
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_sku_idx ON items (sku);"
                + BREAK
                + SLEEP,
                "-- kubemigrate:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS items_sku_idx;",
            ),
            ("later", "CREATE TABLE later (id int);", "DROP TABLE later;"),
        ),
    )


def test_sigkill_inside_a_transactional_migration(tmp_path: Path, database_url: str) -> None:
    drizzle = sleepy_middle(tmp_path)
    first = run_cli(
        "migrate", "--target", "0000_before", "--dir", str(drizzle), database_url=database_url
    )
    assert first.returncode == 0, output(first)
    snapshot = tracking(database_url)

    code, _ = kill_during_sleep(database_url, drizzle)
    assert code == -signal.SIGKILL

    assert not table_exists(database_url, "crash_t")
    assert not table_exists(database_url, "after_crash")
    assert tracking(database_url) == snapshot
    assert table_exists(database_url, "before_crash")

    status = run_cli("status", "--dir", str(drizzle), database_url=database_url)
    assert status.returncode == 0, output(status)
    assert "dirty" not in status.stdout
    assert "  ⏳ Pending 0001_slow.sql\n" in status.stdout

    rerun = run_cli(
        "migrate", "--lock-wait", "10", "--dir", str(drizzle), database_url=database_url
    )
    assert rerun.returncode == 0, output(rerun)
    assert "✅ Applied 2 migration(s)" in rerun.stdout
    assert applied_names(database_url) == ["0000_before.sql", "0001_slow.sql", "0002_after.sql"]
    assert table_exists(database_url, "crash_t")
    applied = [m for action, m in history_actions(database_url) if action == "applied"]
    assert applied == applied_names(database_url)


def test_sigkill_inside_a_non_transactional_migration(tmp_path: Path, database_url: str) -> None:
    drizzle = sleepy_index(tmp_path)
    first = run_cli(
        "migrate", "--target", "0000_items", "--dir", str(drizzle), database_url=database_url
    )
    assert first.returncode == 0, output(first)

    code, _ = kill_during_sleep(database_url, drizzle)
    assert code == -signal.SIGKILL

    # The index (statement 1, outside a transaction) stays; nothing is recorded as applied.
    assert index_state(database_url, "items_sku_idx") is True
    assert applied_names(database_url) == ["0000_items.sql"]

    for attempt in ("migrate", "migrate"):
        refused = run_cli(attempt, "--dir", str(drizzle), database_url=database_url)
        assert refused.returncode == 4, output(refused)
        assert "0001_items_sku_idx.sql" in refused.stderr
        assert "kubemigrate repair" in refused.stderr
        assert "Traceback" not in output(refused)
    assert not table_exists(database_url, "later")
    assert applied_names(database_url) == ["0000_items.sql"]

    verify = run_cli("verify", "--dir", str(drizzle), database_url=database_url)
    assert verify.returncode == 4, output(verify)
    assert "dirty" in output(verify)

    status = run_cli("status", "--dir", str(drizzle), database_url=database_url)
    assert status.returncode == 0, output(status)
    assert "⚠️  Warnings:" in status.stdout
    assert "  - 0001_items_sku_idx.sql: dirty: " in status.stdout
    assert "kubemigrate repair" in status.stdout

    repaired = run_cli("repair", "--dir", str(drizzle), database_url=database_url)
    assert repaired.returncode == 0, output(repaired)
    assert "0001_items_sku_idx.sql: dirty mark cleared" in repaired.stdout
    assert ("repaired", "0001_items_sku_idx.sql") in history_actions(database_url)
    hist = run_cli("history", "--dir", str(drizzle), database_url=database_url)
    assert any(
        "repaired" in line and "0001_items_sku_idx.sql" in line for line in hist.stdout.splitlines()
    ), hist.stdout

    status = run_cli("status", "--dir", str(drizzle), database_url=database_url)
    assert "dirty" not in status.stdout

    done = run_cli("migrate", "--dir", str(drizzle), database_url=database_url)
    assert done.returncode == 0, output(done)
    assert applied_names(database_url) == [
        "0000_items.sql",
        "0001_items_sku_idx.sql",
        "0002_later.sql",
    ]
    assert index_state(database_url, "items_sku_idx") is True
    assert table_exists(database_url, "later")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_inside_a_transactional_migration(
    tmp_path: Path, database_url: str, sig: signal.Signals
) -> None:
    drizzle = sleepy_middle(tmp_path)
    code, stderr = kill_during_sleep(database_url, drizzle, sig)

    assert code == 130, stderr
    assert (
        "error: Interrupted in 0001_slow.sql: its transaction was rolled back and nothing after "
        "it ran." in stderr
    )
    assert "done before it, and kept (batch 1): 0000_before.sql" in stderr
    assert "Traceback" not in stderr
    assert "bug" not in stderr
    assert applied_names(database_url) == ["0000_before.sql"]
    assert not table_exists(database_url, "crash_t")
    assert not table_exists(database_url, "after_crash")
    assert history_actions(database_url) == [
        ("applied", "0000_before.sql"),
        ("failed", "0001_slow.sql"),
    ]

    # the lock went with the run: the next one does not wait for it
    rerun = run_cli("migrate", "--lock-wait", "0", "--dir", str(drizzle), database_url=database_url)
    assert rerun.returncode == 0, output(rerun)
    assert applied_names(database_url) == ["0000_before.sql", "0001_slow.sql", "0002_after.sql"]


def test_a_second_signal_does_not_cut_the_first_one_s_cancel_short(
    tmp_path: Path, database_url: str
) -> None:
    """Ctrl-C pressed twice, or a SIGTERM then a Ctrl-C, while a batch of short
    migrations runs: the second landed in the middle of the first one's cancel, which
    never reached the server; the migrations sent ahead went on committing after the
    process had left, and the report named fewer than the database had."""
    step = "SELECT pg_sleep(0.2);"  # 40 of them outlast a busy machine's look and signals
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            *((f"m{n}", f"CREATE TABLE m{n} (id int);{BREAK}{step}", None) for n in range(40))
        ),
    )
    done = signalled(
        database_url,
        "migrate",
        "--dir",
        str(drizzle),
        "--json",
        when=lambda: len(applied_names(database_url)) >= 3,
        what="a few migrations applied",
        signals=(signal.SIGTERM, signal.SIGINT, signal.SIGTERM),
    )
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    reported = [m["name"] for m in json.loads(done.stdout)["migrations"]]
    assert reported == applied_names(database_url)
    assert len(reported) < 40


def test_a_server_crash_mid_batch_reports_what_the_server_kept(tmp_path: Path) -> None:
    """A migration's commit that does not wait for the WAL flush (all but the batch's
    last) can be lost with a crash: the report asked the server again once it was back,
    instead of calling kept what the crash had undone."""
    from kubemigrate.devcluster import postgres

    step = "SELECT pg_sleep(0.002);"
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            *((f"m{n}", f"CREATE TABLE m{n} (id int);{BREAK}{step}", None) for n in range(300))
        ),
    )
    with postgres.running(durable=True) as server:
        url = server.create_database("crash")
        proc = popen_cli("migrate", "--dir", str(drizzle), "--json", database_url=url)
        try:
            wait_for(lambda: len(applied_names(url)) >= 20, what="some migrations applied")
        finally:
            server.stop()  # immediate: a crash, and recovery at the next start
        server.start_again()
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 75, stderr
        reported = [m["name"] for m in json.loads(stdout)["migrations"]]
        assert reported == applied_names(url)
        assert "deferred constraint" not in stderr


def test_a_signal_while_the_server_cannot_be_reached_does_not_claim_nothing_committed(
    tmp_path: Path, database_url: str
) -> None:
    """A network partition, then the SIGTERM a Job's deadline or an eviction sends: the
    server had committed the whole batch, and the report said the migration it was in
    was rolled back and nothing after it ran."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("before", "CREATE TABLE before_cut (id int);", None),
            ("slow", "CREATE TABLE slow_cut (id int);" + BREAK + "SELECT pg_sleep(1);", None),
            ("after", "CREATE TABLE after_cut (id int);", None),
        ),
    )
    partition = Partition(database_url)
    result = tmp_path / "result.json"
    args = ("migrate", "--dir", str(drizzle), "--result-file", str(result))
    proc = popen_cli(*args, database_url=partition.url)
    try:
        wait_for(sleeping_for(database_url, "pg_sleep(1)"), what="the slow migration")
        partition.cut()
        wait_for(lambda: len(applied_names(database_url)) == 3, what="the server's commits")
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        partition.close()

    assert proc.returncode == 130, stderr
    assert "no new connection could ask the server" in stderr
    assert "kubemigrate status" in stderr
    assert "rolled back" not in stderr
    error = json.loads(result.read_text())["error"]
    assert error["reason"] == "Interrupted"
    assert error["unconfirmed"] is True
    # the driver's warnings on the way ("query cancellation failed") are log lines too
    log = stderr.split("\nerror: ", 1)[0].splitlines()
    assert all(json.loads(line)["type"] == "database_migration" for line in log), stderr


def test_a_rollback_stopped_outside_a_transaction_is_finished_by_rolling_back_again(
    tmp_path: Path, database_url: str
) -> None:
    """The dirty mark of a rollback (its migration still recorded as applied) said what a
    migrate's says: undo it and baseline, which left a tracking row without its index."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", "CREATE TABLE items (id int, sku text);", "DROP TABLE items;"),
            (
                "items_sku_idx",
                "-- kubemigrate:no-transaction\n"
                "CREATE INDEX CONCURRENTLY items_sku_idx ON items (sku);",
                "-- kubemigrate:no-transaction\n"
                "DROP INDEX CONCURRENTLY IF EXISTS items_sku_idx;" + BREAK + SLEEP,
            ),
        ),
    )
    for target in ("0000", "0001"):  # a batch each
        done = run_cli(
            "migrate", "--target", target, "--dir", str(drizzle), database_url=database_url
        )
        assert done.returncode == 0, output(done)
    proc = signalled(
        sleepy(database_url),
        "rollback",
        "--steps",
        "1",
        "--dir",
        str(drizzle),
        when=sleeping(database_url),
        what="the down's pg_sleep",
        signals=(signal.SIGTERM,),
    )
    assert proc.returncode == 130
    said = " ".join(proc.stderr.split())
    assert "Interrupted rolling back 0001_items_sku_idx.sql" in said
    assert "stay done and the database is marked dirty" in said
    assert "`kubemigrate repair --accept-down 0001_items_sku_idx.sql`" in said
    assert index_state(database_url, "items_sku_idx") is None  # the down's first statement
    assert applied_names(database_url) == ["0000_items.sql", "0001_items_sku_idx.sql"]

    refused = run_cli("rollback", "--dir", str(drizzle), database_url=database_url)
    assert refused.returncode == 4, output(refused)
    said = " ".join(refused.stderr.split())
    assert "the rollback of 0001_items_sku_idx.sql ran outside a transaction" in said
    assert "baseline" not in said
    assert "`kubemigrate repair --accept-down 0001_items_sku_idx.sql`" in said

    # as told: its down is safe to run again (IF EXISTS), stored, the mark cleared
    repaired = run_cli(
        "repair",
        "--accept-down",
        "0001_items_sku_idx.sql",
        "--dir",
        str(drizzle),
        database_url=database_url,
    )
    assert repaired.returncode == 0, output(repaired)
    again = run_cli("rollback", "--steps", "1", "--dir", str(drizzle), database_url=database_url)
    assert again.returncode == 0, output(again)
    assert applied_names(database_url) == ["0000_items.sql"]


def test_a_run_killed_after_every_statement_but_before_its_bookkeeping_says_so(
    tmp_path: Path, database_url: str
) -> None:
    """The mark said "stopped at statement 2 of 2, statements before it committed", as if
    the second had not run; it had, and the way out is to record it, not run it again."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", "CREATE TABLE items (id int, sku text);", "DROP TABLE items;"),
            (
                "idx",
                "-- kubemigrate:no-transaction\n"
                "CREATE INDEX CONCURRENTLY items_sku ON items (sku);"
                + BREAK
                + "CREATE INDEX CONCURRENTLY items_id ON items (id);",
                None,
            ),
        ),
    )
    first = run_cli("migrate", "--target", "0000", "--dir", str(drizzle), database_url=database_url)
    assert first.returncode == 0, output(first)
    with connect(database_url) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE __migration_tracking IN SHARE MODE")  # reads go on
        waiting = (
            "datname = %s AND application_name LIKE 'kubemigrate%%' AND wait_event_type = 'Lock'"
        )
        signalled(
            database_url,
            "migrate",
            "--dir",
            str(drizzle),
            when=lambda: backends(database_url, waiting, (_dbname(database_url),)),
            what="the bookkeeping to wait for the tracking table",
            then=lambda: holder.execute("ROLLBACK"),
        )
    refused = run_cli("migrate", "--dir", str(drizzle), database_url=database_url)
    assert refused.returncode == 4, output(refused)
    said = " ".join(refused.stderr.split())
    assert "ran all 2 of its statements outside a transaction, then the run stopped" in said
    assert "`kubemigrate baseline --target 0001_idx.sql`" in said
    assert run_cli("repair", "--dir", str(drizzle), database_url=database_url).returncode == 0
    recorded = run_cli(
        "baseline", "--target", "0001_idx.sql", "--dir", str(drizzle), database_url=database_url
    )
    assert recorded.returncode == 0, output(recorded)
    assert applied_names(database_url) == ["0000_items.sql", "0001_idx.sql"]
    assert index_state(database_url, "items_id") is True


def test_a_repair_does_not_clear_the_mark_of_a_migration_being_applied(
    tmp_path: Path, database_url: str
) -> None:
    """repair asked for while a run applies a migration outside a transaction: it waited
    for that run's lock and, the run killed, cleared the mark its crash left, which no
    one had checked; the next migrate ran the file again over what it had done."""
    drizzle = sleepy_index(tmp_path)
    first = run_cli(
        "migrate", "--target", "0000_items", "--dir", str(drizzle), database_url=database_url
    )
    assert first.returncode == 0, output(first)
    proc = popen_cli("migrate", "--dir", str(drizzle), database_url=sleepy(database_url))
    try:
        wait_for(sleeping(database_url), what="the migration's pg_sleep")
        refused = run_cli("repair", "--dir", str(drizzle), database_url=database_url)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert refused.returncode == 5, output(refused)
    assert (
        "0001_items_sku_idx.sql is marked dirty while another run holds the lock" in refused.stderr
    )
    assert ("repaired", "0001_items_sku_idx.sql") not in history_actions(database_url)
    wait_for(lambda: not sleeping(database_url)(), what="the killed run's session to end")
    still = run_cli("migrate", "--dir", str(drizzle), database_url=database_url)
    assert still.returncode == 4, output(still)  # dirty: for a person to check, then repair


@pytest.mark.parametrize("command", ["rollback", "reset"])
def test_an_interrupted_rollback_says_which_command_goes_on(
    tmp_path: Path, database_url: str, command: str
) -> None:
    """A reset stopped in a down said "roll back again to go on": a rollback undoes one
    batch, not everything the reset was undoing."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("a", "CREATE TABLE a (id int);", "DROP TABLE a;"),
            ("b", "CREATE TABLE b (id int);", "DROP TABLE b;" + BREAK + SLEEP),
        ),
    )
    assert run_cli("migrate", "--dir", str(drizzle), database_url=database_url).returncode == 0
    done = signalled(
        sleepy(database_url),
        command,
        "--dir",
        str(drizzle),
        when=sleeping(database_url),
        what="the down's pg_sleep",
        signals=(signal.SIGTERM,),
    )
    assert done.returncode == 130, done.stderr
    assert "Interrupted rolling back 0001_b.sql" in done.stderr
    again = "run reset again" if command == "reset" else "roll back again"
    assert f"the migrations undone before it stay undone; {again} to go on" in done.stderr
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]


def test_sigterm_inside_a_non_transactional_migration(tmp_path: Path, database_url: str) -> None:
    drizzle = sleepy_index(tmp_path)
    code, stderr = kill_during_sleep(database_url, drizzle, signal.SIGTERM)
    assert code == 130, stderr
    assert (
        "error: Interrupted in 0001_items_sku_idx.sql, which runs outside a transaction, at "
        "statement 2 of 2: the statements before it stay applied and the database is marked "
        "dirty." in stderr
    )
    assert "done before it, and kept (batch 1): 0000_items.sql" in stderr
    # the way out the next run's refusal gives, said at once
    assert "`kubemigrate baseline --target 0001_items_sku_idx.sql`" in " ".join(stderr.split())
    assert applied_names(database_url) == ["0000_items.sql"]
    assert index_state(database_url, "items_sku_idx") is True
    refused = run_cli("migrate", "--dir", str(drizzle), database_url=database_url)
    assert refused.returncode == 4, output(refused)


def test_an_interruption_while_the_last_lines_are_written_reports_what_committed(
    tmp_path: Path, database_url: str
) -> None:
    """SIGTERM (or a full stderr pipe) while the last group's log lines are written: the
    migrations had committed, and the report must say so, not that one rolled back."""
    from kubemigrate.domain.errors import Interrupted
    from kubemigrate.domain.migrations import Action, Step
    from kubemigrate.engine.runner import QuietObserver, RunOptions
    from kubemigrate.engine.session import open_runner

    folder = write_drizzle(tmp_path / "d", numbered(*map(create_table, "abc")))

    class StoppedWhileLogging(QuietObserver):
        def step_finished(self, step: Step, duration_ms: float) -> None:
            if step.name == "0001_b.sql":
                raise KeyboardInterrupt

    with (
        open_runner(database_url, folder, observer=StoppedWhileLogging()) as runner,
        pytest.raises(Interrupted) as stopped,
    ):
        runner.run(Action.MIGRATE, RunOptions())
    assert "all 3 of them are done" in stopped.value.message
    assert stopped.value.partial is not None
    names = ["0000_a.sql", "0001_b.sql", "0002_c.sql"]
    assert [m.name for m in stopped.value.partial.migrations] == names
    assert applied_names(database_url) == names
    assert "failed" not in [row["action"] for row in history(database_url)]


def test_a_retried_rollback_undoes_the_batches_it_was_asked_to_and_no_more(
    tmp_path: Path, database_url: str
) -> None:
    """A Job retries its Pod (evicted, a lock timeout) with the same command and run id:
    counted from the database as it then was, `--steps 2` undid a third batch (every
    migration gone) and a plain rollback a second."""
    drizzle = write_drizzle(tmp_path / "d", numbered(*map(create_table, "abc")))
    for target in ("0000", "0001", "0002"):  # a batch each
        done = run_cli(
            "migrate", "--target", target, "--dir", str(drizzle), database_url=database_url
        )
        assert done.returncode == 0, output(done)
    attempt = ("rollback", "--steps", "2", "--run-id", "run-7", "--dir", str(drizzle))
    # the first attempt undid the newest batch, then its Pod went away: what it leaves
    first = run_cli(
        "rollback", "--run-id", "run-7", "--dir", str(drizzle), database_url=database_url
    )
    assert first.returncode == 0, output(first)
    retry = run_cli(*attempt, database_url=database_url)
    assert retry.returncode == 0, output(retry)
    assert applied_names(database_url) == ["0000_a.sql"]
    again = run_cli(*attempt, database_url=database_url)  # and once more: nothing left
    assert again.returncode == 0, output(again)
    assert applied_names(database_url) == ["0000_a.sql"]
    # another run (its own id) is a rollback of its own
    other = run_cli("rollback", "--dir", str(drizzle), database_url=database_url)
    assert other.returncode == 0, output(other)
    assert applied_names(database_url) == []
