"""In-memory storage with one global resourceVersion counter, like etcd's revision.

Every write bumps the counter and stamps it on the written object, and appends a
watch event to a bounded history, so a watch can resume from any recent
resourceVersion and gets 410 Gone ("too old resource version") past the window,
exactly the contract clients (kopf, client-go reflectors) are written against.
"""

from __future__ import annotations

import asyncio
import collections
import copy
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]
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

    def __post_init__(self) -> None:
        self.history = collections.deque(maxlen=self.history_size)

    def get(self, storage: StorageKey, namespace: str, name: str) -> JsonDict | None:
        obj = self.objects[storage].get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def select(self, storage: StorageKey, namespace: str | None) -> list[JsonDict]:
        return [
            copy.deepcopy(obj)
            for (ns, _), obj in sorted(self.objects[storage].items())
            if namespace is None or ns == namespace
        ]

    def all_objects(self) -> list[tuple[StorageKey, JsonDict]]:
        return [
            (key, copy.deepcopy(obj)) for key, objs in self.objects.items() for obj in objs.values()
        ]

    def write(self, storage: StorageKey, obj: JsonDict, event_type: str) -> JsonDict:
        """Store (or remove, for DELETED) an object; stamps and returns the new revision."""
        self.revision += 1
        stored = copy.deepcopy(obj)
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
        for queue in self.watchers[storage]:
            queue.put_nowait(event)
        return copy.deepcopy(stored)

    def oldest_revision(self) -> int:
        return self.history[0].revision if self.history else self.revision

    def subscribe(
        self, storage: StorageKey, since: int
    ) -> tuple[list[Event], asyncio.Queue[Event | None]]:
        """Events after ``since`` from history, plus a queue for the ones to come.

        Both happen with no await in between, so no event falls into a gap.
        """
        backlog = [e for e in self.history if e.storage == storage and e.revision > since]
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
