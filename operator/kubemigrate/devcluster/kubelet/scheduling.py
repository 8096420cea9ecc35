"""The scheduler's filter for the one node there is: nodeSelector and node affinity.

A Pod the node cannot take stays Pending, as the default scheduler leaves it: condition
``PodScheduled=False``, reason ``Unschedulable``, with the scheduler's message, and a
``FailedScheduling`` event. Only the filters an operator's Pod can trip over on a
one-node cluster are modelled: ``spec.nodeSelector`` and ``requiredDuringScheduling``
``IgnoredDuringExecution`` node affinity (``matchExpressions`` with In, NotIn, Exists,
DoesNotExist, Gt, Lt; ``matchFields`` on ``metadata.name``). The node has no taints,
so tolerations never matter; resources are not counted. Pure: no I/O.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

NODE_AFFINITY_MESSAGE = (
    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
)
SCHEDULER_NAME = "default-scheduler"


def node_labels(node_name: str) -> dict[str, str]:
    """The well-known labels a kubelet puts on its Node."""
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    return {
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": node_name,
        "kubernetes.io/os": "linux",
    }


def _requirement_matches(requirement: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key = requirement.get("key", "")
    operator = requirement.get("operator")
    wanted = [str(v) for v in requirement.get("values") or []]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, bound = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node
    return all(_requirement_matches(e, labels) for e in expressions) and all(
        _requirement_matches(f, {"metadata.name": node_name}) for f in fields
    )


def fits(pod: Mapping[str, Any], node_name: str, labels: Mapping[str, str]) -> bool:
    """True if the Pod's node selector and required node affinity accept this node."""
    spec = pod.get("spec") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms is not None:
        return any(_term_matches(t, labels, node_name) for t in terms)
    return True


def unschedulable_status(pod: Mapping[str, Any], now: str, message: str) -> JsonDict:
    """The status the scheduler leaves on a Pod no node can take."""
    status: JsonDict = {
        k: v for k, v in (pod.get("status") or {}).items() if k not in ("conditions", "phase")
    }
    status["phase"] = "Pending"
    status["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": now,
            "reason": "Unschedulable",
            "message": message,
        }
    ]
    return status
