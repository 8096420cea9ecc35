"""A Pod's schedulingGates (see apiserver/schedulinggates.py): held, shown, released.

Expected answers from pkg/registry/core/pod/strategy.go (applySchedulingGatedCondition),
pkg/apis/core/validation (validateSchedulingGates, validateOnlyDeletedSchedulingGates)
and kubectl's printPod (the SchedulingGated STATUS).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubemigrate.devcluster.apiserver import ApiServerProcess
from kubemigrate.devcluster.kubelet import KubeletProcess
from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_kubelet import wait_for

GATED_CONDITION = {
    "type": "PodScheduled",
    "status": "False",
    "lastProbeTime": None,
    "lastTransitionTime": None,
    "reason": "SchedulingGated",
    "message": "Scheduling is blocked due to non-empty scheduling gates",
}


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess) -> Iterator[KubeletProcess]:
    with KubeletProcess(
        apiserver.kubeconfig, backoff_base=0.2, max_grace=1.0, retry_interval=0.2
    ) as node:
        yield node


def pods(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/pods"
    return f"{base}/{name}" if name else base


def gated(name: str, *gates: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "schedulingGates": [{"name": gate} for gate in gates],
            "containers": [{"name": "c", "image": "x:1", "command": ["true"]}],
            **spec,
        },
    }


def bound(api: Http, namespace: str, name: str) -> dict[str, Any] | None:
    pod: dict[str, Any] = api.get(pods(namespace, name)).body
    return pod if pod["spec"].get("nodeName") else None


def test_a_gated_pod_waits_shown_as_gated_until_its_last_gate_goes(
    api: Http, kubectl: Any, kubelet: KubeletProcess, namespace: str
) -> None:
    created = api.post(pods(namespace), gated("held", "example.com/quota", "example.com/arch"))
    assert created.status == 201, created.body
    assert created.body["status"]["conditions"] == [GATED_CONDITION]

    table = kubectl("get", "pod", "held", "-n", namespace, "--no-headers").stdout
    assert table.split()[2] == "SchedulingGated"
    added = api.patch(
        pods(namespace, "held"),
        {"spec": {"schedulingGates": [{"name": "example.com/quota"}, {"name": "x"}]}},
    )
    assert added.status == 422
    assert added.body["message"] == (
        'Pod "held" is invalid: spec.schedulingGates[1].name: Forbidden: only deletion is '
        "allowed, but found new scheduling gate 'x'"
    )

    one_left = api.patch(
        pods(namespace, "held"), {"spec": {"schedulingGates": [{"name": "example.com/arch"}]}}
    )
    assert one_left.status == 200, one_left.body
    # a pod without gates, made after the change: once the scheduler has bound it, it had
    # its chance at the held one too, and must not have taken it
    assert api.post(pods(namespace), gated("witness")).status == 201
    wait_for(lambda: bound(api, namespace, "witness"), "the ungated witness to be bound")
    assert not api.get(pods(namespace, "held")).body["spec"].get("nodeName")

    assert api.patch(pods(namespace, "held"), {"spec": {"schedulingGates": None}}).status == 200
    pod = wait_for(lambda: bound(api, namespace, "held"), "the released pod to be bound")
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [c["status"] for c in scheduled] == ["True"]


def test_gates_are_qualified_names_once_each_and_exclude_a_node_name(
    api: Http, namespace: str
) -> None:
    reply = api.post(pods(namespace), gated("bad", "example.com/g", "example.com/g", nodeName="n1"))

    assert reply.status == 422
    assert reply.body["message"] == (
        'Pod "bad" is invalid: [spec.schedulingGates[1]: Duplicate value: "example.com/g", '
        "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared]"
    )
