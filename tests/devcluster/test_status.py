"""The status subresource is kept apart from the main resource."""

from __future__ import annotations

from tests.devcluster.devcluster_http import Http, run_body, runs_path


def test_main_resource_ignores_status(api: Http, namespace: str, crd: object) -> None:
    body = run_body("s1")
    body["status"] = {"phase": "Succeeded"}
    created = api.post(runs_path(namespace), body).body
    assert "status" not in created  # dropped on create
    patched = api.patch(runs_path(namespace, "s1"), {"status": {"phase": "Failed"}}).body
    assert "status" not in patched


def test_status_subresource_changes_only_status(api: Http, namespace: str, crd: object) -> None:
    api.post(runs_path(namespace), run_body("s2"))
    reply = api.patch(
        runs_path(namespace, "s2") + "/status",
        {"spec": {"steps": 9}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Running"}},
    )
    assert reply.status == 200
    assert reply.body["status"] == {"phase": "Running"}
    assert "steps" not in reply.body["spec"]
    assert "labels" not in reply.body["metadata"]


def test_status_put_checks_resource_version(api: Http, namespace: str, crd: object) -> None:
    created = api.post(runs_path(namespace), run_body("s3")).body
    api.patch(runs_path(namespace, "s3"), {"metadata": {"labels": {"a": "b"}}})
    stale = {**created, "status": {"phase": "Running"}}
    assert api.put(runs_path(namespace, "s3") + "/status", stale).status == 409
    fresh = api.get(runs_path(namespace, "s3")).body
    fresh["status"] = {"phase": "Running"}
    reply = api.put(runs_path(namespace, "s3") + "/status", fresh)
    assert reply.status == 200
    assert reply.body["status"]["phase"] == "Running"


def test_builtin_job_status_is_a_subresource(api: Http, namespace: str) -> None:
    job = {
        "metadata": {"name": "js"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
            }
        },
    }
    api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs/js"
    assert api.patch(path, {"status": {"succeeded": 1}}).body["status"] == {}
    assert api.patch(path + "/status", {"status": {"succeeded": 1}}).body["status"] == {
        "succeeded": 1
    }


def test_status_of_missing_subresource_is_404(api: Http, namespace: str) -> None:
    api.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "c"}})
    assert api.patch(f"/api/v1/namespaces/{namespace}/configmaps/c/status", {}).status == 404
