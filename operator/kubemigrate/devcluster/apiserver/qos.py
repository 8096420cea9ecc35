"""A Pod's resource defaults and its QoS class, as the apiserver sets them on create.

``kubectl describe pod`` shows the class, and the kubelet files the Pod under it (its
cgroup, its eviction order), so a Pod with requests must not read BestEffort here
when it reads Burstable on a real cluster. From the v1 defaults and
pkg/apis/core/helper/qos ``ComputePodQOS`` (the Pod strategy's ``PrepareForCreate``
sets ``status.qosClass`` with it; updates keep it):

- a Pod's container (init containers too) with limits but no request for a resource
  gets the limit as its request (``SetDefaults_Pod``; not Pod templates);
- only cpu and memory count, and only quantities above zero; no request or limit:
  BestEffort; every container limiting both cpu and memory, with requests equal to
  limits for each (summed over containers): Guaranteed; anything else: Burstable.

Not modelled: pod-level ``spec.resources`` (PodLevelResources).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .podspec import as_dict, parse_quantity

JsonDict = dict[str, Any]

COMPUTE = ("cpu", "memory")


def _containers(spec: JsonDict) -> list[JsonDict]:
    found = []
    for kind in ("containers", "initContainers"):
        items = spec.get(kind)
        found += [c for c in (items if isinstance(items, list) else []) if isinstance(c, dict)]
    return found


def default_requests(spec: JsonDict) -> None:
    """``SetDefaults_Pod``: a limit without a request is the request too (in place)."""
    for container in _containers(spec):
        resources = container.get("resources")
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = resources.get("requests")
        if not isinstance(requests, dict):
            requests = resources["requests"] = {}
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)


def _positive(values: Any) -> dict[str, Decimal]:
    found = {}
    for name, value in as_dict(values).items():
        if name not in COMPUTE:
            continue
        try:
            amount = parse_quantity(value)
        except ValueError:
            continue  # refused by validation before this matters
        if amount > 0:
            found[name] = amount
    return found


def pod_qos(spec: JsonDict) -> str:
    """``ComputePodQOS`` over a (defaulted) Pod spec."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for container in _containers(spec):
        resources = as_dict(container.get("resources"))
        for name, amount in _positive(resources.get("requests")).items():
            requests[name] = requests.get(name, Decimal(0)) + amount
        limited = _positive(resources.get("limits"))
        for name, amount in limited.items():
            limits[name] = limits.get(name, Decimal(0)) + amount
        if not all(name in limited for name in COMPUTE):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    matched = all(limits.get(name) == amount for name, amount in requests.items())
    if guaranteed and matched and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"
