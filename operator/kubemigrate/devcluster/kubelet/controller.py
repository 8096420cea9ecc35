"""The Job controller's decisions, as pure functions: a Job and its Pods in, a plan out.

This mirrors ``pkg/controller/job`` of Kubernetes >= 1.31 for what an operator can
observe (NonIndexed Jobs; Indexed completion mode, ``backoffLimitPerIndex`` and
``successPolicy`` are not modelled):

- Pods carry the ``batch.kubernetes.io/job-tracking`` finalizer. A finished Pod is
  counted by first recording its uid in ``status.uncountedTerminatedPods``, then
  removing its finalizer, then folding it into ``succeeded``/``failed``; the
  two-step protocol is what makes the counts exact across controller restarts and
  lets a deleted Pod be counted before it disappears.
- ``podFailurePolicy`` rules (``FailJob``/``Ignore``/``Count`` on exit codes or Pod
  conditions) are evaluated for Pods in phase Failed, first match wins.
- ``backoffLimit``: the Job fails once ``failed > backoffLimit`` (for
  ``restartPolicy: OnFailure``, once the container restarts reach it).
- ``activeDeadlineSeconds`` counts from ``startTime``.
- On a verdict the controller first adds ``FailureTarget`` / ``SuccessCriteriaMet``
  and terminates the active Pods; the terminal ``Failed`` / ``Complete`` condition
  follows only once no Pod is active or terminating (KEP-4368, on in 1.31), so
  a client that waits for ``Complete`` or ``Failed`` never sees a Pod still running.
- Failed Pods are replaced after an exponential back-off (10 s, 20 s, 40 s ... capped
  at 6 minutes in the real controller; the base is configurable for tests).
- ``podReplacementPolicy: Failed`` waits for a terminating Pod to reach phase Failed
  before creating its replacement; ``TerminatingOrFailed`` (the default) replaces at
  once and counts a terminating Pod as failed.
- ``suspend`` deletes active Pods and sets the ``Suspended`` condition; resuming
  resets ``startTime``. ``ttlSecondsAfterFinished`` deletes the finished Job, as the
  TTL-after-finished controller does (Foreground propagation).

Nothing here performs I/O or reads the clock: ``now`` is a parameter.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"

MSG_BACKOFF = "Job has reached the specified backoff limit"
MSG_DEADLINE = "Job was active longer than specified deadline"
MSG_COMPLETIONS = "Reached expected number of succeeded pods"
MSG_SUSPENDED = "Job suspended"
MSG_RESUMED = "Job resumed"

TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class ControllerSettings:
    """Knobs a test may turn; the defaults are the real controller's."""

    backoff_base: float = 10.0
    """Delay before the first replacement of a failed Pod; doubles per failure."""
    backoff_max: float = 360.0
    """The back-off cap (6 minutes in Kubernetes)."""


@dataclass(frozen=True)
class Plan:
    """What the controller should do next, in this order.

    1. delete ``delete`` (active Pods to terminate), create ``create`` Pods;
    2. if ``record`` is set, write it as the Job's status (finished Pods' uids in
       ``uncountedTerminatedPods``) before touching any finalizer;
    3. remove the tracking finalizer from ``remove_finalizers``;
    4. write ``status`` if it differs from the stored one;
    5. delete the Job if ``delete_job``; sync again after ``requeue_after`` seconds.
    """

    status: JsonDict
    create: int = 0
    delete: tuple[str, ...] = ()
    record: JsonDict | None = None
    remove_finalizers: tuple[str, ...] = ()
    delete_job: bool = False
    requeue_after: float | None = None


@dataclass(frozen=True)
class Verdict:
    """A decided outcome: ``FailureTarget`` or ``SuccessCriteriaMet`` and their reason."""

    success: bool
    reason: str
    message: str


# --- time ------------------------------------------------------------------------


def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 with second precision, as metav1.Time serialises."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- Pods ------------------------------------------------------------------------


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controlling owner (``ownerReferences[].controller``)."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return None


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and not is_terminal(pod)


def has_finalizer(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def new_pod(job: Mapping[str, Any]) -> JsonDict:
    """The Pod the Job controller creates from the Job's template (name generated).

    Labels are the template's (which the API server defaulted with ``job-name`` and
    ``controller-uid``, both prefixed and legacy); the Job is the controlling owner.
    """
    meta = job["metadata"]
    template = copy.deepcopy(job["spec"].get("template") or {})
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    labels.setdefault("batch.kubernetes.io/job-name", meta["name"])
    labels.setdefault("job-name", meta["name"])
    labels.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])
    labels.setdefault("controller-uid", meta["uid"])
    pod_meta: JsonDict = {
        "generateName": f"{meta['name']}-",
        "namespace": meta["namespace"],
        "labels": labels,
        "finalizers": [TRACKING_FINALIZER],
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": template.get("spec") or {},
    }


# --- pod failure policy -------------------------------------------------------------


@dataclass(frozen=True)
class RuleMatch:
    action: str  # FailJob, Ignore, Count (FailIndex is for Indexed Jobs only)
    message: str


def _exit_code_match(rule: JsonDict, index: int, pod: Mapping[str, Any]) -> RuleMatch | None:
    requirement = rule["onExitCodes"]
    wanted_container = requirement.get("containerName")
    operator = requirement.get("operator")
    values = set(requirement.get("values") or [])
    status = pod.get("status") or {}
    meta = pod["metadata"]
    for statuses in (status.get("containerStatuses"), status.get("initContainerStatuses")):
        for cs in statuses or []:
            if wanted_container and cs.get("name") != wanted_container:
                continue
            terminated = (cs.get("state") or {}).get("terminated")
            if not terminated:
                continue
            code = int(terminated.get("exitCode", 0))
            if code == 0:
                continue  # exit code 0 never matches, whatever the operator
            if (operator == "In" and code in values) or (
                operator == "NotIn" and code not in values
            ):
                return RuleMatch(
                    rule["action"],
                    f"Container {cs.get('name')} for pod {meta['namespace']}/{meta['name']} "
                    f"failed with exit code {code} matching {rule['action']} rule at index {index}",
                )
    return None


def _condition_match(rule: JsonDict, index: int, pod: Mapping[str, Any]) -> RuleMatch | None:
    meta = pod["metadata"]
    conditions = (pod.get("status") or {}).get("conditions") or []
    for pattern in rule["onPodConditions"]:
        wanted_status = pattern.get("status", "True")
        for condition in conditions:
            if (
                condition.get("type") == pattern.get("type")
                and condition.get("status") == wanted_status
            ):
                return RuleMatch(
                    rule["action"],
                    f"Pod {meta['namespace']}/{meta['name']} has condition {condition['type']} "
                    f"matching {rule['action']} rule at index {index}",
                )
    return None


def match_pod_failure_policy(
    policy: Mapping[str, Any] | None, pod: Mapping[str, Any]
) -> RuleMatch | None:
    """The first rule matching a failed Pod, or None (then the failure counts)."""
    if not policy:
        return None
    for index, rule in enumerate(policy.get("rules") or []):
        found = None
        if rule.get("onExitCodes"):
            found = _exit_code_match(rule, index, pod)
        elif rule.get("onPodConditions"):
            found = _condition_match(rule, index, pod)
        if found is not None:
            return found
    return None


# --- conditions ----------------------------------------------------------------------


def find_condition(status: Mapping[str, Any], kind: str) -> JsonDict | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            result: JsonDict = condition
            return result
    return None


def condition_true(status: Mapping[str, Any], kind: str) -> bool:
    found = find_condition(status, kind)
    return found is not None and found.get("status") == "True"


def set_condition(
    status: JsonDict, kind: str, value: str, reason: str, message: str, now: str
) -> None:
    """Add or update a Job condition; an unchanged one is left exactly as it was."""
    conditions: list[JsonDict] = status.setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") != kind:
            continue
        if (condition.get("status"), condition.get("reason"), condition.get("message")) == (
            value,
            reason,
            message,
        ):
            return
        if condition.get("status") != value:
            condition["lastTransitionTime"] = now
        condition.update(status=value, reason=reason, message=message, lastProbeTime=now)
        return
    conditions.append(
        {
            "type": kind,
            "status": value,
            "lastProbeTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


def is_finished(job: Mapping[str, Any]) -> bool:
    status = job.get("status") or {}
    return condition_true(status, "Complete") or condition_true(status, "Failed")


def finish_time(job: Mapping[str, Any]) -> datetime.datetime | None:
    """When the Job finished: its terminal condition's transition (what the TTL counts from)."""
    status = job.get("status") or {}
    for kind in ("Complete", "Failed"):
        condition = find_condition(status, kind)
        if condition is not None and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime")) or parse_time(
                status.get("completionTime")
            )
    return None


# --- the sync ----------------------------------------------------------------------------


def _finished_at(pod: Mapping[str, Any]) -> datetime.datetime | None:
    """``getFinishedTime``: the last container's end, else when deletion was asked for
    (a graceful deletion's timestamp lies its grace period ahead: subtract it)."""
    status = pod.get("status") or {}
    latest: datetime.datetime | None = None
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        moment = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if moment is not None and (latest is None or moment > latest):
            latest = moment
    if latest is not None:
        return latest
    meta = pod["metadata"]
    deleted = parse_time(meta.get("deletionTimestamp"))
    if deleted is None:
        return None
    return deleted - datetime.timedelta(seconds=int(meta.get("deletionGracePeriodSeconds") or 0))


def _tidy(status: JsonDict) -> JsonDict:
    """Drop zero counts the real API omits (``omitempty`` int32s); keep ready/terminating."""
    for key in ("active", "succeeded", "failed"):
        if not status.get(key):
            status.pop(key, None)
    uncounted = status.get("uncountedTerminatedPods") or {}
    status["uncountedTerminatedPods"] = {k: v for k, v in uncounted.items() if v}
    if not status.get("conditions"):
        status.pop("conditions", None)
    return status


def _backoff_delay(failures: int, settings: ControllerSettings) -> float:
    if failures <= 0:
        return 0.0
    return float(min(settings.backoff_base * (2 ** (failures - 1)), settings.backoff_max))


def _backoff_wait(
    failures: int,
    pods: Sequence[Mapping[str, Any]],
    now: datetime.datetime,
    settings: ControllerSettings,
) -> float:
    """Seconds left before a failed Pod may be replaced (0: now).

    The delay doubles with each counted failure and runs from the newest failure
    among the Job's Pods, like the controller's per-Job back-off record.
    """
    if failures <= 0:
        return 0.0
    failed_at = [_finished_at(p) for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
    moments = [m for m in failed_at if m is not None]
    if not moments:
        return 0.0
    delay = _backoff_delay(failures, settings)
    return (max(moments) + datetime.timedelta(seconds=delay) - now).total_seconds()


def _ttl_plan(
    job: Mapping[str, Any],
    status: JsonDict,
    pods: Sequence[Mapping[str, Any]],
    now: datetime.datetime,
) -> Plan:
    leftovers = tuple(p["metadata"]["name"] for p in pods if has_finalizer(p))
    ttl = job["spec"].get("ttlSecondsAfterFinished")
    finished = finish_time(job)
    if ttl is None or finished is None:
        return Plan(status=status, remove_finalizers=leftovers)
    expires = finished + datetime.timedelta(seconds=int(ttl))
    if now >= expires:
        return Plan(status=status, remove_finalizers=leftovers, delete_job=True)
    return Plan(
        status=status, remove_finalizers=leftovers, requeue_after=(expires - now).total_seconds()
    )


def reconcile(
    job: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    now: datetime.datetime,
    settings: ControllerSettings = ControllerSettings(),
) -> Plan:
    """One sync of a Job, given the Pods it controls (others are ignored)."""
    uid = job["metadata"]["uid"]
    spec = job.get("spec") or {}
    old_status: JsonDict = copy.deepcopy(job.get("status") or {})
    status = copy.deepcopy(old_status)
    stamp = format_time(now)
    owned = [p for p in pods if controller_uid(p) == uid]

    if job["metadata"].get("deletionTimestamp"):
        # Being deleted: let the garbage collector take the Pods; just release them.
        return Plan(
            status=status,
            remove_finalizers=tuple(p["metadata"]["name"] for p in owned if has_finalizer(p)),
        )
    if is_finished(job):
        return _ttl_plan(job, status, owned, now)

    replace_failed_only = spec.get("podReplacementPolicy") == "Failed"
    policy = spec.get("podFailurePolicy")

    # 1. Count finished Pods (two-step: record uids, then drop finalizers, then fold).
    uncounted = status.get("uncountedTerminatedPods") or {}
    recorded_succeeded = list(uncounted.get("succeeded") or [])
    recorded_failed = list(uncounted.get("failed") or [])
    recorded = set(recorded_succeeded) | set(recorded_failed)
    new_succeeded: list[str] = []
    new_failed: list[str] = []
    to_release: list[str] = []
    fail_job: RuleMatch | None = None
    for pod in owned:
        meta = pod["metadata"]
        if not has_finalizer(pod):
            continue
        if meta["uid"] in recorded:
            to_release.append(meta["name"])
            continue
        phase = (pod.get("status") or {}).get("phase")
        if phase == "Succeeded":
            new_succeeded.append(meta["uid"])
        elif phase == "Failed":
            match = match_pod_failure_policy(policy, pod)
            if match is not None and match.action == "Ignore":
                to_release.append(meta["name"])
                continue
            if match is not None and match.action == "FailJob" and fail_job is None:
                fail_job = match
            new_failed.append(meta["uid"])
        elif meta.get("deletionTimestamp") and not replace_failed_only and not policy:
            new_failed.append(meta["uid"])  # a terminating Pod counts as failed at once
        else:
            continue
        to_release.append(meta["name"])

    record: JsonDict | None = None
    if new_succeeded or new_failed:
        record = _tidy(copy.deepcopy(old_status))
        record["uncountedTerminatedPods"] = {
            "succeeded": recorded_succeeded + new_succeeded,
            "failed": recorded_failed + new_failed,
        }
        record = _tidy(record)
    succeeded = int(status.get("succeeded") or 0) + len(recorded_succeeded) + len(new_succeeded)
    failed = int(status.get("failed") or 0) + len(recorded_failed) + len(new_failed)
    status["succeeded"], status["failed"] = succeeded, failed
    status["uncountedTerminatedPods"] = {}

    active = [p for p in owned if not is_terminal(p) and not p["metadata"].get("deletionTimestamp")]
    terminating = [p for p in owned if is_terminating(p)]
    completions = spec.get("completions")
    parallelism = int(spec.get("parallelism", 1))
    requeue: float | None = None

    # 2. A verdict, once decided, stands (its condition is in the status).
    verdict: Verdict | None = None
    target = find_condition(status, "FailureTarget")
    criteria = find_condition(status, "SuccessCriteriaMet")
    start = parse_time(status.get("startTime"))
    deadline = spec.get("activeDeadlineSeconds")
    suspended = bool(spec.get("suspend"))
    if target is not None and target.get("status") == "True":
        verdict = Verdict(False, str(target.get("reason")), str(target.get("message")))
    elif criteria is not None and criteria.get("status") == "True":
        verdict = Verdict(True, str(criteria.get("reason")), str(criteria.get("message")))
    elif fail_job is not None:
        verdict = Verdict(False, "PodFailurePolicy", fail_job.message)
    elif failed > int(spec.get("backoffLimit", 6)) or _restarts_exceed(spec, active):
        verdict = Verdict(False, "BackoffLimitExceeded", MSG_BACKOFF)
    elif (
        deadline is not None
        and start is not None
        and not suspended
        and (now >= start + datetime.timedelta(seconds=int(deadline)))
    ):
        verdict = Verdict(False, "DeadlineExceeded", MSG_DEADLINE)
    elif succeeded >= (completions if completions is not None else 1) or (
        completions is None and succeeded > 0 and not active
    ):
        verdict = Verdict(True, "CompletionsReached", MSG_COMPLETIONS)

    create = 0
    delete: list[str] = []
    if verdict is not None:
        kind = "SuccessCriteriaMet" if verdict.success else "FailureTarget"
        set_condition(status, kind, "True", verdict.reason, verdict.message, stamp)
        delete = [p["metadata"]["name"] for p in active]
        if not active and not terminating:
            final = "Complete" if verdict.success else "Failed"
            set_condition(status, final, "True", verdict.reason, verdict.message, stamp)
            if verdict.success:
                status["completionTime"] = stamp
    elif suspended:
        delete = [p["metadata"]["name"] for p in active]
        if not condition_true(status, "Suspended"):
            set_condition(status, "Suspended", "True", "JobSuspended", MSG_SUSPENDED, stamp)
            status.pop("startTime", None)
    else:
        if condition_true(status, "Suspended"):
            set_condition(status, "Suspended", "False", "JobResumed", MSG_RESUMED, stamp)
            status.pop("startTime", None)
        if not status.get("startTime"):
            status["startTime"] = stamp
            start = now
        remaining = (completions if completions is not None else 1) - succeeded
        wanted = max(0, min(parallelism, remaining)) - len(active)
        if replace_failed_only:
            wanted -= len(terminating)
        if wanted > 0:
            wait = _backoff_wait(failed, owned, now, settings)
            if wait > 0:
                requeue = wait
            else:
                create = wanted
        if deadline is not None and start is not None:
            left = (start + datetime.timedelta(seconds=int(deadline)) - now).total_seconds()
            requeue = left if requeue is None else min(requeue, left)

    status["active"] = len(active) - len(delete) + create
    status["ready"] = sum(1 for p in active if is_ready(p) and p["metadata"]["name"] not in delete)
    status["terminating"] = len(terminating) + len(delete)
    status = _tidy(status)
    return Plan(
        status=status,
        create=create,
        delete=tuple(delete),
        record=record,
        remove_finalizers=tuple(to_release),
        requeue_after=requeue,
    )


def _restarts_exceed(spec: Mapping[str, Any], active: Sequence[Mapping[str, Any]]) -> bool:
    """``restartPolicy: OnFailure``: the kubelet restarts in place; restarts count as failures."""
    template_spec = (spec.get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    limit = int(spec.get("backoffLimit", 6))
    restarts = sum(
        int(cs.get("restartCount", 0))
        for pod in active
        for cs in ((pod.get("status") or {}).get("containerStatuses") or [])
        + ((pod.get("status") or {}).get("initContainerStatuses") or [])
    )
    return restarts > 0 and restarts >= limit


__all__ = [
    "TRACKING_FINALIZER",
    "ControllerSettings",
    "Plan",
    "RuleMatch",
    "format_time",
    "is_finished",
    "match_pod_failure_policy",
    "new_pod",
    "parse_time",
    "reconcile",
]
