"""A run attempted again under its run id, as a Job retries its Pod.

A MigrationRun's Job starts a new Pod when the last one exited 75 (a lock timeout,
the database gone for a moment) or was evicted, and the new Pod runs the same
command with the same ``--run-id`` (the run's uid). Only the last Pod's result
reaches the run's status and metrics, so that result reports what the earlier
attempts did too, from the history table, marked ``earlierAttempt``: every migration
the run applied or rolled back, once. A production rollback's phrase names the
batches of the whole run, so it still confirms what is left of it once an earlier
attempt has undone some, and never a batch it did not name.

The earlier attempt is made to stop after some migrations committed as it would in
a cluster: a lock timeout on a table another session holds (exit 75), or a failing
file fixed before the next attempt.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import kubemigrate
from kubemigrate.domain.errors import MigrationFailed
from kubemigrate.domain.outcome import Outcome
from tests.conftest import run_cli
from tests.integration.helpers import (
    applied_names,
    connect,
    create_table,
    history,
    numbered,
    output,
    tracking,
    write_drizzle,
)

pytestmark = pytest.mark.timeout(120)

NAMES = ["0000_blocker.sql", "0001_a.sql", "0002_b.sql", "0003_touch.sql", "0004_c.sql"]


def cli(folder: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--dir", str(folder), database_url=url)


@contextmanager
def locked(url: str, table: str) -> Iterator[None]:
    """``table`` held by another session, as a long transaction of the application
    would hold it: a migration that needs it meets its lock timeout."""
    with connect(url) as holder, holder.transaction():
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield


def listed(result: subprocess.CompletedProcess[str]) -> list[tuple[str, bool]]:
    """The result's migrations, each with whether an earlier attempt did it."""
    data = json.loads(result.stdout)
    return [(m["name"], bool(m.get("earlierAttempt"))) for m in data.get("migrations", [])]


@pytest.fixture
def folder(tmp_path: Path, database_url: str) -> Path:
    """A table another run created (batch 1), then four migrations, the third of
    which needs a lock on it."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            create_table("blocker"),
            create_table("a"),
            create_table("b"),
            ("touch", "ALTER TABLE blocker ADD COLUMN note text;", None),
            create_table("c"),
        ),
    )
    assert cli(drizzle, database_url, "migrate", "--target", "0000").returncode == 0
    return drizzle


def test_a_migrate_retried_after_a_lock_timeout_reports_every_migration_of_the_run(
    folder: Path, database_url: str
) -> None:
    attempt = ("migrate", "--run-id", "run-1", "--lock-timeout", "300", "--json")
    with locked(database_url, "blocker"):
        first = cli(folder, database_url, *attempt)
        assert first.returncode == 75, output(first)  # temporary: the Job retries it
        assert listed(first) == [("0001_a.sql", False), ("0002_b.sql", False)]
        # the Job's next Pod meets the same lock: its result still says what the run did
        second = cli(folder, database_url, *attempt)
        assert second.returncode == 75, output(second)
        assert listed(second) == [("0001_a.sql", True), ("0002_b.sql", True)]
        assert json.loads(second.stdout)["batch"] == 2
    last = cli(folder, database_url, *attempt)
    assert last.returncode == 0, output(last)
    assert listed(last) == [
        ("0001_a.sql", True),
        ("0002_b.sql", True),
        ("0003_touch.sql", False),
        ("0004_c.sql", False),
    ]
    data = json.loads(last.stdout)
    # two batches: the first attempt's, and this one's (the second's number went with its
    # failure: batch numbers are never reused)
    assert "batch" not in data
    assert data["batches"] == [2, 4]
    assert data["counts"] == {"total": 5, "applied": 5, "pending": 0}
    # what the operator counts: each migration of the run once
    assert Outcome.from_dict(data).migration_counts() == {"up": 4}
    assert applied_names(database_url) == NAMES
    applied = [row["migration_name"] for row in history(database_url) if row["action"] == "applied"]
    assert applied == NAMES  # each applied once: the report is of the history, not a re-run

    # in words: how many an earlier attempt did, and the batches a rollback would need
    again = cli(folder, database_url, "migrate", "--run-id", "run-1")
    assert again.returncode == 0, output(again)
    assert again.stdout.startswith(
        "✅ Applied 4 migration(s) (batches 2 and 4; all by an earlier attempt of this run):\n"
    )
    assert "  - 0001_a.sql (" in again.stdout
    assert "ms, by an earlier attempt of this run)" in again.stdout
    # another run is a run of its own
    other = cli(folder, database_url, "migrate", "--run-id", "run-2")
    assert other.returncode == 0, output(other)
    assert other.stdout.startswith("Nothing to migrate: 5 applied, 0 pending.")


def test_a_migrate_retried_after_its_failing_file_was_fixed_reports_both_attempts(
    tmp_path: Path, database_url: str
) -> None:
    """The Python API, as a deploy script retrying under its own run id."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            create_table("a"),
            ("bad", "CREATE TABLE b (id integer REFERENCES missing (id));", "DROP TABLE b;"),
            create_table("c"),
        ),
    )
    with pytest.raises(MigrationFailed) as failed:
        kubemigrate.apply_migrations(database_url, drizzle, run_id="deploy-7")
    assert failed.value.partial is not None
    assert [m.name for m in failed.value.partial.migrations] == ["0000_a.sql"]
    (drizzle / "0001_bad.sql").write_text("CREATE TABLE b (id integer);")
    outcome = kubemigrate.apply_migrations(database_url, drizzle, run_id="deploy-7")
    assert [(m.name, bool(m.earlierAttempt)) for m in outcome.migrations] == [
        ("0000_a.sql", True),
        ("0001_bad.sql", False),
        ("0002_c.sql", False),
    ]
    assert (outcome.batch, outcome.batches) == (None, (1, 2))
    assert outcome.earlier_count == 1
    earlier = outcome.migrations[0]
    assert earlier.direction == "up"
    assert earlier.checksum == tracking(database_url)[0]["checksum"]


@pytest.fixture
def three_batches(tmp_path: Path, database_url: str) -> Path:
    """Batches 1, 2 and 3: tables a, b and c, in production."""
    drizzle = write_drizzle(tmp_path / "d", numbered(*map(create_table, "abc")))
    for target in ("0000", "0001", "0002"):
        done = cli(drizzle, database_url, "migrate", "--env", "production", "--target", target)
        assert done.returncode == 0, output(done)
    return drizzle


ROLLBACK = ("rollback", "--env", "production", "--run-id", "undo-1", "--lock-timeout", "300")


def undo_first_batch_then_time_out(folder: Path, url: str, *confirm: str) -> None:
    """The first attempt undoes batch 3, then meets a lock on table b (batch 2's down)."""
    with locked(url, "b"):
        first = cli(folder, url, *ROLLBACK, *confirm, "--json")
    assert first.returncode == 75, output(first)
    assert listed(first) == [("0002_c.sql", False)]
    assert applied_names(url) == ["0000_a.sql", "0001_b.sql"]


@pytest.mark.parametrize(
    "confirm",
    [
        ("--steps", "2", "--confirm", "rollback-batches-2-to-3"),
        ("--target", "0000_a", "--confirm", "rollback-batches-2-to-3"),
    ],
    ids=["steps", "target"],
)
def test_a_production_rollback_retried_is_confirmed_by_the_phrase_of_the_whole_run(
    three_batches: Path, database_url: str, confirm: tuple[str, ...]
) -> None:
    undo_first_batch_then_time_out(three_batches, database_url, *confirm)
    # the Job's next Pod: the same command, the same phrase; batch 3 is gone already
    retry = cli(three_batches, database_url, *ROLLBACK, *confirm, "--json")
    assert retry.returncode == 0, output(retry)
    assert listed(retry) == [("0002_c.sql", True), ("0001_b.sql", False)]
    data = json.loads(retry.stdout)
    assert data["batches"] == [2, 3]
    assert Outcome.from_dict(data).migration_counts() == {"down": 2}
    assert applied_names(database_url) == ["0000_a.sql"]
    # once more (the Pod died before it could report): nothing left, all reported
    again = cli(three_batches, database_url, *ROLLBACK, *confirm)
    assert again.returncode == 0, output(again)
    assert again.stdout.startswith(
        "✅ Rolled back 2 migration(s) (batches 2 and 3; all by an earlier attempt of this run):"
    )
    assert applied_names(database_url) == ["0000_a.sql"]


def test_a_production_rollback_whose_earlier_attempt_did_it_all_succeeds_saying_so(
    three_batches: Path, database_url: str
) -> None:
    command = (*ROLLBACK, "--confirm", "rollback-batch-3", "--json")
    first = cli(three_batches, database_url, *command)
    assert first.returncode == 0, output(first)
    # the Pod was killed before its result reached the operator: the Job runs it again
    retry = cli(three_batches, database_url, *command)
    assert retry.returncode == 0, output(retry)
    assert listed(retry) == [("0002_c.sql", True)]
    assert json.loads(retry.stdout)["batch"] == 3
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]


def test_a_retried_rollback_s_phrase_never_confirms_a_batch_it_did_not_name(
    three_batches: Path, database_url: str
) -> None:
    confirm = ("--steps", "2", "--confirm", "rollback-batches-2-to-3")
    undo_first_batch_then_time_out(three_batches, database_url, *confirm)
    # between the attempts, a deploy applies batch 4: the retry would now undo it
    deploy = cli(three_batches, database_url, "migrate", "--env", "production", "--target", "0002")
    assert deploy.returncode == 0, output(deploy)
    before = (tracking(database_url), len(history(database_url)))
    retry = cli(three_batches, database_url, *ROLLBACK, *confirm, "--json")
    assert retry.returncode == 5, output(retry)
    error: dict[str, Any] = json.loads(retry.stdout)["error"]
    assert error["reason"] == "ConfirmationRequired"
    assert (
        "An earlier attempt of this run (the same run id) undid batch 3 already."
        in (error["message"])
    )
    assert (
        "Nothing more was rolled back. It would undo: 0002_c.sql; 0002_c.sql line 1"
        in error["message"]
    )
    # the refused attempt still reports what the run did
    assert listed(retry) == [("0002_c.sql", True)]
    assert (tracking(database_url), len(history(database_url))) == before


def test_an_id_reused_across_runs_of_both_directions_starts_each_anew(
    tmp_path: Path, database_url: str
) -> None:
    """CI reusing one id for migrate, rollback, migrate, rollback (the reversibility
    check): the last rollback took the first rollback's work for its own, undid
    nothing and said ✅."""
    folder = write_drizzle(tmp_path / "d", numbered(create_table("a")))
    for command in ("migrate", "rollback", "migrate"):
        assert cli(folder, database_url, command, "--run-id", "ci-123").returncode == 0
    assert applied_names(database_url) == ["0000_a.sql"]
    again = cli(folder, database_url, "rollback", "--run-id", "ci-123", "--json")
    assert again.returncode == 0, output(again)
    assert applied_names(database_url) == []
    done = json.loads(again.stdout)
    assert [m.get("earlierAttempt", False) for m in done["migrations"]] == [False]
    assert done["batch"] == 2


def test_a_retried_rollback_never_undoes_a_batch_applied_between_its_attempts(
    three_batches: Path, database_url: str
) -> None:
    """In development and staging no phrase stood in the way: counted from the database
    as it then was, the retry's "one more batch" was the batch a deploy had just
    applied, not batch 2."""
    steps = ("rollback", "--run-id", "undo-2", "--lock-timeout", "300", "--steps", "2")
    with locked(database_url, "b"):
        first = cli(three_batches, database_url, *steps, "--json")
    assert first.returncode == 75, output(first)
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]
    deploy = cli(three_batches, database_url, "migrate", "--target", "0002")
    assert deploy.returncode == 0, output(deploy)  # batch 4: table c again

    retry = cli(three_batches, database_url, *steps, "--json")
    assert retry.returncode == 5, output(retry)
    error: dict[str, Any] = json.loads(retry.stdout)["error"]
    assert error["reason"] == "RefusedBySafetyRules"
    assert (
        "undid batch 3, and batch 4 was applied since: rolling back 1 more would undo that"
        in error["message"]
    )
    assert listed(retry) == [("0002_c.sql", True)]  # what the run did, still reported
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql", "0002_c.sql"]
