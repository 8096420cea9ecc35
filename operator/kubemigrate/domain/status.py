"""A MigrationRun's status, computed from what happened (pure).

Like CloudNativePG's Backup: ``phase`` for people, conditions in the
metav1.Condition shape for tools (``kubectl wait --for=condition=Complete``).
A condition's ``lastTransitionTime`` changes only when its status does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from kubemigrate.domain.outcome import Outcome


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    AWAITING_CONFIRMATION = "AwaitingConfirmation"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


class ConditionType(StrEnum):
    RUNNING = "Running"
    AWAITING_CONFIRMATION = "AwaitingConfirmation"
    COMPLETE = "Complete"
    FAILED = "Failed"


class Reason(StrEnum):
    """Condition reasons besides the engine's own (which pass through unchanged)."""

    JOB_CREATED = "JobCreated"
    PLANNING = "Planning"
    CONFIRMATION_REQUIRED = "ConfirmationRequired"
    CONFIRMATION_MISMATCH = "ConfirmationMismatch"
    SUCCEEDED = "Succeeded"
    INVALID_SPEC = "InvalidSpec"
    SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105 - a reason, not a secret
    CONFIGMAP_NOT_FOUND = "ConfigMapNotFound"
    JOB_FAILED = "JobFailed"
    JOB_LOST = "JobLost"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    REFUSED = "RefusedBySafetyRules"


_ACTIVE = {
    Phase.PENDING: None,
    Phase.RUNNING: ConditionType.RUNNING,
    Phase.AWAITING_CONFIRMATION: ConditionType.AWAITING_CONFIRMATION,
    Phase.SUCCEEDED: ConditionType.COMPLETE,
    Phase.FAILED: ConditionType.FAILED,
}


def conditions(
    previous: Sequence[Mapping[str, Any]] | None,
    phase: Phase,
    *,
    reason: str,
    message: str,
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """Every condition type, True for the phase's own and False for the rest."""
    before = {c.get("type"): c for c in previous or ()}
    active = _ACTIVE[phase]
    result = []
    for ctype in ConditionType:
        is_active = ctype is active
        status = "True" if is_active else "False"
        old = before.get(str(ctype))
        if old is None and not is_active:
            continue
        changed = old is None or old.get("status") != status
        result.append(
            {
                "type": str(ctype),
                "status": status,
                "reason": reason if is_active else (old or {}).get("reason", reason),
                "message": message if is_active else (old or {}).get("message", ""),
                "lastTransitionTime": now if changed else old.get("lastTransitionTime", now),  # type: ignore[union-attr]
                "observedGeneration": generation,
            }
        )
    return result


def from_outcome(outcome: Outcome) -> dict[str, Any]:
    """The status fields a finished Job's result fills in."""
    status: dict[str, Any] = {
        "applied": outcome.counts.applied,
        "pending": outcome.counts.pending,
        "total": outcome.counts.total,
        "migrations": [
            {k: v for k, v in m.__dict__.items() if v is not None} for m in outcome.migrations
        ],
    }
    if outcome.batch is not None:
        status["batch"] = outcome.batch
    if outcome.error:
        status["error"] = {
            key: outcome.error[key]
            for key in ("reason", "migration", "sqlState", "position", "message", "hint")
            if outcome.error.get(key) is not None
        }
    if outcome.confirmation:
        status["confirmationPhrase"] = outcome.confirmation
    return status


def summary(outcome: Outcome) -> str:
    """A one-line message for the condition and the Event."""
    if not outcome.ok:
        error = outcome.error or {}
        return str(error.get("message") or "the run failed")
    names = [m.name for m in outcome.migrations]
    if outcome.action in ("migrate", "rollback", "reset", "baseline") and not names:
        counts = outcome.counts
        return f"nothing to {outcome.action}: {counts.applied} applied, {counts.pending} pending"
    if names:
        verb = {"migrate": "applied", "rollback": "rolled back", "reset": "rolled back"}.get(
            outcome.action, outcome.action
        )
        batch = f" (batch {outcome.batch})" if outcome.batch else ""
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"{verb} {len(names)} migration(s){batch}: {shown}"
    return f"{outcome.action}: {outcome.counts.applied} applied, {outcome.counts.pending} pending"
