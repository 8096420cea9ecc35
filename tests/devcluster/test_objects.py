"""Object metadata and error Statuses, per the API conventions."""

from __future__ import annotations

import uuid
from typing import Any

from tests.devcluster.devcluster_http import Http, run_body, runs_path


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_create_sets_server_owned_metadata(api: Http, namespace: str) -> None:
    reply = api.post(f"/api/v1/namespaces/{namespace}/configmaps", _cm("a", x="1"))
    assert reply.status == 201
    meta = reply.body["metadata"]
    assert str(uuid.UUID(meta["uid"])) == meta["uid"]
    assert meta["namespace"] == namespace  # defaulted from the URL
    assert meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert "generation" not in meta  # ConfigMaps have no generation


def test_client_cannot_set_uid_or_timestamps(api: Http, namespace: str) -> None:
    body = _cm("b")
    body["metadata"].update(
        {"uid": "not-mine", "creationTimestamp": "2000-01-01T00:00:00Z", "resourceVersion": "1"}
    )
    reply = api.post(f"/api/v1/namespaces/{namespace}/configmaps", body)
    assert reply.status == 201
    assert reply.body["metadata"]["uid"] != "not-mine"
    assert reply.body["metadata"]["creationTimestamp"] != "2000-01-01T00:00:00Z"


def test_resource_version_is_global_and_increasing(api: Http, namespace: str) -> None:
    first = api.post(f"/api/v1/namespaces/{namespace}/configmaps", _cm("c1")).body
    second = api.post(f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "s1"}}).body
    patched = api.patch(f"/api/v1/namespaces/{namespace}/configmaps/c1", {"data": {"k": "v"}}).body
    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, second, patched)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_noop_update_keeps_resource_version(api: Http, namespace: str) -> None:
    created = api.post(f"/api/v1/namespaces/{namespace}/configmaps", _cm("noop", a="1")).body
    patched = api.patch(
        f"/api/v1/namespaces/{namespace}/configmaps/noop", {"data": {"a": "1"}}
    ).body
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_generate_name(api: Http, namespace: str) -> None:
    body = {
        "metadata": {"generateName": "kopf-event-"},
        "message": "hi",
        "involvedObject": {"namespace": namespace},  # a real server wants it to match
    }
    names = {
        api.post(f"/api/v1/namespaces/{namespace}/events", body).body["metadata"]["name"]
        for _ in range(3)
    }
    assert len(names) == 3
    assert all(n.startswith("kopf-event-") and len(n) == len("kopf-event-") + 5 for n in names)


def test_duplicate_create_is_409_already_exists(api: Http, namespace: str) -> None:
    api.post(f"/api/v1/namespaces/{namespace}/configmaps", _cm("dup"))
    reply = api.post(f"/api/v1/namespaces/{namespace}/configmaps", _cm("dup"))
    assert reply.status == 409
    assert reply.body["kind"] == "Status"
    assert reply.body["reason"] == "AlreadyExists"
    assert reply.body["message"] == 'configmaps "dup" already exists'
    assert reply.body["details"] == {"name": "dup", "kind": "configmaps"}


def test_stale_resource_version_is_409_conflict(api: Http, namespace: str) -> None:
    created = api.post(f"/api/v1/namespaces/{namespace}/configmaps", _cm("cas")).body
    api.patch(f"/api/v1/namespaces/{namespace}/configmaps/cas", {"data": {"a": "1"}})
    stale = {**created, "data": {"b": "2"}}
    reply = api.put(f"/api/v1/namespaces/{namespace}/configmaps/cas", stale)
    assert reply.status == 409
    assert reply.body["reason"] == "Conflict"
    assert "the object has been modified" in reply.body["message"]
    stale_patch = {
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
        "data": {"c": "3"},
    }
    assert api.patch(f"/api/v1/namespaces/{namespace}/configmaps/cas", stale_patch).status == 409


def test_not_found_is_a_status(api: Http, namespace: str, crd: object) -> None:
    reply = api.get(runs_path(namespace, "nope"))
    assert reply.status == 404
    assert reply.body["kind"] == "Status"
    assert reply.body["status"] == "Failure"
    assert reply.body["reason"] == "NotFound"
    assert reply.body["message"] == 'migrationruns.kubemigrate.io "nope" not found'
    assert reply.body["details"] == {
        "name": "nope",
        "group": "kubemigrate.io",
        "kind": "migrationruns",
    }
    unknown = api.get("/apis/nothing.example.com/v1/things")
    assert unknown.status == 404
    assert unknown.body["kind"] == "Status"


def test_create_in_missing_namespace_is_404(api: Http) -> None:
    reply = api.post("/api/v1/namespaces/no-such-ns/configmaps", _cm("x"))
    assert reply.status == 404
    assert reply.body["message"] == 'namespaces "no-such-ns" not found'


def test_invalid_name_is_422(api: Http, namespace: str) -> None:
    reply = api.post(f"/api/v1/namespaces/{namespace}/configmaps", _cm("Not_Valid"))
    assert reply.status == 422
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"].startswith(
        'ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid"'
    )


def test_generation_bumps_only_on_spec_changes(api: Http, namespace: str, crd: object) -> None:
    created = api.post(runs_path(namespace), run_body("gen")).body
    assert created["metadata"]["generation"] == 1
    labelled = api.patch(runs_path(namespace, "gen"), {"metadata": {"labels": {"a": "b"}}}).body
    assert labelled["metadata"]["generation"] == 1
    status = api.patch(
        runs_path(namespace, "gen") + "/status", {"status": {"phase": "Running"}}
    ).body
    assert status["metadata"]["generation"] == 1
    changed = api.patch(runs_path(namespace, "gen"), {"spec": {"steps": 3}}).body
    assert changed["metadata"]["generation"] == 2


def test_namespaces_can_be_created_listed_and_labelled(api: Http) -> None:
    name = f"ns-{uuid.uuid4().hex[:6]}"
    assert api.post("/api/v1/namespaces", {"metadata": {"name": name}}).status == 201
    labelled = api.patch(
        f"/api/v1/namespaces/{name}", {"metadata": {"labels": {"team": "db"}}}
    ).body
    assert labelled["metadata"]["labels"] == {"kubernetes.io/metadata.name": name, "team": "db"}
    assert labelled["status"]["phase"] == "Active"
    listed = api.get("/api/v1/namespaces", query={"labelSelector": "team=db"}).body
    assert [n["metadata"]["name"] for n in listed["items"]] == [name]
    sa = api.get(f"/api/v1/namespaces/{name}/serviceaccounts/default")
    assert sa.status == 200  # created by the "controller" like on a real cluster


def test_job_gets_real_defaults_and_validation(api: Http, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
            }
        },
    }
    created = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", job).body
    assert created["spec"]["backoffLimit"] == 6
    assert created["metadata"]["generation"] == 1
    uid = created["metadata"]["uid"]
    assert created["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": uid}
    }
    assert created["spec"]["template"]["metadata"]["labels"]["job-name"] == "j"
    bad = {**job, "metadata": {"name": "bad"}}
    bad["spec"] = {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}
    reply = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", bad)
    assert reply.status == 422
    assert "spec.template.spec.restartPolicy: Required value" in reply.body["message"]
    changed = api.patch(
        f"/apis/batch/v1/namespaces/{namespace}/jobs/j",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "y:2"}]}}}},
    )
    assert changed.status == 422
    assert "field is immutable" in changed.body["message"]


EMPTY_META: dict[str, Any] = {
    "labels": {},
    "annotations": {},
    "finalizers": [],
    "ownerReferences": [],
}


def test_empty_metadata_maps_and_lists_are_not_stored(
    api: Http, namespace: str, crd: object
) -> None:
    """ObjectMeta's fields are omitempty: an empty map or list the client sends is
    neither stored nor served, for built-in kinds and custom resources alike."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    created = api.post(path, {"metadata": {"name": "e", **EMPTY_META}}).body
    assert not set(EMPTY_META) & set(created["metadata"])
    body = run_body("e")
    body["metadata"].update(EMPTY_META)
    run = api.post(runs_path(namespace), body).body
    assert not set(EMPTY_META) & set(run["metadata"])
    assert not set(EMPTY_META) & set(api.get(runs_path(namespace, "e")).body["metadata"])
    # a patch that empties a list leaves no empty list behind
    api.patch(f"{path}/e", {"metadata": {"finalizers": ["example.com/keep"]}})
    emptied = api.patch(f"{path}/e", {"metadata": {"finalizers": [], "labels": {}}}).body
    assert "finalizers" not in emptied["metadata"]
    assert "labels" not in emptied["metadata"]
