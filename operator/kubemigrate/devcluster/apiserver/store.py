"""In-memory storage with one global resourceVersion counter, like etcd's revision.

Every write bumps the counter and stamps it on the written object, and appends a
watch event to a bounded history (etcd's: lists at a past revision are served from
it) and to its resource's watch cache (:mod:`.watchcache`), so a watch can resume
from any recent resourceVersion and gets 410 Gone ("too old resource version") past
that resource's window, exactly the contract clients (kopf, client-go reflectors) are
written against.
"""

from __future__ import annotations

import asyncio
import collections
import copy
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from .watchcache import WatchCache

JsonDict = dict[str, Any]
_T = TypeVar("_T")
_ATOMS = (str, int, float, bool, type(None))


def json_copy(value: _T) -> _T:
    """A deep copy of a JSON value (dicts, lists, scalars), several times faster than
    :func:`copy.deepcopy`, which it falls back to for anything else."""
    return cast(_T, _copy(value))


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


StorageKey = tuple[str, str]  # (group, plural)
ObjectKey = tuple[str, str]  # (namespace or "", name)

HISTORY = 10_000


@dataclass(frozen=True)
class Event:
    revision: int
    storage: StorageKey
    type: str  # ADDED, MODIFIED, DELETED
    obj: JsonDict
    old: JsonDict | None = None  # the state before, for selector transitions in watches
    # Encoded watch lines of this event, shared by every watcher that renders it alike
    # (key: watch event type, apiVersion and shape: "" for the whole object, else the
    # metadata-only apiVersion), so it is serialised once, not per watcher.
    lines: dict[tuple[str, str, str], bytes] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass
class Store:
    history_size: int = HISTORY
    revision: int = 1
    objects: dict[StorageKey, dict[ObjectKey, JsonDict]] = field(
        default_factory=lambda: collections.defaultdict(dict)
    )
    history: collections.deque[Event] = field(init=False)
    watchers: dict[StorageKey, set[asyncio.Queue[Event | None]]] = field(
        default_factory=lambda: collections.defaultdict(set)
    )
    watch_cache: WatchCache = field(default_factory=WatchCache)
    """What watches are served from: each resource's own window (see :mod:`.watchcache`);
    ``history`` is etcd's, for lists at a past revision."""

    def __post_init__(self) -> None:
        self.history = collections.deque(maxlen=self.history_size)

    # Stored objects are never changed in place: a write stores a fresh copy and the
    # old one lives on untouched (in history events). So reads that do not hand an
    # object to a caller that may change it can skip copying (``peek``, ``view``...).

    def get(self, storage: StorageKey, namespace: str, name: str) -> JsonDict | None:
        obj = self.objects[storage].get((namespace, name))
        return json_copy(obj) if obj is not None else None

    def peek(self, storage: StorageKey, namespace: str, name: str) -> JsonDict | None:
        """The stored object itself, read-only: never change it."""
        return self.objects[storage].get((namespace, name))

    def view(self, storage: StorageKey, namespace: str | None) -> list[JsonDict]:
        """The stored objects themselves (read-only), sorted as ``select`` sorts them."""
        return [
            obj
            for (ns, _), obj in sorted(self.objects[storage].items())
            if namespace is None or ns == namespace
        ]

    def view_at(
        self, storage: StorageKey, namespace: str | None, revision: int
    ) -> list[JsonDict] | None:
        """The stored objects (read-only) as they were at ``revision``; None once the
        history no longer reaches back that far (etcd's "required revision has been
        compacted").

        The pages of a paginated list are all served at its first page's revision, as
        etcd serves them from one MVCC snapshot: here the later writes in the history
        are undone, newest first, from the current objects.
        """
        if revision >= self.revision:
            return self.view(storage, namespace)
        if revision < self.oldest_revision() - 1:
            return None
        objects = dict(self.objects[storage])
        for event in reversed(self.history):
            if event.revision <= revision:
                break
            if event.storage != storage:
                continue
            meta = event.obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if event.old is None:
                objects.pop(key, None)
            else:
                objects[key] = event.old
        return [
            obj for (ns, _), obj in sorted(objects.items()) if namespace is None or ns == namespace
        ]

    def select(self, storage: StorageKey, namespace: str | None) -> list[JsonDict]:
        return [json_copy(obj) for obj in self.view(storage, namespace)]

    def all_objects(self) -> list[tuple[StorageKey, JsonDict]]:
        """Every stored object itself (read-only: copy before changing anything)."""
        return [(key, obj) for key, objs in self.objects.items() for obj in objs.values()]

    def write(self, storage: StorageKey, obj: JsonDict, event_type: str) -> JsonDict:
        """Store (or remove, for DELETED) an object; stamps and returns the new revision."""
        self.revision += 1
        stored = json_copy(obj)
        stored.setdefault("metadata", {})["resourceVersion"] = str(self.revision)
        meta = stored["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self.objects[storage].get(key)
        if event_type == "DELETED":
            self.objects[storage].pop(key, None)
        else:
            self.objects[storage][key] = stored
        event = Event(self.revision, storage, event_type, stored, old)
        self.history.append(event)
        self.watch_cache.add(event)
        for queue in self.watchers[storage]:
            queue.put_nowait(event)
        return json_copy(stored)

    def oldest_revision(self) -> int:
        return self.history[0].revision if self.history else self.revision

    def subscribe(
        self, storage: StorageKey, since: int
    ) -> tuple[list[Event], asyncio.Queue[Event | None]]:
        """Events after ``since`` from the resource's watch cache, plus a queue for the
        ones to come. Both happen with no await in between, so no event falls into a gap.
        """
        backlog = self.watch_cache.since(storage, since)
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.watchers[storage].add(queue)
        return backlog, queue

    def unsubscribe(self, storage: StorageKey, queue: asyncio.Queue[Event | None]) -> None:
        self.watchers[storage].discard(queue)

    def close_watches(self) -> None:
        """End every open watch (on shutdown), so connections close at once."""
        for queues in self.watchers.values():
            for queue in queues:
                queue.put_nowait(None)

    def drop_storage(self, storage: StorageKey) -> list[JsonDict]:
        """Remove every object of a resource (its CRD was deleted), with DELETED events."""
        removed = []
        for obj in list(self.objects[storage].values()):
            removed.append(self.write(storage, obj, "DELETED"))
        return removed
