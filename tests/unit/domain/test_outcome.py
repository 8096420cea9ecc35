"""The run's JSON result, which must fit a Kubernetes termination message (4096 bytes)."""

from __future__ import annotations

import json

import pytest

from kubemigrate.domain.outcome import TERMINATION_MESSAGE_LIMIT, Counts, MigrationResult, Outcome


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
