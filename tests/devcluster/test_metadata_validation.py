"""ObjectMeta validation of labels and annotations, on every verb and every kind."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.devcluster.devcluster_http import Http, run_body, runs_path

KEY_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _cm_path(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{base}/{name}" if name else base


def test_kubectl_patch_with_a_bad_label_is_422(kubectl: Any, api: Http, namespace: str) -> None:
    assert api.post(_cm_path(namespace), {"metadata": {"name": "ssa"}}).status == 201
    patch = '{"metadata":{"labels":{"bad key!":"-x-"}}}'
    result = kubectl(
        "patch", "cm", "ssa", "-n", namespace, "--type", "merge", "-p", patch, check=False
    )
    assert result.returncode == 1
    assert (
        'The ConfigMap "ssa" is invalid: \n'
        f'* metadata.labels: Invalid value: "bad key!": {KEY_MSG}\n'
        f'* metadata.labels: Invalid value: "-x-": {VALUE_MSG}'
    ) in result.stderr
    assert "labels" not in api.get(_cm_path(namespace, "ssa")).body["metadata"]


def test_causes_name_the_field_and_reason(api: Http, namespace: str) -> None:
    reply = api.post(_cm_path(namespace), {"metadata": {"name": "c", "labels": {"ok": "x" * 64}}})
    assert reply.status == 422
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"] == (
        f'ConfigMap "c" is invalid: metadata.labels: Invalid value: "{"x" * 64}": '
        "must be no more than 63 characters"
    )
    assert reply.body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "{"x" * 64}": must be no more than 63 characters',
            "field": "metadata.labels",
        }
    ]


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("example.com/team", None),
        ("a.b-c_d", None),
        ("A/b", "prefix part a lowercase RFC 1123 subdomain must consist of"),
        ("/b", "prefix part must be non-empty"),
        ("a/", "name part must be non-empty"),
        ("a/b/c", "a qualified name must consist of"),
        ("n" * 64, "name part must be no more than 63 characters"),
        (f"{'p' * 254}/n", "prefix part must be no more than 253 characters"),
        ("-a", "name part must consist of"),
        ("a\n", "name part must consist of"),
    ],
)
def test_label_keys(api: Http, namespace: str, key: str, problem: str | None) -> None:
    name = f"k-{uuid.uuid4().hex[:6]}"
    reply = api.post(_cm_path(namespace), {"metadata": {"name": name, "labels": {key: "v"}}})
    if problem is None:
        assert reply.status == 201, reply.body
    else:
        assert reply.status == 422, reply.body
        rendered = json.dumps(key)
        assert f"metadata.labels: Invalid value: {rendered}: {problem}" in reply.body["message"]


@pytest.mark.parametrize("value", ["", "a", "A.b_c-1", "x" * 63])
def test_valid_label_values(api: Http, namespace: str, value: str) -> None:
    name = f"v-{uuid.uuid4().hex[:6]}"
    reply = api.post(_cm_path(namespace), {"metadata": {"name": name, "labels": {"k": value}}})
    assert reply.status == 201, reply.body


def test_every_verb_and_kind_is_checked(api: Http, namespace: str, crd: object) -> None:
    bad = {"bad key!": "v"}
    # create, PUT, merge/JSON/strategic patch and apply of a built-in kind
    assert api.post(_cm_path(namespace), {"metadata": {"name": "x", "labels": bad}}).status == 422
    created = api.post(_cm_path(namespace), {"metadata": {"name": "x"}}).body
    replaced = api.put(
        _cm_path(namespace, "x"), {**created, "metadata": {"name": "x", "labels": bad}}
    )
    assert replaced.status == 422
    for content_type, body in (
        ("application/merge-patch+json", {"metadata": {"labels": bad}}),
        ("application/strategic-merge-patch+json", {"metadata": {"labels": bad}}),
        ("application/json-patch+json", [{"op": "add", "path": "/metadata/labels", "value": bad}]),
    ):
        reply = api.patch(_cm_path(namespace, "x"), body, content_type=content_type)
        assert reply.status == 422, (content_type, reply.body)
    applied = api.patch(
        _cm_path(namespace, "x"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": bad}},
        content_type="application/apply-patch+yaml",
        query={"fieldManager": "test"},
    )
    assert applied.status == 422
    # a custom resource, a namespace, and a Job's pod template
    body = run_body("r")
    body["metadata"]["labels"] = bad
    assert api.post(runs_path(namespace), body).status == 422
    assert (
        api.post("/api/v1/namespaces", {"metadata": {"name": "n-x", "labels": bad}}).status == 422
    )
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "-bad-"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]},
            }
        },
    }
    reply = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    assert reply.status == 422
    # ValidatePodTemplateSpec's path, as real clusters answer (kubernetes/kubernetes#50850)
    assert 'spec.template.labels: Invalid value: "-bad-"' in reply.body["message"]


def test_annotations_keys_and_total_size(api: Http, namespace: str) -> None:
    ok = {"Example.com/MixedCase": "any value at all: ! ~", "x": ""}
    assert (
        api.post(_cm_path(namespace), {"metadata": {"name": "a1", "annotations": ok}}).status == 201
    )
    reply = api.post(
        _cm_path(namespace), {"metadata": {"name": "a2", "annotations": {"bad key": "v"}}}
    )
    assert reply.status == 422
    assert (
        'metadata.annotations: Invalid value: "bad key": name part must consist of'
        in (reply.body["message"])
    )
    big = {"a": "x" * (256 * 1024 - 1)}  # key + value = exactly 256 KiB: allowed
    assert (
        api.post(_cm_path(namespace), {"metadata": {"name": "a3", "annotations": big}}).status
        == 201
    )
    big = {"ab": "x" * (256 * 1024 - 1)}
    reply = api.post(_cm_path(namespace), {"metadata": {"name": "a4", "annotations": big}})
    assert reply.status == 422
    assert reply.body["message"] == (
        'ConfigMap "a4" is invalid: metadata.annotations: Too long: '
        "may not be more than 262144 bytes"
    )
    assert reply.body["details"]["causes"][0]["reason"] == "FieldValueTooLong"


def test_owner_reference_without_uid_is_invalid(api: Http, namespace: str) -> None:
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner"}
    body = {"metadata": {"name": "owned", "ownerReferences": [owner]}}

    reply = api.post(_cm_path(namespace), body)

    assert reply.status == 422, reply.body
    assert reply.body["message"] == (
        'ConfigMap "owned" is invalid: metadata.ownerReferences.uid: Invalid value: "": '
        "uid must not be empty"
    )


def test_event_namespace_must_match_its_involved_object(api: Http, namespace: str) -> None:
    involved = {"kind": "ConfigMap", "name": "x", "namespace": "other"}
    body: dict[str, Any] = {"metadata": {"name": "ev"}, "involvedObject": involved}

    reply = api.post(f"/api/v1/namespaces/{namespace}/events", body)

    assert reply.status == 422, reply.body
    assert reply.body["message"] == (
        'Event "ev" is invalid: involvedObject.namespace: Invalid value: "other": '
        "does not match event.namespace"
    )
    involved["namespace"] = namespace
    assert api.post(f"/api/v1/namespaces/{namespace}/events", body).status == 201
