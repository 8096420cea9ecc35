"""DefaultTolerationSeconds (see apiserver/tolerations.py): the two tolerations a new Pod gets."""

from __future__ import annotations

from typing import Any

from tests.devcluster.devcluster_http import Http

NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {**NOT_READY, "key": "node.kubernetes.io/unreachable"}


def create(api: Http, namespace: str, name: str, tolerations: list[dict[str, Any]]) -> Any:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x:1"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    reply = api.post(
        f"/api/v1/namespaces/{namespace}/pods", {"metadata": {"name": name}, "spec": spec}
    )
    assert reply.status == 201, reply.body
    return reply.body["spec"]["tolerations"]


def test_a_new_pod_tolerates_a_lost_node_for_five_minutes(api: Http, namespace: str) -> None:
    own = {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}
    longer = {**NOT_READY, "tolerationSeconds": 3600}

    assert create(api, namespace, "plain", []) == [NOT_READY, UNREACHABLE]
    assert create(api, namespace, "own", [own]) == [own, NOT_READY, UNREACHABLE]
    assert create(api, namespace, "longer", [longer]) == [longer, UNREACHABLE]
    assert create(api, namespace, "everything", [{"operator": "Exists"}]) == [
        {"operator": "Exists"}
    ]


def test_an_update_adds_nothing(api: Http, namespace: str) -> None:
    create(api, namespace, "kept", [])
    path = f"/api/v1/namespaces/{namespace}/pods/kept"

    patched = api.patch(path, {"metadata": {"labels": {"a": "b"}}})

    assert patched.status == 200, patched.body
    assert patched.body["spec"]["tolerations"] == [NOT_READY, UNREACHABLE]


def test_a_job_template_gets_none(api: Http, namespace: str) -> None:
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
            }
        },
    }
    reply = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    assert reply.status == 201, reply.body
    assert "tolerations" not in reply.body["spec"]["template"]["spec"]
