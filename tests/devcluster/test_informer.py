"""The kubelet stand-in's informer: its cache follows the watch, and its own writes never
bring back an object the watch has seen deleted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from kubemigrate.devcluster.kubelet.client import Client
from kubemigrate.devcluster.kubelet.node import GONE_KEPT, Informer, Node, NodeSettings


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


def test_a_late_watch_event_does_not_undo_a_write_of_this_process() -> None:
    """The Pod released (its finalizer removed, the reply remembered), then the watch
    delivers a status write made before: the cache went back to the Pod with its
    finalizer, and the Job controller counted it again."""
    informer, _ = _informer([{"type": "MODIFIED", "object": _pod("a", "uid-a", 7)}])
    informer.remember(_pod("a", "uid-a", 9))
    asyncio.run(informer._watch("1"))
    assert informer.cache[("ns", "a")]["metadata"]["resourceVersion"] == "9"


class _Api:
    """A client that answers the Job controller's writes as the API server does (a new
    resourceVersion each), while no watch event reaches the informers: the window in
    which a real controller syncs from a cache older than its own writes."""

    def __init__(self) -> None:
        self.version = 10
        self.job_statuses: list[dict[str, Any]] = []

    async def request(self, method: str, path: str, *, body: Any = None, **_: Any) -> Any:
        self.version += 1
        if method == "PUT" and path.endswith("/status"):
            self.job_statuses.append(body["status"])
            return _job(str(self.version), body["status"])
        if method == "PATCH" and "/pods/" in path:
            pod = _failed_pod()
            pod["metadata"]["finalizers"] = body["metadata"]["finalizers"]
            pod["metadata"]["resourceVersion"] = str(self.version)
            return pod
        if method == "POST" and path.endswith("/pods"):  # the replacement Pod
            meta = {**body["metadata"], "namespace": "ns", "name": "job-fghij"}
            meta.update(uid="pod-uid-2", resourceVersion=str(self.version))
            return {**body, "metadata": meta}
        return {}  # events


def _job(version: str, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "namespace": "ns",
            "name": "job",
            "uid": "job-uid",
            "resourceVersion": version,
        },
        "spec": {"backoffLimit": 2, "podReplacementPolicy": "Failed"},
        "status": status,
    }


def _failed_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": "ns",
            "name": "job-abcde",
            "uid": "pod-uid",
            "resourceVersion": "5",
            "labels": {"batch.kubernetes.io/job-name": "job"},
            "finalizers": ["batch.kubernetes.io/job-tracking"],
            "ownerReferences": [
                {"kind": "Job", "name": "job", "uid": "job-uid", "controller": True}
            ],
        },
        "status": {"phase": "Failed"},
    }


def test_a_failed_pod_is_counted_once_though_its_watch_event_is_late(tmp_path: Path) -> None:
    """Once the controller has folded a Pod into ``failed`` and released it, a sync
    before the Pod's watch event arrives must not count it again: it did, and a Job
    with backoffLimit 2 failed after two Pods with ``failed: 3``."""
    api = _Api()
    node = Node(cast(Client, api), tmp_path, NodeSettings())
    node.job_informers[0].cache[("ns", "job")] = _job("6", {"active": 0})
    node.pod_informers[0].cache[("ns", "job-abcde")] = _failed_pod()

    async def sync_twice() -> None:
        await node.sync_job("ns", "job")
        await node.sync_job("ns", "job")
        await node.job_events.flush()

    asyncio.run(sync_twice())

    assert api.job_statuses[-1]["failed"] == 1
    assert not any(c["type"] == "Failed" for c in api.job_statuses[-1].get("conditions", []))
