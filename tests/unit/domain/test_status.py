"""A run's conditions as `kubectl describe` and `kubectl wait` read them."""

from __future__ import annotations

from typing import Any

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


def test_a_success_with_warnings_is_a_warning_event() -> None:
    """A production migrate that dropped a table succeeded as a Normal Event, its
    warning seen only by those who read status.warnings."""
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.domain.status import event_type

    assert event_type(Outcome(action="migrate", ok=True)) == "Normal"
    warned = Outcome(action="migrate", ok=True, warnings=("0001_x.sql line 1 destroys data",))
    assert event_type(warned) == "Warning"
    assert event_type(Outcome(action="status", ok=True, drift=True)) == "Warning"
    assert event_type(Outcome(action="migrate", ok=False)) == "Warning"


def test_a_migration_a_repair_touched_twice_is_named_once() -> None:
    """A repair that cleared a migration's dirty mark and stored its corrected down said
    "repaired 2 migration(s): 0001_idx.sql, 0001_idx.sql"."""
    from kubemigrate.domain.outcome import MigrationResult, Outcome
    from kubemigrate.domain.status import summary

    done = Outcome(
        action="repair",
        ok=True,
        migrations=(
            MigrationResult(name="0001_idx.sql", direction="repair"),
            MigrationResult(name="0001_idx.sql", direction="accept-down"),
        ),
    )
    assert summary(done).startswith("repaired 1 migration(s): 0001_idx.sql")


def test_a_failure_s_place_reaches_the_status_with_its_file() -> None:
    """``kubectl get mr -o yaml`` shows where to look: the position counts in the file
    named beside it (a dbmate file under db/migrations/, not the migration's name)."""
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.domain.status import from_outcome

    error = {
        "reason": "MigrationFailed",
        "migration": "20240101000000_a.sql",
        "sqlState": "42P01",
        "position": "line 8, column 18",
        "file": "db/migrations/20240101000000_a.sql",
        "message": "20240101000000_a.sql at line 8, column 18 of db/migrations/...",
        "statement": 2,
    }
    status = from_outcome(Outcome(action="migrate", ok=False, exitCode=1, error=error))
    assert status["error"] == {k: v for k, v in error.items() if k != "statement"}
