"""The JSON form of an error, as ``--json`` and a Job's termination message carry it."""

from __future__ import annotations

from kubemigrate.domain.errors import LockTimeout


def test_empty_or_false_details_are_left_out_as_every_key_is() -> None:
    """A lock timeout in the first migration said `"completed": []`, where the README
    says keys whose value is empty or false are left out."""
    error = LockTimeout(
        "timed out",
        hint="retry",
        completed=[],
        dirty=False,
        detail=None,
        sqlState="55P03",
        statement=0,
    )
    assert error.to_dict() == {
        "reason": "LockTimeout",
        "message": "timed out",
        "hint": "retry",
        "sqlState": "55P03",
        "statement": 0,
    }
