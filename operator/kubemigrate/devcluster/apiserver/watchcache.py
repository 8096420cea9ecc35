"""Each resource's watch cache: which past events a watch can still be served from.

The real server answers a watch from its cacher's ring buffer of that resource's
events (staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go): it keeps at
least the last 100, and every event younger than ``eventFreshDuration`` (75 s),
growing up to 100 Ki events; older ones make room for new ones. A watch from a
resourceVersion before the oldest kept event is answered with an ERROR event, 410
Expired ``too old resource version: N (oldest - 1)``, after which a client relists
(kopf, client-go's reflectors). So a client that was away long on a busy resource
meets it, and one on a quiet resource does not, however many other resources were
written meanwhile: the window is per resource, not a count of all writes.

While a watch with ``allowWatchBookmarks=true`` is open, the cacher sends it a
BOOKMARK with the current resourceVersion every minute and about 2 s before its
timeout, so a client whose resource is quiet resumes from a recent version
(``cacheWatcher.nextBookmarkTime``).

The sizes and times are settings, so a test can meet the window without waiting
for it.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Event, StorageKey


@dataclass(frozen=True)
class WatchCacheSettings:
    lower_bound: int = 100
    """Events of a resource always kept (``defaultLowerBoundCapacity``)."""
    upper_bound: int = 100 * 1024
    """Events of a resource never exceeded (``defaultUpperBoundCapacity``)."""
    fresh_seconds: float = 75.0
    """Events younger than this are kept past the lower bound (``eventFreshDuration``)."""
    bookmark_seconds: float = 60.0
    """Between two BOOKMARKs to a watch that allows them (``bookmarkFrequency``)."""
    pretimeout_seconds: float = 2.0
    """Before a watch's timeout, when it gets one last BOOKMARK."""


@dataclass
class WatchCache:
    settings: WatchCacheSettings = field(default_factory=WatchCacheSettings)
    clock: Callable[[], float] = time.monotonic
    _events: dict[StorageKey, collections.deque[tuple[float, Event]]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque)
    )
    _dropped: set[StorageKey] = field(default_factory=set)

    def add(self, event: Event) -> None:
        """Keep an event, letting go of those the real buffer would have overwritten."""
        now = self.clock()
        kept = self._events[event.storage]
        kept.append((now, event))
        bounds = self.settings
        while len(kept) > bounds.upper_bound or (
            len(kept) > bounds.lower_bound and now - kept[0][0] > bounds.fresh_seconds
        ):
            kept.popleft()
            self._dropped.add(event.storage)

    def since(self, storage: StorageKey, revision: int) -> list[Event]:
        """The kept events of a resource after ``revision``, oldest first."""
        found = []
        for _, event in reversed(self._events[storage]):  # revisions only grow
            if event.revision <= revision:
                break
            found.append(event)
        found.reverse()
        return found

    def too_old(self, storage: StorageKey, revision: int) -> int | None:
        """``oldest - 1`` if a watch from ``revision`` can no longer be served, else None
        (until the buffer first lets an event go, it holds all since the server began)."""
        kept = self._events[storage]
        if storage not in self._dropped or not kept:
            return None
        oldest = kept[0][1].revision
        return oldest - 1 if revision < oldest - 1 else None

    def next_bookmark(self, now: float, deadline: float) -> float | None:
        """``nextBookmarkTime``: the next periodic BOOKMARK, or the one ~2 s before the
        deadline if that comes first; None once that moment has passed."""
        settings = self.settings
        at = min(now + settings.bookmark_seconds, deadline - settings.pretimeout_seconds)
        return at if at >= now else None
