"""Request and object size limits, and ``immutable: true`` ConfigMaps and Secrets.

The real limits: a request body up to 3 MiB (``MaxRequestBodyBytes``, else 413), an
object up to etcd's 1.5 MiB ``--max-request-bytes`` (else "etcdserver: request is too
large", a 500), and 1 MiB of ConfigMap or Secret data (``core.MaxSecretSize``, 422).
"""

from __future__ import annotations

import base64

from tests.devcluster.devcluster_http import Http, run_body, runs_path
from tests.devcluster.test_builtin_kinds import secrets

MIB = 1024 * 1024
IMMUTABLE = "field is immutable when `immutable` is set"


def _cms(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{base}/{name}" if name else base


def test_a_body_over_one_mib_is_served(api: Http, namespace: str) -> None:
    body = {"metadata": {"name": "cm"}, "data": {"a": "x" * (MIB // 2), "b": "y" * (MIB // 2)}}

    reply = api.post(_cms(namespace), body)

    assert reply.status == 201, reply.body
    assert len(api.get(_cms(namespace, "cm")).body["data"]["b"]) == MIB // 2


def test_configmap_data_over_one_mib_is_invalid(api: Http, namespace: str) -> None:
    body = {"metadata": {"name": "big"}, "data": {"a": "x" * MIB, "b": "y"}}

    reply = api.post(_cms(namespace), body)

    assert reply.status == 422, reply.body
    assert reply.body["message"] == (
        'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    )


def test_secret_data_over_one_mib_is_invalid(api: Http, namespace: str) -> None:
    blob = base64.b64encode(b"x" * (MIB + 1)).decode()

    reply = api.post(secrets(namespace), {"metadata": {"name": "big"}, "data": {"a": blob}})

    assert reply.status == 422, reply.body
    assert reply.body["message"] == (
        'Secret "big" is invalid: data: Too long: may not be more than 1048576 bytes'
    )


def test_a_body_over_three_mib_is_413(api: Http, namespace: str) -> None:
    body = {"metadata": {"name": "huge"}, "data": {"a": "x" * (3 * MIB)}}

    reply = api.post(_cms(namespace), body)

    assert reply.status == 413, reply.body
    assert reply.body["reason"] == "RequestEntityTooLarge"
    assert reply.body["message"] == "Request entity too large: limit is 3145728"


def test_an_object_over_etcds_limit_is_refused_by_storage(
    api: Http, namespace: str, crd: object
) -> None:
    body = run_body("fat", job={"blob": "x" * (2 * MIB)})

    reply = api.post(runs_path(namespace), body)

    assert reply.status == 500, reply.body
    assert reply.body["message"] == "etcdserver: request is too large"
    assert "reason" not in reply.body  # StatusReasonUnknown
    assert api.get(runs_path(namespace, "fat")).status == 404


def test_immutable_configmap_keeps_its_data(api: Http, namespace: str) -> None:
    body = {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    assert api.post(_cms(namespace), body).status == 201

    data = api.patch(_cms(namespace, "frozen"), {"data": {"a": "2"}, "binaryData": {"b": "AA=="}})
    thaw = api.patch(_cms(namespace, "frozen"), {"immutable": False})

    assert data.status == 422, data.body
    assert data.body["message"] == (
        f'ConfigMap "frozen" is invalid: [data: Forbidden: {IMMUTABLE}, '
        f"binaryData: Forbidden: {IMMUTABLE}]"
    )
    assert thaw.status == 422, thaw.body
    assert (
        thaw.body["message"] == f'ConfigMap "frozen" is invalid: immutable: Forbidden: {IMMUTABLE}'
    )
    labelled = api.patch(_cms(namespace, "frozen"), {"metadata": {"labels": {"a": "b"}}})
    assert labelled.status == 200, labelled.body


def test_immutable_secret_keeps_its_data(api: Http, namespace: str) -> None:
    body = {"metadata": {"name": "frozen"}, "stringData": {"a": "1"}, "immutable": True}
    assert api.post(secrets(namespace), body).status == 201

    reply = api.patch(secrets(namespace, "frozen"), {"stringData": {"a": "2"}})

    assert reply.status == 422, reply.body
    assert reply.body["message"] == f'Secret "frozen" is invalid: data: Forbidden: {IMMUTABLE}'
