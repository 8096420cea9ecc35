"""Built-in kinds' defaults, conversions and validation, as the real API server has them.

Expected values come from the Kubernetes source: ``SetDefaults_Job`` and
``validatePodReplacementPolicy`` / ``validateJobSpec`` (pkg/apis/batch), the v1 Secret
conversion that folds ``stringData`` into ``data`` and ``SetDefaults_Secret``
(pkg/apis/core/v1), and ``LogLocation`` for a Pod no node has taken.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from tests.devcluster.devcluster_http import Http

KUBEMIGRATE_POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0, 75]}},
    ]
}


def job(name: str, **spec: Any) -> dict[str, Any]:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": template, **spec},
    }


def jobs(namespace: str, name: str = "") -> str:
    base = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    return f"{base}/{name}" if name else base


def secrets(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/secrets"
    return f"{base}/{name}" if name else base


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_pod_replacement_policy_defaults_by_pod_failure_policy(api: Http, namespace: str) -> None:
    plain = api.post(jobs(namespace), job("plain"))
    with_policy = api.post(jobs(namespace), job("policy", podFailurePolicy=KUBEMIGRATE_POLICY))

    assert plain.status == 201, plain.body
    assert plain.body["spec"]["podReplacementPolicy"] == "TerminatingOrFailed"
    assert with_policy.status == 201, with_policy.body
    assert with_policy.body["spec"]["podReplacementPolicy"] == "Failed"
    # SetDefaults_Job also fills an onPodConditions pattern's status.
    rule = with_policy.body["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]


def test_terminating_or_failed_with_a_pod_failure_policy_is_422(api: Http, namespace: str) -> None:
    body = job(
        "clash", podFailurePolicy=KUBEMIGRATE_POLICY, podReplacementPolicy="TerminatingOrFailed"
    )

    reply = api.post(jobs(namespace), body)

    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"] == (
        'Job.batch "clash" is invalid: spec.podReplacementPolicy: Unsupported value: '
        '"TerminatingOrFailed": supported values: "Failed"'
    )
    assert reply.body["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "TerminatingOrFailed": supported values: "Failed"',
            "field": "spec.podReplacementPolicy",
        }
    ]
    assert api.get(jobs(namespace, "clash")).status == 404


def test_pod_failure_policy_needs_restart_policy_never(api: Http, namespace: str) -> None:
    body = job("onfailure", podFailurePolicy=KUBEMIGRATE_POLICY)
    body["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"

    reply = api.post(jobs(namespace), body)

    assert reply.status == 422, reply.body
    assert reply.body["message"] == (
        'Job.batch "onfailure" is invalid: spec.template.spec.restartPolicy: Invalid value: '
        '"OnFailure": only "Never" is supported when podFailurePolicy is specified'
    )


def test_updates_are_validated_like_creates(api: Http, namespace: str) -> None:
    created = api.post(jobs(namespace), job("later", podFailurePolicy=KUBEMIGRATE_POLICY))
    assert created.status == 201, created.body

    reply = api.patch(
        jobs(namespace, "later"), {"spec": {"podReplacementPolicy": "TerminatingOrFailed"}}
    )

    assert reply.status == 422, reply.body
    assert "spec.podReplacementPolicy: Unsupported value" in reply.body["message"]


def test_a_new_job_has_an_empty_status_like_the_real_server(api: Http, namespace: str) -> None:
    # JobStatus is a struct, not a pointer: Go's omitempty keeps "status": {} in the reply.
    body = job("fresh")
    body["status"] = {"active": 3}  # ignored: status belongs to the status subresource

    reply = api.post(jobs(namespace), body)

    assert reply.status == 201, reply.body
    assert reply.body["status"] == {}
    assert api.get(jobs(namespace, "fresh")).body["status"] == {}


def test_a_job_without_labels_shows_its_template_s_and_one_with_labels_its_own(
    api: Http, namespace: str
) -> None:
    """SetDefaults_Job copies the template's labels to a Job with none, after the Job
    strategy added job-name and controller-uid to them; a Job's own labels stay alone,
    so ``-l job-name=`` finds the Job only in the first case."""
    plain = job("plain")
    plain["spec"]["template"]["metadata"] = {"labels": {"app": "web"}}
    created = api.post(jobs(namespace), plain).body
    uid = created["metadata"]["uid"]
    assert created["metadata"]["labels"] == {
        "app": "web",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "plain",
        "controller-uid": uid,
        "job-name": "plain",
    }
    own = job("own")
    own["metadata"]["labels"] = {"team": "a"}
    assert api.post(jobs(namespace), own).body["metadata"]["labels"] == {"team": "a"}
    by_name = api.get(jobs(namespace), query={"labelSelector": "job-name"}).body["items"]
    assert [j["metadata"]["name"] for j in by_name] == ["plain"]
    # every write is defaulted again: a Job whose labels are all removed shows them anew
    emptied = api.patch(jobs(namespace, "own"), {"metadata": {"labels": None}}).body
    assert emptied["metadata"]["labels"]["job-name"] == "own"


def test_secret_string_data_is_merged_into_data_and_dropped(api: Http, namespace: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"url": b64("old"), "user": b64("app")},
        "stringData": {"url": "postgresql://db/app", "extra": "x"},
    }

    created = api.post(secrets(namespace), body)

    assert created.status == 201, created.body
    assert "stringData" not in created.body
    assert created.body["type"] == "Opaque"
    assert created.body["data"] == {
        "url": b64("postgresql://db/app"),  # stringData wins
        "user": b64("app"),
        "extra": b64("x"),
    }
    stored = api.get(secrets(namespace, "db")).body
    assert "stringData" not in stored
    assert stored["data"] == created.body["data"]


def test_secret_string_data_is_merged_on_update_and_patch(api: Http, namespace: str) -> None:
    created = api.post(
        secrets(namespace),
        {"metadata": {"name": "s"}, "type": "kubernetes.io/basic-auth", "data": {}},
    ).body
    replacement = copy.deepcopy(created)
    replacement["stringData"] = {"username": "admin"}

    put = api.put(secrets(namespace, "s"), replacement)
    patched = api.patch(secrets(namespace, "s"), {"stringData": {"password": "pw"}})

    assert put.status == 200, put.body
    assert put.body["data"] == {"username": b64("admin")}
    assert "stringData" not in put.body
    assert patched.status == 200, patched.body
    assert patched.body["data"] == {"username": b64("admin"), "password": b64("pw")}
    assert "stringData" not in patched.body
    assert patched.body["type"] == "kubernetes.io/basic-auth"
    changed_type = api.patch(secrets(namespace, "s"), {"type": "Opaque"})
    assert changed_type.status == 422
    assert 'type: Invalid value: "Opaque": field is immutable' in changed_type.body["message"]


def test_secret_data_must_be_base64(api: Http, namespace: str) -> None:
    body = {"metadata": {"name": "plain"}, "data": {"url": "postgresql://x"}}

    reply = api.post(secrets(namespace), body)

    assert reply.status == 400, reply.body
    assert reply.body["reason"] == "BadRequest"
    assert reply.body["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 10'
    )


def test_pod_log_without_a_node_is_empty(api: Http, namespace: str) -> None:
    # This emulator has no --pod-logs-dir: no node, so the Pod is never scheduled, and
    # LogLocation answers an unscheduled Pod with an empty log.
    pod = {
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]},
    }
    assert api.post(f"/api/v1/namespaces/{namespace}/pods", pod).status == 201

    reply = api.get(f"/api/v1/namespaces/{namespace}/pods/p/log")

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain"
    assert reply.body is None
    wrong = api.get(f"/api/v1/namespaces/{namespace}/pods/p/log", query={"container": "x"})
    assert wrong.status == 400
    assert wrong.body["message"] == "container x is not valid for pod p"


def budget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, **spec},
    }


def budgets(namespace: str) -> str:
    return f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"


def test_a_disruption_budget_starts_with_the_zero_status(api: Http, namespace: str) -> None:
    """What the chart installs for two replicas: stored, generation 1, and the status
    fields without omitempty at 0 until a disruption controller counts pods (none
    runs here, so no voluntary eviction is ever allowed). A status sent is dropped."""
    body = budget("km", minAvailable=1)
    body["status"] = {"disruptionsAllowed": 5}
    reply = api.post(budgets(namespace), body)

    assert reply.status == 201, reply.body
    assert reply.body["metadata"]["generation"] == 1
    assert reply.body["status"] == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }


def test_a_disruption_budget_is_validated_as_the_real_server_does(
    api: Http, namespace: str
) -> None:
    """``ValidatePodDisruptionBudgetSpec``'s rules and words (pkg/apis/policy)."""
    cases: dict[str, tuple[dict[str, Any], str, str]] = {
        "both": (
            {"minAvailable": 1, "maxUnavailable": "50%"},
            "spec",
            "minAvailable and maxUnavailable cannot be both set",
        ),
        "negative": (
            {"minAvailable": -1},
            "spec.minAvailable",
            "must be greater than or equal to 0",
        ),
        "over": (
            {"maxUnavailable": "150%"},
            "spec.maxUnavailable",
            "must not be greater than 100%",
        ),
        "words": (
            {"maxUnavailable": "half"},
            "spec.maxUnavailable",
            "a valid percent string must be a numeric string followed by an ending '%'",
        ),
        "policy": (
            {"unhealthyPodEvictionPolicy": "Never"},
            "spec.unhealthyPodEvictionPolicy",
            'Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"',
        ),
    }
    for name, (spec, field, words) in cases.items():
        reply = api.post(budgets(namespace), budget(name, **spec))
        assert reply.status == 422, (name, reply.body)
        (cause,) = reply.body["details"]["causes"]
        assert cause["field"] == field, (name, cause)
        assert words in cause["message"], (name, cause)
    fine = api.post(budgets(namespace), budget("fine", maxUnavailable="100%"))
    assert fine.status == 201, fine.body
