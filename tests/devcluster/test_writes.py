"""PUT, the patch types chosen by Content-Type, and server-side apply."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.devcluster.devcluster_http import Http, run_body, runs_path


def _pod(name: str) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}]}]
        },
    }


def test_merge_patch_deletes_with_null(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.post(path, {"metadata": {"name": "m"}, "data": {"a": "1", "b": "2"}})
    reply = api.patch(f"{path}/m", {"data": {"a": None, "c": "3"}})
    assert reply.body["data"] == {"b": "2", "c": "3"}


def test_json_patch(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.post(path, {"metadata": {"name": "j", "finalizers": ["a", "b"]}, "data": {"a": "1"}})
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
        {"op": "add", "path": "/metadata/labels", "value": {}},
        {"op": "add", "path": "/metadata/labels/example.com~1team", "value": "z"},
    ]
    reply = api.patch(f"{path}/j", ops, content_type="application/json-patch+json")
    assert reply.status == 200, reply.body
    assert reply.body["data"] == {"a": "2"}
    assert reply.body["metadata"]["finalizers"] == ["b"]
    assert reply.body["metadata"]["labels"] == {"example.com/team": "z"}  # "~1" is "/"
    failed = api.patch(
        f"{path}/j",
        [{"op": "test", "path": "/data/a", "value": "9"}],
        content_type="application/json-patch+json",
    )
    assert failed.status == 422


def test_strategic_merge_patch_merges_lists_by_key(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    api.post(path, _pod("p"))
    patch = {
        "metadata": {"finalizers": ["f1"]},
        "spec": {"containers": [{"name": "a", "image": "x:2"}]},
    }
    reply = api.patch(f"{path}/p", patch, content_type="application/strategic-merge-patch+json")
    assert reply.status == 200, reply.body
    container = reply.body["spec"]["containers"][0]
    assert container["image"] == "x:2"
    assert container["env"] == [{"name": "A", "value": "1"}]  # merged by name, not replaced


def test_strategic_merge_patch_is_refused_for_custom_resources(
    api: Http, namespace: str, crd: object
) -> None:
    api.post(runs_path(namespace), run_body("smp"))
    reply = api.patch(
        runs_path(namespace, "smp"),
        {"spec": {"steps": 2}},
        content_type="application/strategic-merge-patch+json",
    )
    assert reply.status == 415
    assert reply.body["reason"] == "UnsupportedMediaType"


def test_unknown_patch_type_is_415(api: Http, namespace: str) -> None:
    api.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "u"}})
    reply = api.patch(
        f"/api/v1/namespaces/{namespace}/configmaps/u", {}, content_type="application/json"
    )
    assert reply.status == 415


def _pb(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_of_an_unmodelled_kind_is_415(api: Http, namespace: str) -> None:
    envelope = _pb(1, _pb(1, b"v1") + _pb(2, b"Pod")) + _pb(2, _pb(1, _pb(1, b"p")))
    reply = api.post(
        f"/api/v1/namespaces/{namespace}/pods",
        b"k8s\x00" + envelope,
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert reply.status == 415
    assert reply.body["reason"] == "UnsupportedMediaType"


def test_malformed_protobuf_is_400(api: Http, namespace: str) -> None:
    reply = api.post(
        f"/api/v1/namespaces/{namespace}/configmaps",
        b"k8s\x00\xff\xfe",
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert reply.status == 400
    assert reply.body["reason"] == "BadRequest"


def test_protobuf_configmap_is_decoded(api: Http, namespace: str) -> None:
    entry = _pb(1, b"a") + _pb(2, b"b")
    raw = _pb(1, _pb(1, b"pb") + _pb(2, b"") + _pb(3, b"")) + _pb(2, entry)
    envelope = _pb(1, _pb(1, b"v1") + _pb(2, b"ConfigMap")) + _pb(2, raw)
    reply = api.post(
        f"/api/v1/namespaces/{namespace}/configmaps",
        b"k8s\x00" + envelope,
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert reply.status == 201, reply.body
    assert reply.body["data"] == {"a": "b"}
    assert "generateName" not in reply.body["metadata"]  # Go zero values are omitted


def test_put_replaces_and_keeps_server_fields(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    created = api.post(
        path, {"metadata": {"name": "r", "labels": {"a": "b"}}, "data": {"x": "1"}}
    ).body
    replacement = {
        "metadata": {"name": "r", "resourceVersion": created["metadata"]["resourceVersion"]},
        "data": {"y": "2"},
    }
    reply = api.put(f"{path}/r", replacement)
    assert reply.status == 200
    assert reply.body["data"] == {"y": "2"}
    assert "labels" not in reply.body["metadata"]
    assert reply.body["metadata"]["uid"] == created["metadata"]["uid"]
    assert reply.body["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert api.put(f"{path}/missing", {"metadata": {"name": "missing"}}).status == 404
    mismatch = api.put(f"{path}/r", {"metadata": {"name": "other"}})
    assert mismatch.status == 400


def test_a_put_of_a_custom_resource_must_name_the_version_it_replaces(
    api: Http, namespace: str, crd: object
) -> None:
    """customResourceStrategy.AllowUnconditionalUpdate is false: the generic store refuses
    before anything else is checked, naming the resource (not the kind) and the value
    as the uint64 zero it parsed. (kubectl replace fills in the version it reads first;
    a client's PUT, the kubernetes client's replace_namespaced_custom_object, does not.)"""
    created = api.post(runs_path(namespace), run_body("u", steps=2)).body
    blind = run_body("u", steps=3)
    reply = api.put(runs_path(namespace, "u"), blind)
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"] == (
        'migrationruns.kubemigrate.io "u" is invalid: metadata.resourceVersion: '
        "Invalid value: 0x0: must be specified for an update"
    )
    assert reply.body["details"] == {
        "name": "u",
        "group": "kubemigrate.io",
        "kind": "migrationruns",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 0x0: must be specified for an update",
                "field": "metadata.resourceVersion",
            }
        ],
    }
    status = api.put(runs_path(namespace, "u") + "/status", {**blind, "status": {}})
    assert status.status == 422, status.body
    assert api.get(runs_path(namespace, "u")).body["spec"]["steps"] == 2
    blind["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    assert api.put(runs_path(namespace, "u"), blind).status == 200


def test_a_crd_put_must_name_its_version_but_a_built_in_s_need_not(
    api: Http, namespace: str, crd: dict[str, Any]
) -> None:
    name = crd["metadata"]["name"]
    reply = api.put(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}", crd)
    assert reply.status == 422, reply.body
    assert reply.body["message"].startswith(
        f'customresourcedefinitions.apiextensions.k8s.io "{name}" is invalid: '
        "metadata.resourceVersion: Invalid value: 0x0"
    )
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.post(path, {"metadata": {"name": "blind"}, "data": {"x": "1"}})
    replaced = api.put(f"{path}/blind", {"metadata": {"name": "blind"}, "data": {"x": "2"}})
    assert replaced.status == 200, replaced.body
    assert replaced.body["data"] == {"x": "2"}


def test_server_side_apply_creates_merges_and_forgets_omitted_fields(
    api: Http, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/ssa"
    intent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa"},
        "data": {"a": "1", "b": "2"},
    }
    query = {"fieldManager": "tester"}
    created = api.patch(
        path, yaml.safe_dump(intent), content_type="application/apply-patch+yaml", query=query
    )
    assert created.status == 201, created.body
    api.patch(path, {"data": {"other": "x"}})  # another writer's field
    intent["data"] = {"a": "1"}
    applied = api.patch(
        path, json.dumps(intent), content_type="application/apply-patch+yaml", query=query
    )
    assert applied.status == 200
    assert applied.body["data"] == {"a": "1", "other": "x"}
    no_manager = api.patch(
        path, yaml.safe_dump(intent), content_type="application/apply-patch+yaml"
    )
    assert no_manager.status == 422


def test_dry_run_does_not_persist(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    reply = api.post(path, {"metadata": {"name": "dry"}}, query={"dryRun": "All"})
    assert reply.status == 201
    assert api.get(f"{path}/dry").status == 404


def test_unknown_fields_warn_by_default_and_fail_when_strict(
    api: Http, namespace: str, crd: object
) -> None:
    body = run_body("uf")
    body["spec"]["bogus"] = 1
    reply = api.post(runs_path(namespace), body)
    assert reply.status == 201
    assert "bogus" not in reply.body["spec"]  # pruned
    assert any('unknown field \\"spec.bogus\\"' in w for w in reply.warnings)
    body["metadata"]["name"] = "uf2"
    strict = api.post(runs_path(namespace), body, query={"fieldValidation": "Strict"})
    assert strict.status == 400
    assert 'strict decoding error: unknown field "spec.bogus"' in strict.body["message"]
