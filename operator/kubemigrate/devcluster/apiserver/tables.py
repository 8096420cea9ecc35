"""Server-side printing: ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``.

kubectl asks for Tables and prints the cells it gets, so columns are the server's
business: a custom resource shows Name plus its CRD's ``additionalPrinterColumns``
(JSONPath evaluated here, each cell typed as the apiextensions table convertor types
it: ``boolean`` columns as JSON booleans, ``date`` columns as an age, a value not of
the column's type as null, which kubectl prints as nothing; Name and Age when the
CRD declares none); built-ins show the columns
the real server prints for them (all of them, ``-o wide`` ones included, with their
priority: kubectl hides priority > 0 unless asked), or Name and Age.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from . import jsonpath, schedulinggates
from .resources import ResourceType

JsonDict = dict[str, Any]

TABLE_MARKER = "as=table"


def wants_table(accept: str) -> bool:
    """True when the first acceptable media type asks for a meta.k8s.io Table."""
    for part in accept.split(","):
        params = {p.strip().lower() for p in part.split(";")[1:]}
        if TABLE_MARKER in params and "g=meta.k8s.io" in params:
            return True
        if part.strip():
            return False
    return False


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def age(timestamp: Any) -> str:
    when = _parse_time(timestamp)
    if when is None:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.UTC) - when).total_seconds())


Column = tuple[JsonDict, Callable[[JsonDict], Any]]


def _col(
    name: str,
    type_: str,
    fn: Callable[[JsonDict], Any],
    description: str = "",
    priority: int = 0,
) -> Column:
    return (
        {
            "name": name,
            "type": type_,
            "format": "name" if name == "Name" else "",
            "description": description,
            "priority": priority,
        },
        fn,
    )


_NAME = _col(
    "Name", "string", lambda o: o["metadata"]["name"], "Name must be unique within a namespace."
)
_AGE = _col(
    "Age", "string", lambda o: age(o["metadata"].get("creationTimestamp")), "CreationTimestamp"
)


def _pod_status(obj: JsonDict) -> str:
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if schedulinggates.is_gated(obj):
        return schedulinggates.REASON
    for status in obj.get("status", {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        for key in ("waiting", "terminated"):
            if state.get(key, {}).get("reason"):
                return str(state[key]["reason"])
    return str(obj.get("status", {}).get("phase") or "Pending")


def _pod_ready(obj: JsonDict) -> str:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for status in statuses if status.get("ready"))
    return f"{ready}/{len(obj.get('spec', {}).get('containers') or [])}"


def _pod_readiness_gates(obj: JsonDict) -> str:
    gates = [g.get("conditionType") for g in obj.get("spec", {}).get("readinessGates") or []]
    if not gates:
        return "<none>"
    conditions = obj.get("status", {}).get("conditions") or []
    met = sum(1 for c in conditions if c.get("type") in gates and c.get("status") == "True")
    return f"{met}/{len(gates)}"


def _job_completions(obj: JsonDict) -> str:
    """printJob: ``succeeded/completions``, or ``n/1 of parallelism`` with no completions."""
    spec, succeeded = obj.get("spec") or {}, (obj.get("status") or {}).get("succeeded", 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = int(spec.get("parallelism") or 0)
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _has_condition(obj: JsonDict, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def _job_status(obj: JsonDict) -> str:
    """printJob's Status column, in its order of precedence."""
    if _has_condition(obj, "Complete"):
        return "Complete"
    if _has_condition(obj, "Failed"):
        return "Failed"
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(obj, kind):
            return kind
    return "Running"


def _parse_time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _job_duration(obj: JsonDict) -> str:
    """Start to completion; start to now while running (or failed: no completionTime)."""
    status = obj.get("status") or {}
    start = _parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = _parse_time(status.get("completionTime")) or datetime.datetime.now(datetime.UTC)
    return human_duration((end - start).total_seconds())


def _containers(obj: JsonDict, key: str) -> str:
    template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return ",".join(str(c.get(key, "")) for c in template.get("containers") or [])


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: requirements sorted by key; ``<none>`` when empty."""
    if not isinstance(selector, dict):
        return "<none>"
    parts: list[tuple[str, str]] = [
        (str(k), f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()
    ]
    for expr in selector.get("matchExpressions") or []:
        key, op = str(expr.get("key", "")), expr.get("operator")
        values = ",".join(sorted(str(v) for v in expr.get("values") or []))
        if op == "In":
            parts.append((key, f"{key} in ({values})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({values})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    text = ",".join(p for _, p in sorted(parts, key=lambda item: item[0]))
    return text or "<none>"


# --- Events (printEvent): core/v1 and events.k8s.io/v1 field names both read ---------


def _event_first(obj: JsonDict) -> str:
    first = obj.get("firstTimestamp") or obj.get("deprecatedFirstTimestamp")
    return age(first) if first else age(obj.get("eventTime"))


def _event_last(obj: JsonDict) -> str:
    series = obj.get("series")
    if isinstance(series, dict):
        return age(series.get("lastObservedTime"))
    last = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp")
    return age(last) if last else _event_first(obj)


def _event_count(obj: JsonDict) -> int:
    series = obj.get("series")
    if isinstance(series, dict):
        return int(series.get("count") or 0)
    return int(obj.get("count") or obj.get("deprecatedCount") or 0) or 1


def _event_object(obj: JsonDict) -> JsonDict:
    found = obj.get("involvedObject") or obj.get("regarding") or {}
    return found if isinstance(found, dict) else {}


def _event_target(obj: JsonDict) -> str:
    involved = _event_object(obj)
    kind = str(involved.get("kind") or "").lower()
    return f"{kind}/{involved['name']}" if involved.get("name") else kind


def _event_source(obj: JsonDict) -> str:
    source = obj.get("source") or obj.get("deprecatedSource") or {}
    component = source.get("component") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else str(component)


_EVENT_COLUMNS: list[Column] = [
    _col(
        "Last Seen",
        "string",
        _event_last,
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    _col("Type", "string", lambda o: o.get("type", ""), "Type of this event (Normal, Warning)"),
    _col(
        "Reason",
        "string",
        lambda o: o.get("reason", ""),
        "This should be a short, machine understandable string that gives the reason for "
        "the transition into the object's current status.",
    ),
    _col("Object", "string", _event_target, "The object that this event is about."),
    _col(
        "Subobject",
        "string",
        lambda o: _event_object(o).get("fieldPath", ""),
        "If referring to a piece of an object instead of an entire object, this string "
        "should contain a valid JSON/Go field access statement.",
        priority=1,
    ),
    _col(
        "Source",
        "string",
        _event_source,
        "The component reporting this event.",
        priority=1,
    ),
    _col(
        "Message",
        "string",
        lambda o: str(o.get("message") or o.get("note") or "").strip(),
        "A human-readable description of the status of this operation.",
    ),
    _col(
        "First Seen",
        "string",
        _event_first,
        "The time at which the event was first recorded.",
        priority=1,
    ),
    _col("Count", "string", _event_count, "The number of times this event has occurred.", 1),
    (
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 1,
        },
        lambda o: o["metadata"]["name"],
    ),
]


def _created_at(obj: JsonDict) -> str:
    """The default table convertor's Created At: the RFC 3339 timestamp itself."""
    return str(obj["metadata"].get("creationTimestamp") or "")


def _service_external_ip(obj: JsonDict) -> str:
    """printService's External-IP: by type, from externalIPs and the load balancer."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    if kind == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        found = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
        found = [str(f) for f in found if f] + external
        return ",".join(found) if found else "<pending>"
    return ",".join(external) if external else "<none>"


def _service_ports(obj: JsonDict) -> str:
    ports = []
    for port in (obj.get("spec") or {}).get("ports") or []:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) if ports else "<none>"


def _format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted ``k=v`` pairs; ``<none>`` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _deployment_ready(obj: JsonDict) -> str:
    status = obj.get("status") or {}
    return f"{status.get('readyReplicas', 0)}/{(obj.get('spec') or {}).get('replicas', 0)}"


def _int_or_na(value: Any) -> str:
    """An IntOrString as ``IntOrString.String()`` prints it; N/A when unset."""
    return "N/A" if value is None else str(value)


def _role_ref(obj: JsonDict) -> str:
    ref = obj.get("roleRef") or {}
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _subjects(kind: str) -> Callable[[JsonDict], str]:
    def cell(obj: JsonDict) -> str:
        names = []
        for subject in obj.get("subjects") or []:
            if subject.get("kind") != kind:
                continue
            if kind == "ServiceAccount":
                names.append(f"{subject.get('namespace', '')}:{subject.get('name', '')}")
            else:
                names.append(str(subject.get("name", "")))
        return ", ".join(names)

    return cell


_ROLE_COLUMNS: list[Column] = [
    _NAME,
    _col("Created At", "date", _created_at, "CreationTimestamp"),
]
_BINDING_COLUMNS: list[Column] = [
    _NAME,
    _col("Role", "string", _role_ref, "RoleRef can reference a Role or a ClusterRole."),
    _AGE,
    _col("Users", "string", _subjects("User"), "Users in the roleBinding", 1),
    _col("Groups", "string", _subjects("Group"), "Groups in the roleBinding", 1),
    _col(
        "ServiceAccounts",
        "string",
        _subjects("ServiceAccount"),
        "ServiceAccounts in the roleBinding",
        1,
    ),
]

_BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "services"): [
        _NAME,
        _col("Type", "string", lambda o: (o.get("spec") or {}).get("type", "ClusterIP")),
        _col(
            "Cluster-IP",
            "string",
            lambda o: (o.get("spec") or {}).get("clusterIP") or "<none>",
        ),
        _col("External-IP", "string", _service_external_ip),
        _col("Port(s)", "string", _service_ports),
        _AGE,
        _col(
            "Selector",
            "string",
            lambda o: _format_labels((o.get("spec") or {}).get("selector")),
            "",
            1,
        ),
    ],
    ("policy", "poddisruptionbudgets"): [
        _NAME,
        _col(
            "Min Available",
            "string",
            lambda o: _int_or_na((o.get("spec") or {}).get("minAvailable")),
            "The minimum number of pods that must be available.",
        ),
        _col(
            "Max Unavailable",
            "string",
            lambda o: _int_or_na((o.get("spec") or {}).get("maxUnavailable")),
            "The maximum number of pods that may be unavailable.",
        ),
        _col(
            "Allowed Disruptions",
            "integer",
            lambda o: (o.get("status") or {}).get("disruptionsAllowed", 0),
            "Calculated number of pods that may be disrupted at this time.",
        ),
        _AGE,
    ],
    ("apps", "deployments"): [
        _NAME,
        _col("Ready", "string", _deployment_ready, "Number of the pod with ready state"),
        _col(
            "Up-to-date",
            "string",
            lambda o: (o.get("status") or {}).get("updatedReplicas", 0),
            "Total number of non-terminated pods targeted by this deployment that have the "
            "desired template spec.",
        ),
        _col(
            "Available",
            "string",
            lambda o: (o.get("status") or {}).get("availableReplicas", 0),
            "Total number of available pods (ready for at least minReadySeconds) targeted by "
            "this deployment.",
        ),
        _AGE,
        _col("Containers", "string", lambda o: _containers(o, "name"), "", 1),
        _col("Images", "string", lambda o: _containers(o, "image"), "", 1),
        _col(
            "Selector",
            "string",
            lambda o: format_label_selector((o.get("spec") or {}).get("selector")),
            "",
            1,
        ),
    ],
    ("rbac.authorization.k8s.io", "roles"): _ROLE_COLUMNS,
    ("rbac.authorization.k8s.io", "clusterroles"): _ROLE_COLUMNS,
    ("rbac.authorization.k8s.io", "rolebindings"): _BINDING_COLUMNS,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _BINDING_COLUMNS,
    ("", "namespaces"): [
        _NAME,
        _col("Status", "string", lambda o: o.get("status", {}).get("phase", "")),
        _AGE,
    ],
    ("", "configmaps"): [
        _NAME,
        _col("Data", "string", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    ("", "secrets"): [
        _NAME,
        _col("Type", "string", lambda o: o.get("type", "Opaque")),
        _col("Data", "string", lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    ("", "pods"): [
        _NAME,
        _col(
            "Ready",
            "string",
            _pod_ready,
        ),
        _col("Status", "string", _pod_status),
        _col(
            "Restarts",
            "string",
            lambda o: sum(
                int(c.get("restartCount", 0))
                for c in o.get("status", {}).get("containerStatuses") or []
            ),
        ),
        _AGE,
        _col("IP", "string", lambda o: o.get("status", {}).get("podIP") or "<none>", "", 1),
        _col("Node", "string", lambda o: o.get("spec", {}).get("nodeName") or "<none>", "", 1),
        _col(
            "Nominated Node",
            "string",
            lambda o: o.get("status", {}).get("nominatedNodeName") or "<none>",
            "",
            1,
        ),
        _col("Readiness Gates", "string", _pod_readiness_gates, "", 1),
    ],
    ("batch", "jobs"): [
        _NAME,
        _col("Status", "string", _job_status, "Status of the job."),
        _col(
            "Completions",
            "string",
            _job_completions,
            "The number of pods which reached phase Succeeded.",
        ),
        _col("Duration", "string", _job_duration, "Time required to complete the job."),
        _AGE,
        _col(
            "Containers",
            "string",
            lambda o: _containers(o, "name"),
            "Names of each container in the template.",
            priority=1,
        ),
        _col(
            "Images",
            "string",
            lambda o: _containers(o, "image"),
            "Images referenced by each container in the template.",
            priority=1,
        ),
        _col(
            "Selector",
            "string",
            lambda o: format_label_selector((o.get("spec") or {}).get("selector")),
            "A label query over pods that should match the pod count.",
            priority=1,
        ),
    ],
    ("", "events"): _EVENT_COLUMNS,
    ("events.k8s.io", "events"): _EVENT_COLUMNS,
    ("", "serviceaccounts"): [
        _NAME,
        _col("Secrets", "string", lambda o: len(o.get("secrets") or [])),
        _AGE,
    ],
    # Served by the default table convertor, as the real apiextensions-apiserver does.
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        _NAME,
        _col("Created At", "date", _created_at, "CreationTimestamp"),
    ],
    ("coordination.k8s.io", "leases"): [
        _NAME,
        _col("Holder", "string", lambda o: o.get("spec", {}).get("holderIdentity", "")),
        _AGE,
    ],
}


def _custom_columns(rtype: ResourceType) -> list[Column]:
    if not rtype.printer_columns:
        return [_NAME, _AGE]
    columns = [_NAME]
    for spec in rtype.printer_columns:
        columns.append(
            (
                {
                    "name": spec["name"],
                    "type": spec.get("type", "string"),
                    "format": spec.get("format", ""),
                    "description": spec.get("description", ""),
                    "priority": spec.get("priority", 0),
                },
                _cell_getter(spec),
            )
        )
    return columns


def _as_text(value: Any) -> str:
    """How the JSONPath printer writes a value: objects and lists as JSON, the rest as Go's
    ``fmt.Fprint`` does (``true``, ``3``, ``1.5``)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def cell_for_json_value(column_type: str, value: Any) -> Any:
    """apiextensions' ``cellForJSONValue``: a cell of the column's type, or None (kubectl
    leaves it blank) when the value is not of it; a string column prints anything."""
    if value is None:
        return None
    if column_type == "string":
        return _as_text(value)
    if column_type == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value  # JSON true/false: kubectl prints true/false
    if column_type == "date" and isinstance(value, str):
        return age(value) if _parse_time(value) is not None else "<invalid>"
    return None


def _cell_getter(spec: JsonDict) -> Callable[[JsonDict], Any]:
    def cell(obj: JsonDict) -> Any:
        values = jsonpath.evaluate(spec.get("jsonPath", ""), obj)
        if not values:
            return None
        return cell_for_json_value(spec.get("type", "string"), values[0])

    return cell


def columns_for(rtype: ResourceType) -> list[Column]:
    if rtype.custom:
        return _custom_columns(rtype)
    return _BUILTIN_COLUMNS.get((rtype.group, rtype.plural), [_NAME, _AGE])


def _partial(obj: JsonDict) -> JsonDict:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rtype: ResourceType, objects: list[JsonDict], resource_version: str, include: str
) -> JsonDict:
    """A meta.k8s.io/v1 Table of the objects; ``include`` is the includeObject option."""
    columns = columns_for(rtype)
    rows = []
    for obj in objects:
        row: JsonDict = {"cells": [fn(obj) for _, fn in columns]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [definition for definition, _ in columns],
        "rows": rows,
    }
