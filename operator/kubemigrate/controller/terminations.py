"""The last state of the Job pods the watch showed being deleted, per Job uid.

At ``activeDeadlineSeconds`` (and when a person deletes a running pod) the pod is
deleted while it runs: the kubelet stops the engine, which writes its result to the
termination message, and the pod status carries it only until the Job controller
releases its finalizer and the pod goes. The Job turns ``Failed`` after that (since
Kubernetes 1.31 only once no pod is terminating), so a listing of its pods then finds
none, and the result is in no object left. The watch shows it on the way out (the
pod modified with its terminated state, then deleted with that final state): this
keeps it, with no API call, for the Job's report to read.

Kept: only pods being deleted whose migration container had not ended before the
deletion was asked for (a pod that ended on its own and is collected later lists like
any other until then, and would only fill memory), trimmed to what the report reads.
Bounded: at most ``max_jobs`` Jobs (the least recently seen goes first) and
``max_pods`` pods per Job (a Job's pods are at most its backoffLimit + 1, capped by
the operator's settings). Forgotten once the Job's run has its result, or the Job is
deleted. In memory only: a pod gone while no operator process watched (a restart, a
replica handing over) left nothing to read, and its run reports that no result came.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kubemigrate.controller.jobs import CONTAINER_NAME
from kubemigrate.controller.results import job_uid, parse_time

MAX_JOBS = 512
MAX_PODS = 64
CLOCK_SKEW = timedelta(seconds=30)
"""How far the node's clock (a container's ``finishedAt``) may be behind the API
server's (``deletionTimestamp``) for an end to still count as the deletion's."""


def _asked_at(meta: Mapping[str, Any]) -> datetime | None:
    """When the deletion was asked for: ``deletionTimestamp`` lies its grace period ahead
    (and moves back when a later DELETE shortens it, as the kubelet's final one does)."""
    moment = parse_time(meta.get("deletionTimestamp"))
    grace = meta.get("deletionGracePeriodSeconds")
    return moment - timedelta(seconds=grace if isinstance(grace, int) else 0) if moment else None


def stopped_by_deletion(pod: Mapping[str, Any], *, deleted: bool = False) -> bool:
    """Whether ``pod`` is being deleted (or was: ``deleted``) with its migration container
    not ended before that: its end, whatever it says, is the deletion's.

    The two stamps come from two machines' clocks, in whole seconds: an end up to
    ``CLOCK_SKEW`` before the deletion counts as the deletion's (a pod kept for nothing
    costs a little memory; one missed loses its run's result).
    """
    meta = pod.get("metadata") or {}
    if not (meta.get("deletionTimestamp") or deleted):
        return False
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        if status.get("name") != CONTAINER_NAME:
            continue
        finished = parse_time(
            ((status.get("state") or {}).get("terminated") or {}).get("finishedAt")
        )
        asked = _asked_at(meta)
        return finished is None or asked is None or finished >= asked - CLOCK_SKEW
    return True  # no container status yet: deleted before it started


def _trimmed(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What the report reads of a pod: identity, owner, phase, container states."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    return {
        "metadata": {
            key: meta[key]
            for key in (
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "ownerReferences",
            )
            if key in meta
        },
        "status": {
            "phase": status.get("phase"),
            "containerStatuses": [
                {key: s[key] for key in ("name", "state", "lastState") if key in s}
                for s in status.get("containerStatuses") or ()
            ],
        },
    }


class Terminations:
    """Thread-safe: kopf runs the pod and Job handlers in a pool of threads."""

    def __init__(self, max_jobs: int = MAX_JOBS, max_pods: int = MAX_PODS) -> None:
        self.max_jobs = max_jobs
        self.max_pods = max_pods
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, OrderedDict[str, dict[str, Any]]] = OrderedDict()

    def saw(self, pod: Mapping[str, Any], *, deleted: bool = False) -> str | None:
        """Keep ``pod``'s latest state if its deletion stopped it; the Job's uid if kept."""
        job = job_uid(pod)
        uid = (pod.get("metadata") or {}).get("uid")
        if job is None or not uid or not stopped_by_deletion(pod, deleted=deleted):
            return None
        with self._lock:
            pods = self._jobs.setdefault(job, OrderedDict())
            self._jobs.move_to_end(job)
            pods[str(uid)] = _trimmed(pod)
            pods.move_to_end(str(uid))
            while len(pods) > self.max_pods:
                pods.popitem(last=False)
            while len(self._jobs) > self.max_jobs:
                self._jobs.popitem(last=False)
        return job

    def pods(self, job: str) -> list[dict[str, Any]]:
        """The kept pods of the Job of uid ``job``, oldest seen first."""
        with self._lock:
            return list((self._jobs.get(job) or {}).values())

    def forget(self, job: str) -> None:
        with self._lock:
            self._jobs.pop(job, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)
