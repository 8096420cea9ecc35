"""A new Pod's defaulted requests and its QoS class (see apiserver/qos.py).

Expected values from the v1 ``SetDefaults_Pod`` and ``ComputePodQOS``.
"""

from __future__ import annotations

from typing import Any

from kubemigrate.settings import DEFAULT_JOB_RESOURCES as DEFAULT_RESOURCES
from tests.devcluster.devcluster_http import Http


def pod(name: str, *resources: dict[str, Any]) -> dict[str, Any]:
    containers = [
        {"name": f"c{index}", "image": "x:1", "resources": r} for index, r in enumerate(resources)
    ]
    return {"metadata": {"name": name}, "spec": {"containers": containers}}


def created(api: Http, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post(f"/api/v1/namespaces/{namespace}/pods", body)
    assert reply.status == 201, reply.body
    result: dict[str, Any] = reply.body
    return result


def test_the_qos_class_follows_requests_and_limits(api: Http, namespace: str) -> None:
    both = {"cpu": "500m", "memory": "128Mi"}
    cases = {
        "none": (pod("none", {}), "BestEffort"),
        "operator": (pod("operator", DEFAULT_RESOURCES), "Burstable"),  # kubemigrate's Jobs
        "equal": (pod("equal", {"limits": both}), "Guaranteed"),
        "cpu-only": (pod("cpu-only", {"limits": {"cpu": "1"}}), "Burstable"),
        "one-short": (pod("one-short", {"limits": both}, {}), "Burstable"),
        "zero": (pod("zero", {"requests": {"cpu": "0"}}), "BestEffort"),
        "other": (pod("other", {"limits": {"ephemeral-storage": "1Gi"}}), "BestEffort"),
    }
    for name, (body, expected) in cases.items():
        assert created(api, namespace, body)["status"]["qosClass"] == expected, name


def test_a_limit_without_a_request_is_the_request_too(api: Http, namespace: str) -> None:
    body = pod(
        "limited", {"limits": {"cpu": "250m", "memory": "64Mi"}, "requests": {"cpu": "100m"}}
    )

    resources = created(api, namespace, body)["spec"]["containers"][0]["resources"]

    assert resources["requests"] == {"cpu": "100m", "memory": "64Mi"}


def test_a_job_template_keeps_its_requests_as_written(api: Http, namespace: str) -> None:
    template = pod("unused", {"limits": {"cpu": "1"}})
    template["spec"]["restartPolicy"] = "Never"
    job = {"metadata": {"name": "j"}, "spec": {"template": {"spec": template["spec"]}}}

    reply = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)

    assert reply.status == 201, reply.body
    resources = reply.body["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "1"}}  # defaulted only on the Pods made from it


def test_kubectl_describe_shows_the_class(api: Http, kubectl: Any, namespace: str) -> None:
    created(api, namespace, pod("described", DEFAULT_RESOURCES))

    described = kubectl("describe", "pod", "described", "-n", namespace).stdout

    lines = [line.split() for line in described.splitlines() if line.startswith("QoS Class:")]
    assert lines == [["QoS", "Class:", "Burstable"]]
