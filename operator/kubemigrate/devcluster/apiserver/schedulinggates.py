"""A Pod's ``spec.schedulingGates``: what the apiserver itself does about them.

A gated Pod is one a queueing controller (Kueue, a quota admitter) holds back from
the scheduler. The apiserver's part, from pkg/registry/core/pod/strategy.go and
pkg/apis/core/validation:

- on create, ``applySchedulingGatedCondition`` gives a gated Pod the condition
  ``PodScheduled=False``, reason ``SchedulingGated``, "Scheduling is blocked due to
  non-empty scheduling gates" (no timestamps: they serialise as null), which
  ``kubectl get pods`` shows as the STATUS ``SchedulingGated``;
- gate names are qualified names, each once (``validateSchedulingGates``); a Pod
  created with gates cannot have ``spec.nodeName`` too;
- on update gates may only be removed (``validateOnlyDeletedSchedulingGates``): the
  last one removed lets the scheduler take the Pod (the kubelet stand-in's scheduler
  never binds a gated Pod, and ``pods/binding`` refuses one with 409).

Not modelled: the other scheduling directives a gated Pod may still narrow
(additions to ``nodeSelector``, to required node affinity terms).
"""

from __future__ import annotations

from typing import Any

from . import errors, objects
from .errors import FieldError

JsonDict = dict[str, Any]

REASON = "SchedulingGated"
MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"


def _names(spec: JsonDict) -> list[str]:
    gates = spec.get("schedulingGates") or []
    return [str(g.get("name", "")) if isinstance(g, dict) else "" for g in gates]


def gate_errors(spec: JsonDict, path: str) -> list[FieldError]:
    """``validateSchedulingGates``: qualified names, no duplicates."""
    found: list[FieldError] = []
    seen: set[str] = set()
    for index, name in enumerate(_names(spec)):
        where = f"{path}.schedulingGates[{index}]"
        found += [errors.invalid(where, name, msg) for msg in objects.qualified_name_messages(name)]
        if name in seen:
            found.append(errors.duplicate(where, name))
        seen.add(name)
    return found


def create_errors(spec: JsonDict) -> list[FieldError]:
    """No node named while any gate is left (``ValidatePodCreate``; the gates themselves
    are checked with the rest of the Pod spec, :func:`gate_errors`)."""
    found: list[FieldError] = []
    if spec.get("schedulingGates") and spec.get("nodeName"):
        found.append(
            errors.forbidden(
                "spec.nodeName", "cannot be set until all schedulingGates have been cleared"
            )
        )
    return found


def update_errors(old_spec: JsonDict, new_spec: JsonDict) -> list[FieldError]:
    """``validateOnlyDeletedSchedulingGates``: an update may remove gates, never add one."""
    before = set(_names(old_spec))
    found: list[FieldError] = []
    for index, name in enumerate(_names(new_spec)):
        if name not in before:
            found.append(
                errors.forbidden(
                    f"spec.schedulingGates[{index}].name",
                    f"only deletion is allowed, but found new scheduling gate '{name}'",
                )
            )
    return found


def apply_gated_condition(pod: JsonDict) -> None:
    """``applySchedulingGatedCondition`` on a new Pod (in place)."""
    if not (pod.get("spec") or {}).get("schedulingGates"):
        return
    status = pod.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    if any(c.get("type") == "PodScheduled" for c in conditions):
        return
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": None,
            "reason": REASON,
            "message": MESSAGE,
        }
    )


def is_gated(pod: JsonDict) -> bool:
    """The condition ``printPod`` turns into the STATUS ``SchedulingGated``."""
    return any(
        c.get("type") == "PodScheduled" and c.get("reason") == REASON
        for c in (pod.get("status") or {}).get("conditions") or []
    )
