"""Request bodies in ``application/vnd.kubernetes.protobuf``, as ``kubectl create`` sends.

kubectl's typed clients (``kubectl create namespace|secret|configmap|serviceaccount|
role|clusterrole|rolebinding|clusterrolebinding``) send built-in kinds as protobuf
and client-go never falls back to JSON for them (its 415 fallback is for CBOR only),
so a real server's answer is the only one that works: accept them. The body is the
``k8s\\x00`` magic and a ``runtime.Unknown`` envelope around the object's message,
decoded here with the field numbers of k8s.io/api's ``generated.proto`` for those
kinds (a small table, not a protobuf library). Go's zero values, which gogo-protobuf
writes for every non-pointer field, are dropped as JSON's ``omitempty`` drops them.
Other kinds answer 415 as before; responses are JSON, which kubectl's Accept
(``application/vnd.kubernetes.protobuf,application/json``) allows.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from . import errors

JsonDict = dict[str, Any]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# A schema maps field numbers to (JSON name, type); a type is a scalar name
# ("string", "bytes", "int", "bool", "ptrbool", "time") or ("msg", schema),
# ("list", type) or ("map", value type).
Schema = dict[int, tuple[str, Any]]

_TIME: Schema = {}  # decoded specially: seconds = 1, nanos = 2
_OWNER_REF: Schema = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "ptrbool"),
    7: ("blockOwnerDeletion", "ptrbool"),
}
_OBJECT_META: Schema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    4: ("selfLink", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "time"),
    9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", ("map", "string")),
    12: ("annotations", ("map", "string")),
    13: ("ownerReferences", ("list", ("msg", _OWNER_REF))),
    14: ("finalizers", ("list", "string")),
}
_META = (1, ("metadata", ("msg", _OBJECT_META)))
_OBJECT_REF: Schema = {
    1: ("kind", "string"),
    2: ("namespace", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("resourceVersion", "string"),
    7: ("fieldPath", "string"),
}
_LABEL_SELECTOR: Schema = {
    1: ("matchLabels", ("map", "string")),
    2: (
        "matchExpressions",
        (
            "list",
            (
                "msg",
                {
                    1: ("key", "string"),
                    2: ("operator", "string"),
                    3: ("values", ("list", "string")),
                },
            ),
        ),
    ),
}
_POLICY_RULE: Schema = {
    1: ("verbs", ("list", "string")),
    2: ("apiGroups", ("list", "string")),
    3: ("resources", ("list", "string")),
    4: ("resourceNames", ("list", "string")),
    5: ("nonResourceURLs", ("list", "string")),
}
_BINDING: Schema = {
    _META[0]: _META[1],
    2: (
        "subjects",
        (
            "list",
            (
                "msg",
                {
                    1: ("kind", "string"),
                    2: ("apiGroup", "string"),
                    3: ("name", "string"),
                    4: ("namespace", "string"),
                },
            ),
        ),
    ),
    3: (
        "roleRef",
        ("msg", {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")}),
    ),
}

KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Namespace"): {
        _META[0]: _META[1],
        2: ("spec", ("msg", {1: ("finalizers", ("list", "string"))})),
        3: ("status", ("msg", {1: ("phase", "string")})),
    },
    ("v1", "Secret"): {
        _META[0]: _META[1],
        2: ("data", ("map", "bytes")),
        3: ("type", "string"),
        4: ("stringData", ("map", "string")),
        5: ("immutable", "ptrbool"),
    },
    ("v1", "ConfigMap"): {
        _META[0]: _META[1],
        2: ("data", ("map", "string")),
        3: ("binaryData", ("map", "bytes")),
        4: ("immutable", "ptrbool"),
    },
    ("v1", "ServiceAccount"): {
        _META[0]: _META[1],
        2: ("secrets", ("list", ("msg", _OBJECT_REF))),
        3: ("imagePullSecrets", ("list", ("msg", {1: ("name", "string")}))),
        4: ("automountServiceAccountToken", "ptrbool"),
    },
    ("rbac.authorization.k8s.io/v1", "Role"): {
        _META[0]: _META[1],
        2: ("rules", ("list", ("msg", _POLICY_RULE))),
    },
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {
        _META[0]: _META[1],
        2: ("rules", ("list", ("msg", _POLICY_RULE))),
        3: (
            "aggregationRule",
            ("msg", {1: ("clusterRoleSelectors", ("list", ("msg", _LABEL_SELECTOR)))}),
        ),
    },
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): _BINDING,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): _BINDING,
}


class _Malformed(Exception):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Malformed("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a message: varints as ints, the rest as bytes."""
    pos, found = 0, []
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise _Malformed("truncated field")
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise _Malformed(f"wire type {wire}")
        found.append((number, value))
    return found


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(data: bytes) -> str | None:
    seconds = 0
    for number, value in _fields(data):
        if number == 1 and isinstance(value, int):
            seconds = _signed(value)
    if not seconds:
        return None  # the zero time is null in JSON
    when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(kind: Any, value: int | bytes) -> Any:
    if kind == "string":
        return value.decode() if isinstance(value, bytes) else None
    if kind == "bytes":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else None
    if kind == "int":
        return _signed(value) if isinstance(value, int) else None
    if kind in ("bool", "ptrbool"):
        return bool(value) if isinstance(value, int) else None
    if kind == "time":
        return _time(value) if isinstance(value, bytes) else None
    if isinstance(kind, tuple) and kind[0] == "msg":
        return _message(kind[1], value) if isinstance(value, bytes) else None
    raise _Malformed(f"unexpected type {kind!r}")


def _message(schema: Schema, data: bytes) -> JsonDict:
    out: JsonDict = {}
    for number, value in _fields(data):
        if number not in schema:
            raise _Malformed(f"field {number} is not modelled")
        name, kind = schema[number]
        if isinstance(kind, tuple) and kind[0] == "list":
            out.setdefault(name, []).append(_scalar(kind[1], value))
        elif isinstance(kind, tuple) and kind[0] == "map":
            if not isinstance(value, bytes):
                raise _Malformed("map entry")
            entry = dict(_fields(value))
            key = entry.get(1, b"")
            item = entry.get(2, b"")
            if not isinstance(key, bytes):
                raise _Malformed("map key")
            out.setdefault(name, {})[key.decode()] = _scalar(kind[1], item)
        else:
            out[name] = _scalar(kind, value)
    return {k: v for k, v in out.items() if not _omitted(schema, k, v)}


def _omitted(schema: Schema, name: str, value: Any) -> bool:
    """``omitempty`` on Go zero values; pointer fields are written only when set."""
    kind = next(k for n, k in schema.values() if n == name)
    if kind == "ptrbool":
        return value is None
    if isinstance(kind, tuple) and kind[0] == "msg":
        return value is None
    return value in (None, "", 0, False, [], {})


def decode(body: bytes) -> JsonDict:
    """A protobuf request body as the JSON object it stands for (400 if malformed, 415 if
    its kind is not one of :data:`KINDS`)."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("the body of the request is not a Kubernetes protobuf object")
    try:
        envelope = dict(_fields(body[len(MAGIC) :]))
        type_meta = envelope.get(1, b"")
        raw = envelope.get(2, b"")
        if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
            raise _Malformed("envelope")
        tm = dict(_fields(type_meta))
        api_version = tm.get(1, b"")
        kind = tm.get(2, b"")
        if not isinstance(api_version, bytes) or not isinstance(kind, bytes):
            raise _Malformed("type meta")
        gvk = (api_version.decode(), kind.decode())
        schema = KINDS.get(gvk)
        if schema is None:
            raise errors.unsupported_media_type(CONTENT_TYPE)
        obj = _message(schema, raw)
    except (_Malformed, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from None
    return {"apiVersion": gvk[0], "kind": gvk[1], **obj}
