"""What a finished Job's pods say: whether the database was touched, and which result
is the run's."""

from __future__ import annotations

from typing import Any

import pytest

from kubemigrate.controller.results import (
    Attempts,
    after_attempts,
    ended,
    read_attempts,
    started,
    stopped_at_deadline,
    unseen_ends,
    with_kept,
)
from kubemigrate.domain.outcome import MigrationResult, Outcome


def pod(*container_states: dict[str, Any]) -> dict[str, Any]:
    return {"status": {"containerStatuses": [{"state": s} for s in container_states]}}


NEVER_CREATED = {  # what the kubelet writes of a container it never created, its pod ended
    "terminated": {
        "exitCode": 137,
        "reason": "ContainerStatusUnknown",
        "message": "The container could not be located when the pod was terminated",
    }
}


def test_a_pod_that_only_waited_never_touched_the_database() -> None:
    """A Job past its deadline while its pod waited (no node, a missing Secret key)
    said "what it changed is unknown"; its pods show nothing ever ran."""
    assert not started(pod({"waiting": {"reason": "CreateContainerConfigError"}}))
    assert not started({"status": {"phase": "Pending"}})
    assert not started(pod(NEVER_CREATED))


def test_a_pod_that_ran_or_no_pod_at_all_proves_nothing() -> None:
    assert started(pod({"running": {}}))
    assert started(pod({"terminated": {"exitCode": 1}}))
    lost = {"state": NEVER_CREATED, "containerID": "containerd://c1"}  # it ran, then was lost
    assert started({"status": {"containerStatuses": [lost]}})
    assert read_attempts({}, []).started  # deleted at the deadline: it may have run


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
    assert read_attempts({}, pods) == Attempts(2, outcome=LAST)
    # both failed, started in the same second too: the one that reports more of the run
    failed = Outcome(action="migrate", ok=False, exitCode=75, migrations=LAST.migrations)
    pods = [
        finished(FIRST, 75, "2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"),
        finished(failed, 75, "2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"),
    ][::order]
    assert read_attempts({}, pods).outcome == failed


def test_the_pod_that_ended_last_is_read() -> None:
    pods = [
        finished(LAST, 75, "2026-01-01T00:00:09Z", "2026-01-01T00:00:08Z"),
        finished(FIRST, 75, "2026-01-01T00:00:05Z", "2026-01-01T00:00:04Z"),
    ]
    assert read_attempts({}, pods).outcome == LAST


def waited(created: str, *state: dict[str, Any]) -> dict[str, Any]:
    """A retried pod that never started, its Job past its deadline."""
    statuses = [{"name": "migrate", "state": s} for s in state]
    return {
        "metadata": {"creationTimestamp": created},
        "status": {"phase": "Failed", "containerStatuses": statuses},
    }


SECRET_GONE = {
    "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "db" not found'}
}


@pytest.mark.parametrize("state", [SECRET_GONE, NEVER_CREATED], ids=["waiting", "kubelet-ended"])
def test_the_last_attempt_is_the_run_s_even_when_it_left_no_result(state: dict[str, Any]) -> None:
    """A lock timeout, then a pod that never started until the deadline: the run ended
    for the deadline, and was reported with the lock timeout, the newest result."""
    pods = [
        waited("2026-01-01T00:00:05Z", state),
        finished(FIRST, 75, "2026-01-01T00:00:04Z", "2026-01-01T00:00:01Z"),
    ]
    read = read_attempts({"status": {"failed": 2}}, pods)
    assert (read.outcome, read.started, read.before, read.count) == (None, False, FIRST, 2)
    if state is SECRET_GONE:
        assert read.problem == 'CreateContainerConfigError: secret "db" not found'


def test_a_job_counts_the_attempts_whose_pods_are_gone() -> None:
    pods = [finished(FIRST, 75, "2026-01-01T00:00:04Z", "2026-01-01T00:00:01Z")]
    assert read_attempts({"status": {"failed": 3}}, pods).count == 3


def test_a_failure_after_several_attempts_says_how_many() -> None:
    said = after_attempts(FIRST, 3)
    assert said.error == {
        "reason": "LockTimeout",
        "message": "after 3 attempts: " + ("0001_b.sql: lock timeout"),
    }
    assert after_attempts(FIRST, 1) is FIRST
    assert after_attempts(LAST, 3) is LAST  # a success is not a failure


# -- a Job past its deadline: its pod is gone, the watch kept it ----------------------


def _ended(uid: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid}, "status": {"phase": "Failed"}}


def test_a_listed_pod_is_its_current_state_a_kept_one_only_adds_what_is_gone() -> None:
    listed = [{"metadata": {"uid": "a"}, "status": {"phase": "Running"}}]
    kept = [_ended("a"), _ended("b")]
    assert with_kept(listed, kept) == [listed[0], kept[1]]


def test_a_job_counting_more_ended_pods_than_are_seen_ended_may_still_tell_its_result() -> None:
    job = {"status": {"failed": 1}}
    assert unseen_ends(job, [])
    assert unseen_ends(job, [pod({"running": {}})])  # the kept state before its end
    assert not unseen_ends(job, [_ended("a")])
    stopped = {"name": "migrate", "state": {"terminated": {"exitCode": 130}}}
    assert not unseen_ends(job, [{"status": {"containerStatuses": [stopped]}}])
    assert not unseen_ends({"status": {}}, [])  # no pod ever ran: nothing to wait for
    assert ended(_ended("a"))
    assert not ended(pod({"waiting": {}}))


DEADLINE_JOB = {"spec": {"activeDeadlineSeconds": 15}}
STOPPED = Outcome(
    action="migrate",
    ok=False,
    exitCode=130,
    migrations=(MigrationResult("0000_base.sql", "up"),),
    error={
        "reason": "Interrupted",
        "migration": "0001_slow.sql",
        "message": "Interrupted in 0001_slow.sql: its transaction was rolled back.",
        "hint": "the next run continues from there",
    },
)


def test_an_engine_stopped_by_the_deadline_says_the_deadline_stopped_it() -> None:
    said = stopped_at_deadline(STOPPED, DEADLINE_JOB)
    assert said.error == {
        "reason": "Interrupted",
        "migration": "0001_slow.sql",
        "message": "stopped at the Job's deadline (activeDeadlineSeconds: 15 s): Interrupted "
        "in 0001_slow.sql: its transaction was rolled back.",
        "hint": "the next run continues from there; give the next run more time with "
        "spec.job.activeDeadlineSeconds",
    }
    assert said.migrations == STOPPED.migrations


def test_a_result_the_engine_reached_on_its_own_is_left_as_it_is() -> None:
    """It ended before the deadline came (an SQL error, a success in the last second)."""
    failed = Outcome(action="migrate", ok=False, error={"reason": "SqlError", "message": "x"})
    assert stopped_at_deadline(failed, DEADLINE_JOB) is failed
    done = Outcome(action="migrate", ok=True)
    assert stopped_at_deadline(done, DEADLINE_JOB) is done
