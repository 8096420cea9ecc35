"""Pods a real cluster would not run: a missing ServiceAccount, a node selector no node has."""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubemigrate.devcluster.apiserver import ApiServerProcess
from kubemigrate.devcluster.kubelet import KubeletProcess, scheduling
from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_kubelet import (
    create,
    get_job,
    job_body,
    pods_of,
    wait_finished,
    wait_for,
)

UNSCHEDULABLE = (
    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
)


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess) -> Iterator[KubeletProcess]:
    with KubeletProcess(
        apiserver.kubeconfig, backoff_base=0.2, max_grace=1.0, retry_interval=0.2
    ) as node:
        yield node


def events_of(api: Http, namespace: str, name: str) -> list[dict[str, Any]]:
    reply = api.get(
        f"/api/v1/namespaces/{namespace}/events",
        query={"fieldSelector": f"involvedObject.name={name}"},
    )
    assert reply.status == 200, reply.body
    items: list[dict[str, Any]] = reply.body["items"]
    return items


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "x:1", "command": ["true"]}],
            **spec,
        },
    }


# --- the ServiceAccount admission plugin ----------------------------------------------


def test_pod_with_a_missing_service_account_is_forbidden(api: Http, namespace: str) -> None:
    reply = api.post(
        f"/api/v1/namespaces/{namespace}/pods", _pod("p", serviceAccountName="nosuch-sa")
    )
    assert reply.status == 403, reply.body
    assert reply.body["reason"] == "Forbidden"
    assert reply.body["message"] == (
        f'pods "p" is forbidden: error looking up service account {namespace}/nosuch-sa: '
        'serviceaccount "nosuch-sa" not found'
    )
    assert reply.body["details"] == {"name": "p", "kind": "pods"}
    generated = {**_pod("x", serviceAccountName="nosuch-sa"), "metadata": {"generateName": "j-"}}
    reply = api.post(f"/api/v1/namespaces/{namespace}/pods", generated)
    assert reply.body["message"].startswith('pods "j-" is forbidden: ')  # before the name


def test_every_namespace_has_a_default_service_account(api: Http, namespace: str) -> None:
    assert api.post(f"/api/v1/namespaces/{namespace}/pods", _pod("d")).status == 201
    assert api.post("/api/v1/namespaces/default/pods", _pod(f"d-{namespace}")).status == 201
    api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "mine"}})
    mine = api.post(f"/api/v1/namespaces/{namespace}/pods", _pod("m", serviceAccountName="mine"))
    assert mine.status == 201, mine.body


def test_job_with_a_missing_service_account_gets_no_pod(
    api: Http, kubelet: KubeletProcess, namespace: str, kubectl: Any
) -> None:
    body = job_body("sa", ["true"], pod={"serviceAccountName": "nosuch-sa"})
    create(api, namespace, "jobs", body)

    def failed_create() -> list[dict[str, Any]]:
        return [e for e in events_of(api, namespace, "sa") if e["reason"] == "FailedCreate"]

    event = wait_for(failed_create, "a FailedCreate event")[0]
    assert event["type"] == "Warning"
    assert event["message"] == (
        'Error creating: pods "sa-" is forbidden: error looking up service account '
        f'{namespace}/nosuch-sa: serviceaccount "nosuch-sa" not found'
    )
    assert event["involvedObject"]["kind"] == "Job"
    assert event["source"] == {"component": "job-controller"}
    job = get_job(api, namespace, "sa")
    assert job is not None
    assert "startTime" in job["status"]
    assert "active" not in job["status"]
    assert not job["status"].get("conditions")
    assert pods_of(api, namespace, "sa") == []
    # retried with back-off (1 s, 2 s...): the repeats fold into one Event's count
    wait_for(lambda: failed_create()[0]["count"] >= 2, "the create to be retried", timeout=10)
    assert len(failed_create()) == 1
    out = kubectl("get", "events", "-n", namespace).stdout
    assert "FailedCreate" in out
    assert "job/sa" in out
    # once the ServiceAccount exists, the next retry creates the Pod and the Job completes
    api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "nosuch-sa"}})
    done = wait_finished(api, namespace, "sa", timeout=30)
    assert done["status"]["succeeded"] == 1
    reasons = [e["reason"] for e in events_of(api, namespace, "sa")]
    assert "SuccessfulCreate" in reasons
    assert "Completed" in reasons


# --- scheduling ---------------------------------------------------------------------


def test_job_pod_with_an_unmatched_node_selector_stays_pending(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    body = job_body("ns", ["true"], pod={"nodeSelector": {"disk": "nvme-not-exist"}})
    create(api, namespace, "jobs", body)

    def scheduled_condition() -> dict[str, Any] | None:
        pods = pods_of(api, namespace, "ns")
        for c in (pods[0].get("status") or {}).get("conditions") or [] if pods else []:
            if c["type"] == "PodScheduled":
                return pods[0]
        return None

    pod = wait_for(scheduled_condition, "the scheduler's verdict")
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["conditions"] == [
        {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": pod["status"]["conditions"][0]["lastTransitionTime"],
            "reason": "Unschedulable",
            "message": UNSCHEDULABLE,
        }
    ]
    assert "containerStatuses" not in pod["status"]
    name = pod["metadata"]["name"]
    events = wait_for(
        lambda: [e for e in events_of(api, namespace, name) if e["reason"] == "FailedScheduling"],
        "a FailedScheduling event",
    )
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == UNSCHEDULABLE
    assert events[0]["source"] == {"component": "default-scheduler"}
    time.sleep(1.0)  # nothing more happens: the Job waits, its Pod never runs
    job = get_job(api, namespace, "ns")
    assert job is not None
    assert job["status"].get("active") == 1
    assert not job["status"].get("conditions")
    assert len(pods_of(api, namespace, "ns")) == 1
    assert pods_of(api, namespace, "ns")[0]["status"]["phase"] == "Pending"


def test_node_labels_that_match_run(api: Http, kubelet: KubeletProcess, namespace: str) -> None:
    arch = scheduling.node_labels("x")["kubernetes.io/arch"]
    selector = {"kubernetes.io/os": "linux", "kubernetes.io/arch": arch}
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
                    {"matchExpressions": [{"key": "disk", "operator": "DoesNotExist"}]},
                ]
            }
        }
    }
    body = job_body("fits", ["true"], pod={"nodeSelector": selector, "affinity": affinity})
    create(api, namespace, "jobs", body)
    assert wait_finished(api, namespace, "fits")["status"]["succeeded"] == 1


def test_fits() -> None:
    labels = scheduling.node_labels("devcluster")
    assert labels["kubernetes.io/hostname"] == "devcluster"
    assert labels["kubernetes.io/os"] == "linux"
    if platform.machine() == "x86_64":
        assert labels["kubernetes.io/arch"] == "amd64"

    def pod(**spec: Any) -> dict[str, Any]:
        return {"spec": spec}

    def required(*terms: dict[str, Any]) -> dict[str, Any]:
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
            }
        }

    def expr(key: str, op: str, *values: str) -> dict[str, Any]:
        return {"matchExpressions": [{"key": key, "operator": op, "values": list(values)}]}

    node = "devcluster"
    assert scheduling.fits(pod(), node, labels)
    assert scheduling.fits(pod(nodeSelector={"kubernetes.io/hostname": node}), node, labels)
    assert not scheduling.fits(pod(nodeSelector={"disk": "ssd"}), node, labels)
    assert scheduling.fits(pod(affinity=required(expr("disk", "NotIn", "ssd"))), node, labels)
    assert not scheduling.fits(pod(affinity=required(expr("disk", "Exists"))), node, labels)
    assert not scheduling.fits(pod(affinity=required({})), node, labels)  # empty term
    assert not scheduling.fits(pod(affinity=required()), node, labels)  # no terms at all
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    assert scheduling.fits(pod(affinity=required(by_name)), node, labels)
    numeric = {**labels, "cpus": "4"}
    assert scheduling.fits(pod(affinity=required(expr("cpus", "Gt", "2"))), node, numeric)
    assert not scheduling.fits(pod(affinity=required(expr("cpus", "Lt", "2"))), node, numeric)
