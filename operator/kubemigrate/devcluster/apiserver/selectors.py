"""Label and field selectors, as in ``?labelSelector=`` and ``?fieldSelector=``.

Grammar follows k8s.io/apimachinery/pkg/labels: ``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x,y)``, ``a`` (exists), ``!a`` (does not exist),
comma-separated and ANDed. Field selectors accept ``=``, ``==`` and ``!=`` on
``metadata.name``, ``metadata.namespace`` and a few per-kind fields (e.g.
``status.phase`` for pods, ``involvedObject.*`` for events); any other field
is a 400, as with the real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import bad_request

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[Mapping[str, str]], bool]:
    for op in ("!=", "==", "="):
        if op in term and "(" not in term:
            key, _, value = term.partition(op)
            key, value = key.strip(), value.strip()
            if not key:
                raise bad_request(f"unable to parse requirement: {term!r}")
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    match = _SET_RE.match(term)
    if not match:
        raise bad_request(f"unable to parse requirement: found '{term}', expected: identifier")
    negated, key, op, values_text = match.groups()
    if op:
        if negated:
            raise bad_request(f"unable to parse requirement: {term!r}")
        values = {v.strip() for v in values_text.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if negated:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def label_selector(text: str) -> Predicate:
    """A predicate over whole objects for a label selector string."""
    checks = [_label_term(term) for term in _split_terms(text)]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return matches


def selector_from_match(selector: Mapping[str, Any]) -> Predicate:
    """A predicate for a structured ``LabelSelector`` (matchLabels/matchExpressions)."""
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        key = expr.get("key")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            terms.append(f"{key} in ({values})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return label_selector(",".join(terms))


_COMMON_FIELDS = {"metadata.name", "metadata.namespace"}
_EXTRA_FIELDS: dict[str, set[str]] = {
    "pods": {
        "status.phase",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "spec.hostNetwork",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "events": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        "regarding.name",
        "regarding.kind",
        "regarding.namespace",
        "regarding.uid",
    },
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "jobs": {"status.successful"},
}


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if path == "source" and isinstance(current, Mapping):
        return str(current.get("component", ""))
    return str(current)


def _job_successful(obj: Mapping[str, Any]) -> str:
    """``status.successful`` is the count in ``status.succeeded``, "0" before any."""
    return str(int((obj.get("status") or {}).get("succeeded") or 0))


def _pod_host_network(obj: Mapping[str, Any]) -> str:
    """A Go bool's text ("true"/"false"), false when unset."""
    return "true" if (obj.get("spec") or {}).get("hostNetwork") is True else "false"


def _pod_ip(obj: Mapping[str, Any]) -> str:
    """The first of ``status.podIPs`` (what the real field set reads), else ``status.podIP``."""
    status = obj.get("status") or {}
    ips = status.get("podIPs") or []
    if ips and isinstance(ips[0], Mapping):
        return str(ips[0].get("ip") or "")
    return str(status.get("podIP") or "")


# Selectable fields that are not a plain path into the object (the kinds' ToSelectableFields).
_COMPUTED: dict[tuple[str, str], Callable[[Mapping[str, Any]], str]] = {
    ("jobs", "status.successful"): _job_successful,
    ("pods", "spec.hostNetwork"): _pod_host_network,
    ("pods", "status.podIP"): _pod_ip,
}


def field_selector(text: str, plural: str, kind: str) -> Predicate:
    """A predicate for a field selector; unsupported fields are rejected like the real one."""
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    allowed = _COMMON_FIELDS | _EXTRA_FIELDS.get(plural, set())
    for term in _split_terms(text):
        for op in ("!=", "==", "="):
            if op in term:
                path, _, value = term.partition(op)
                path, value = path.strip(), value.strip()
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        if path not in allowed:
            raise bad_request(f"field label not supported: {path}")
        read = _COMPUTED.get((plural, path)) or _path_reader(path)
        checks.append(_field_check(read, value, negate=(op == "!=")))
    return lambda obj: all(check(obj) for check in checks)


def _path_reader(path: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda obj: _field_value(obj, path)


def _field_check(
    read: Callable[[Mapping[str, Any]], str], value: str, *, negate: bool
) -> Callable[[Mapping[str, Any]], bool]:
    def check(obj: Mapping[str, Any]) -> bool:
        return (read(obj) == value) != negate

    return check
