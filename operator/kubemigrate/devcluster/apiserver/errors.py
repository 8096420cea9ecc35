"""API errors rendered as ``metav1.Status`` bodies, worded like the real API server.

Clients key on ``reason`` and ``code`` (kopf, the kubernetes client, kubectl all do),
and people read ``message``: both are copied from the real apiserver's wording so a
test that passes here fails the same way against a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: what is wrong at which path (``spec.action``)."""

    path: str
    kind: str  # the k8s field.ErrorType detail, e.g. "Required value"
    cause_reason: str  # e.g. "FieldValueRequired"
    detail: str = ""
    value: Any = None
    show_value: bool = False

    @property
    def message(self) -> str:
        """The message without the path, as it appears in ``details.causes``."""
        text = self.kind
        if self.show_value:
            text += f": {render_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


_GO_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def query_int(text: str) -> int:
    """An integer query parameter (``limit``, ``gracePeriodSeconds``), refused in the
    words of the parameter codec's ``strconv.ParseInt``."""
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax") from None


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string (``strconv.Quote``): escapes, but printable Unicode kept."""
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif not char.isprintable() and char != " ":
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class GoLiteral(str):
    """A value already printed as Go's ``%#v`` prints it (a struct, a map, a slice).

    Go's field errors print such values raw, e.g. ``map[string]string{"a":"b"}``.
    """


def render_value(value: Any) -> str:
    """Render a value the way Go's field errors do (strings quoted, others bare)."""
    if isinstance(value, GoLiteral):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return str(value)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, "Required value", "FieldValueRequired", detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, "Invalid value", "FieldValueInvalid", detail, value, True)


def not_supported(path: str, value: Any, supported: list[Any]) -> FieldError:
    listed = ", ".join(render_value(v) for v in supported)
    return FieldError(
        path,
        "Unsupported value",
        "FieldValueNotSupported",
        f"supported values: {listed}",
        value,
        True,
    )


def value_not_found(path: str, value: Any) -> FieldError:
    return FieldError(path, "Not found", "FieldValueNotFound", "", value, True)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, "Duplicate value", "FieldValueDuplicate", "", value, True)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, "Forbidden", "FieldValueForbidden", detail)


def too_long(path: str, limit: int) -> FieldError:
    return FieldError(path, "Too long", "FieldValueTooLong", f"may not be more than {limit} bytes")


def too_many(path: str, count: int, limit: int) -> FieldError:
    return FieldError(
        path, "Too many", "FieldValueTooMany", f"must have at most {limit} items", count, True
    )


def type_invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, "Invalid value", "FieldValueTypeInvalid", detail, value, True)


@dataclass
class ApiError(Exception):
    """An error the API returns as a ``Status`` object with an HTTP code."""

    code: int
    reason: str
    message: str
    details: JsonDict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    list_meta: JsonDict = field(default_factory=dict)
    """The Status's own ``metadata`` (a ListMeta): an expired list's fresh continue token."""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> JsonDict:
        body: JsonDict = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.list_meta),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # StatusReasonUnknown is "", which JSON omits
            del body["reason"]
        if self.details:
            body["details"] = self.details
        return body


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def _details(name: str, group: str, kind: str) -> JsonDict:
    details: JsonDict = {"name": name} if name else {}  # StatusDetails omits an empty name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(plural, group)} "{name}" not found',
        _details(name, group, plural),
    )


def resource_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(plural, group)} "{name}" already exists',
        _details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}',
        _details(name, group, plural),
    )


STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid_object(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid, e.g. ``MigrationRun.kubemigrate.io "x" is invalid: spec.action: ...``."""
    # ErrorList.ToAggregate: the message lists each distinct error once (a Job's name
    # too long for both its job-name labels is said once per field), the causes all
    listed = list(dict.fromkeys(str(e) for e in errors))
    text = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
    details = _details(name, group, kind)
    details["causes"] = [
        {"reason": e.cause_reason, "message": e.message, "field": e.path} for e in errors
    ]
    return ApiError(
        422, "Invalid", f'{_qualified(kind, group)} "{name}" is invalid: {text}', details
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message, {})


def forbidden_error(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{_qualified(plural, group)} "{name}" is forbidden: {why}',
        _details(name, group, plural),
    )


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def gone(message: str, list_meta: JsonDict | None = None) -> ApiError:
    """410 ``NewResourceExpired``: a resourceVersion or continue token past compaction."""
    return ApiError(410, "Expired", message, {}, list_meta=list_meta or {})


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml (got {content_type!r}; this emulator decodes "
        "protobuf for Namespace, Secret, ConfigMap, ServiceAccount and the RBAC kinds only)",
        {},
    )


def request_entity_too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}", {})


def request_too_large() -> ApiError:
    """etcd's refusal of an object over its ``--max-request-bytes``: not an API status, so
    the apiserver answers it as an unknown error (500, no reason)."""
    return ApiError(500, "", "etcdserver: request is too large", {})


def not_acceptable(accept: str) -> ApiError:
    return ApiError(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, "
        f"application/yaml (got {accept!r})",
        {},
    )
