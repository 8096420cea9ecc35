"""Graceful deletion of Pods: a DELETE that marks a running Pod and leaves it to its kubelet.

A client that deletes a Pod and assumes it is gone (or that its process stopped)
is wrong on a real cluster, so the emulator answers as the real server does
(k8s.io/apiserver ``registry/rest/delete.go`` ``BeforeDelete``, the Pod strategy's
``CheckGracefulDelete`` in pkg/registry/core/pod/strategy.go, and the generic
registry store's ``Delete``/``updateForGracefulDeletionAndFinalizers``):

- the grace period is the DeleteOptions' ``gracePeriodSeconds`` if given, else the
  Pod's ``spec.terminationGracePeriodSeconds`` (0 if unset); it is 0 for a Pod bound
  to no node (no ``spec.nodeName``) or already terminal (phase Succeeded or Failed);
  a negative one counts as 1;
- the first DELETE sets ``deletionTimestamp`` (now + grace) and
  ``deletionGracePeriodSeconds`` and bumps ``generation``; the object is written (a
  MODIFIED event) and, with a grace of 0 and no finalizers, then removed at once;
  otherwise it stays, and the DELETE answers 200 with the Pod;
- a later DELETE may only shorten the grace (``deletionTimestamp`` moves by the
  difference); one that does not shorten it changes nothing and cannot add the
  finalizers a propagation policy asks for;
- an update leaves an object with ``deletionTimestamp`` and no finalizers removed only
  once its ``deletionGracePeriodSeconds`` is 0 (``shouldDeleteDuringUpdate``): a
  terminating Pod whose finalizers go stays until its kubelet deletes it with 0.
"""

from __future__ import annotations

import datetime
from typing import Any

JsonDict = dict[str, Any]

TERMINAL_PHASES = ("Succeeded", "Failed")
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _parse(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, _FORMAT).replace(tzinfo=datetime.UTC)


def _format(moment: datetime.datetime) -> str:
    return moment.strftime(_FORMAT)


def pod_grace(pod: JsonDict, requested: int | None) -> int:
    """``CheckGracefulDelete``: the grace period a Pod gets for this DELETE."""
    spec = pod.get("spec") or {}
    if requested is not None:
        period = requested
    else:
        default = spec.get("terminationGracePeriodSeconds")
        period = int(default) if isinstance(default, int) else 0
    if not spec.get("nodeName"):
        period = 0  # never scheduled: nothing runs that could shut down
    if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        period = 0  # nothing runs any more
    return 1 if period < 0 else period


def before_delete(
    pod: JsonDict, requested: int | None, now: datetime.datetime | None = None
) -> tuple[bool, bool]:
    """``BeforeDelete`` for a Pod: (graceful, pending), updating ``pod``'s metadata.

    graceful: the (changed) Pod must be written before anything else; pending: a
    graceful deletion is already under way and this DELETE changes nothing.
    """
    meta = pod["metadata"]
    if requested is not None and requested < 0:
        requested = 1
    current = meta.get("deletionGracePeriodSeconds")
    if isinstance(current, int) and current < 0:
        meta["deletionGracePeriodSeconds"] = current = 1
    if meta.get("deletionTimestamp"):
        if not current:
            # Marked with no grace left (finalizers, or a failed removal): delete now.
            return False, False
        if requested is None or requested >= current:
            return False, True
        moment = _parse(meta["deletionTimestamp"])
        moment += datetime.timedelta(seconds=requested - current)
        meta["deletionTimestamp"] = _format(moment)
        meta["deletionGracePeriodSeconds"] = requested
        return True, False
    period = pod_grace(pod, requested)
    moment = (now or datetime.datetime.now(datetime.UTC)) + datetime.timedelta(seconds=period)
    meta["deletionTimestamp"] = _format(moment)
    meta["deletionGracePeriodSeconds"] = period
    if int(meta.get("generation") or 0) > 0:
        meta["generation"] = int(meta["generation"]) + 1
    return True, False


def removable(meta: JsonDict) -> bool:
    """Whether a marked object may go now: no finalizers and no grace period left."""
    return (
        bool(meta.get("deletionTimestamp"))
        and not meta.get("finalizers")
        and meta.get("deletionGracePeriodSeconds") in (0, None)
    )
