"""The kubelet stand-in's informer: its cache follows the watch, and its own writes never
bring back an object the watch has seen deleted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from kubemigrate.devcluster.kubelet.client import Client
from kubemigrate.devcluster.kubelet.node import GONE_KEPT, Informer


def _pod(name: str, uid: str, version: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "ns", "name": name, "uid": uid, "resourceVersion": str(version)},
    }


class _Watch:
    """A client whose one watch replays the given events and ends."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    async def watch(
        self, path: str, params: dict[str, str], timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        for event in self.events:
            yield event


def _informer(events: list[dict[str, Any]]) -> tuple[Informer, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    informer = Informer(
        cast(Client, _Watch(events)),
        "v1",
        "pods",
        None,
        lambda kind, obj: seen.append((kind, obj["metadata"]["name"])),
    )
    return informer, seen


def test_a_late_write_reply_does_not_resurrect_a_deleted_pod() -> None:
    created, deleted = _pod("a", "uid-a", 5), _pod("a", "uid-a", 7)
    informer, seen = _informer(
        [{"type": "ADDED", "object": created}, {"type": "DELETED", "object": deleted}]
    )
    assert asyncio.run(informer._watch("1")) == "7"
    assert seen == [("ADDED", "a"), ("DELETED", "a")]

    informer.remember(_pod("a", "uid-a", 6))  # the reply to a status write made before
    assert informer.cache == {}

    informer.remember(_pod("a", "uid-a2", 9))  # a new Pod of the same name is another object
    assert informer.cache[("ns", "a")]["metadata"]["uid"] == "uid-a2"


def test_remembers_only_the_latest_deletions() -> None:
    """A long-running node deletes Pods forever; what it remembers of them stays bounded."""
    count = GONE_KEPT + 10
    events = [{"type": "DELETED", "object": _pod(f"p{i}", f"uid-{i}", i + 1)} for i in range(count)]
    informer, _ = _informer(events)
    asyncio.run(informer._watch("0"))
    assert len(informer.gone) == GONE_KEPT
    informer.remember(_pod("p0", "uid-0", 1))  # long forgotten: a stale reply is no longer
    informer.remember(_pod(f"p{count - 1}", f"uid-{count - 1}", count))  # recent: refused
    assert list(informer.cache) == [("ns", "p0")]
