"""The status conditions the namespace controller gives a Terminating Namespace.

Each pass over a Namespace being deleted ends with ``namespaceConditionUpdater``'s
five conditions (pkg/controller/namespace/deletion/status_condition_utils.go), in its
order: discovery, group-version parsing and content deletion failures (never failing
here: False), then what is left once the contents were asked to go. A namespace held
by a finalizer on something inside it says so, which is what ``kubectl describe
namespace`` shows a person wondering why it stays Terminating: NamespaceContentRemaining
"Some resources are remaining: configmaps. has 1 resource instances" and
NamespaceFinalizersRemaining "Some content in the namespace has finalizers remaining:
kopf.zalando.org/KopfFinalizerMarker in 1 resource instances", both True.

A resource is named ``<plural>.<group>``, so a core one ends with a dot, as there.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

JsonDict = dict[str, Any]

_TYPES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
_OK = {
    "NamespaceDeletionDiscoveryFailure": (
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentRemoved", "All content successfully removed"),
}


def remaining(
    contents: list[tuple[tuple[str, str], JsonDict]],
) -> tuple[Counter[str], Counter[str]]:
    """What is left in a namespace, by resource (``<plural>.<group>``) and by finalizer."""
    by_resource: Counter[str] = Counter()
    by_finalizer: Counter[str] = Counter()
    for (group, plural), obj in contents:
        by_resource[f"{plural}.{group}"] += 1
        for finalizer in obj["metadata"].get("finalizers") or []:
            by_finalizer[str(finalizer)] += 1
    return by_resource, by_finalizer


def updated(
    old: list[JsonDict], by_resource: Counter[str], by_finalizer: Counter[str], now: str
) -> list[JsonDict] | None:
    """``updateConditions``: the Namespace's conditions after a pass, or None if none
    changed (a condition's time moves only when its status does)."""
    failing: dict[str, tuple[str, str]] = {}
    if by_resource:
        listed = sorted(f"{r} has {n} resource instances" for r, n in by_resource.items())
        failing["NamespaceContentRemaining"] = (
            "SomeResourcesRemain",
            f"Some resources are remaining: {', '.join(listed)}",
        )
    if by_finalizer:
        listed = sorted(f"{f} in {n} resource instances" for f, n in by_finalizer.items())
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: " + ", ".join(listed),
        )
    conditions = [dict(c) for c in old]
    changed = False
    for kind in _TYPES:
        status = "True" if kind in failing else "False"
        reason, message = failing.get(kind) or _OK[kind]
        current = next((c for c in conditions if c.get("type") == kind), None)
        if current is None:
            conditions.append(
                {
                    "type": kind,
                    "status": status,
                    "lastTransitionTime": now,
                    "reason": reason,
                    "message": message,
                }
            )
            changed = True
        elif (current.get("status"), current.get("reason"), current.get("message")) != (
            status,
            reason,
            message,
        ):
            if current.get("status") != status:
                current["lastTransitionTime"] = now
            current.update(status=status, reason=reason, message=message)
            changed = True
    return conditions if changed else None
