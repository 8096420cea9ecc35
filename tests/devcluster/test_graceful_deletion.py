"""Graceful Pod deletion and pods/binding, at the API: no kubelet serves this module.

A Pod bound to a node that nobody runs here ("elsewhere") stays Terminating after a
DELETE, as on a real cluster whose kubelet has not yet stopped it; what the kubelet
then does is tested in test_kubelet_termination.py.
"""

from __future__ import annotations

import datetime
from typing import Any

from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_deletion import eventually

ELSEWHERE = "elsewhere"


def pods(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/pods"
    return f"{base}/{name}" if name else base


def make_pod(
    api: Http, namespace: str, name: str, *, node: str | None = ELSEWHERE, **meta: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i:1"}]}
    if node:
        spec["nodeName"] = node
    reply = api.post(pods(namespace), {"metadata": {"name": name, **meta}, "spec": spec})
    assert reply.status == 201, reply.body
    result: dict[str, Any] = reply.body
    return result


def moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_bound_pod_is_marked_and_stays_for_its_grace_period(api: Http, namespace: str) -> None:
    created = make_pod(api, namespace, "p")

    reply = api.delete(pods(namespace, "p"))

    assert reply.status == 200
    pod = reply.body
    assert pod["kind"] == "Pod"  # ReturnDeletedObject: the Pod, not a Status
    meta = pod["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30  # the spec's default
    elapsed = moment(meta["deletionTimestamp"]) - moment(meta["creationTimestamp"])
    assert elapsed >= datetime.timedelta(seconds=30)  # now + grace, not now
    assert meta["generation"] == created["metadata"]["generation"] + 1
    assert api.get(pods(namespace, "p")).body["metadata"] == meta
    events = api.watch_until(
        pods(namespace),
        {"resourceVersion": created["metadata"]["resourceVersion"]},
        lambda e: e["object"]["metadata"].get("deletionTimestamp") is not None,
    )
    assert [e["type"] for e in events] == ["MODIFIED"]


def test_a_second_delete_may_only_shorten_the_grace_period(api: Http, namespace: str) -> None:
    make_pod(api, namespace, "p")
    first = api.delete(pods(namespace, "p"), {"gracePeriodSeconds": 60}).body["metadata"]
    assert first["deletionGracePeriodSeconds"] == 60

    longer = api.delete(pods(namespace, "p"), {"gracePeriodSeconds": 120})
    assert longer.status == 200
    assert longer.body["metadata"] == first  # unchanged, not even its resourceVersion

    shorter = api.delete(pods(namespace, "p"), query={"gracePeriodSeconds": "10"}).body
    meta = shorter["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 10
    moved = moment(first["deletionTimestamp"]) - moment(meta["deletionTimestamp"])
    assert moved == datetime.timedelta(seconds=50)
    assert meta["generation"] == first["generation"]  # bumped once, by the first DELETE

    now = api.delete(pods(namespace, "p"), {"gracePeriodSeconds": 0})
    assert now.status == 200
    assert now.body["kind"] == "Pod"
    assert now.body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert api.get(pods(namespace, "p")).status == 404


def test_a_negative_grace_period_counts_as_one_second(api: Http, namespace: str) -> None:
    make_pod(api, namespace, "p")
    reply = api.delete(pods(namespace, "p"), query={"gracePeriodSeconds": "-5"})
    assert reply.body["metadata"]["deletionGracePeriodSeconds"] == 1


def test_unbound_and_terminal_pods_go_at_once(api: Http, namespace: str) -> None:
    unbound = make_pod(api, namespace, "unbound", node=None)
    reply = api.delete(pods(namespace, "unbound"))
    assert reply.status == 200
    assert reply.body["kind"] == "Pod"
    assert reply.body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert api.get(pods(namespace, "unbound")).status == 404
    events = api.watch_until(
        pods(namespace),
        {"resourceVersion": unbound["metadata"]["resourceVersion"]},
        lambda e: e["type"] == "DELETED",
    )
    # Marked first, then removed: the watch sees both writes.
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]

    make_pod(api, namespace, "done")
    finished = api.patch(pods(namespace, "done") + "/status", {"status": {"phase": "Succeeded"}})
    assert finished.status == 200, finished.body
    assert api.delete(pods(namespace, "done")).body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert api.get(pods(namespace, "done")).status == 404


def test_finalizers_and_grace_both_hold_a_pod(api: Http, namespace: str) -> None:
    make_pod(api, namespace, "forced", finalizers=["example.com/hold"])
    reply = api.delete(pods(namespace, "forced"), {"gracePeriodSeconds": 0})
    assert reply.body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert api.get(pods(namespace, "forced")).status == 200  # its finalizer holds it
    api.patch(pods(namespace, "forced"), {"metadata": {"finalizers": None}})
    assert api.get(pods(namespace, "forced")).status == 404

    make_pod(api, namespace, "graceful", finalizers=["example.com/hold"])
    api.delete(pods(namespace, "graceful"))
    api.patch(pods(namespace, "graceful"), {"metadata": {"finalizers": None}})
    assert api.get(pods(namespace, "graceful")).status == 200  # its grace period holds it
    api.delete(pods(namespace, "graceful"), {"gracePeriodSeconds": 0})
    assert api.get(pods(namespace, "graceful")).status == 404


def test_garbage_collection_deletes_a_jobs_pods_gracefully(api: Http, namespace: str) -> None:
    jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    job_body = {
        "metadata": {"name": "j"},
        "spec": {
            "suspend": True,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i:1"}]}
            },
        },
    }
    job = api.post(jobs, job_body).body
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "j",
        "uid": job["metadata"]["uid"],
        "controller": True,
    }
    make_pod(api, namespace, "j-pod", ownerReferences=[owner])

    assert api.delete(f"{jobs}/j", {"propagationPolicy": "Background"}).status == 200

    def marked() -> bool:
        meta = api.get(pods(namespace, "j-pod")).body["metadata"]
        return bool(meta.get("deletionTimestamp"))

    eventually(marked)
    meta = api.get(pods(namespace, "j-pod")).body["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30  # the collector's default grace
    api.delete(pods(namespace, "j-pod"), {"gracePeriodSeconds": 0})  # what its kubelet does
    assert api.get(pods(namespace, "j-pod")).status == 404


def binding(name: str, node: str = "n1", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, **meta},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


def test_binding_assigns_a_node_once(api: Http, namespace: str) -> None:
    make_pod(api, namespace, "p", node=None)
    path = pods(namespace, "p") + "/binding"

    reply = api.post(path, binding("p"))

    assert reply.status == 201, reply.body
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
    pod = api.get(pods(namespace, "p")).body
    assert pod["spec"]["nodeName"] == "n1"
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [c["status"] for c in scheduled] == ["True"]
    again = api.post(path, binding("p", "n2"))
    assert again.status == 409
    assert again.body["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"'
    )
    assert api.get(path).status == 405
    core = api.get("/api/v1").body["resources"]
    entry = next(r for r in core if r["name"] == "pods/binding")
    assert (entry["kind"], entry["verbs"]) == ("Binding", ["create"])


def test_binding_refusals(api: Http, namespace: str) -> None:
    pod = make_pod(api, namespace, "p", node=None, finalizers=["example.com/hold"])
    path = pods(namespace, "p") + "/binding"
    mismatch = api.post(path, binding("other"))
    assert (mismatch.status, mismatch.body["message"]) == (
        400,
        "name in URL does not match name in Binding object",
    )
    stale = api.post(path, binding("p", uid="not-the-uid"))
    assert stale.status == 409
    assert stale.body["message"].startswith(
        'Operation cannot be fulfilled on pods "p": Precondition failed: UID in precondition'
    )
    api.delete(pods(namespace, "p"))  # held by its finalizer, so still there
    deleting = api.post(path, binding("p", uid=pod["metadata"]["uid"]))
    assert deleting.status == 409
    assert deleting.body["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": '
        "pod p is being deleted, cannot be assigned to a host"
    )
    api.patch(pods(namespace, "p"), {"metadata": {"finalizers": None}})
