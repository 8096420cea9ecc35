"""Lists, selectors and watch streams."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kubemigrate.devcluster.apiserver.resources import Catalogue
from kubemigrate.devcluster.apiserver.store import Store
from kubemigrate.devcluster.apiserver.watchcache import WatchCache, WatchCacheSettings
from kubemigrate.devcluster.apiserver.watching import WatchRequest
from tests.devcluster.devcluster_http import Http


def _make(api: Http, namespace: str, name: str, **labels: str) -> dict[str, object]:
    body = {"metadata": {"name": name, "labels": labels}}
    reply = api.post(f"/api/v1/namespaces/{namespace}/configmaps", body)
    assert reply.status == 201
    result: dict[str, object] = reply.body
    return result


def _names(api: Http, path: str, **query: str) -> list[str]:
    reply = api.get(path, query=query)
    assert reply.status == 200, reply.body
    return [item["metadata"]["name"] for item in reply.body["items"]]


def test_list_has_kind_api_version_and_resource_version(api: Http, namespace: str) -> None:
    _make(api, namespace, "one")
    body = api.get(f"/api/v1/namespaces/{namespace}/configmaps").body
    assert body["kind"] == "ConfigMapList"
    assert body["apiVersion"] == "v1"
    assert int(body["metadata"]["resourceVersion"]) > 0
    assert body["items"][0]["kind"] == "ConfigMap"


def test_label_selectors(api: Http, namespace: str) -> None:
    _make(api, namespace, "a", app="db", tier="x")
    _make(api, namespace, "b", app="web")
    _make(api, namespace, "c")
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    assert _names(api, path, labelSelector="app=db") == ["a"]
    assert _names(api, path, labelSelector="app==db") == ["a"]
    assert _names(api, path, labelSelector="app!=db") == ["b", "c"]
    assert _names(api, path, labelSelector="app in (db,web)") == ["a", "b"]
    assert _names(api, path, labelSelector="app notin (db)") == ["b", "c"]
    assert _names(api, path, labelSelector="app") == ["a", "b"]
    assert _names(api, path, labelSelector="!app") == ["c"]
    assert _names(api, path, labelSelector="app,tier=x") == ["a"]


def test_field_selectors(api: Http, namespace: str) -> None:
    _make(api, namespace, "f1")
    _make(api, namespace, "f2")
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    assert _names(api, path, fieldSelector="metadata.name=f2") == ["f2"]
    assert _names(api, path, fieldSelector="metadata.name!=f2") == ["f1"]
    everywhere = _names(api, "/api/v1/configmaps", fieldSelector=f"metadata.namespace={namespace}")
    assert everywhere == ["f1", "f2"]
    bad = api.get(path, query={"fieldSelector": "data.x=1"})
    assert bad.status == 400
    assert bad.body["message"] == "field label not supported: data.x"


def test_watch_from_resource_version_sends_only_later_changes(api: Http, namespace: str) -> None:
    _make(api, namespace, "before")
    rv = api.get(f"/api/v1/namespaces/{namespace}/configmaps").body["metadata"]["resourceVersion"]
    _make(api, namespace, "after")
    api.patch(f"/api/v1/namespaces/{namespace}/configmaps/after", {"data": {"k": "v"}})
    api.delete(f"/api/v1/namespaces/{namespace}/configmaps/after")
    events = api.watch(
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"resourceVersion": rv, "timeoutSeconds": "5"},
        until=3,
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("DELETED", "after"),
    ]
    deleted = events[-1]["object"]
    assert deleted["data"] == {"k": "v"}  # the final state
    assert int(deleted["metadata"]["resourceVersion"]) > int(
        events[1]["object"]["metadata"]["resourceVersion"]
    )


def test_watch_without_resource_version_replays_current_objects(api: Http, namespace: str) -> None:
    _make(api, namespace, "w1")
    _make(api, namespace, "w2")
    for rv in ({}, {"resourceVersion": "0"}):
        events = api.watch(
            f"/api/v1/namespaces/{namespace}/configmaps", {**rv, "timeoutSeconds": "5"}, until=2
        )
        assert sorted((e["type"], e["object"]["metadata"]["name"]) for e in events) == [
            ("ADDED", "w1"),
            ("ADDED", "w2"),
        ]


def test_watch_list_ends_initial_events_with_a_bookmark(api: Http, namespace: str) -> None:
    _make(api, namespace, "i1")
    query = {
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "5",
    }
    events = api.watch(f"/api/v1/namespaces/{namespace}/configmaps", query, until=2)
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[1]["object"]["kind"] == "ConfigMap"


def test_send_initial_events_needs_not_older_than(api: Http, namespace: str) -> None:
    reply = api.get(
        f"/api/v1/namespaces/{namespace}/configmaps",
        query={"watch": "true", "sendInitialEvents": "true"},
    )
    assert reply.status == 422


def test_watch_honours_timeout_seconds(api: Http, namespace: str) -> None:
    events = api.watch(
        f"/api/v1/namespaces/{namespace}/configmaps", {"timeoutSeconds": "1"}, until=1, timeout=10
    )
    assert events == []  # the server closed the stream by itself


def test_watch_filters_by_selectors_and_reports_transitions(api: Http, namespace: str) -> None:
    rv = api.get(f"/api/v1/namespaces/{namespace}/configmaps").body["metadata"]["resourceVersion"]
    _make(api, namespace, "other")
    _make(api, namespace, "sel", app="db")
    api.patch(
        f"/api/v1/namespaces/{namespace}/configmaps/sel", {"metadata": {"labels": {"app": "web"}}}
    )
    events = api.watch(
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"resourceVersion": rv, "labelSelector": "app=db", "timeoutSeconds": "5"},
        until=2,
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "sel"),
        ("DELETED", "sel"),
    ]
    by_name = api.watch(
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"resourceVersion": rv, "fieldSelector": "metadata.name=other", "timeoutSeconds": "5"},
        until=1,
    )
    assert [e["object"]["metadata"]["name"] for e in by_name] == ["other"]


def test_watch_from_a_forgotten_resource_version_is_410_expired() -> None:
    store = Store(watch_cache=WatchCache(WatchCacheSettings(lower_bound=3, fresh_seconds=0)))
    for index in range(5):
        store.write(
            ("", "configmaps"), {"metadata": {"name": f"c{index}", "namespace": "ns"}}, "ADDED"
        )
    rtype = Catalogue.with_builtins().lookup("", "v1", "configmaps")
    assert rtype is not None
    watch = WatchRequest(rtype, "ns", lambda obj: True, {"resourceVersion": "2"}, as_table=False)

    async def first_event() -> dict[str, Any]:
        async for chunk in watch.stream(store):
            if chunk:
                result: dict[str, Any] = json.loads(chunk)
                return result
        raise AssertionError("no event")

    event = asyncio.run(first_event())
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    # Revisions 2-6 written, 4-6 kept: the oldest it can replay from is 3.
    assert event["object"]["message"] == "too old resource version: 2 (3)"


def test_job_field_selector_status_successful(api: Http, namespace: str) -> None:
    from tests.devcluster.test_builtin_kinds import job, jobs

    assert api.post(jobs(namespace), job("done")).status == 201
    assert api.post(jobs(namespace), job("fresh")).status == 201
    status = api.patch(jobs(namespace, "done") + "/status", {"status": {"succeeded": 1}})
    assert status.status == 200, status.body

    assert _names(api, jobs(namespace), fieldSelector="status.successful=1") == ["done"]
    assert _names(api, jobs(namespace), fieldSelector="status.successful=0") == ["fresh"]


def test_pod_field_selectors_the_real_server_supports(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    assert api.post(path, pod).status == 201
    for selector in (
        "spec.schedulerName=default-scheduler",
        "status.podIP=",
        "spec.hostNetwork=false",
        "status.nominatedNodeName=",
    ):
        assert _names(api, path, fieldSelector=selector) == ["p"], selector
    assert _names(api, path, fieldSelector="spec.hostNetwork=true") == []
    reply = api.get(path, query={"fieldSelector": "spec.hostname=x"})
    assert reply.status == 400
    assert reply.body["message"] == "field label not supported: spec.hostname"
