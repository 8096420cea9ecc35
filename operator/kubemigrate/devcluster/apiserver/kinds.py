"""Defaulting and validation of the kinds the install paths write: Service, Deployment, RBAC.

The Helm chart and ``manifests/`` create these; only what ``kubectl apply`` of them
shows is modelled. A Service gets the v1 defaults (type ClusterIP, TCP ports whose
targetPort is the port, single-stack IPv4) and a cluster IP from the service CIDR
10.96.0.0/12 on create, which later writes keep (an update without one keeps the
allocated one, as the real registry does); a Deployment gets the apps/v1 defaults
and ``status: {}``, and its selector must match its template and never change; no
controller runs Deployments here, so they get neither ReplicaSets, Pods nor status.
A PodDisruptionBudget is validated as ``ValidatePodDisruptionBudgetSpec`` does and
starts with the zero status a new one has (no disruption controller runs here, so
it keeps it: no voluntary eviction is ever allowed, as before the controller's
first pass on a real cluster).
RBAC objects are checked for a roleRef (never changed) and rules with verbs, and
stored: nothing enforces them.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any

from . import errors
from .errors import FieldError
from .podspec import pod_spec_errors

JsonDict = dict[str, Any]

SERVICES = ("", "services")
DEPLOYMENTS = ("apps", "deployments")
RBAC = "rbac.authorization.k8s.io"
BINDINGS = {(RBAC, "rolebindings"), (RBAC, "clusterrolebindings")}
ROLES = {(RBAC, "roles"), (RBAC, "clusterroles")}
DISRUPTION_BUDGETS = ("policy", "poddisruptionbudgets")
KEYS = {SERVICES, DEPLOYMENTS, DISRUPTION_BUDGETS} | BINDINGS | ROLES

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
NODE_PORTS = range(30000, 32768)


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


# --- Service ---------------------------------------------------------------------------


def _default_service(obj: JsonDict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
    if kind != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")


def allocate_service(obj: JsonDict, taken: list[JsonDict]) -> None:
    """Allocate a cluster IP (and node ports) on create, unused by ``taken`` services."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
        return
    used_ips = {_dict(s.get("spec")).get("clusterIP") for s in taken}
    used_ports = {
        p.get("nodePort")
        for s in taken
        for p in _dict(s.get("spec")).get("ports") or []
        if isinstance(p, dict)
    }
    if not spec.get("clusterIP"):
        hosts = SERVICE_CIDR.num_addresses - 2
        while True:  # the service CIDR has a million addresses: a free one is near
            ip = str(SERVICE_CIDR.network_address + 2 + secrets.randbelow(hosts - 2))
            if ip not in used_ips:
                break
        spec["clusterIP"] = ip
    if spec["clusterIP"] != "None":
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    else:
        spec.setdefault("clusterIPs", ["None"])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and not port.get("nodePort"):
                free = [n for n in NODE_PORTS if n not in used_ports]
                port["nodePort"] = secrets.choice(free)
                used_ports.add(port["nodePort"])


def carry_allocated(key: tuple[str, str], old: JsonDict, new: JsonDict) -> None:
    """An update that leaves out what the registry allocated keeps it (patchAllocatedValues)."""
    if key != SERVICES:
        return
    old_spec, new_spec = _dict(old.get("spec")), new.get("spec")
    if not isinstance(new_spec, dict) or new_spec.get("type") == "ExternalName":
        return
    for name in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        if not new_spec.get(name) and old_spec.get(name):
            new_spec[name] = old_spec[name]
    old_ports = {
        (p.get("port"), p.get("protocol")): p.get("nodePort")
        for p in old_spec.get("ports") or []
        if isinstance(p, dict)
    }
    if new_spec.get("type") in ("NodePort", "LoadBalancer"):
        for port in new_spec.get("ports") or []:
            if isinstance(port, dict) and not port.get("nodePort"):
                found = old_ports.get((port.get("port"), port.get("protocol")))
                if found:
                    port["nodePort"] = found


def _service_errors(obj: JsonDict) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    found: list[FieldError] = []
    kind = spec.get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        found.append(errors.not_supported("spec.type", kind, SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        found.append(errors.required("spec.ports"))
    names = set()
    for index, port in enumerate(ports):
        where = f"spec.ports[{index}]"
        if not isinstance(port, dict):
            found.append(errors.required(where))
            continue
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            found.append(
                errors.invalid(f"{where}.port", number, "must be between 1 and 65535, inclusive")
            )
        if port.get("protocol", "TCP") not in PROTOCOLS:
            found.append(errors.not_supported(f"{where}.protocol", port["protocol"], PROTOCOLS))
        if len(ports) > 1 and not port.get("name"):
            found.append(errors.required(f"{where}.name"))
        if port.get("name") in names:
            found.append(
                errors.FieldError(
                    f"{where}.name",
                    "Duplicate value",
                    "FieldValueDuplicate",
                    "",
                    port["name"],
                    True,
                )
            )
        names.add(port.get("name"))
    selector = spec.get("selector")
    if selector is not None and not isinstance(selector, dict):
        found.append(errors.invalid("spec.selector", selector, "must be a map"))
    return found


def _service_update_errors(old: JsonDict, new: JsonDict) -> list[FieldError]:
    old_ip = _dict(old.get("spec")).get("clusterIP")
    new_ip = _dict(new.get("spec")).get("clusterIP")
    if (
        old_ip
        and new_ip
        and old_ip != new_ip
        and _dict(new.get("spec")).get("type") != "ExternalName"
    ):
        return [errors.invalid("spec.clusterIPs[0]", new_ip, "may not change once set")]
    return []


# --- Deployment --------------------------------------------------------------------------


def _default_deployment(obj: JsonDict) -> None:
    from .builtins import default_pod_spec  # builtins imports this module

    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    template_spec = _dict(spec.get("template")).get("spec")
    if isinstance(template_spec, dict):
        default_pod_spec(template_spec, restart_policy="Always")


def _selector_matches(selector: Any, labels: JsonDict) -> bool:
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _deployment_errors(obj: JsonDict) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    found: list[FieldError] = []
    selector = spec.get("selector")
    template = _dict(spec.get("template"))
    labels = _dict(_dict(template.get("metadata")).get("labels"))
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        found.append(errors.required("spec.selector"))
        found.append(
            errors.invalid(
                "spec.selector", selector or {}, "empty selector is invalid for deployment"
            )
        )
    elif not _selector_matches(selector, labels):
        found.append(
            errors.invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    for name in ("replicas", "revisionHistoryLimit", "progressDeadlineSeconds"):
        value = spec.get(name)
        if isinstance(value, int) and value < 0:
            found.append(
                errors.invalid(f"spec.{name}", value, "must be greater than or equal to 0")
            )
    found += pod_spec_errors(template.get("spec"), "spec.template.spec", ("Always",))
    return found


def _deployment_update_errors(old: JsonDict, new: JsonDict) -> list[FieldError]:
    old_selector = _dict(old.get("spec")).get("selector")
    new_selector = _dict(new.get("spec")).get("selector")
    if old_selector != new_selector:
        return [errors.invalid("spec.selector", new_selector, "field is immutable")]
    return []


# --- PodDisruptionBudget -----------------------------------------------------------------

# PodDisruptionBudgetStatus's fields without omitempty: a new budget shows them as 0.
_BUDGET_STATUS = {
    "disruptionsAllowed": 0,
    "currentHealthy": 0,
    "desiredHealthy": 0,
    "expectedPods": 0,
}
_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
_PERCENT = re.compile(r"^[0-9]+%$")


def _int_or_percent_errors(value: Any, path: str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent`` and ``IsNotMoreThan100Percent`` (apps validation)."""
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [
                errors.invalid(
                    path,
                    value,
                    "a valid percent string must be a numeric string followed by an ending "
                    "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )
            ]
        if int(value[:-1]) > 100:
            return [errors.invalid(path, value, "must not be greater than 100%")]
        return []
    if isinstance(value, int) and value < 0:
        return [errors.invalid(path, value, "must be greater than or equal to 0")]
    return []


def _budget_errors(obj: JsonDict) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    found: list[FieldError] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        found.append(
            errors.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")
        )
    for name in ("minAvailable", "maxUnavailable"):
        if spec.get(name) is not None:
            found += _int_or_percent_errors(spec[name], f"spec.{name}")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in _EVICTION_POLICIES:
        found.append(
            errors.not_supported("spec.unhealthyPodEvictionPolicy", policy, _EVICTION_POLICIES)
        )
    return found


# --- RBAC --------------------------------------------------------------------------------

SUBJECT_KINDS = ["Group", "ServiceAccount", "User"]


def _default_binding(obj: JsonDict) -> None:
    for subject in obj.get("subjects") or []:
        # A ServiceAccount's apiGroup is "", which JSON omits.
        if (
            isinstance(subject, dict)
            and "apiGroup" not in subject
            and subject.get("kind") in ("User", "Group")
        ):
            subject["apiGroup"] = RBAC
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = RBAC


def _binding_errors(plural: str, obj: JsonDict) -> list[FieldError]:
    found: list[FieldError] = []
    ref = _dict(obj.get("roleRef"))
    kinds = ["ClusterRole"] if plural == "clusterrolebindings" else ["Role", "ClusterRole"]
    if ref.get("apiGroup") != RBAC:
        found.append(errors.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [RBAC]))
    if ref.get("kind") not in kinds:
        found.append(errors.not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        found.append(errors.required("roleRef.name"))
    for index, subject in enumerate(obj.get("subjects") or []):
        where = f"subjects[{index}]"
        subject = _dict(subject)
        if not subject.get("name"):
            found.append(errors.required(f"{where}.name"))
        kind = subject.get("kind")
        if kind not in SUBJECT_KINDS:
            found.append(errors.not_supported(f"{where}.kind", kind or "", SUBJECT_KINDS))
        if (
            kind == "ServiceAccount"
            and plural == "clusterrolebindings"
            and not subject.get("namespace")
        ):
            found.append(errors.required(f"{where}.namespace"))
    return found


def _role_errors(plural: str, obj: JsonDict) -> list[FieldError]:
    found: list[FieldError] = []
    namespaced = plural == "roles"
    for index, rule in enumerate(obj.get("rules") or []):
        where = f"rules[{index}]"
        rule = _dict(rule)
        if not rule.get("verbs"):
            found.append(errors.required(f"{where}.verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced or rule.get("resources") or rule.get("apiGroups"):
                detail = (
                    "namespaced rules cannot apply to non-resource URLs"
                    if namespaced
                    else "rules cannot apply to both regular resources and non-resource URLs"
                )
                found.append(
                    errors.invalid(f"{where}.nonResourceURLs", rule["nonResourceURLs"], detail)
                )
        elif not rule.get("apiGroups"):
            found.append(
                errors.required(
                    f"{where}.apiGroups", "resource rules must supply at least one api group"
                )
            )
        elif not rule.get("resources"):
            found.append(
                errors.required(
                    f"{where}.resources", "resource rules must supply at least one resource"
                )
            )
    return found


# --- entry points (called from .builtins) ------------------------------------------------


def default(key: tuple[str, str], obj: JsonDict, *, created: bool) -> None:
    if key == SERVICES:
        _default_service(obj)
        if created:
            obj["status"] = {"loadBalancer": {}}
    elif key == DEPLOYMENTS:
        _default_deployment(obj)
        if created:
            obj["status"] = {}
    elif key == DISRUPTION_BUDGETS and created:
        obj["status"] = dict(_BUDGET_STATUS)
    elif key in BINDINGS:
        _default_binding(obj)


def create_errors(key: tuple[str, str], obj: JsonDict) -> list[FieldError]:
    if key == SERVICES:
        return _service_errors(obj)
    if key == DEPLOYMENTS:
        return _deployment_errors(obj)
    if key == DISRUPTION_BUDGETS:
        return _budget_errors(obj)
    if key in BINDINGS:
        return _binding_errors(key[1], obj)
    if key in ROLES:
        return _role_errors(key[1], obj)
    return []


def update_errors(key: tuple[str, str], old: JsonDict, new: JsonDict) -> list[FieldError]:
    if key == SERVICES:
        return _service_errors(new) + _service_update_errors(old, new)
    if key == DEPLOYMENTS:
        return _deployment_errors(new) + _deployment_update_errors(old, new)
    if key == DISRUPTION_BUDGETS:
        return _budget_errors(new)
    if key in BINDINGS:
        found = _binding_errors(key[1], new)
        if old.get("roleRef") != new.get("roleRef"):
            found.append(errors.invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return found
    if key in ROLES:
        return _role_errors(key[1], new)
    return []
