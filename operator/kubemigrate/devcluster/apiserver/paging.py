"""List pagination (``limit`` and ``continue``), as the etcd3 storage layer serves it.

Clients that chunk their lists (kubectl's ``--chunk-size``, 500 by default; client-go's
pager) depend on these rules, taken from k8s.io/apiserver ``storage/etcd3/store.go``
``GetList`` and ``storage/continue.go``:

- objects come in storage-key order (``<namespace>/<name>`` below the resource's
  prefix), at most ``limit`` of them; ``limit`` <= 0 means no paging;
- while more keys remain, ``metadata.continue`` is an opaque token: base64url
  (unpadded) JSON ``{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<last key>\\x00"}``;
- every page is read at the revision of the first one (the token's ``rv``), which is
  also the list's ``metadata.resourceVersion``; a token of ``rv`` -1 reads the latest;
- ``metadata.remainingItemCount`` is set only when no label or field selector
  filters the list (the count of keys after the page would be wrong otherwise);
- with a selector a page is filled to ``limit`` matches by reading on, and a token
  is given whenever any key, matching or not, remains: so the last page may be empty;
- a token that cannot be decoded is 400 ``invalid continue token: ...``; a token with
  a ``resourceVersion`` other than "" or "0" beside it is 400 (see :mod:`.listoptions`,
  which decides the revision every list is read at); a token whose revision has been
  compacted (here: has left the store's history window, the same window watches
  have) is 410 Expired, with a fresh token of ``rv`` -1 in the Status's
  ``metadata.continue`` to go on inconsistently (``handleCompactedErrorForPaging``),
  and an exact ``resourceVersion`` that old is 410 ``The resourceVersion for the
  provided list is too old.``

Not modelled: the watch cache, which since 1.31 answers some paginated lists itself
with the same contract.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .store import StorageKey, Store

JsonDict = dict[str, Any]

TOKEN_VERSION = "meta.k8s.io/v1"  # noqa: S105 - a format version, not a secret
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")

INVALID_KEY = "continue key is not valid"
INVALID_START_RV = (
    f"{INVALID_KEY}: incorrect encoded start resourceVersion (version {TOKEN_VERSION})"
)
EMPTY_START_KEY = f"{INVALID_KEY}: encoded start key empty (version {TOKEN_VERSION})"
UNRECOGNIZED_VERSION = f"{INVALID_KEY}: server does not recognize this encoded version"
TOO_OLD_LIST = "The resourceVersion for the provided list is too old."  # etcd3 "expired"
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token "
    "in this response to retrieve the remainder of the results. Continuing with the "
    "provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may "
    "show up in the list."
)


@dataclass(frozen=True)
class Page:
    items: list[JsonDict]  # the stored objects themselves: read-only
    revision: int
    token: str  # "" when nothing remains
    remaining: int | None

    def list_meta(self) -> JsonDict:
        meta: JsonDict = {"resourceVersion": str(self.revision)}
        if self.token:
            meta["continue"] = self.token
        if self.remaining is not None:
            meta["remainingItemCount"] = self.remaining
        return meta


def encode(start: str, revision: int) -> str:
    """``EncodeContinue``: Go's json.Marshal of the token (compact, ``\\u0000`` escaped)."""
    raw = json.dumps(
        {"v": TOKEN_VERSION, "rv": revision, "start": start}, separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _invalid(detail: str) -> errors.ApiError:
    return errors.bad_request(f"invalid continue token: {detail}")


def _b64decode(token: str) -> bytes:
    """Go's ``base64.RawURLEncoding.DecodeString``: no padding, URL alphabet only.

    The byte offset in the message is exact for a character outside the alphabet and
    approximated (the length) for a token of impossible length.
    """
    if not _BASE64URL.match(token):
        index = next(i for i, c in enumerate(token) if not _BASE64URL.match(c))
        raise _invalid(f"{INVALID_KEY}: illegal base64 data at input byte {index}")
    if len(token) % 4 == 1:
        raise _invalid(f"{INVALID_KEY}: illegal base64 data at input byte {len(token)}")
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _invalid(f"{INVALID_KEY}: {exc}") from None


def _clean(key: str) -> str:
    """Go's ``path.Clean`` (posixpath keeps a leading "//", Go does not)."""
    cleaned = posixpath.normpath(key)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def decode(token: str) -> tuple[str, int]:
    """``DecodeContinue``: (start key below the list's prefix, revision); 400 if invalid.

    The JSON decoder's own words after ``continue key is not valid:`` are Python's, not
    Go's; clients only ever see this for a token they did not get from the server.
    """
    data = _b64decode(token)
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise _invalid(f"{INVALID_KEY}: {exc}") from None
    if not isinstance(parsed, dict):
        raise _invalid(f"{INVALID_KEY}: cannot unmarshal into a continue token")
    version = parsed.get("v", "")
    revision = parsed.get("rv", 0)
    start = parsed.get("start", "")
    if not isinstance(revision, int) or isinstance(revision, bool) or not isinstance(start, str):
        raise _invalid(f"{INVALID_KEY}: cannot unmarshal into a continue token")
    if version != TOKEN_VERSION:
        raise _invalid(f"{UNRECOGNIZED_VERSION} {version}")
    if revision == 0:
        raise _invalid(INVALID_START_RV)
    if not start:
        raise _invalid(EMPTY_START_KEY)
    # Like the real server, refuse a start key that path.Clean would change: it could
    # otherwise reach above the list's own prefix.
    key = start if start.startswith("/") else "/" + start
    if _clean(key) != key:
        raise _invalid(f"{INVALID_KEY}: {start}")
    return key[1:], revision


def parse_limit(query: Mapping[str, str]) -> int:
    """The ``limit`` option (0: no paging); an integer, as the parameter codec wants."""
    text = query.get("limit", "")
    return errors.query_int(text) if text else 0


def storage_key(obj: JsonDict, namespace: str | None) -> str:
    """The object's etcd key below the list's prefix: the name within a namespace,
    ``<namespace>/<name>`` across all of them (the name alone if cluster-scoped)."""
    meta = obj["metadata"]
    object_ns = meta.get("namespace", "")
    if namespace is None and object_ns:
        return f"{object_ns}/{meta['name']}"
    return str(meta["name"])


def list_page(
    store: Store,
    storage: StorageKey,
    namespace: str | None,
    matches: Callable[[JsonDict], bool],
    query: Mapping[str, str],
    revision: int,
    start: str = "",
) -> Page:
    """One page of a list (all of it, when not paging) read at ``revision``, from the
    key ``start`` (a continue token's, see :func:`decode`; "" from the beginning)."""
    limit = parse_limit(query)
    selective = bool(query.get("labelSelector") or query.get("fieldSelector"))
    stored = store.view_at(storage, namespace, revision)
    if stored is None:
        if start:
            raise errors.gone(INCONSISTENT_CONTINUE, {"continue": encode(start, -1)})
        raise errors.gone(TOO_OLD_LIST)
    keyed = sorted(((storage_key(obj, namespace), obj) for obj in stored), key=lambda pair: pair[0])
    candidates = [(key, obj) for key, obj in keyed if key >= start]
    items: list[JsonDict] = []
    last = ""
    more = False
    for key, obj in candidates:
        if limit > 0 and len(items) >= limit:
            more = True
            break
        last = key
        if matches(obj):
            items.append(obj)
    if not more:
        return Page(items, revision, "", None)
    remaining = None if selective else len(candidates) - limit
    return Page(items, revision, encode(last + "\x00", revision), remaining)
