"""Reading a finished Job's result back: its conditions and its pod's termination message.

The engine writes its JSON Outcome to ``/dev/termination-log``; Kubernetes copies
it into the pod's ``state.terminated.message``. A pod the Job's deadline deleted is
gone by the time the Job is Failed: its last state is what the watch kept
(``terminations``), read beside the listed pods. Each pod is one attempt of the run,
and only the last attempt's result is the run's (``read_attempts``). When that pod
died before writing it (OOM, image pull, a pod gone while no operator watched) or
never started, the Job's own condition explains the failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kubemigrate.controller.jobs import CONTAINER_NAME
from kubemigrate.domain.errors import Interrupted
from kubemigrate.domain.outcome import Outcome
from kubemigrate.domain.status import said_once


@dataclass(frozen=True)
class JobState:
    finished: bool
    succeeded: bool
    reason: str | None = None
    message: str | None = None


def job_state(job: Mapping[str, Any]) -> JobState:
    """Complete / Failed from the Job's conditions, as the Job controller sets them."""
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return JobState(True, True, condition.get("reason"), condition.get("message"))
        if condition.get("type") == "Failed":
            return JobState(True, False, condition.get("reason"), condition.get("message"))
    return JobState(False, False)


def job_uid(pod: Mapping[str, Any]) -> str | None:
    """The uid of the Job controlling ``pod`` (its controller ownerReference), if any."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") is True and ref.get("kind") == "Job" and ref.get("uid"):
            return str(ref["uid"])
    return None


def pods_of(pods: Sequence[Mapping[str, Any]], job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pods ``job`` controls: their controller ownerReference is the Job's uid.

    Pods are listed by their ``job-name`` label, which anyone who may create a pod in the
    namespace may put on one, with a termination message that reads as a result.
    """
    uid = (job.get("metadata") or {}).get("uid")
    return [pod for pod in pods if uid and job_uid(pod) == uid]


def parse_time(stamp: Any) -> datetime | None:
    """An API object's timestamp (``2026-01-01T00:00:01Z``), or None when it is none."""
    try:
        return datetime.fromisoformat(str(stamp or "").replace("Z", "+00:00"))
    except ValueError:
        return None


def with_kept(
    listed: Sequence[Mapping[str, Any]], kept: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The pods a listing found, and those the watch kept (``Terminations``) that it did
    not: gone since, deleted at the Job's deadline. A listed pod is its current state."""
    seen = {(pod.get("metadata") or {}).get("uid") for pod in listed}
    return [*listed, *(pod for pod in kept if (pod.get("metadata") or {}).get("uid") not in seen)]


def ended(pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` is over: a terminal phase, or its migration container terminated."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or bool(
        _terminated(pod)
    )


def unseen_ends(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the Job counts more ended pods than ``pods`` show ended: the end of one,
    and maybe its result, has not reached this process (yet: the pod's watch and the
    Job's are apart, and a pod deleted at the deadline is gone before the Job fails;
    or never: it went while no operator process watched)."""
    status = job.get("status") or {}
    counted = int(status.get("succeeded") or 0) + int(status.get("failed") or 0)
    return counted > sum(1 for pod in pods if ended(pod))


def stopped_at_deadline(outcome: Outcome, job: Mapping[str, Any]) -> Outcome:
    """The engine's result when the Job's deadline stopped it, saying so.

    The engine only knows it got SIGTERM (``Interrupted``: what committed, what was
    rolled back); the Job's ``DeadlineExceeded`` says why. Other results are the
    engine's own (it had ended when the deadline came) and stay as they are.
    """
    error = outcome.error or {}
    if outcome.ok or error.get("reason") != Interrupted.reason:
        return outcome
    seconds = (job.get("spec") or {}).get("activeDeadlineSeconds")
    limit = f" (activeDeadlineSeconds: {seconds} s)" if seconds is not None else ""
    message = str(error.get("message") or "Interrupted.")
    hint = str(error.get("hint") or "").rstrip(".")
    more_time = "give the next run more time with spec.job.activeDeadlineSeconds"
    return replace(
        outcome,
        error={
            **error,
            "message": f"stopped at the Job's deadline{limit}: {message}",
            "hint": f"{hint}; {more_time}" if hint else more_time,
        },
    )


def _terminated(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        if status.get("name") == CONTAINER_NAME:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated:
                return dict(terminated)
    return None


def waiting_problem(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """A pod stuck before start (missing Secret key, bad image, no node that fits): the
    kubelet's or the scheduler's message."""
    for pod in pods:
        for condition in (pod.get("status") or {}).get("conditions") or ():
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == "Unschedulable"
            ):
                return (
                    f"Unschedulable: {condition.get('message', '')}".strip()
                    + " (check spec.job.nodeSelector and spec.job.tolerations against the "
                    "cluster's nodes)"
                )
        for status in (pod.get("status") or {}).get("containerStatuses") or ():
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in (
                "CreateContainerConfigError",
                "ErrImagePull",
                "ImagePullBackOff",
                "InvalidImageName",
            ):
                problem = f"{waiting.get('reason')}: {waiting.get('message', '')}".strip()
                return problem + _fix_for(problem)
    return None


def started(pod: Mapping[str, Any]) -> bool:
    """Whether ``pod``'s migration container ever started (False: the engine never ran
    in it, so it did not touch the database). An init container's run proves nothing
    (it only copies the migrations in). A container never created (a missing Secret,
    an image that cannot be pulled) ends with its pod waiting, or, as the kubelet
    writes a terminated pod's containers it has no state of, as ContainerStatusUnknown
    with neither a start time nor a container id."""
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        state, last = status.get("state") or {}, status.get("lastState") or {}
        if "running" in state or "terminated" in last:
            return True
        terminated = state.get("terminated")
        if terminated and not (
            terminated.get("reason") == "ContainerStatusUnknown"
            and not terminated.get("startedAt")
            and not (terminated.get("containerID") or status.get("containerID"))
        ):
            return True
    return False


def no_pod_problem(namespace: str, job_name: str) -> str:
    """A Job with no pod long after its creation: the Job controller could not create one
    (a missing ServiceAccount, a quota, an admission webhook). It says why only in the
    Job's Events, which the operator does not read."""
    return (
        f"PodNotCreated: Job {job_name} has no pod yet; `kubectl -n {namespace} describe job "
        f"{job_name}` shows why (a ServiceAccount in spec.job.serviceAccountName that does "
        "not exist, a resource quota, an admission policy)"
    )


_MISSING_KEY = re.compile(r"couldn't find key (\S+) in Secret (\S+)")


def _fix_for(problem: str) -> str:
    """What the MigrationRun's author can do about it (the kubelet speaks of the pod)."""
    missing = _MISSING_KEY.search(problem)
    if missing:
        key, secret = missing.groups()
        return (
            f" (the run reads its database URL from key {key} of Secret {secret}: add that key "
            "to the Secret and the run starts as soon as it is there, or create a new run "
            "whose spec.database.secretRef.key names the right one)"
        )
    if "ImagePull" in problem or "InvalidImageName" in problem:
        return " (check spec.source.image.reference and the pull secrets)"
    return ""


def _read(terminated: Mapping[str, Any]) -> tuple[Outcome | None, str | None]:
    """A terminated container's Outcome, or (None, the raw message/log tail)."""
    message = str(terminated.get("message") or "").strip()
    if not message:
        return None, f"exit code {terminated.get('exitCode')}"
    try:
        data = json.loads(message)
        return Outcome.from_dict(data), None
    except (ValueError, TypeError, KeyError):
        return None, message[-1024:]


@dataclass(frozen=True)
class Attempts:
    """What a finished Job's pods say of the run's attempts, a pod each.

    With a podFailurePolicy, the Job creates a pod only once the one before it has
    failed, so its pods in the order they were created are the run's attempts. The
    last one's result is the run's: it reports what the earlier ones committed too
    (they ran under the same run id). When it left none, the Job's condition says why
    the run ended; the attempt before it is kept (``before``) for what it said.
    """

    count: int
    """How many attempts the Job made: the pods seen, or the pods it counts, if more."""
    outcome: Outcome | None = None
    """The last attempt's result."""
    raw: str | None = None
    """The last attempt's termination message, or its exit code, when it is no result."""
    started: bool = True
    """Whether the last attempt's migration container ever started (no pod left to
    tell: True, as it may have)."""
    problem: str | None = None
    """Why the last attempt's pod could not start, as the kubelet or scheduler said."""
    before: Outcome | None = None
    """The result of the attempt before the last, when the last left none."""


def _attempt_order(pod: Mapping[str, Any]) -> tuple[str, str, bool, str, int]:
    """Sorts a Job's pods oldest attempt first. Timestamps have whole seconds, so a
    retry that began in the second its predecessor did is told apart otherwise: a pod
    with no end of its own (never started; gone with the Job) ended last; a Job
    completes with its one successful pod; and a later attempt lists every migration
    an earlier one did (a retried run read from its first pod's failure was reported
    Failed although its Job had completed)."""
    terminated = _terminated(pod) or {}
    read = _read(terminated)[0] if terminated else None
    return (
        str((pod.get("metadata") or {}).get("creationTimestamp") or ""),
        str(terminated.get("finishedAt") or "~"),  # "~" sorts after any timestamp
        terminated.get("exitCode") == 0,
        str(terminated.get("startedAt") or ""),
        read.migration_count if read is not None else -1,
    )


def read_attempts(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> Attempts:
    """The run's result from the last of ``pods`` (the Job's own), and how many there were.

    The last attempt is the last pod, whether or not it left a result: a Job that
    retried after a lock timeout and then passed its deadline while its next pod
    could not start (its Secret deleted) ended for the deadline, and was reported
    with the lock timeout of the pod before, the newest one that had a result.
    """
    status = job.get("status") or {}
    counted = int(status.get("succeeded") or 0) + int(status.get("failed") or 0)
    count = max(len(pods), counted)
    if not pods:
        return Attempts(count)
    ordered = sorted(pods, key=_attempt_order)
    last = ordered[-1]
    terminated = _terminated(last)
    raw = None
    if terminated is not None and started(last):
        outcome, raw = _read(terminated)
        if outcome is not None:
            return Attempts(count, outcome=outcome)
    earlier = _terminated(ordered[-2]) if len(ordered) > 1 else None
    return Attempts(
        count,
        raw=raw,
        started=started(last),
        problem=waiting_problem([last]),
        before=_read(earlier)[0] if earlier is not None else None,
    )


def after_attempts(outcome: Outcome, count: int) -> Outcome:
    """A failed run's result saying how many attempts its Job made, when it made more
    than one: three lock timeouts read as one otherwise."""
    if outcome.ok or count < 2:
        return outcome
    error = outcome.error or {}
    message = said_once(str(error.get("reason") or ""), str(error.get("message") or ""))
    said = f"after {count} attempts: {message}" if message else f"after {count} attempts"
    return replace(outcome, error={**error, "message": said})


def failed_outcome(action: str, reason: str, message: str) -> Outcome:
    """An Outcome for a Job that ended without the engine's own result.

    ``status.error`` shows the reason beside the message, so the message does not
    start with it again (the Job's own reason stays when it says more, as
    ``BackoffLimitExceeded`` does under ``JobFailed``).
    """
    return Outcome(
        action=action,
        ok=False,
        exitCode=1,
        error={"reason": reason, "message": said_once(reason, message)},
    )
