"""The one place where errors become kopf errors and condition reasons.

Kubernetes API failures split by whether a retry helps (kopf's TemporaryError
with a delay, or PermanentError); engine results carry their own stable
reasons, which pass through to the run's conditions unchanged, but for one the
operator names more exactly (``in_run_reasons``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import kopf

from kubemigrate.domain.errors import ConfirmationRequired, KubemigrateError
from kubemigrate.domain.outcome import Outcome
from kubemigrate.domain.status import Reason

#: Job controller reasons that say why a Job failed without the engine's result.
_JOB_REASONS = {
    "DeadlineExceeded": Reason.DEADLINE_EXCEEDED,
    "BackoffLimitExceeded": Reason.JOB_FAILED,
    "PodFailurePolicy": Reason.JOB_FAILED,
}


def failure_reason(outcome: Outcome) -> str:
    """The condition reason for a failed run: the engine's, else the Job's."""
    error = outcome.error or {}
    return str(error.get("reason") or Reason.JOB_FAILED)


def in_run_reasons(outcome: Outcome, spec: Mapping[str, Any]) -> Outcome:
    """A Job's result with the reasons a run's condition, status and Event show.

    The engine refuses a production rollback as ``ConfirmationRequired`` whether no
    phrase came or one that does not match (a stale one, naming a batch another
    deploy has since followed). A run whose ``spec.confirm`` gave one says
    ``ConfirmationMismatch``, as it does while it waits and a wrong phrase is patched
    in; ``ConfirmationRequired`` stays for a run that gave none.
    """
    error = outcome.error or {}
    if error.get("reason") != ConfirmationRequired.reason or spec.get("confirm") is None:
        return outcome
    return replace(outcome, error={**error, "reason": str(Reason.CONFIRMATION_MISMATCH)})


def job_reason(reason: str | None) -> str:
    return str(_JOB_REASONS.get(reason or "", Reason.JOB_FAILED))


def api_status(exc: BaseException) -> int | None:
    """The HTTP status of a kubernetes-client error, if it is one."""
    status = getattr(exc, "status", None)
    return int(status) if isinstance(status, int) else None


def to_kopf(exc: BaseException, *, doing: str) -> Exception:
    """An exception from a handler's work, as kopf should treat it.

    Domain errors that are not retryable are permanent (the spec is immutable, so a
    retry sees the same thing); API conflicts, throttling, server errors and network
    trouble are temporary.
    """
    if isinstance(exc, KubemigrateError):
        if exc.retryable:
            return kopf.TemporaryError(f"{doing}: {exc.message}", delay=5)
        return kopf.PermanentError(f"{doing}: {exc.message}")
    status = api_status(exc)
    if status is not None:
        if status in (409, 429) or status >= 500:
            return kopf.TemporaryError(
                f"{doing}: API server answered {status}", delay=1 if status == 409 else 5
            )
        return kopf.PermanentError(f"{doing}: API server answered {status}: {_reason(exc)}")
    return kopf.TemporaryError(f"{doing}: {type(exc).__name__}: {exc}", delay=5)


def refused_as_is(exc: BaseException) -> bool:
    """The API server said the object itself will not do: a bad request, an invalid
    object, a forbidden one (RBAC, or a quota: the run fails saying so, and a new run
    goes once the quota allows; kopf does not retry a 403, and the run would sit in
    Running for ever)."""
    return api_status(exc) in (400, 403, 422)


def _message(exc: BaseException) -> str:
    """The Status message the API server answered with, else the HTTP reason."""
    body = getattr(exc, "body", None)
    if body:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            return str(json.loads(body).get("message") or _reason(exc))
    return _reason(exc)


# The Job's fields a MigrationRun's author set, as they wrote them.
_JOB_FIELDS = (
    (re.compile(r"spec\.template\.spec\.(?:initContainers|containers)\[\d+\]\.resources"),
     "spec.job.resources"),
    (re.compile(r"spec\.template\.spec\.(nodeSelector|tolerations|serviceAccountName|imagePullSecrets)"),
     r"spec.job.\1"),
    (re.compile(r"spec\.(backoffLimit|activeDeadlineSeconds|ttlSecondsAfterFinished)"),
     r"spec.job.\1"),
)  # fmt: skip


def refusal_message(exc: BaseException, what: str) -> str:
    """Why the API server refused ``what``, in the run's terms: its Status message, the
    Job's field paths named as the spec.job fields they came from."""
    message = _message(exc)
    for pattern, spec_field in _JOB_FIELDS:
        message = pattern.sub(spec_field, message)
    told = f"the API server refused {what} ({api_status(exc)}): {message}"
    if "spec.source.inline" in what and "Too long" in message:
        told += (
            "; put the migrations in a ConfigMap of your own (kubectl create configmap "
            "--from-file, spec.source.configMap) or an image (spec.source.image)"
        )
    return told


def _reason(exc: Any) -> str:
    return str(getattr(exc, "reason", "") or exc)
