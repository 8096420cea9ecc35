"""Server-side printing: ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``.

kubectl asks for Tables and prints the cells it gets, so columns are the server's
business: a custom resource shows Name plus its CRD's ``additionalPrinterColumns``
(JSONPath evaluated here; ``date`` columns rendered as an age like the apiextensions
table convertor; Name and Age when the CRD declares none); built-ins show the columns
the real server prints for them, or Name and Age.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from . import jsonpath
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
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    when = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return human_duration((datetime.datetime.now(datetime.UTC) - when).total_seconds())


Column = tuple[JsonDict, Callable[[JsonDict], Any]]


def _col(
    name: str, type_: str, fn: Callable[[JsonDict], Any], description: str = "", priority: int = 0
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


def _job_completions(obj: JsonDict) -> str:
    succeeded = obj.get("status", {}).get("succeeded", 0)
    return f"{succeeded}/{obj.get('spec', {}).get('completions', 1)}"


def _job_status(obj: JsonDict) -> str:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed", "Suspended"):
            return str(cond["type"])
    return "Running"


_BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
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
    ],
    ("batch", "jobs"): [
        _NAME,
        _col("Status", "string", _job_status),
        _col(
            "Completions",
            "string",
            _job_completions,
        ),
        _AGE,
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


def _cell_getter(spec: JsonDict) -> Callable[[JsonDict], Any]:
    def cell(obj: JsonDict) -> Any:
        values = jsonpath.evaluate(spec.get("jsonPath", ""), obj)
        if not values or values[0] is None:
            return None
        value = values[0]
        if spec.get("type") == "date":
            return age(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return value

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
