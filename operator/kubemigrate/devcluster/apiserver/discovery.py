"""Discovery and OpenAPI documents: what kubectl, kopf and the kubernetes client read first.

Legacy (non-aggregated) discovery only: kubectl asks for aggregated discovery first
and falls back when the answer's Content-Type says plain JSON. The OpenAPI v3
documents are stubs with one PATCH operation per kind that carries
``x-kubernetes-group-version-kind`` and the ``fieldValidation`` parameter: that is what
kubectl checks to decide it may leave validation to the server (``fieldValidation=Strict``),
so ``kubectl apply`` of a bad custom resource shows the server's message. Custom
resources also carry their schema so ``kubectl explain`` works.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .resources import ALL_VERBS, Catalogue, ResourceType

JsonDict = dict[str, Any]

MAJOR, MINOR, PATCH = "1", "36", "1"
VERSION_INFO: JsonDict = {
    "major": MAJOR,
    "minor": MINOR,
    "emulationMajor": MAJOR,
    "emulationMinor": MINOR,
    "minCompatibilityMajor": MAJOR,
    "minCompatibilityMinor": str(int(MINOR) - 1),
    "gitVersion": f"v{MAJOR}.{MINOR}.{PATCH}",
    "gitCommit": "66452049f3d692768c39c797b21b793dce80314e",
    "gitTreeState": "clean",
    "buildDate": "2025-12-17T12:32:01Z",
    "goVersion": "go1.25.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int]:
    """Kube-aware version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others."""
    match = _VERSION_RE.match(version)
    if not match:
        return (0, 0, 0)
    major, stage, minor = match.groups()
    rank = {"alpha": 1, "beta": 2, None: 3}[stage]
    return (rank, int(major), int(minor or 0))


def _sorted_versions(versions: list[str]) -> list[str]:
    return sorted(versions, key=version_priority, reverse=True)


def api_versions(server_address: str) -> JsonDict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_doc(group: str, versions: list[str]) -> JsonDict:
    ordered = _sorted_versions(versions)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_groups(catalogue: Catalogue) -> JsonDict:
    groups = [_group_doc(g, v) for g, v in catalogue.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(catalogue: Catalogue, group: str) -> JsonDict | None:
    versions = catalogue.groups().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


# Subresources that are not the object's status: (kind, verbs) as the real server lists them.
_SUBRESOURCES: dict[str, tuple[str, list[str]]] = {
    "binding": ("Binding", ["create"]),
    "log": ("Pod", ["get"]),
}


def _resource_entries(rtype: ResourceType) -> list[JsonDict]:
    main: JsonDict = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(ALL_VERBS),
    }
    if rtype.short_names:
        main["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        main["categories"] = list(rtype.categories)
    main["storageVersionHash"] = hashlib.sha256(
        f"{rtype.group}/{rtype.plural}".encode()
    ).hexdigest()[:12]
    entries = [main]
    for sub in rtype.all_subresources:
        kind, verbs = _SUBRESOURCES.get(sub, (rtype.kind, ["get", "patch", "update"]))
        entries.append(
            {
                "name": f"{rtype.plural}/{sub}",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": kind,
                "verbs": verbs,
            }
        )
    return entries


def resource_list(catalogue: Catalogue, group: str, version: str) -> JsonDict | None:
    types = [t for t in catalogue.types.values() if t.group == group and t.version == version]
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for t in types for entry in _resource_entries(t)],
    }


def root_paths(catalogue: Catalogue) -> JsonDict:
    paths = {
        "/api",
        "/api/v1",
        "/apis",
        "/healthz",
        "/livez",
        "/readyz",
        "/version",
        "/openapi/v2",
        "/openapi/v3",
    }
    for group, versions in catalogue.groups().items():
        if group:
            paths.add(f"/apis/{group}")
            paths.update(f"/apis/{group}/{v}" for v in versions)
    return {"paths": sorted(paths)}


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_root(catalogue: Catalogue) -> JsonDict:
    paths = {}
    for group, versions in catalogue.groups().items():
        for version in versions:
            doc = openapi_v3_group_version(catalogue, group, version)
            digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()
            key = _gv_path(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


_PATCH_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string"}}
    for n in ("dryRun", "fieldManager", "fieldValidation", "force")
]


def openapi_v3_group_version(catalogue: Catalogue, group: str, version: str) -> JsonDict:
    paths: JsonDict = {}
    schemas: JsonDict = {}
    for rtype in catalogue.types.values():
        if rtype.group != group or rtype.version != version:
            continue
        gvk = {"group": group, "version": version, "kind": rtype.kind}
        prefix = "/" + _gv_path(group, version)
        scope = "/namespaces/{namespace}" if rtype.namespaced else ""
        operation = {
            "operationId": f"patch{rtype.kind}",
            "parameters": _PATCH_PARAMS,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
        }
        paths[f"{prefix}{scope}/{rtype.plural}/{{name}}"] = {"patch": operation}
        if rtype.custom:
            schema = dict(
                rtype.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            )
            schema["x-kubernetes-group-version-kind"] = [gvk]
            name = ".".join(reversed(group.split("."))) + f".{version}.{rtype.kind}"
            schemas[name] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v2() -> JsonDict:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": {},
        "definitions": {},
    }


# --- /openapi/v2 in protobuf -------------------------------------------------------------
#
# kubectl asks for /openapi/v2 as protobuf (gnostic's openapi_v2.Document), never JSON,
# when a kind's group/version is missing from /openapi/v3 (a kind no CRD serves, e.g. a
# ServiceMonitor without the Prometheus Operator) and when it computes a strategic merge
# patch. So the stub is served in whichever format the Accept header asks for first,
# as kube-openapi's handler does (406 for anything else).

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_PROTOBUF_SUBTYPES = (
    "com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "com.github.proto-openapi.spec.v2.v1.0+protobuf",
)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2): strings and messages."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def openapi_v2_protobuf() -> bytes:
    """The same stub as :func:`openapi_v2`, as an ``openapi.v2.Document`` message."""
    doc = openapi_v2()
    info = _field(1, doc["info"]["title"].encode()) + _field(2, doc["info"]["version"].encode())
    return (
        _field(1, doc["swagger"].encode())  # swagger
        + _field(2, info)  # info {title, version}
        + _field(8, b"")  # paths: none
        + _field(9, b"")  # definitions: none
    )


def openapi_v2_format(accept: str) -> str | None:
    """``json`` or ``protobuf``, by the first Accept clause that names one; None: 406."""
    for clause in (accept or "*/*").split(","):
        media = clause.split(";")[0].strip().lower()
        kind, _, sub = media.partition("/")
        if kind not in ("application", "*"):
            continue
        if sub in ("json", "*"):
            return "json"
        if sub in _PROTOBUF_SUBTYPES:
            return "protobuf"
    return None
