"""resourceVersion and resourceVersionMatch on lists and watches (see apiserver/listoptions.py).

Expected answers from the API concepts doc's "Semantics for get and list" table and
the Kubernetes source: ``ValidateListOptions``/``validateWatchOptions`` (422),
``ListReadConsistency`` (which revision), etcd3's "too old" 410 and the watch
cache's "Too large resource version" 504.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubemigrate.devcluster.apiserver.api import Api
from kubemigrate.devcluster.apiserver.cluster import Cluster, WriteOptions
from kubemigrate.devcluster.apiserver.store import Store
from kubemigrate.devcluster.apiserver.wire import Request, Response
from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_pagination import configmaps, names, page


def _make(api: Http, namespace: str, name: str, value: str = "1") -> str:
    reply = api.post(configmaps(namespace), {"metadata": {"name": name}, "data": {"v": value}})
    assert reply.status == 201, reply.body
    rv: str = reply.body["metadata"]["resourceVersion"]
    return rv


def test_an_exact_list_shows_the_state_at_that_resource_version(api: Http, namespace: str) -> None:
    rv = _make(api, namespace, "a")
    _make(api, namespace, "b")
    api.patch(configmaps(namespace, "a"), {"data": {"v": "2"}})
    path = configmaps(namespace)

    exact = page(api, path, resourceVersion=rv, resourceVersionMatch="Exact")
    legacy = page(api, path, resourceVersion=rv, limit="10")  # a limit makes N exact
    newer = page(api, path, resourceVersion=rv, resourceVersionMatch="NotOlderThan")
    plain = page(api, path, resourceVersion=rv)
    anything = page(api, path, resourceVersion="0")

    for then in (exact, legacy):
        assert names(then) == ["a"]
        assert then["items"][0]["data"] == {"v": "1"}
        assert then["metadata"]["resourceVersion"] == rv
    for now in (newer, plain, anything):
        assert names(now) == ["a", "b"]
        assert now["items"][0]["data"] == {"v": "2"}
        assert int(now["metadata"]["resourceVersion"]) > int(rv)


def test_match_options_a_list_cannot_take_are_422(api: Http, namespace: str) -> None:
    path = configmaps(namespace)
    prefix = 'ListOptions.meta.k8s.io "" is invalid: '
    cases = {
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
        "resourceVersion is provided": {"resourceVersionMatch": "NotOlderThan"},
        'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for '
        'resourceVersion "0"': {"resourceVersion": "0", "resourceVersionMatch": "Exact"},
        'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", '
        '"NotOlderThan", ""': {"resourceVersion": "5", "resourceVersionMatch": "Newest"},
        "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list": {
            "sendInitialEvents": "true"
        },
    }
    for message, query in cases.items():
        reply = api.get(path, query=query)
        assert reply.status == 422, query
        assert reply.body["reason"] == "Invalid"
        assert reply.body["message"] == prefix + message
        assert reply.body["details"]["kind"] == "ListOptions"
        assert "name" not in reply.body["details"]

    bad = api.get(path, query={"resourceVersion": "abc"})
    assert bad.status == 400
    assert bad.body["message"] == (
        'invalid resource version: resourceVersion: Invalid value: "abc": '
        'strconv.ParseUint: parsing "abc": invalid syntax'
    )


def _get(api: Api, path: str, **query: str) -> tuple[int, dict[str, Any]]:
    request = Request("GET", path, query, {"accept": "application/json"})
    response = asyncio.run(api.handle(request))
    body: dict[str, Any] = response.body  # type: ignore[union-attr]
    return response.status, body


def test_an_exact_list_older_than_the_history_is_410_expired() -> None:
    api = Api(Cluster(store=Store(history_size=20)))
    cluster = api.cluster
    configmaps_type = cluster.catalogue.lookup("", "v1", "configmaps")
    assert configmaps_type is not None
    first = cluster.create(configmaps_type, {"metadata": {"name": "a"}}, "default", WriteOptions())
    old = first.obj["metadata"]["resourceVersion"]
    for index in range(25):  # more writes than the history keeps
        cluster.create(
            configmaps_type, {"metadata": {"name": f"z{index}"}}, "default", WriteOptions()
        )
    path = configmaps("default")

    for query in ({"resourceVersionMatch": "Exact"}, {"limit": "5"}):
        status, body = _get(api, path, resourceVersion=old, **query)
        assert status == 410, query
        assert body["reason"] == "Expired"
        assert body["message"] == "The resourceVersion for the provided list is too old."
    status, body = _get(api, path, resourceVersion=old, resourceVersionMatch="NotOlderThan")
    assert status == 200
    assert body["metadata"]["resourceVersion"] == str(cluster.store.revision)


def test_a_list_ahead_of_the_store_waits_for_it_then_gives_up_with_504(
    api: Http, namespace: str
) -> None:
    current = int(page(api, configmaps(namespace))["metadata"]["resourceVersion"])
    ahead = str(current + 100_000)

    # after the watch cache's wait (3 s), which the next test shows is a wait
    reply = api.get(
        configmaps(namespace),
        query={"resourceVersion": ahead, "resourceVersionMatch": "NotOlderThan"},
    )

    assert reply.status == 504
    assert reply.headers["Retry-After"] == "1"
    assert reply.body["reason"] == "Timeout"
    assert reply.body["message"].startswith(f"Timeout: Too large resource version: {ahead}, ")
    assert reply.body["details"] == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }


def test_a_list_just_ahead_is_answered_once_the_store_gets_there() -> None:
    api = Api(Cluster())
    cluster = api.cluster
    configmaps_type = cluster.catalogue.lookup("", "v1", "configmaps")
    assert configmaps_type is not None
    ahead = cluster.store.revision + 1

    async def scenario() -> tuple[int, Any]:
        request = Request(
            "GET",
            configmaps("default"),
            {"resourceVersion": str(ahead), "resourceVersionMatch": "NotOlderThan"},
            {"accept": "application/json"},
        )
        answer = asyncio.create_task(api.handle(request))
        for _ in range(20):  # let it run as far as it goes without the store moving
            await asyncio.sleep(0)
        assert not answer.done()  # waiting for the store, not answered
        cluster.create(configmaps_type, {"metadata": {"name": "late"}}, "default", WriteOptions())
        response = await answer
        assert isinstance(response, Response)
        return response.status, response.body

    status, body = asyncio.run(scenario())

    assert status == 200
    assert names(body) == ["late"]
    assert int(body["metadata"]["resourceVersion"]) >= ahead


def test_watch_options_follow_the_watch_list_rules(api: Http, namespace: str) -> None:
    path = configmaps(namespace)
    _make(api, namespace, "w")

    refused = api.get(
        path,
        query={"watch": "true", "resourceVersion": "0", "resourceVersionMatch": "NotOlderThan"},
    )
    no_bookmarks = api.watch(
        path,
        {
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "1",
        },
        until=2,
    )
    none_initial = api.watch(
        path,
        {
            "sendInitialEvents": "false",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "1",
        },
        until=1,
    )

    assert refused.status == 422
    assert refused.body["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
    )
    # Accepted without allowWatchBookmarks: the initial events, and no bookmark after them.
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in no_bookmarks] == [("ADDED", "w")]
    assert none_initial == []  # sendInitialEvents=false: changes only, even from ""
