"""metadata.generation moves only when the defaulted spec changes; no-op writes are no-ops."""

from __future__ import annotations

from typing import Any

from tests.devcluster.devcluster_http import Http, run_body, runs_path

JSON_PATCH = "application/json-patch+json"


def test_removing_a_defaulted_field_of_a_custom_resource_changes_nothing(
    api: Http, namespace: str, crd: object
) -> None:
    created = api.post(runs_path(namespace), run_body("g1")).body
    assert created["spec"]["database"]["secretRef"]["key"] == "url"  # the schema default
    remove = [{"op": "remove", "path": "/spec/database/secretRef/key"}]
    for _ in range(2):
        reply = api.patch(runs_path(namespace, "g1"), remove, content_type=JSON_PATCH)
        assert reply.status == 200, reply.body
        assert reply.body["metadata"]["generation"] == 1
        assert reply.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        assert reply.body["spec"]["database"]["secretRef"]["key"] == "url"
    changed = api.patch(
        runs_path(namespace, "g1"), {"spec": {"database": {"secretRef": {"key": "u"}}}}
    )
    assert changed.body["metadata"]["generation"] == 2
    back = api.patch(runs_path(namespace, "g1"), remove, content_type=JSON_PATCH)
    assert back.body["metadata"]["generation"] == 3  # "u" -> defaulted "url" is a change


def test_kubectl_sees_no_change(kubectl: Any, api: Http, namespace: str, crd: object) -> None:
    api.post(runs_path(namespace), run_body("g2"))
    result = kubectl(
        "patch",
        "migrationrun",
        "g2",
        "-n",
        namespace,
        "--type",
        "json",
        "-p",
        '[{"op":"remove","path":"/spec/database/secretRef/key"}]',
    )
    assert "migrationrun.kubemigrate.io/g2 patched (no change)" in result.stdout
    generation = kubectl(
        "get", "mr", "g2", "-n", namespace, "-o", "jsonpath={.metadata.generation}"
    ).stdout
    assert generation == "1"


def test_metadata_and_status_writes_keep_the_generation(
    api: Http, namespace: str, crd: object
) -> None:
    created = api.post(runs_path(namespace), run_body("g3")).body
    labelled = api.patch(runs_path(namespace, "g3"), {"metadata": {"labels": {"a": "b"}}}).body
    assert labelled["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert labelled["metadata"]["generation"] == 1
    status = api.patch(runs_path(namespace, "g3") + "/status", {"status": {"phase": "Running"}})
    assert status.body["metadata"]["generation"] == 1


def test_builtin_defaults_are_reapplied_on_update(api: Http, namespace: str) -> None:
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
            }
        },
    }
    created = api.post(path, job).body
    reply = api.patch(
        f"{path}/j",
        [
            {"op": "remove", "path": "/spec/backoffLimit"},
            {"op": "remove", "path": "/spec/template/spec/dnsPolicy"},
        ],
        content_type=JSON_PATCH,
    )
    assert reply.status == 200, reply.body  # dnsPolicy is defaulted back: the template is intact
    assert reply.body["spec"]["backoffLimit"] == 6
    assert reply.body["metadata"]["generation"] == 1
    assert reply.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    changed = api.patch(f"{path}/j", {"spec": {"backoffLimit": 2}}).body
    assert changed["metadata"]["generation"] == 2


def test_put_of_the_same_object_is_a_no_op(api: Http, namespace: str, crd: object) -> None:
    created = api.post(runs_path(namespace), run_body("g4")).body
    body = run_body("g4")  # without the defaults: the server fills them in again
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    reply = api.put(runs_path(namespace, "g4"), body)
    assert reply.status == 200, reply.body
    assert reply.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert reply.body["metadata"]["generation"] == 1


def test_deletion_with_finalizers_bumps_generation_once(
    api: Http, namespace: str, crd: object
) -> None:
    body = run_body("g-del")
    body["metadata"]["finalizers"] = ["kubemigrate.io/test"]
    assert api.post(runs_path(namespace), body).body["metadata"]["generation"] == 1

    first = api.delete(runs_path(namespace, "g-del"))
    again = api.delete(runs_path(namespace, "g-del"))

    assert first.status == 200, first.body
    assert first.body["metadata"]["deletionTimestamp"]
    assert first.body["metadata"]["generation"] == 2  # markAsDeleting bumps it
    assert again.body["metadata"]["generation"] == 2  # only when deletion starts
    done = api.patch(runs_path(namespace, "g-del"), {"metadata": {"finalizers": None}})
    assert done.status == 200, done.body
