"""A run's conditions as `kubectl describe` and `kubectl wait` read them."""

from __future__ import annotations

from typing import Any

import pytest

from kubemigrate.domain.status import Phase, conditions


def _by_type(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in items}


def test_a_condition_that_turns_false_says_why_and_keeps_saying_it() -> None:
    running = conditions(
        None,
        Phase.RUNNING,
        reason="JobCreated",
        message="Job r-1 runs migrate",
        generation=1,
        now="2026-01-01T00:00:00Z",
    )
    done = _by_type(
        conditions(
            running,
            Phase.SUCCEEDED,
            reason="Succeeded",
            message="applied 2 migration(s)",
            generation=1,
            now="2026-01-01T00:00:05Z",
        )
    )
    # not "JobCreated: Job r-1 runs migrate" on a run that has finished
    assert (done["Running"]["status"], done["Running"]["reason"]) == ("False", "Succeeded")
    assert done["Running"]["message"] == "applied 2 migration(s)"
    assert done["Running"]["lastTransitionTime"] == "2026-01-01T00:00:05Z"
    assert (done["Complete"]["status"], done["Complete"]["reason"]) == ("True", "Succeeded")

    later = _by_type(
        conditions(
            list(done.values()),
            Phase.SUCCEEDED,
            reason="Succeeded",
            message="applied 2 migration(s); checked again",
            generation=2,
            now="2026-01-01T00:01:00Z",
        )
    )
    # already False: its text and time stay those of the moment it changed
    assert later["Running"]["message"] == "applied 2 migration(s)"
    assert later["Running"]["lastTransitionTime"] == "2026-01-01T00:00:05Z"
    assert later["Complete"]["lastTransitionTime"] == "2026-01-01T00:00:05Z"


def test_an_engine_hint_is_told_in_the_run_s_own_terms() -> None:
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.domain.status import from_outcome

    error = {
        "reason": "LockTimeout",
        "message": "Another migration run holds the lock",
        "hint": "let it finish and retry, or raise --lock-wait",
    }
    status = from_outcome(Outcome(action="migrate", ok=False, error=error))
    assert status["error"]["hint"] == (
        "let it finish, then create a new run, or raise spec.timeouts.lockWaitSeconds"
    )
    drift = {
        "reason": "IntegrityCheckFailed",
        "message": "Integrity check failed",
        "hint": "record its new checksum with `kubemigrate repair --accept-checksum NAME` "
        "if the edit is harmless; then `kubemigrate status`",
    }
    hint = from_outcome(Outcome(action="migrate", ok=False, error=drift))["error"]["hint"]
    assert hint == (
        "record its new checksum with a repair run with spec.repair.acceptChecksums "
        "if the edit is harmless; then a status run (action: status)"
    )


def test_an_engine_message_names_spec_fields_in_status_condition_and_event() -> None:
    from kubemigrate.domain.errors import SafetyRefusal
    from kubemigrate.domain.migrations import Environment
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.domain.planning import refuse_reset
    from kubemigrate.domain.status import from_outcome, summary

    with pytest.raises(SafetyRefusal) as refused:
        refuse_reset(Environment.STAGING, force=False)
    error = {
        "reason": "SafetyRefusal",
        "message": refused.value.message,
        "hint": refused.value.hint,
    }
    outcome = Outcome(action="reset", ok=False, error=error)
    status = from_outcome(outcome)
    assert status["error"]["message"] == "reset in staging needs spec.confirm."
    assert summary(outcome) == "reset in staging needs spec.confirm."
    assert "--" not in status["error"]["hint"]
