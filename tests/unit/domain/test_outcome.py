"""The run's JSON result, which must fit a Kubernetes termination message (4096 bytes)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kubemigrate.domain.outcome import (
    TERMINATION_MESSAGE_LIMIT,
    Counts,
    MigrationResult,
    Outcome,
    done_note,
)


def many(
    n: int, name: str = "migration_with_a_rather_long_descriptive_name"
) -> tuple[MigrationResult, ...]:
    return tuple(
        MigrationResult(
            name=f"{i:04d}_{name}.sql", direction="up", checksum="a" * 64, durationMs=12.345
        )
        for i in range(n)
    )


def test_small_outcome_is_untouched() -> None:
    outcome = Outcome(
        action="migrate", ok=True, batch=3, migrations=many(2), counts=Counts(5, 5, 0)
    )
    text = outcome.to_json(TERMINATION_MESSAGE_LIMIT)
    data = json.loads(text)
    assert "truncated" not in data
    assert data["v"] == 1
    assert Outcome.from_json(text) == outcome


def test_empty_fields_are_left_out_but_ok_stays() -> None:
    data = json.loads(Outcome(action="status", ok=False).to_json())
    assert data["ok"] is False
    assert "error" not in data
    assert "migrations" not in data


def test_many_migrations_are_shrunk_keeping_counts_and_error() -> None:
    error = {
        "reason": "MigrationFailed",
        "message": "0999_x.sql at line 3: boom",
        "sqlState": "42P01",
    }
    outcome = Outcome(
        action="migrate",
        ok=False,
        exitCode=1,
        migrations=many(500),
        counts=Counts(1000, 500, 500),
        error=error,
    )
    text = outcome.to_json(TERMINATION_MESSAGE_LIMIT)
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    data = json.loads(text)
    assert data["truncated"] is True
    assert data["counts"] == {"total": 1000, "applied": 500, "pending": 500}
    assert data["error"] == error
    assert data["exitCode"] == 1
    assert Outcome.from_dict(data).counts == outcome.counts


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(
            action="migrate",
            ok=False,
            exitCode=1,
            error={"reason": "MigrationFailed", "message": "x" * 20000},
        ),
        Outcome(
            action="migrate", ok=True, warnings=tuple(f"warning {i} " * 10 for i in range(200))
        ),
        Outcome(action="migrate", ok=True, migrations=many(300, name="ünïcödé_ñame_ß")),
        Outcome(
            action="migrate",
            ok=False,
            exitCode=4,
            error={
                "reason": "IntegrityCheckFailed",
                "message": "Integrity check failed",
                "findings": [
                    {
                        "kind": "edited",
                        "migration": f"{i:04d}_table.sql",
                        "detail": "edited after it was applied",
                    }
                    for i in range(300)
                ],
            },
        ),
        Outcome(
            action="migrate",
            ok=False,
            exitCode=1,
            error={"reason": "MigrationFailed", "message": "boom", "hint": "h" * 8000},
        ),
    ],
    ids=["long-error", "many-warnings", "non-ascii-names", "many-findings", "long-hint"],
)
def test_anything_large_stays_within_the_limit_and_parseable(outcome: Outcome) -> None:
    text = outcome.to_json(TERMINATION_MESSAGE_LIMIT)
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    data = json.loads(text)
    assert data["truncated"] is True
    assert data["ok"] is outcome.ok
    if outcome.error:
        assert data["error"]["reason"] == outcome.error["reason"]


def test_the_number_of_migrations_survives_the_cut() -> None:
    outcome = Outcome(
        action="migrate", ok=True, batch=1, migrations=many(100), counts=Counts(100, 100, 0)
    )
    text = outcome.to_json(TERMINATION_MESSAGE_LIMIT)
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    data = json.loads(text)
    assert (data["truncated"], data["migrationsOmitted"], data["migrationCount"]) == (
        True,
        True,
        100,
    )
    read = Outcome.from_json(text)
    assert len(read.migrations) < 100
    assert read.migration_count == 100
    assert read.migration_counts() == {"up": 100}
    # the first and the last are kept, so "first names ... and N more" still holds
    assert read.migrations[0].name == outcome.migrations[0].name
    assert read.migrations[-1].name == outcome.migrations[-1].name


def test_an_untruncated_outcome_counts_its_list() -> None:
    outcome = Outcome(action="rollback", ok=True, migrations=many(3))
    assert "migrationCount" not in json.loads(outcome.to_json(TERMINATION_MESSAGE_LIMIT))
    assert outcome.migration_count == 3


def test_migrations_cut_from_the_list_go_the_way_of_the_action() -> None:
    everything_cut = Outcome(action="rollback", ok=True, migrationCount=40)
    assert everything_cut.migration_counts() == {"down": 40}
    assert Outcome(action="status", ok=True).migration_counts() == {}


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_last_resort_keeps_what_the_operator_reports_from(dry_run: bool) -> None:
    outcome = Outcome(
        action="migrate",
        ok=True,
        batch=1,
        dryRun=dry_run,
        drift=True,
        confirmation="rollback-batch-1",
        migrations=many(60),
        warnings=("w" * 5000,),
        counts=Counts(60, 0, 60),
    )
    text = outcome.to_json(1024)
    assert len(text.encode()) <= 1024
    read = Outcome.from_json(text)
    assert read.migration_count == 60
    assert (read.dryRun, read.drift, read.confirmation) == (dry_run, True, "rollback-batch-1")
    assert read.counts == outcome.counts


def test_many_warnings_keep_the_first_and_say_how_many_were_left_out() -> None:
    warnings = tuple(
        f"{i:04d}_table.sql: edited: checksum differs from the applied one" for i in range(200)
    )
    outcome = Outcome(action="status", ok=True, drift=True, warnings=warnings)
    text = outcome.to_json(TERMINATION_MESSAGE_LIMIT)
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    read = Outcome.from_json(text)
    assert read.drift is True
    kept = len(read.warnings) - 1
    assert 0 < kept < 200
    assert read.warnings[:kept] == warnings[:kept]
    assert read.warnings[-1].startswith(f"... and {200 - kept} more warning(s)")


def test_a_smaller_limit_is_honoured_while_migrations_are_dropped() -> None:
    """The list used to be cut to the 4 KiB default whatever limit was asked for."""
    text = Outcome(action="migrate", ok=True, migrations=many(40)).to_json(2048)
    assert len(text.encode()) <= 2048
    assert json.loads(text)["migrations"]


def test_a_migration_s_empty_fields_are_left_out_too() -> None:
    """Every byte counts in a termination message: no ``"checksum": null`` per entry."""
    outcome = Outcome(
        action="repair", ok=True, migrations=(MigrationResult(name="a.sql", direction="repair"),)
    )
    text = outcome.to_json()
    assert json.loads(text)["migrations"] == [{"name": "a.sql", "direction": "repair"}]
    assert Outcome.from_json(text) == outcome


def test_a_field_a_newer_engine_adds_to_a_migration_does_not_lose_the_result() -> None:
    data = json.loads(Outcome(action="migrate", ok=True, migrations=many(1)).to_json())
    data["migrations"][0]["somethingNew"] = 1
    assert Outcome.from_dict(data).migrations == many(1)


def test_what_earlier_attempts_of_a_run_did_survives_the_cut() -> None:
    earlier = tuple(replace(m, earlierAttempt=True) for m in many(60))
    outcome = Outcome(
        action="migrate",
        ok=True,
        batches=(1, 2),
        migrations=(*earlier, *many(40, name="this_attempt_s_own_migration_with_a_name")),
    )
    assert outcome.earlier_count == 60
    text = outcome.to_json(TERMINATION_MESSAGE_LIMIT)
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    read = Outcome.from_json(text)
    assert len(read.migrations) < 100
    assert (read.migration_count, read.earlier_count, read.batches) == (100, 60, (1, 2))
    assert read.migrations[0].earlierAttempt is True
    assert read.migrations[-1].earlierAttempt is None
    last_resort = Outcome.from_json(replace(outcome, warnings=("w" * 5000,)).to_json(1024))
    assert (last_resort.migration_count, last_resort.earlier_count) == (100, 60)


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (Outcome(action="migrate", ok=True, batch=4, migrations=many(2)), " (batch 4)"),
        (Outcome(action="migrate", ok=True, migrations=many(2)), ""),
        (
            Outcome(action="rollback", ok=True, batches=(5, 6, 7), migrations=many(3)),
            " (batches 5, 6 and 7)",
        ),
        (
            Outcome(
                action="migrate",
                ok=True,
                batches=(2, 4),
                migrations=(replace(many(1)[0], earlierAttempt=True), *many(2)),
            ),
            " (batches 2 and 4; 1 of them by an earlier attempt of this run)",
        ),
        (
            Outcome(
                action="rollback",
                ok=True,
                batch=3,
                migrations=tuple(replace(m, earlierAttempt=True) for m in many(2)),
            ),
            " (batch 3; all by an earlier attempt of this run)",
        ),
    ],
)
def test_a_summary_names_the_run_s_batches_and_what_earlier_attempts_did(
    outcome: Outcome, said: str
) -> None:
    assert done_note(outcome) == said
