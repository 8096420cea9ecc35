"""Metadata-only responses, asked for with ``Accept: application/json;as=...;g=meta.k8s.io``.

client-go's metadata client and informers ask for objects this way
(``as=PartialObjectMetadata;g=meta.k8s.io;v=v1``), so they never receive what they
do not need, a Secret's data least of all. As in the real server's
``transformObject``: a single object answers as ``PartialObjectMetadata``, a list as
``PartialObjectMetadataList`` whose items are ``PartialObjectMetadata``, and asking
for the one on the other is 406 NotAcceptable. Accept lists alternatives in order;
the first one this server can produce wins. Protobuf alternatives are skipped: the
emulator encodes JSON only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .resources import ResourceType

JsonDict = dict[str, Any]

GROUP = "meta.k8s.io"
SINGLE = "PartialObjectMetadata"
LIST = "PartialObjectMetadataList"
_VERSIONS = ("v1", "v1beta1")
_JSON = ("application/json", "application/yaml", "*/*", "application/*")


@dataclass(frozen=True)
class Target:
    """The conversion an Accept header asked for: ``kind`` at ``meta.k8s.io/<version>``."""

    kind: str
    version: str

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{self.version}"


def _params(part: str) -> tuple[str, dict[str, str]]:
    media, *rest = (p.strip() for p in part.split(";"))
    params = {}
    for item in rest:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip()
    return media.lower(), params


def requested(accept: str) -> Target | None:
    """The metadata-only conversion the first servable Accept alternative names, if any."""
    for part in accept.split(","):
        media, params = _params(part)
        if media not in _JSON:
            continue  # protobuf, cbor...: not served here, so the next alternative
        kind = params.get("as")
        if kind is None:
            return None
        if kind in (SINGLE, LIST) and params.get("g") == GROUP and params.get("v") in _VERSIONS:
            return Target(kind, params["v"])
        if kind == "Table":
            return None  # rendered by .tables
    return None


def _go_type(rtype: ResourceType, is_list: bool) -> str:
    """What Go's ``%T`` prints for the stored object, as the real message shows it."""
    if rtype.custom:
        return "*unstructured.UnstructuredList" if is_list else "*unstructured.Unstructured"
    package = rtype.group.split(".")[0] if rtype.group else "core"
    return f"*{package}.{rtype.kind}{'List' if is_list else ''}"


def _not_acceptable(message: str) -> ApiError:
    return ApiError(406, "NotAcceptable", message, {})


def item(obj: JsonDict, target: Target) -> JsonDict:
    """One object's metadata as a PartialObjectMetadata (``meta.AsPartialObjectMetadata``)."""
    return {"kind": SINGLE, "apiVersion": target.api_version, "metadata": obj["metadata"]}


def check_single(rtype: ResourceType, target: Target) -> None:
    """A single object (or a watch, which sends them one by one) has no list form: 406."""
    if target.kind != SINGLE:
        raise _not_acceptable(
            f"you requested {LIST}, but the requested object is not a list "
            f"({_go_type(rtype, False)})"
        )


def single(rtype: ResourceType, obj: JsonDict, target: Target) -> JsonDict:
    check_single(rtype, target)
    return item(obj, target)


def listing(
    rtype: ResourceType, items: list[JsonDict], metadata: JsonDict, target: Target
) -> JsonDict:
    if target.kind != LIST:
        raise _not_acceptable(
            f"you requested {SINGLE}, but the requested object is a list ({_go_type(rtype, True)})"
        )
    return {
        "kind": LIST,
        "apiVersion": target.api_version,
        "metadata": metadata,
        "items": [item(obj, Target(SINGLE, target.version)) for obj in items],
    }
