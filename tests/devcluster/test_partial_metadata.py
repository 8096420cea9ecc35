"""Metadata-only reads (``as=PartialObjectMetadata``), as client-go's metadata client makes them."""

from __future__ import annotations

import base64
import json

from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_builtin_kinds import secrets

SINGLE = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PROTOBUF_FIRST = (
    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
    f"{SINGLE},application/json"
)


def _secret(api: Http, namespace: str) -> dict[str, object]:
    body = {
        "metadata": {"name": "s", "labels": {"a": "b"}},
        "data": {"password": base64.b64encode(b"hunter2").decode()},
    }
    reply = api.post(secrets(namespace), body)
    assert reply.status == 201, reply.body
    result: dict[str, object] = reply.body
    return result


def test_get_returns_only_metadata(api: Http, namespace: str) -> None:
    created = _secret(api, namespace)

    reply = api.get(secrets(namespace, "s"), accept=PROTOBUF_FIRST)

    assert reply.status == 200, reply.body
    assert reply.body == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": created["metadata"],
    }


def test_list_returns_partial_object_metadata_items(api: Http, namespace: str) -> None:
    _secret(api, namespace)

    reply = api.get(secrets(namespace), accept=f"{LIST},application/json")

    assert reply.status == 200, reply.body
    assert reply.body["kind"] == "PartialObjectMetadataList"
    assert reply.body["apiVersion"] == "meta.k8s.io/v1"
    assert reply.body["metadata"]["resourceVersion"]
    [item] = reply.body["items"]
    assert set(item) == {"kind", "apiVersion", "metadata"}
    assert item["kind"] == "PartialObjectMetadata"
    assert item["metadata"]["labels"] == {"a": "b"}


def test_the_wrong_shape_is_not_acceptable(api: Http, namespace: str) -> None:
    _secret(api, namespace)

    on_object = api.get(secrets(namespace, "s"), accept=LIST)
    on_list = api.get(secrets(namespace), accept=SINGLE)

    assert on_object.status == 406, on_object.body
    assert on_object.body["reason"] == "NotAcceptable"
    assert on_object.body["message"] == (
        "you requested PartialObjectMetadataList, but the requested object is not a list "
        "(*core.Secret)"
    )
    assert on_list.status == 406, on_list.body
    assert "but the requested object is a list" in on_list.body["message"]


def test_watch_sends_partial_object_metadata(api: Http, namespace: str) -> None:
    _secret(api, namespace)
    conn = api.connect()
    try:
        conn.request(
            "GET", f"{secrets(namespace)}?watch=true&timeoutSeconds=1", headers={"Accept": SINGLE}
        )
        response = conn.getresponse()
        assert response.status == 200
        event = json.loads(response.readline())
    finally:
        conn.close()
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "PartialObjectMetadata"
    assert "data" not in event["object"]
