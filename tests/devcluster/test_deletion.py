"""Deletion: finalizers, propagation policies, garbage collection, namespaces."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from tests.devcluster.devcluster_http import Http, run_body, runs_path


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition with a deadline (the GC is asynchronous, as in a real cluster)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def _owned(owner: dict[str, object], **extra: object) -> dict[str, object]:
    meta = owner["metadata"]
    assert isinstance(meta, dict)
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        **extra,
    }


def _marked(api: Http, path: str) -> bool:
    return bool(api.get(path).body["metadata"].get("deletionTimestamp"))


def _job(name: str, owner: dict[str, object]) -> dict[str, object]:
    return {
        "metadata": {
            "name": name,
            "ownerReferences": [_owned(owner, controller=True, blockOwnerDeletion=True)],
        },
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
            }
        },
    }


def test_finalizers_hold_the_object_until_removed(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.post(path, {"metadata": {"name": "f", "finalizers": ["example.com/hold"]}})
    reply = api.delete(f"{path}/f")
    assert reply.status in (200, 202)
    held = api.get(f"{path}/f").body
    assert held["metadata"]["deletionTimestamp"]
    added = api.patch(f"{path}/f", {"metadata": {"finalizers": ["example.com/hold", "new"]}})
    assert added.status == 422  # no new finalizers while deleting
    api.patch(f"{path}/f", {"metadata": {"finalizers": None}})
    assert api.get(f"{path}/f").status == 404


def test_delete_response_and_missing_object(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.post(path, {"metadata": {"name": "d"}})
    reply = api.delete(f"{path}/d")
    assert reply.status == 200
    assert reply.body["kind"] == "Status"
    assert reply.body["status"] == "Success"
    again = api.delete(f"{path}/d")
    assert again.status == 404
    assert again.body["reason"] == "NotFound"


def test_garbage_collection_is_transitive(api: Http, namespace: str, crd: object) -> None:
    run = api.post(runs_path(namespace), run_body("gc")).body
    job = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", _job("gc-job", run)).body
    pod = {
        "metadata": {"name": "gc-pod", "ownerReferences": [_owned(job, controller=True)]},
        "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"},
    }
    assert api.post(f"/api/v1/namespaces/{namespace}/pods", pod).status == 201
    cm = {"metadata": {"name": "gc-cm", "ownerReferences": [_owned(run)]}}
    assert api.post(f"/api/v1/namespaces/{namespace}/configmaps", cm).status == 201
    assert api.delete(runs_path(namespace, "gc"), {"propagationPolicy": "Background"}).status == 200
    eventually(lambda: api.get(f"/api/v1/namespaces/{namespace}/pods/gc-pod").status == 404)
    assert api.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/gc-job").status == 404
    assert api.get(f"/api/v1/namespaces/{namespace}/configmaps/gc-cm").status == 404


def test_foreground_deletion_waits_for_dependents_that_block_it(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    owner = api.post(path, {"metadata": {"name": "fg"}}).body
    owner["apiVersion"], owner["kind"] = "v1", "ConfigMap"
    for name, blocks in (("fg-blocking", True), ("fg-other", False)):
        ref = _owned(owner, blockOwnerDeletion=blocks)
        dependent = {"metadata": {"name": name, "finalizers": ["hold"], "ownerReferences": [ref]}}
        assert api.post(path, dependent).status == 201
    reply = api.delete(f"{path}/fg", {"propagationPolicy": "Foreground"})
    assert reply.body["metadata"]["finalizers"] == ["foregroundDeletion"]
    for name in ("fg-blocking", "fg-other"):
        eventually(partial(_marked, api, f"{path}/{name}"))
    assert api.get(f"{path}/fg").status == 200  # still waiting for the one that blocks it
    api.patch(f"{path}/fg-blocking", {"metadata": {"finalizers": None}})
    eventually(lambda: api.get(f"{path}/fg").status == 404)
    # The other never held its owner; only its own finalizer holds it now.
    assert _marked(api, f"{path}/fg-other")
    api.patch(f"{path}/fg-other", {"metadata": {"finalizers": None}})


def test_foreground_deletion_spares_a_dependent_with_another_owner(
    api: Http, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    owners = []
    for name in ("going", "staying"):
        owner = api.post(path, {"metadata": {"name": name}}).body
        owner["apiVersion"], owner["kind"] = "v1", "ConfigMap"
        owners.append(owner)
    refs = [_owned(o, blockOwnerDeletion=True) for o in owners]
    assert api.post(path, {"metadata": {"name": "shared", "ownerReferences": refs}}).status == 201

    api.delete(f"{path}/going", {"propagationPolicy": "Foreground"})

    eventually(lambda: api.get(f"{path}/going").status == 404)
    shared = api.get(f"{path}/shared").body
    assert "deletionTimestamp" not in shared["metadata"]
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["staying"]


def test_deleting_a_job_orphans_its_pods_by_default(api: Http, namespace: str) -> None:
    owner = api.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "o"}}).body
    owner["apiVersion"], owner["kind"] = "v1", "ConfigMap"
    job = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", _job("oj", owner)).body
    pod = {
        "metadata": {"name": "op", "ownerReferences": [_owned(job)]},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    api.post(f"/api/v1/namespaces/{namespace}/pods", pod)
    reply = api.delete(f"/apis/batch/v1/namespaces/{namespace}/jobs/oj")
    assert any("child pods are preserved" in w for w in reply.warnings)
    eventually(lambda: api.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/oj").status == 404)
    eventually(
        lambda: (
            not api.get(f"/api/v1/namespaces/{namespace}/pods/op")
            .body["metadata"]
            .get("ownerReferences")
        )
    )


def test_owner_in_another_namespace_does_not_count(api: Http, namespace: str) -> None:
    other = api.post(
        "/api/v1/namespaces/default/configmaps", {"metadata": {"generateName": "elsewhere-"}}
    ).body
    other["apiVersion"], other["kind"] = "v1", "ConfigMap"
    api.post(
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"metadata": {"name": "x", "ownerReferences": [_owned(other)]}},
    )
    eventually(lambda: api.get(f"/api/v1/namespaces/{namespace}/configmaps/x").status == 404)


def test_delete_collection_with_selector(api: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for name, labels in (("a", {"t": "1"}), ("b", {"t": "1"}), ("c", {})):
        api.post(path, {"metadata": {"name": name, "labels": labels}})
    reply = api.delete(path, query={"labelSelector": "t=1"})
    assert reply.status == 200
    left = [i["metadata"]["name"] for i in api.get(path).body["items"]]
    assert sorted(left) == ["c"]


def test_namespace_deletion_terminates_then_removes(api: Http, namespace: str) -> None:
    api.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "inside"}})
    reply = api.delete(f"/api/v1/namespaces/{namespace}")
    assert reply.status in (200, 202)
    created = api.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "late"}})
    assert created.status in (403, 404)
    eventually(lambda: api.get(f"/api/v1/namespaces/{namespace}").status == 404)


def _conditions(api: Http, namespace: str) -> list[dict[str, Any]]:
    reply = api.get(f"/api/v1/namespaces/{namespace}")
    conditions: list[dict[str, Any]] = (reply.body.get("status") or {}).get("conditions") or []
    return conditions


def test_a_namespace_held_by_a_finalizer_says_so_in_its_conditions(
    api: Http, kubectl: Any, namespace: str
) -> None:
    """The namespace controller's conditions (status_condition_utils.go): what remains,
    by resource and by finalizer, True; the failures it did not meet, False."""
    marker = "kopf.zalando.org/KopfFinalizerMarker"
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.post(path, {"metadata": {"name": "held", "finalizers": [marker]}})
    api.post(path, {"metadata": {"name": "free"}})
    assert api.delete(f"/api/v1/namespaces/{namespace}").status == 200
    eventually(lambda: len(_conditions(api, namespace)) == 5)
    shown = [
        (c["type"], c["status"], c["reason"], c["message"]) for c in _conditions(api, namespace)
    ]
    assert shown == [
        (
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        (
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            "Some resources are remaining: configmaps. has 1 resource instances",
        ),
        (
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {marker} "
            "in 1 resource instances",
        ),
    ]
    described = kubectl("describe", "namespace", namespace).stdout
    assert "Status:       Terminating" in described
    assert "NamespaceFinalizersRemaining" in described
    assert f"Some content in the namespace has finalizers remaining: {marker}" in described
    api.patch(f"{path}/held", {"metadata": {"finalizers": None}})
    eventually(lambda: api.get(f"/api/v1/namespaces/{namespace}").status == 404)
