"""List pagination: ``limit`` and ``continue``, as clients that chunk their lists see it."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from kubemigrate.devcluster.apiserver.api import Api
from kubemigrate.devcluster.apiserver.cluster import Cluster, WriteOptions
from kubemigrate.devcluster.apiserver.store import Store
from kubemigrate.devcluster.apiserver.wire import Request
from tests.devcluster.devcluster_http import Http


def configmaps(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{base}/{name}" if name else base


def make(api: Http, namespace: str, *names: str, **labels: str) -> None:
    for name in names:
        body = {"metadata": {"name": name, "labels": labels}, "data": {"v": "1"}}
        assert api.post(configmaps(namespace), body).status == 201


def page(api: Http, path: str, **query: str) -> dict[str, Any]:
    reply = api.get(path, query=query)
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.body
    return result


def names(listing: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


def token(start: str, rv: int, version: str = "meta.k8s.io/v1") -> str:
    raw = json.dumps({"v": version, "rv": rv, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_pages_are_read_at_the_first_page_s_resource_version(api: Http, namespace: str) -> None:
    make(api, namespace, "a", "b", "c", "d", "e")

    first = page(api, configmaps(namespace), limit="2")

    assert names(first) == ["a", "b"]
    meta = first["metadata"]
    assert meta["remainingItemCount"] == 3
    revision = meta["resourceVersion"]
    # Changes after the first page do not show in the next ones.
    make(api, namespace, "bb")
    api.patch(configmaps(namespace, "c"), {"data": {"v": "2"}})
    assert api.delete(configmaps(namespace, "d")).status == 200

    second = page(api, configmaps(namespace), limit="2", **{"continue": meta["continue"]})
    assert names(second) == ["c", "d"]
    assert second["items"][0]["data"] == {"v": "1"}
    assert second["metadata"]["resourceVersion"] == revision
    assert second["metadata"]["remainingItemCount"] == 1

    last = page(
        api, configmaps(namespace), limit="2", **{"continue": second["metadata"]["continue"]}
    )
    assert names(last) == ["e"]
    assert last["metadata"] == {"resourceVersion": revision}  # no continue, no count
    # A page that takes what is left says so: no token, no count.
    whole = page(api, configmaps(namespace), limit="5")
    assert names(whole) == ["a", "b", "bb", "c", "e"]
    assert set(whole["metadata"]) == {"resourceVersion"}


def test_a_selector_fills_each_page_and_gives_no_count(api: Http, namespace: str) -> None:
    make(api, namespace, "a", "c", t="x")
    make(api, namespace, "b", "d", t="y")
    path = configmaps(namespace)

    first = page(api, path, limit="1", labelSelector="t=x")
    second = page(
        api, path, limit="1", labelSelector="t=x", **{"continue": first["metadata"]["continue"]}
    )
    third = page(
        api, path, limit="1", labelSelector="t=x", **{"continue": second["metadata"]["continue"]}
    )

    assert [names(p) for p in (first, second, third)] == [["a"], ["c"], []]
    assert "remainingItemCount" not in first["metadata"]
    # "d" was left after "c": etcd cannot know that it does not match, so a token was
    # given, and the last page is empty.
    assert "continue" not in third["metadata"]


def test_bad_continue_tokens_are_400(api: Http, namespace: str) -> None:
    path = configmaps(namespace)
    cases = {
        "not!base64": "invalid continue token: continue key is not valid: illegal base64 data",
        token("a\x00", 5, "meta.k8s.io/v2"): (
            "invalid continue token: continue key is not valid: server does not recognize "
            "this encoded version meta.k8s.io/v2"
        ),
        token("a\x00", 0): (
            "invalid continue token: continue key is not valid: incorrect encoded start "
            "resourceVersion (version meta.k8s.io/v1)"
        ),
        token("../other/a", 5): "invalid continue token: continue key is not valid: ../other/a",
    }
    for bad, message in cases.items():
        reply = api.get(path, query={"limit": "1", "continue": bad})
        assert reply.status == 400, (bad, reply.body)
        assert reply.body["reason"] == "BadRequest"
        assert reply.body["message"].startswith(message), reply.body["message"]
    with_rv = api.get(path, query={"continue": token("a\x00", 5), "resourceVersion": "5"})
    assert with_rv.status == 400
    assert with_rv.body["message"] == (
        "specifying resource version is not allowed when using continue"
    )


def _get(api: Api, path: str, **query: str) -> tuple[int, dict[str, Any]]:
    request = Request("GET", path, query, {"accept": "application/json"})
    response = asyncio.run(api.handle(request))
    body: dict[str, Any] = response.body  # type: ignore[union-attr]
    return response.status, body


def test_a_token_whose_revision_is_compacted_is_410_with_a_fresh_token() -> None:
    api = Api(Cluster(store=Store(history_size=20)))
    cluster = api.cluster
    configmaps_type = cluster.catalogue.lookup("", "v1", "configmaps")
    assert configmaps_type is not None
    for name in ("a", "b", "c"):
        cluster.create(configmaps_type, {"metadata": {"name": name}}, "default", WriteOptions())
    path = configmaps("default")
    status, first = _get(api, path, limit="1")
    assert status == 200
    for index in range(25):  # more writes than the history keeps
        cluster.create(
            configmaps_type, {"metadata": {"name": f"z{index}"}}, "default", WriteOptions()
        )

    status, expired = _get(api, path, limit="1", **{"continue": first["metadata"]["continue"]})

    assert status == 410
    assert expired["reason"] == "Expired"
    assert expired["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )
    fresh = expired["metadata"]["continue"]
    decoded = json.loads(base64.urlsafe_b64decode(fresh + "=" * (-len(fresh) % 4)))
    assert decoded == {"v": "meta.k8s.io/v1", "rv": -1, "start": "a\x00"}
    status, rest = _get(api, path, limit="100", **{"continue": fresh})
    assert status == 200
    assert names(rest)[:2] == ["b", "c"]  # on, inconsistently, at the latest revision
    assert rest["metadata"]["resourceVersion"] == str(cluster.store.revision)


def test_kubectl_get_in_chunks_returns_every_object(
    api: Http, kubectl: Any, namespace: str
) -> None:
    for index in range(5):
        pod = {
            "metadata": {"name": f"p{index}"},
            "spec": {"containers": [{"name": "c", "image": "i:1"}]},
        }
        assert api.post(f"/api/v1/namespaces/{namespace}/pods", pod).status == 201

    listed = kubectl("get", "pods", "-n", namespace, "--chunk-size=2", "-o", "name", "-v=6")
    table = kubectl("get", "pods", "-n", namespace, "--chunk-size=2", "-v=6")

    assert listed.stdout.split() == [f"pod/p{index}" for index in range(5)]
    rows = [line.split()[0] for line in table.stdout.splitlines()[1:]]
    assert rows == [f"p{index}" for index in range(5)]
    for result in (listed, table):
        requests = [line for line in result.stderr.splitlines() if "/pods?" in line]
        assert sum("continue=" in line for line in requests) == 2, result.stderr  # 3 pages
