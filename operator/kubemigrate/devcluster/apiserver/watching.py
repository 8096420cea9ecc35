"""Watch streams: ``?watch=true``, newline-delimited JSON events, as clients expect them.

- no resourceVersion, or "0": synthetic ADDED events for the current objects, then changes;
- resourceVersion=N: only changes after N (410 Expired as an ERROR event when N has left
  the resource's watch cache window, so reflectors relist, worded as the watch cache
  words it: ``too old resource version: N (oldest - 1)``, see :mod:`.watchcache`);
- ``allowWatchBookmarks=true``: a BOOKMARK with the current resourceVersion every
  minute and about 2 s before the timeout;
- ``sendInitialEvents`` (needs ``resourceVersionMatch=NotOlderThan``, else 422, see
  :mod:`.listoptions`): if true, the initial ADDED events and, with
  ``allowWatchBookmarks=true``, a BOOKMARK annotated ``k8s.io/initial-events-end:
  "true"`` (kubectl 1.3x ``wait`` waits for it); if false, none, even from "" or "0";
- label/field selectors filter events; an object that stops matching is sent as
  DELETED and one that starts matching as ADDED, like the real watch cache;
- ``timeoutSeconds`` ends the stream (default 30 minutes, like the server's
  minRequestTimeout); DELETED events carry the final object with its new resourceVersion.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from . import errors, listoptions, partial, tables
from .resources import ResourceType
from .store import Event, Store

JsonDict = dict[str, Any]
Matcher = Callable[[JsonDict], bool]

DEFAULT_TIMEOUT = 1800.0


def _line(event_type: str, obj: JsonDict) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


class WatchRequest:
    def __init__(
        self,
        rtype: ResourceType,
        namespace: str | None,
        matches: Matcher,
        query: dict[str, str],
        as_table: bool,
        metadata_only: partial.Target | None = None,
    ) -> None:
        if metadata_only is not None:
            partial.check_single(rtype, metadata_only)
        self.metadata_only = metadata_only
        self.rtype = rtype
        self.namespace = namespace
        self.matches = matches
        self.as_table = as_table
        self.include = query.get("includeObject", "Metadata")
        listoptions.validate_watch(query)
        self.rv = query.get("resourceVersion", "")
        self.bookmarks = query.get("allowWatchBookmarks", "").lower() == "true"
        # sendInitialEvents given (true or false) replaces the legacy rule that "" and
        # "0" start with the current objects.
        initial = query.get("sendInitialEvents")
        self.initial = initial.lower() == "true" if initial is not None else None
        if self.rv not in ("", "0"):
            _parse_rv(self.rv)
        timeout = query.get("timeoutSeconds")
        self.timeout = float(timeout) if timeout else DEFAULT_TIMEOUT

    def _visible(self, obj: JsonDict | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.matches(obj)

    def _render(self, obj: JsonDict) -> JsonDict:
        obj = dict(obj, apiVersion=self.rtype.api_version)
        if self.as_table:
            return tables.table(self.rtype, [obj], obj["metadata"]["resourceVersion"], self.include)
        if self.metadata_only is not None:
            return partial.item(obj, self.metadata_only)
        return obj

    def _translate(self, event: Event) -> bytes | None:
        now_visible = self._visible(event.obj)
        was_visible = self._visible(event.old)
        if event.type == "DELETED":
            kind = "DELETED" if was_visible or now_visible else None
        elif event.type == "ADDED":
            kind = "ADDED" if now_visible else None
        elif now_visible and was_visible:
            kind = "MODIFIED"
        elif now_visible:
            kind = "ADDED"
        elif was_visible:
            kind = "DELETED"
        else:
            kind = None
        if kind is None:
            return None
        if self.as_table:
            return _line(kind, self._render(event.obj))
        # Every watcher of this apiVersion renders the event alike: encode it once.
        shape = self.metadata_only.api_version if self.metadata_only else ""
        key = (kind, self.rtype.api_version, shape)
        line = event.lines.get(key)
        if line is None:
            line = event.lines[key] = _line(kind, self._render(event.obj))
        return line

    def _bookmark(self, revision: int, initial_end: bool) -> bytes:
        meta: JsonDict = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.rtype.kind, "apiVersion": self.rtype.api_version, "metadata": meta}
        if self.metadata_only is not None:
            obj = partial.item(obj, self.metadata_only)
        return _line("BOOKMARK", obj)

    async def stream(self, store: Store) -> AsyncIterator[bytes]:
        """Yield event lines until the timeout or the client goes away."""
        storage = self.rtype.storage_key
        latest = self.rv in ("", "0")
        synthetic = self.initial if self.initial is not None else latest
        since = store.revision if synthetic or latest else _parse_rv(self.rv)
        floor = None if synthetic else store.watch_cache.too_old(storage, since)
        if floor is not None:
            gone = errors.gone(f"too old resource version: {since} ({floor})")
            yield _line("ERROR", gone.status())
            return
        backlog, queue = store.subscribe(storage, since)
        # The stored objects themselves: only read (rendered into new dicts) from here on.
        snapshot = store.view(storage, self.namespace) if synthetic else []
        revision = store.revision
        try:
            yield b""  # send the headers now: clients wait for them before anything happens
            for obj in snapshot:
                if self._visible(obj):
                    yield _line("ADDED", self._render(obj))
            if self.initial and self.bookmarks:
                yield self._bookmark(revision, initial_end=True)
            for past in backlog:
                line = self._translate(past)
                if line is not None:
                    yield line
            loop = asyncio.get_running_loop()
            event: Event | None
            deadline = loop.time() + self.timeout
            cache = store.watch_cache
            bookmark = cache.next_bookmark(loop.time(), deadline) if self.bookmarks else None
            while True:
                now = loop.time()
                if now >= deadline:
                    return
                until = deadline if bookmark is None else min(deadline, bookmark)
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=max(until - now, 0))
                except TimeoutError:
                    if bookmark is not None and loop.time() >= bookmark:
                        yield self._bookmark(store.revision, initial_end=False)
                        bookmark = cache.next_bookmark(loop.time(), deadline)
                    continue
                if event is None:
                    return
                line = self._translate(event)
                if line is not None:
                    yield line
        finally:
            store.unsubscribe(storage, queue)


def _parse_rv(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f"invalid resource version: {text!r}") from None
