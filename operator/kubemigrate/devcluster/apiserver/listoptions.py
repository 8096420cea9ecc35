"""ListOptions of a list or a watch: which are refused, and at which revision a list is read.

A client reading "the state at resourceVersion N" (a reflector resuming, a controller
comparing two lists) relies on these rules, taken from k8s.io/apimachinery
``ValidateListOptions`` and k8s.io/apiserver's storage ``ListReadConsistency`` and
watch cache, summed up in the API concepts doc ("Semantics for get and list"):

- refused with 422 ``ListOptions.meta.k8s.io "" is invalid``: on a list,
  ``resourceVersionMatch`` without ``resourceVersion``, with ``continue``, other than
  Exact or NotOlderThan, Exact with "0", and ``sendInitialEvents``; on a watch,
  ``resourceVersionMatch`` without ``sendInitialEvents`` or other than NotOlderThan,
  and ``sendInitialEvents`` without ``resourceVersionMatch=NotOlderThan``;
- a list with no ``resourceVersion`` is read at the latest revision (Consistent);
  "0" at any (here also the latest: the emulator has no stale cache); N with
  NotOlderThan, or with no match and no ``limit``, at the latest once it reaches N;
  N with Exact, or with no match but a ``limit`` (the legacy exact case), at exactly
  N, and its ``metadata.resourceVersion`` is N;
- an exact N older than the history kept is 410 Expired ``The resourceVersion for the
  provided list is too old.`` (etcd's compaction); an N beyond the latest revision is
  waited for, as the watch cache waits, for 3 s, and then refused with 504 ``Timeout:
  Too large resource version: N, current: M`` (cause ResourceVersionTooLarge, retry
  after 1 s, which client-go honours by retrying);
- a continue token reads at its own revision (see :mod:`.paging`); beside it a
  ``resourceVersion`` other than "" or "0" is 400.

Not modelled: the watch cache answering a NotOlderThan or "0" list whole, ignoring
``limit`` (before 1.33 it did; the emulator always pages), and staleness of "0".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from . import errors, paging
from .errors import FieldError
from .store import Store

CONSISTENT = "Consistent"
NOT_OLDER_THAN = "NotOlderThan"
EXACT = "Exact"

FRESHNESS_WAIT = 3.0  # seconds the watch cache waits for a revision it has not seen
FRESHNESS_POLL = 0.05
TOO_LARGE_RETRY_SECONDS = 1


@dataclass(frozen=True)
class ListRead:
    """How to read a list: its consistency, the revision asked for (0: none), and where
    a continue token starts ("" without one)."""

    consistency: str
    revision: int = 0
    start: str = ""


def _invalid(found: list[FieldError]) -> errors.ApiError:
    return errors.invalid_object("ListOptions", "meta.k8s.io", "", found)


def validate_list(query: Mapping[str, str]) -> None:
    """``ValidateListOptions`` for a list."""
    found = []
    match = query.get("resourceVersionMatch", "")
    if match:
        if not query.get("resourceVersion"):
            found.append(
                errors.forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
            )
        if query.get("continue"):
            found.append(
                errors.forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
        if match not in (EXACT, NOT_OLDER_THAN):
            found.append(
                errors.not_supported("resourceVersionMatch", match, [EXACT, NOT_OLDER_THAN, ""])
            )
        if match == EXACT and query.get("resourceVersion") == "0":
            found.append(
                errors.forbidden(
                    "resourceVersionMatch",
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                )
            )
    if "sendInitialEvents" in query:
        found.append(
            errors.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list")
        )
    if found:
        raise _invalid(found)


def validate_watch(query: Mapping[str, str]) -> None:
    """``validateWatchOptions``, with the WatchList feature on (as since 1.32)."""
    found = []
    match = query.get("resourceVersionMatch", "")
    initial = "sendInitialEvents" in query
    if initial and match != NOT_OLDER_THAN:
        found.append(
            errors.forbidden(
                "resourceVersionMatch",
                f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}",
            )
        )
    if match:
        if not initial:
            found.append(
                errors.forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents "
                    "is provided",
                )
            )
        if match != NOT_OLDER_THAN:
            found.append(errors.not_supported("resourceVersionMatch", match, [NOT_OLDER_THAN]))
        if query.get("continue"):
            found.append(
                errors.forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
    if found:
        raise _invalid(found)


def parse_revision(text: str) -> int:
    """``APIObjectVersioner.ParseResourceVersion`` ("" and "0" are 0), 400 if not a number."""
    if text in ("", "0"):
        return 0
    if text.isdigit() and text.isascii():
        return int(text)
    raise errors.bad_request(
        f"invalid resource version: resourceVersion: Invalid value: {errors.go_quote(text)}: "
        f"strconv.ParseUint: parsing {errors.go_quote(text)}: invalid syntax"
    )


def list_read(query: Mapping[str, str]) -> ListRead:
    """``ListReadConsistency``: the options validated, then how the list is read."""
    validate_list(query)
    rv = query.get("resourceVersion", "")
    token = query.get("continue", "")
    if token:
        start, token_revision = paging.decode(token)
        if rv not in ("", "0"):
            raise errors.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        if token_revision > 0:
            return ListRead(EXACT, token_revision, start)
        return ListRead(CONSISTENT, 0, start)  # a token of rv -1: on at the latest
    if not rv:
        return ListRead(CONSISTENT)
    revision = parse_revision(rv)
    match = query.get("resourceVersionMatch", "")
    if match == EXACT:
        return ListRead(EXACT, revision)
    if not match and paging.parse_limit(query) > 0 and revision > 0:
        return ListRead(EXACT, revision)  # the legacy exact read of a paged list
    return ListRead(NOT_OLDER_THAN, revision)


def too_large(revision: int, current: int) -> errors.ApiError:
    """``NewTooLargeResourceVersionError`` as the watch cache gives it (retry in 1 s)."""
    return errors.ApiError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {revision}, current: {current}",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": TOO_LARGE_RETRY_SECONDS,
        },
    )


async def wait_until_fresh(store: Store, revision: int) -> None:
    """The watch cache's ``waitUntilFreshAndBlock``: wait up to 3 s for ``revision``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FRESHNESS_WAIT
    while store.revision < revision:
        if loop.time() >= deadline:
            raise too_large(revision, store.revision)
        await asyncio.sleep(FRESHNESS_POLL)


def served_revision(store: Store, read: ListRead) -> int:
    """The revision a list (fresh enough by now) is read at."""
    return read.revision if read.consistency == EXACT else store.revision
