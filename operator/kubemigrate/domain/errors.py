"""The error tree every layer speaks.

Each error carries a stable ``reason`` (CamelCase, used as a Kubernetes condition
reason and in JSON output), whether a retry can help (``retryable``), the CLI exit
code it maps to, and the data a user needs to act on it (``details``). Messages
name the problem and the fix; they never contain a connection string.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from kubemigrate.domain.outcome import Outcome


class ExitCode(IntEnum):
    """Process exit codes, documented in the README; CI scripts depend on them."""

    OK = 0
    MIGRATION_FAILED = 1
    USAGE = 2
    PENDING = 3
    INTEGRITY = 4
    REFUSED = 5
    TEMPORARY = 75  # EX_TEMPFAIL: worth retrying (the Job's podFailurePolicy keys on it)
    INTERRUPTED = 130  # 128 + SIGINT, the shell's convention; SIGTERM ends the same way


class KubemigrateError(Exception):
    """Base of every error kubemigrate reports on purpose."""

    reason: ClassVar[str] = "Error"
    retryable: ClassVar[bool] = False
    exit_code: ClassVar[ExitCode] = ExitCode.MIGRATION_FAILED

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = {k: v for k, v in details.items() if v is not None}
        self.partial: Outcome | None = None
        """Set by the engine when a run fails midway: what it did before failing."""

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``--json`` output and the Job's termination message."""
        data: dict[str, Any] = {"reason": self.reason, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        # as every key of the JSON: left out when empty or false (a lock timeout's
        # `"completed": []`), so a key present always says something
        data.update((k, v) for k, v in self.details.items() if _says(v))
        return data


def _says(value: Any) -> bool:
    """Not empty, None or False; a number, 0 included (statement 0: before the first)."""
    return value is not False and (bool(value) or value == 0)


class UsageError(KubemigrateError):
    """Bad input from the user: flags, URL, environment."""

    reason = "InvalidInput"
    exit_code = ExitCode.USAGE


class SourceError(KubemigrateError):
    """The migration directory cannot be read as the format it claims."""

    reason = "InvalidSource"
    exit_code = ExitCode.USAGE


class IntegrityError(KubemigrateError):
    """Applied history and files disagree: edited, missing or out-of-order files."""

    reason = "IntegrityCheckFailed"
    exit_code = ExitCode.INTEGRITY


class DirtyDatabaseError(IntegrityError):
    """A non-transactional migration failed midway; a human must look first."""

    reason = "DirtyDatabase"


class InvalidIndexError(IntegrityError):
    """An index an applied migration built CONCURRENTLY is INVALID (a failed build left
    it so): the migration stands as applied while no query uses its index, and a UNIQUE
    one enforces nothing. ``verify`` fails on it; ``status`` warns."""

    reason = "InvalidIndex"


class SafetyRefusal(KubemigrateError):
    """The environment's safety rules refuse the action (reset in production ...)."""

    reason = "RefusedBySafetyRules"
    exit_code = ExitCode.REFUSED


class NotAdopted(SafetyRefusal):
    """Another tool migrated the database and kubemigrate has recorded nothing there: a
    migrate would run again what that tool ran. Refused like any safety rule (exit 5),
    but no consent lets it through: nothing deploys until a person baselines, so it
    counts as a failure where runs are counted (the failure alerts must fire)."""

    reason = "NotAdopted"


class ConfirmationRequired(SafetyRefusal):
    """A production rollback needs the phrase that names its batch."""

    reason = "ConfirmationRequired"


class MigrationFailed(KubemigrateError):
    """A statement failed; the migration's transaction was rolled back."""

    reason = "MigrationFailed"
    exit_code = ExitCode.MIGRATION_FAILED


class DatabaseUnreachable(KubemigrateError):
    """The server could not be reached (network, DNS, server starting): retry."""

    reason = "DatabaseUnreachable"
    retryable = True
    exit_code = ExitCode.TEMPORARY


class AuthenticationFailed(KubemigrateError):
    """The server refused the credentials; retrying will not help."""

    reason = "AuthenticationFailed"
    exit_code = ExitCode.USAGE


class PermissionDenied(KubemigrateError):
    """The database user lacks a right kubemigrate's own tables need; retrying will not
    help, a grant (or another user) will."""

    reason = "PermissionDenied"
    exit_code = ExitCode.USAGE


class LockTimeout(KubemigrateError):
    """Another run held the migration lock past our deadline: retry later."""

    reason = "LockTimeout"
    retryable = True
    exit_code = ExitCode.TEMPORARY


class Interrupted(KubemigrateError):
    """Ctrl-C or SIGTERM: the migration in progress was rolled back, the run stopped."""

    reason = "Interrupted"
    exit_code = ExitCode.INTERRUPTED
