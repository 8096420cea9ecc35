"""Pod spec and Job spec validation, worded as ``ValidatePodSpec`` / ``ValidateJob`` word it.

Expected messages come from pkg/apis/core/validation and pkg/apis/batch/validation.
Jobs carry the Pod spec at ``spec.template.spec``; Pods themselves would first meet the
ServiceAccount admission plugin, so most cases are written as Jobs.
"""

from __future__ import annotations

from typing import Any

from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_builtin_kinds import job, jobs

SPEC = "spec.template.spec"


def _invalid(api: Http, namespace: str, body: dict[str, Any]) -> str:
    reply = api.post(jobs(namespace), body)
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid"
    message: str = reply.body["message"]
    return message


def _container(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    container: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    container.update(fields)
    return body


def test_requests_above_limits_are_invalid(api: Http, namespace: str) -> None:
    body = _container(
        job("big"), resources={"limits": {"memory": "1Mi"}, "requests": {"memory": "1Gi"}}
    )

    message = _invalid(api, namespace, body)

    assert message == (
        f'Job.batch "big" is invalid: {SPEC}.containers[0].resources.requests: Invalid value: '
        '"1Gi": must be less than or equal to memory limit of 1Mi'
    )


def test_equal_or_smaller_requests_are_fine(api: Http, namespace: str) -> None:
    body = _container(
        job("fits"),
        resources={"limits": {"memory": "1Gi", "cpu": 2}, "requests": {"memory": "1024Mi"}},
    )
    reply = api.post(jobs(namespace), body)
    assert reply.status == 201, reply.body


def test_negative_and_unknown_resources_are_invalid(api: Http, namespace: str) -> None:
    body = _container(job("neg"), resources={"limits": {"cpu": "-1", "gpu": "1"}})

    message = _invalid(api, namespace, body)

    assert (
        f'{SPEC}.containers[0].resources.limits[cpu]: Invalid value: "-1": '
        "must be greater than or equal to 0"
    ) in message
    assert (
        f'{SPEC}.containers[0].resources.limits[gpu]: Invalid value: "gpu": '
        "must be a standard resource for containers"
    ) in message


def test_an_unparsable_quantity_fails_decoding(api: Http, namespace: str) -> None:
    body = _container(job("nan"), resources={"requests": {"memory": "lots"}})

    reply = api.post(jobs(namespace), body)

    assert reply.status == 400, reply.body
    assert reply.body["reason"] == "BadRequest"
    assert reply.body["message"] == (
        'Job in version "v1" cannot be handled as a Job: quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


def test_exists_toleration_with_a_value_is_invalid(api: Http, namespace: str) -> None:
    body = job("tol")
    body["spec"]["template"]["spec"]["tolerations"] = [
        {"key": "k", "operator": "Exists", "value": "v"}
    ]

    message = _invalid(api, namespace, body)

    assert message == (
        f'Job.batch "tol" is invalid: {SPEC}.tolerations[0].operator: Invalid value: '
        'core.Toleration{Key:"k", Operator:"Exists", Value:"v", Effect:"", '
        "TolerationSeconds:(*int64)(nil)}: value must be empty when `operator` is 'Exists'"
    )


def test_node_selector_labels_are_validated(api: Http, namespace: str) -> None:
    body = job("ns")
    body["spec"]["template"]["spec"]["nodeSelector"] = {"bad key!": "ok", "zone": "-x-"}

    message = _invalid(api, namespace, body)

    assert f'{SPEC}.nodeSelector: Invalid value: "bad key!": name part must consist' in message
    assert f'{SPEC}.nodeSelector: Invalid value: "-x-": a valid label must be' in message


def test_service_account_name_must_be_a_dns_subdomain(api: Http, namespace: str) -> None:
    body = job("sa")
    body["spec"]["template"]["spec"]["serviceAccountName"] = "Not_Valid"

    message = _invalid(api, namespace, body)

    assert message.startswith(
        f'Job.batch "sa" is invalid: {SPEC}.serviceAccountName: Invalid value: "Not_Valid": '
        "a lowercase RFC 1123 subdomain must consist of"
    )


def test_container_names_env_names_and_mounts(api: Http, namespace: str) -> None:
    body = _container(
        job("ctr"),
        name="Bad_Name",
        env=[{"name": "", "value": "x"}, {"name": "A=B"}],
        volumeMounts=[{"name": "nowhere", "mountPath": "/data"}],
    )

    reply = api.post(jobs(namespace), body)

    assert reply.status == 422, reply.body
    causes = {(c["field"], c["reason"]) for c in reply.body["details"]["causes"]}
    assert causes == {
        (f"{SPEC}.containers[0].name", "FieldValueInvalid"),
        (f"{SPEC}.containers[0].env[0].name", "FieldValueRequired"),
        (f"{SPEC}.containers[0].env[1].name", "FieldValueInvalid"),
        (f"{SPEC}.containers[0].volumeMounts[0].name", "FieldValueNotFound"),
    }
    message = reply.body["message"]
    assert f'{SPEC}.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label' in (
        message
    )
    assert f'{SPEC}.containers[0].volumeMounts[0].name: Not found: "nowhere"' in message
    assert (
        f'{SPEC}.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable '
        "name must consist only of printable ASCII characters other than '='"
    ) in message


def test_a_mount_of_a_declared_volume_is_fine(api: Http, namespace: str) -> None:
    body = _container(job("vol"), volumeMounts=[{"name": "scratch", "mountPath": "/data"}])
    body["spec"]["template"]["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    assert api.post(jobs(namespace), body).status == 201


def test_on_exit_codes_must_be_sorted_and_in_excludes_zero(api: Http, namespace: str) -> None:
    policy = {
        "rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [75, 1]}},
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [0, 3]}},
        ]
    }

    message = _invalid(api, namespace, job("pfp", podFailurePolicy=policy))

    assert (
        "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{75, 1}: "
        "must be ordered"
    ) in message
    assert (
        "spec.podFailurePolicy.rules[1].onExitCodes.values[0]: Invalid value: 0: "
        "must not be 0 for the In operator"
    ) in message


def test_a_selector_without_manual_selector_is_refused(api: Http, namespace: str) -> None:
    body = job("sel", selector={"matchLabels": {"app": "x"}})
    body["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}

    reply = api.post(jobs(namespace), body)

    assert reply.status == 422, reply.body
    message = reply.body["message"]
    assert (
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"x"'
        in (message)
    )
    assert message.endswith("`selector` not auto-generated")


def test_a_manual_selector_must_match_the_template(api: Http, namespace: str) -> None:
    body = job("manual", manualSelector=True, selector={"matchLabels": {"app": "x"}})
    body["spec"]["template"]["metadata"] = {"labels": {"app": "y"}}

    message = _invalid(api, namespace, body)

    assert message == (
        'Job.batch "manual" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"y"}: `selector` does not match template `labels`'
    )
    body["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    created = api.post(jobs(namespace), body)
    assert created.status == 201, created.body
    assert created.body["spec"]["selector"] == {"matchLabels": {"app": "x"}}
