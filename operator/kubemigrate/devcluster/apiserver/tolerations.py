"""The DefaultTolerationSeconds admission plugin: how long a new Pod stays on a lost node.

Enabled by default on every real apiserver (plugin/pkg/admission/defaulttolerationseconds),
it gives each Pod created (not updated) two tolerations unless one of its own already
covers them (same key, or no key; NoExecute, or no effect):
``node.kubernetes.io/not-ready`` and ``node.kubernetes.io/unreachable``, operator
Exists, effect NoExecute, for 300 seconds, in that order. So ``kubectl get pod -o
yaml`` and ``kubectl describe pod`` show them, and a controller comparing a Pod's
tolerations with its template's finds these two extra, as on a real cluster.
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


def _covers(toleration: Any, key: str) -> bool:
    if not isinstance(toleration, dict):
        return False
    return toleration.get("key") in (key, "", None) and toleration.get("effect") in (
        "NoExecute",
        "",
        None,
    )


def add_defaults(pod: JsonDict) -> None:
    """Add the not-ready and unreachable tolerations a new Pod lacks (in place)."""
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = []
    added = [
        {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": DEFAULT_SECONDS,
        }
        for key in (NOT_READY, UNREACHABLE)
        if not any(_covers(t, key) for t in tolerations)
    ]
    if added:
        spec["tolerations"] = [*tolerations, *added]
