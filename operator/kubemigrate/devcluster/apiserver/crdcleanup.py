"""Deleting a CRD: its instances go first, each as a DELETE would take it, then the CRD.

As apiextensions-apiserver does (registry/customresourcedefinition/etcd.go ``Delete``,
controller/finalizer/crd_finalizer.go, the crdHandler):

- the first DELETE only marks the CRD: deletionTimestamp (no grace period, no
  generation bump), the ``customresourcecleanup.apiextensions.k8s.io`` finalizer and
  the condition Terminating=True ``InstanceDeletionPending``; the answer is the CRD
  (200). A later DELETE is the generic store's;
- the finalizer controller then says ``InstanceDeletionInProgress``, deletes every
  custom resource (their own finalizers hold them, and the CRD with them), and once
  none is left sets Terminating=False ``InstanceDeletionCompleted`` and removes its
  finalizer, which removes the CRD and stops serving its resources;
- meanwhile the resources are still served, but a create (POST) is refused with 405
  ``create not allowed while custom resource definition is terminating``.

The emulator used to remove a CRD and every instance at once, whatever held them.
"""

from __future__ import annotations

from typing import Any

from . import errors, objects
from .store import json_copy

JsonDict = dict[str, Any]

FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
TERMINATING = "Terminating"
PENDING = (
    "InstanceDeletionPending",
    "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
)
IN_PROGRESS = ("InstanceDeletionInProgress", "CustomResource deletion is in progress")
COMPLETED = ("InstanceDeletionCompleted", "removed all instances")


def crd_name(group: str, plural: str) -> str:
    return f"{plural}.{group}"


def set_condition(crd: JsonDict, status: str, reason: str, message: str) -> None:
    """``SetCRDCondition`` for Terminating (in place): the transition time moves only
    when the status does; a new condition goes last."""
    conditions = crd.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == TERMINATING:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = objects.now()
            condition.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {
            "type": TERMINATING,
            "status": status,
            "lastTransitionTime": objects.now(),
            "reason": reason,
            "message": message,
        }
    )


def condition(crd: JsonDict) -> JsonDict | None:
    for found in (crd.get("status") or {}).get("conditions") or []:
        if found.get("type") == TERMINATING:
            return dict(found)
    return None


def is_terminating(crd: JsonDict | None) -> bool:
    found = condition(crd) if crd is not None else None
    return found is not None and found.get("status") == "True"


def marked(crd: JsonDict) -> JsonDict:
    """The CRD after its first DELETE (a copy)."""
    new = json_copy(crd)
    meta = new["metadata"]
    meta["deletionTimestamp"] = objects.now()
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER not in finalizers:
        meta["finalizers"] = [*finalizers, FINALIZER]
    set_condition(new, "True", *PENDING)
    return new


def create_refused(group: str, plural: str) -> errors.ApiError:
    details: JsonDict = {"group": group, "kind": plural} if group else {"kind": plural}
    return errors.ApiError(
        405,
        "MethodNotAllowed",
        "create not allowed while custom resource definition is terminating",
        details,
    )
