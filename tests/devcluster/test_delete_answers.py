"""What a DELETE answers, and which DeleteOptions it takes (see apiserver/deleting.py).

Recorded from k8s.io/apiserver's delete handler and generic store: 200 unless the
object stays and ``orphanDependents=false`` was sent (202); the final object only
from stores with ReturnDeletedObject, a Status from every other one; the GC
finalizer decided by the options, then the object's own, then the resource's default.
"""

from __future__ import annotations

import subprocess
from typing import Any

from tests.devcluster.devcluster_http import Http, run_body, runs_path
from tests.devcluster.test_deletion import eventually


def configmaps(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{base}/{name}" if name else base


def jobs(namespace: str, name: str = "") -> str:
    base = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    return f"{base}/{name}" if name else base


def held(api: Http, namespace: str, name: str) -> dict[str, Any]:
    """A ConfigMap a finalizer holds, so a DELETE only marks it."""
    reply = api.post(configmaps(namespace), {"metadata": {"name": name, "finalizers": ["hold"]}})
    assert reply.status == 201, reply.body
    result: dict[str, Any] = reply.body
    return result


def release(api: Http, namespace: str, name: str) -> None:
    api.patch(configmaps(namespace, name), {"metadata": {"finalizers": None}})


def job_body(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "finalizers": ["hold"]},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
            }
        },
    }


def test_a_custom_resource_gone_at_once_is_answered_with_a_status(
    api: Http, namespace: str, crd: object
) -> None:
    created = api.post(runs_path(namespace), run_body("cr")).body

    reply = api.delete(runs_path(namespace, "cr"), {"propagationPolicy": "Background"})

    assert reply.status == 200
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": "cr",
            "group": "kubemigrate.io",
            "kind": "migrationruns",
            "uid": created["metadata"]["uid"],
        },
    }


def test_stores_that_return_the_deleted_object_answer_with_it(api: Http, namespace: str) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "serviceaccounts": {"metadata": {"name": "robot"}},
        "services": {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}},
    }
    for plural, body in bodies.items():
        path = f"/api/v1/namespaces/{namespace}/{plural}"
        created = api.post(path, body)
        assert created.status == 201, created.body
        name = body["metadata"]["name"]

        reply = api.delete(f"{path}/{name}")

        assert reply.status == 200, plural
        assert reply.body["kind"] != "Status", plural
        assert reply.body["metadata"]["uid"] == created.body["metadata"]["uid"]
        assert "deletionTimestamp" not in reply.body["metadata"]  # the state it went in


def test_a_marked_object_is_answered_200_whatever_the_policy(api: Http, namespace: str) -> None:
    held(api, namespace, "fg")

    reply = api.delete(configmaps(namespace, "fg"), {"propagationPolicy": "Foreground"})

    assert reply.status == 200  # not 202: only orphanDependents=false asks for that
    assert reply.body["kind"] == "ConfigMap"
    assert reply.body["metadata"]["finalizers"] == ["hold", "foregroundDeletion"]
    assert reply.body["metadata"]["deletionGracePeriodSeconds"] == 0
    release(api, namespace, "fg")


def test_orphan_dependents_false_on_an_object_that_stays_is_202(api: Http, namespace: str) -> None:
    held(api, namespace, "accepted")

    reply = api.delete(configmaps(namespace, "accepted"), {"orphanDependents": False})

    assert reply.status == 202
    assert reply.body["metadata"]["deletionTimestamp"]
    # orphanDependents=false means "do not orphan", not "foreground": no GC finalizer
    assert reply.body["metadata"]["finalizers"] == ["hold"]
    release(api, namespace, "accepted")


def test_contradicting_or_unknown_policies_are_422(api: Http, namespace: str) -> None:
    api.post(configmaps(namespace), {"metadata": {"name": "kept"}})

    both = api.delete(
        configmaps(namespace, "kept"), {"orphanDependents": True, "propagationPolicy": "Orphan"}
    )
    unknown = api.delete(configmaps(namespace, "kept"), query={"propagationPolicy": "Later"})

    assert both.status == 422
    assert both.body["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": '
        "orphanDependents and deletionPropagation cannot be both set"
    )
    assert unknown.status == 422
    assert unknown.body["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
        '"Later": supported values: "Foreground", "Background", "Orphan", "nil"'
    )
    assert api.get(configmaps(namespace, "kept")).status == 200


def test_a_body_s_options_win_and_the_query_is_ignored(api: Http, namespace: str) -> None:
    held(api, namespace, "bodied")

    reply = api.delete(
        configmaps(namespace, "bodied"),
        {"kind": "DeleteOptions", "apiVersion": "v1"},
        query={"propagationPolicy": "Foreground"},
    )

    assert reply.body["metadata"]["finalizers"] == ["hold"]
    release(api, namespace, "bodied")


def test_a_job_orphans_by_default_and_a_later_delete_can_change_its_mind(
    api: Http, namespace: str
) -> None:
    assert api.post(jobs(namespace), job_body("j")).status == 201

    first = api.delete(jobs(namespace, "j"))
    second = api.delete(jobs(namespace, "j"), {"propagationPolicy": "Foreground"})
    third = api.delete(jobs(namespace, "j"), {"propagationPolicy": "Background"})

    assert first.status == 200
    assert first.body["metadata"]["finalizers"] == ["hold", "orphan"]
    assert any("child pods are preserved by default" in w for w in first.warnings)
    assert second.body["metadata"]["finalizers"] == ["hold", "foregroundDeletion"]
    assert not second.warnings
    assert third.body["metadata"]["finalizers"] == ["hold"]
    api.patch(jobs(namespace, "j"), {"metadata": {"finalizers": None}})
    assert api.get(jobs(namespace, "j")).status == 404


def test_a_namespace_is_marked_once_and_answered_unchanged_after(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}"
    api.post(configmaps(namespace), {"metadata": {"name": "inside", "finalizers": ["hold"]}})

    first = api.delete(path)
    again = api.delete(path, {"propagationPolicy": "Foreground"})

    assert first.status == 200
    assert first.body["kind"] == "Namespace"
    assert first.body["status"]["phase"] == "Terminating"
    assert "deletionGracePeriodSeconds" not in first.body["metadata"]
    assert again.status == 200
    # no finalizer added, nothing changed by the DELETE (the namespace controller may
    # have written its conditions meanwhile: status only, with a new resourceVersion)
    unversioned = [{**b.body["metadata"], "resourceVersion": ""} for b in (first, again)]
    assert unversioned[0] == unversioned[1]
    release(api, namespace, "inside")
    eventually(lambda: api.get(path).status == 404)


def test_kubectl_deletes_a_job_with_its_pods(api: Http, kubectl: Any, namespace: str) -> None:
    job = api.post(jobs(namespace), {**job_body("kj"), "metadata": {"name": "kj"}}).body
    pod = {
        "metadata": {
            "name": "kj-pod",
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": "kj",
                    "uid": job["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]},
    }
    assert api.post(f"/api/v1/namespaces/{namespace}/pods", pod).status == 201

    result: subprocess.CompletedProcess[str] = kubectl("delete", "job", "kj", "-n", namespace)

    assert "Warning" not in result.stderr  # kubectl sends propagationPolicy=Background
    eventually(lambda: api.get(f"/api/v1/namespaces/{namespace}/pods/kj-pod").status == 404)


def test_a_dry_run_in_the_body_deletes_nothing(api: Http, kubectl: Any, namespace: str) -> None:
    api.post(configmaps(namespace), {"metadata": {"name": "kept"}})

    raw = api.delete(configmaps(namespace, "kept"), {"dryRun": ["All"]})
    printed = kubectl("delete", "configmap", "kept", "-n", namespace, "--dry-run=server")
    unknown = api.delete(configmaps(namespace, "kept"), {"dryRun": ["Later"]})

    assert raw.status == 200
    assert raw.body["kind"] == "Status"  # answered as if it went
    assert "(server dry run)" in printed.stdout  # kubectl sends dryRun in the body
    assert unknown.status == 422
    assert unknown.body["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
        '[]string{"Later"}: supported values: "All"'
    )
    assert api.get(configmaps(namespace, "kept")).status == 200
