"""A MigrationRun's status, computed from what happened (pure).

Like CloudNativePG's Backup: ``phase`` for people, conditions in the
metav1.Condition shape for tools (``kubectl wait --for=condition=Complete``).
A condition's ``lastTransitionTime`` changes only when its status does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from kubemigrate.domain.outcome import Outcome, done_note


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
    JOB_REJECTED = "JobRejected"
    ADOPTION_REFUSED = "AdoptionRefused"
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
    """Every condition type, True for the phase's own and False for the rest.

    A condition that turns False takes the new phase's reason and message, which say
    why it no longer holds (``Running`` left as ``JobCreated: Job ... runs migrate``
    on a finished run read as if it were still running); one already False keeps its
    own, so its lastTransitionTime and text stay those of the moment it changed.
    """
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
        kept: Mapping[str, Any] = {} if old is None or changed else old  # still False
        result.append(
            {
                "type": str(ctype),
                "status": status,
                "reason": reason if is_active else kept.get("reason", reason),
                "message": message if is_active else kept.get("message", message),
                "lastTransitionTime": kept.get("lastTransitionTime", now),
                "observedGeneration": generation,
            }
        )
    return result


def from_outcome(outcome: Outcome) -> dict[str, Any]:
    """The status fields a finished Job's result fills in.

    A dry run (and a plan, which is one) names no batch: nothing was recorded in
    it. Counts and ``drift`` are written only by a run that saw the database, so a
    run that could not connect (or whose Job died without a result) does not claim
    "0 applied, 0 pending, no drift" for a database nobody looked at.
    """
    status: dict[str, Any] = {
        "migrations": [
            {k: v for k, v in m.__dict__.items() if v is not None} for m in outcome.migrations
        ],
    }
    if outcome.observed_database:  # else unknown: `kubectl get mr` shows blanks, not 0 and 0
        status.update(
            applied=outcome.counts.applied,
            pending=outcome.counts.pending,
            total=outcome.counts.total,
        )
    if outcome.migration_count > len(outcome.migrations):  # the list was cut to fit
        status["migrationCount"] = outcome.migration_count
    if outcome.batch is not None and not outcome.dryRun:
        status["batch"] = outcome.batch
    if outcome.batches and not outcome.dryRun:
        status["batches"] = list(outcome.batches)
    if outcome.earlier_count > sum(1 for m in outcome.migrations if m.earlierAttempt):
        status["earlierCount"] = outcome.earlier_count  # the list was cut to fit
    if outcome.observed_database:
        status["drift"] = outcome.drift
        status["dirty"] = outcome.dirty  # after a restart, the drift gauge comes from these
    if outcome.warnings:
        status["warnings"] = list(outcome.warnings)
    if outcome.error:
        status["error"] = {
            key: outcome.error[key]
            for key in ("reason", "migration", "sqlState", "position", "file", "message", "hint")
            if outcome.error.get(key) is not None
        }
    if outcome.ok and outcome.confirmation:
        status["confirmationPhrase"] = outcome.confirmation
    elif (outcome.error or {}).get("reason") in (
        Reason.CONFIRMATION_REQUIRED,
        Reason.CONFIRMATION_MISMATCH,
    ):
        # The run has ended: a phrase patched into it now would change nothing, so the
        # plan it waited on goes, and the way forward is a new run (the CLI's hint says
        # "re-run with --confirm", which a MigrationRun cannot do).
        status.update(confirmationPhrase=None, plannedMigrations=None)
        status["error"]["hint"] = (
            "this run has ended: create a new rollback MigrationRun, which shows the current "
            "plan and its phrase"
        )
    return status


# The engine's messages and hints name CLI flags and commands; a MigrationRun's author
# changes spec fields and creates runs instead (the operator passes spec.confirm to a
# reset as --force). Longest first, so a command is not half-replaced.
_SPEC_TERMS = (
    (
        "`kubemigrate baseline --dry-run --target NAME`",
        "a baseline run with spec.dryRun: true and spec.target",
    ),
    ("`kubemigrate baseline --target ", "a baseline run with spec.target: `"),
    ("`kubemigrate baseline`", "a baseline run (action: baseline)"),
    (
        "`kubemigrate repair --accept-checksum NAME`",
        "a repair run with spec.repair.acceptChecksums",
    ),
    ("`kubemigrate repair --accept-renames`", "a repair run with spec.repair.acceptRenames: true"),
    ("`kubemigrate repair --force`", "a repair run with spec.repair.force: true"),
    ("`kubemigrate repair --accept-down ", "a repair run with spec.repair.acceptDowns: `"),
    ("`kubemigrate repair`", "a repair run (action: repair)"),
    ("`kubemigrate status`", "a status run (action: status)"),
    ("`kubemigrate verify`", "a verify run (action: verify)"),
    ("--lock-wait", "spec.timeouts.lockWaitSeconds"),
    ("--lock-timeout", "spec.timeouts.lockTimeoutMs"),
    ("--statement-timeout", "spec.timeouts.statementTimeoutSeconds"),
    (
        "restore the missing file (applied migrations must stay in the directory)",
        "put the missing file back: the run's source (ConfigMap, image or spec.source.inline) "
        "must hold every applied migration",
    ),
    ("pass --format ", "create a new run with spec.format: "),
    (
        "Run `kubemigrate generate` to create the journal.",
        "Add meta/_journal.json to the source (`kubemigrate generate` writes it).",
    ),
    ("before or after `kubemigrate migrate`", "before or after the migrate run"),
    ("`kubemigrate migrate` again", "a new migrate run"),
    ("let it finish and retry", "let it finish, then create a new run"),
    ("retry once it has finished", "create a new run once it has finished"),
    ("a --*-timeout flag", "spec.timeouts"),
    ("--accept-checksum", "spec.repair.acceptChecksums"),
    ("--accept-renames", "spec.repair.acceptRenames"),
    ("--accept-down", "spec.repair.acceptDowns"),
    ("--dry-run", "spec.dryRun"),
    # a run's spec cannot change once it has ended: the way forward is a new run
    ("re-run with --force", "create a new run with spec.confirm set (any value)"),
    ("--force", "spec.confirm"),
    ("--target", "spec.target"),
    ("--steps", "spec.steps"),
    ("--dir", "spec.source"),
    ("--format", "spec.format"),
    ("--drizzle-table ", "spec.drizzleTable: "),
    ("--drizzle-table", "spec.drizzleTable"),
)


def in_spec_terms(text: str) -> str:
    """An engine message or hint as a MigrationRun's author acts on it (spec fields,
    new runs)."""
    for cli, spec in _SPEC_TERMS:
        text = text.replace(cli, spec)
    return text


def event_type(outcome: Outcome) -> str:
    """``Warning`` for a failure, and for a success that found drift or a dirty
    database (a status run succeeds when it reports them, but they block the next
    migrate) or that has warnings (a production migrate that dropped a table): they
    should show where people look for trouble."""
    troubled = not outcome.ok or outcome.drift or outcome.dirty or outcome.warnings
    return "Warning" if troubled else "Normal"


#: What a run did to the migrations it lists, and what a dry run (or plan) would do.
_DONE = {
    "migrate": "applied",
    "rollback": "rolled back",
    "reset": "rolled back",
    "baseline": "baselined",
    "repair": "repaired",
}
_WOULD = {
    "migrate": "would apply",
    "rollback": "would roll back",
    "reset": "would roll back",
    "baseline": "would baseline",
}
#: "nothing to <verb>" for a changing run that found no work.
_NOTHING_TO = {
    "migrate": "migrate",
    "rollback": "roll back",
    "reset": "reset",
    "baseline": "baseline",
}
_NAMES_SHOWN = 5


def summary(outcome: Outcome) -> str:
    """A one-line message for the condition and the Event."""
    if not outcome.ok:
        return failure_message(outcome)
    return _what_was_done(outcome) + _notes(outcome)


def failure_message(outcome: Outcome) -> str:
    """The error's message, without the reason it may start with: the condition and
    the Event show the reason beside it (``DeadlineExceeded  DeadlineExceeded: ...``
    said it twice)."""
    error = outcome.error or {}
    message = str(error.get("message") or "")
    return said_once(str(error.get("reason") or ""), message) or "the run failed"


def said_once(reason: str, message: str) -> str:
    """``message`` without leading ``Reason: `` prefixes equal to ``reason`` or repeated.

    ``said_once("DeadlineExceeded", "DeadlineExceeded: DeadlineExceeded: too long")``
    is ``"too long"``; ``said_once("JobFailed", "BackoffLimitExceeded: gave up")``
    keeps the Job's own reason, which says more than the condition's.
    """
    parts = message.split(": ")
    kept: list[str] = []
    while len(parts) > 1 and _is_reason(parts[0]):
        word = parts.pop(0)
        if word != reason and word not in kept:
            kept.append(word)
    return ": ".join([*kept, *parts]).strip()


def _is_reason(word: str) -> bool:
    return word[:1].isupper() and word.isalnum()


def _what_was_done(outcome: Outcome) -> str:
    action, count = outcome.action, outcome.migration_count
    counts = f"{outcome.counts.applied} applied, {outcome.counts.pending} pending"
    if not count:
        if action in _NOTHING_TO:
            return f"nothing to {_NOTHING_TO[action]}: {counts}"
        return f"{action}: {counts}"
    if outcome.dryRun:
        verb, batch = _WOULD.get(action, f"would {action}"), ""
    else:
        verb, batch = _DONE.get(action, action), done_note(outcome)
    # one migration may appear twice (a repair that cleared its mark and took its down)
    distinct = list(dict.fromkeys(m.name for m in outcome.migrations))
    count -= len(outcome.migrations) - len(distinct)
    names = distinct[:_NAMES_SHOWN]
    more = count - len(names)
    if not names:  # every name was cut to fit the Job's result; the count was not
        return f"{verb} {count} migration(s){batch}"
    shown = ", ".join(names) + (f" and {more} more" if more else "")
    return f"{verb} {count} migration(s){batch}: {shown}"


def _notes(outcome: Outcome) -> str:
    """Drift, a dirty database or other warnings, which ``kubectl describe`` should show."""
    if not outcome.warnings:
        if outcome.drift:
            return "; schema drift: the files disagree with the applied migrations"
        return "; the database is dirty" if outcome.dirty else ""
    label = "schema drift" if outcome.drift else "dirty database" if outcome.dirty else "warning"
    first, more = outcome.warnings[0], len(outcome.warnings) - 1
    return f"; {label}: {first}" + (f" (and {more} more in status.warnings)" if more else "")
