"""Events as client-go's recorder writes them: core/v1, named ``<object>.<hex nanos>``.

Like the recorder's correlator, a repeat of the same event (same object, type,
reason, message and source) is not a new Event: the first one's ``count`` goes up
and its ``lastTimestamp`` moves, by a merge patch. Writes happen in the background
(the recorder's broadcaster is asynchronous too) and their failures are only logged:
an Event is never worth failing a sync for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .client import ApiError, Client, resource_path
from .runtime import now

JsonDict = dict[str, Any]
log = logging.getLogger(__name__)

_Key = tuple[str, str, str, str, str]
KEPT = 4096  # aggregated events remembered


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: dict[_Key, tuple[str, int]] = {}  # key -> (event name, count)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()

    def record(self, obj: JsonDict, event_type: str, reason: str, message: str) -> None:
        """Record an event about ``obj`` (a Job, a Pod...) in the background."""
        task = asyncio.create_task(self._write(obj, event_type, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait for the events recorded so far to be written (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _write(self, obj: JsonDict, event_type: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (str(meta.get("uid")), event_type, reason, message, self.component)
        stamp = now()
        async with self._lock:  # one write per key at a time: counts stay exact
            try:
                seen = self._seen.get(key)
                if seen is not None:
                    name, count = seen
                    path = resource_path("v1", "events", namespace, name)
                    try:
                        await self.client.request(
                            "PATCH",
                            path,
                            body={"count": count + 1, "lastTimestamp": stamp},
                            content_type="application/merge-patch+json",
                        )
                        self._seen[key] = (name, count + 1)
                        return
                    except ApiError as exc:
                        if exc.code != 404:
                            raise
                name = f"{meta['name']}.{time.time_ns():x}"
                await self.client.request(
                    "POST",
                    resource_path("v1", "events", namespace),
                    body=self._event(obj, name, namespace, event_type, reason, message, stamp),
                )
                self._seen[key] = (name, 1)
                if len(self._seen) > KEPT:
                    del self._seen[next(iter(self._seen))]
            except ApiError as exc:
                log.info("could not record event %s on %s: %s", reason, meta.get("name"), exc)
            except Exception as exc:  # the API went away (shutdown): nothing to do
                log.debug("could not record event %s on %s: %s", reason, meta.get("name"), exc)

    def _event(
        self,
        obj: JsonDict,
        name: str,
        namespace: str,
        event_type: str,
        reason: str,
        message: str,
        stamp: str,
    ) -> JsonDict:
        meta = obj["metadata"]
        involved = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        source: JsonDict = {"component": self.component}
        if self.host:
            source["host"] = self.host
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
