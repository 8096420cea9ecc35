"""What a finished Job's pods say: whether the database was touched, and which result
is the run's."""

from __future__ import annotations

from typing import Any

import pytest

from kubemigrate.controller.results import never_started, outcome_from_pods
from kubemigrate.domain.outcome import MigrationResult, Outcome


def pod(*container_states: dict[str, Any]) -> dict[str, Any]:
    return {"status": {"containerStatuses": [{"state": s} for s in container_states]}}


def test_a_pod_that_only_waited_never_touched_the_database() -> None:
    """A Job past its deadline while its pod waited (no node, a missing Secret key)
    said "what it changed is unknown"; its pods show nothing ever ran."""
    assert never_started([pod({"waiting": {"reason": "CreateContainerConfigError"}})])
    assert never_started([{"status": {"phase": "Pending"}}])


def test_a_pod_that_ran_or_no_pod_at_all_proves_nothing() -> None:
    assert not never_started([pod({"running": {}})])
    assert not never_started([pod({"terminated": {"exitCode": 1}})])
    assert not never_started([pod({"waiting": {}}), pod({"terminated": {"exitCode": 143}})])
    assert not never_started([])  # deleted at the deadline: it may have run


def finished(outcome: Outcome, exit_code: int, at: str, started: str) -> dict[str, Any]:
    terminated = {
        "exitCode": exit_code,
        "message": outcome.to_json(),
        "startedAt": started,
        "finishedAt": at,
    }
    return {
        "metadata": {"creationTimestamp": started},
        "status": {"containerStatuses": [{"name": "migrate", "state": {"terminated": terminated}}]},
    }


FIRST = Outcome(
    action="migrate",
    ok=False,
    exitCode=75,
    migrations=(MigrationResult("0000_a.sql", "up"),),
    error={"reason": "LockTimeout", "message": "0001_b.sql: lock timeout"},
)
LAST = Outcome(
    action="migrate",
    ok=True,
    migrations=(
        MigrationResult("0000_a.sql", "up", earlierAttempt=True),
        MigrationResult("0001_b.sql", "up"),
    ),
)


@pytest.mark.parametrize("order", [1, -1])
def test_a_retried_pod_that_ended_in_the_same_second_is_still_the_newest(order: int) -> None:
    """``finishedAt`` has whole seconds: a run whose Job completed was read from its first
    pod's failure, and reported Failed, when the retry ended in the same second."""
    pods = [
        finished(FIRST, 75, "2026-01-01T00:00:05Z", "2026-01-01T00:00:04Z"),
        finished(LAST, 0, "2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"),
    ][::order]
    assert outcome_from_pods(pods) == (LAST, None)
    # both failed, started in the same second too: the one that reports more of the run
    failed = Outcome(action="migrate", ok=False, exitCode=75, migrations=LAST.migrations)
    pods = [
        finished(FIRST, 75, "2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"),
        finished(failed, 75, "2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"),
    ][::order]
    assert outcome_from_pods(pods) == (failed, None)


def test_the_pod_that_ended_last_is_read() -> None:
    pods = [
        finished(LAST, 75, "2026-01-01T00:00:09Z", "2026-01-01T00:00:08Z"),
        finished(FIRST, 75, "2026-01-01T00:00:05Z", "2026-01-01T00:00:04Z"),
    ]
    assert outcome_from_pods(pods)[0] == LAST
