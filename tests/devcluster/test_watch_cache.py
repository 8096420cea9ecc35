"""Watches are served from each resource's own window, and kept fresh by bookmarks.

Expected answers from the cacher (watch_cache.go, cache_watcher.go): a watch from a
resourceVersion whose later events of that resource were let go is an ERROR event,
410 Expired ``too old resource version: N (oldest - 1)``, while other resources, however
many writes ago, still resume; a watch allowing bookmarks gets one ~2 s before its
timeout, carrying the current resourceVersion. This module's server keeps 3 events
per resource and no "fresh" ones, so the window is met without waiting for 75 s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kubemigrate.devcluster.apiserver import ApiServerProcess
from kubemigrate.devcluster.apiserver.watchcache import WatchCacheSettings
from tests.devcluster.devcluster_http import Http


@pytest.fixture(scope="module")
def apiserver() -> Iterator[ApiServerProcess]:
    small = WatchCacheSettings(lower_bound=3, fresh_seconds=0.0)
    with ApiServerProcess(startup_timeout=30.0, watch_cache=small) as server:
        yield server


def _configmaps(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps"


def test_a_watch_from_before_a_resource_s_window_is_gone(api: Http, namespace: str) -> None:
    secrets = f"/api/v1/namespaces/{namespace}/secrets"
    api.post(secrets, {"metadata": {"name": "s"}})
    listed = api.get(_configmaps(namespace)).body["metadata"]["resourceVersion"]
    created = [
        api.post(_configmaps(namespace), {"metadata": {"name": f"c{i}"}}).body for i in range(5)
    ]
    third = int(created[2]["metadata"]["resourceVersion"])
    api.post(secrets, {"metadata": {"name": "t"}})

    [event] = api.watch(_configmaps(namespace), {"resourceVersion": listed}, until=1)

    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["code"], status["reason"]) == (410, "Expired")
    assert status["message"] == f"too old resource version: {listed} ({third - 1})"
    # from within the window, the kept events come as they are
    within = api.watch(_configmaps(namespace), {"resourceVersion": str(third - 1)}, until=3)
    assert [e["object"]["metadata"]["name"] for e in within] == ["c2", "c3", "c4"]
    # the window is each resource's own: the configmaps' writes left the secrets' as it was
    [added] = api.watch(secrets, {"resourceVersion": listed}, until=1)
    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "t")


def test_a_watch_allowing_bookmarks_gets_one_before_its_timeout(api: Http) -> None:
    namespace = f"quiet-{uuid.uuid4().hex[:6]}"
    api.post("/api/v1/namespaces", {"metadata": {"name": namespace}})
    listed = api.get(_configmaps(namespace)).body["metadata"]["resourceVersion"]
    query = {"resourceVersion": listed, "allowWatchBookmarks": "true", "timeoutSeconds": "4"}
    api.post("/api/v1/namespaces", {"metadata": {"name": f"{namespace}-later"}})
    latest = api.get("/api/v1/namespaces").body["metadata"]["resourceVersion"]

    events = api.watch_until(_configmaps(namespace), query, lambda e: e["type"] == "BOOKMARK")

    assert [e["type"] for e in events] == ["BOOKMARK"]
    bookmark = events[0]["object"]
    assert bookmark["kind"] == "ConfigMap"
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(latest)
    assert "annotations" not in bookmark["metadata"]  # not the end of initial events
