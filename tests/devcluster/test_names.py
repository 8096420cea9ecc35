"""Object names, validated per kind as the real API server does on create.

``ValidateObjectMetaAccessor`` applies each kind's ``ValidateNameFunc``: a Service's
name is a DNS-1035 label (it becomes a DNS name), a Namespace's an RFC 1123 label,
RBAC objects' a path segment (``system:controller:x`` is fine), and every other kind's
(ConfigMaps, Secrets, Pods, Jobs, Deployments, custom resources) an RFC 1123
subdomain of up to 253 characters. A generateName is checked as a prefix (its trailing
``-`` masked) and cut to 58 characters before the five random ones. A Job's name also
goes into its ``job-name`` labels, so one longer than 63 characters is refused there.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.devcluster.devcluster_http import Http

TOO_LONG_63 = "must be no more than 63 characters"
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric"


def _service(name: str = "", generate: str = "") -> dict[str, Any]:
    meta = {"name": name} if name else {"generateName": generate}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"ports": [{"port": 80}]},
    }


def _services(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services"


def _configmaps(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps"


def test_kubectl_apply_of_a_service_name_over_63_characters_is_422(
    kubectl: Any, api: Http, namespace: str
) -> None:
    """A chart's `<fullname>-metrics` of 71 characters: the real API refuses it."""
    name = "x" * 63 + "-metrics"
    manifest = yaml.safe_dump(_service(name))
    result = kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest, check=False)
    assert result.returncode == 1, result.stdout
    assert (
        f'The Service "{name}" is invalid: metadata.name: Invalid value: "{name}": {TOO_LONG_63}'
    ) in result.stderr
    assert api.get(f"{_services(namespace)}/{name}").status == 404


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("a" * 63, []),
        ("abc-123", []),
        ("a" * 64, [TOO_LONG_63]),
        ("1abc", [DNS1035_MSG]),  # a label may start with a digit, a DNS-1035 label not
        ("a.b", [DNS1035_MSG]),  # a subdomain, not a label
        ("-" + "a" * 64, [TOO_LONG_63, DNS1035_MSG]),  # each message its own cause
    ],
)
def test_service_names_are_dns_1035_labels(
    api: Http, namespace: str, name: str, messages: list[str]
) -> None:
    reply = api.post(_services(namespace), _service(name))
    if not messages:
        assert reply.status == 201, reply.body
        return
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid"
    assert reply.body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f"Invalid value: {json.dumps(name)}: {message}",
            "field": "metadata.name",
        }
        for message in messages
    ]


def test_other_kinds_take_subdomains_of_253_characters(api: Http, namespace: str) -> None:
    long_ok = ".".join(["c" * 63] * 3) + "." + "d" * 61  # 253 characters, dots between
    assert len(long_ok) == 253
    for path, body in (
        (_configmaps(namespace), {"metadata": {"name": long_ok}}),
        (f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "a.b-c"}}),
    ):
        assert api.post(path, body).status == 201, path
    reply = api.post(_configmaps(namespace), {"metadata": {"name": long_ok + "e"}})
    assert reply.status == 422
    assert [c["message"] for c in reply.body["details"]["causes"]] == [
        f'Invalid value: "{long_ok}e": must be no more than 253 characters'
    ]
    reply = api.post(_configmaps(namespace), {"metadata": {"name": "Upper"}})
    assert SUBDOMAIN_MSG in reply.body["message"]


def test_namespace_names_are_labels_without_dots(api: Http) -> None:
    reply = api.post("/api/v1/namespaces", {"metadata": {"name": "team.shop"}})
    assert reply.status == 422
    assert reply.body["message"] == (
        'Namespace "team.shop" is invalid: metadata.name: Invalid value: "team.shop": '
        "must not contain dots"
    )
    assert api.post("/api/v1/namespaces", {"metadata": {"name": "9-shop"}}).status == 201


def test_rbac_names_are_path_segments(api: Http, namespace: str) -> None:
    """``system:controller:x`` is how Kubernetes names its own ClusterRoles."""
    roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    assert api.post(roles, {"metadata": {"name": "system:kubemigrate:Reader"}}).status == 201
    reply = api.post(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
        {"metadata": {"name": "50%"}},
    )
    assert reply.status == 422
    assert "metadata.name: Invalid value: \"50%\": may not contain '%'" in reply.body["message"]


def test_generate_name_is_cut_to_fit_and_checked_as_a_prefix(api: Http, namespace: str) -> None:
    reply = api.post(_configmaps(namespace), {"metadata": {"generateName": "g" * 100}})
    assert reply.status == 201, reply.body
    name = reply.body["metadata"]["name"]
    assert len(name) == 63
    assert name.startswith("g" * 58)
    # the generateName itself is held to the kind's rule: too long for a Service's,
    # though the name made of it (cut to 58 + 5) would fit
    reply = api.post(_services(namespace), _service(generate="web-" + "w" * 70))
    assert reply.status == 422, reply.body
    assert [c["field"] for c in reply.body["details"]["causes"]] == ["metadata.generateName"]
    assert api.post(_services(namespace), _service(generate="web-")).status == 201
    reply = api.post(_services(namespace), _service(generate="1web-"))
    assert reply.status == 422
    fields = [c["field"] for c in reply.body["details"]["causes"]]
    assert fields == ["metadata.generateName", "metadata.name"]
    assert reply.body["details"]["causes"][0]["message"] == f'Invalid value: "1web-": {DNS1035_MSG}'


def test_a_job_name_must_fit_its_job_name_labels(kubectl: Any, api: Http, namespace: str) -> None:
    """Longer than 63 characters: a valid subdomain, refused for the labels the API
    server adds (kubernetes/kubernetes#50850), each field said once."""
    name = "j" * 64
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
            }
        },
    }
    result = kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(job), check=False)
    assert result.returncode == 1
    assert (
        f'The Job "{name}" is invalid: \n'
        f'* metadata.labels: Invalid value: "{name}": {TOO_LONG_63}\n'
        f'* spec.template.labels: Invalid value: "{name}": {TOO_LONG_63}'
    ) in result.stderr, result.stderr
    reply = api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    assert reply.body["message"] == (
        f'Job.batch "{name}" is invalid: ['
        f'metadata.labels: Invalid value: "{name}": {TOO_LONG_63}, '
        f'spec.template.labels: Invalid value: "{name}": {TOO_LONG_63}]'
    )
    job["metadata"]["name"] = "j" * 63
    assert api.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", job).status == 201


def test_core_v1_events_skip_name_validation_events_k8s_io_does_not(
    api: Http, namespace: str
) -> None:
    """ValidateEventCreate: a core/v1 Event keeps the legacy checks only (for old
    clients), so a generateName ending in "." (the operator's ``<run>.``) is accepted;
    through events.k8s.io/v1 the same name is held to the subdomain rule."""
    core = {
        "metadata": {"generateName": "shop-migrate."},
        "involvedObject": {"namespace": namespace, "name": "shop-migrate"},
        "reason": "JobCreated",
        "message": "m",
    }
    reply = api.post(f"/api/v1/namespaces/{namespace}/events", core)
    assert reply.status == 201, reply.body
    assert reply.body["metadata"]["name"].startswith("shop-migrate.")
    strict = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"generateName": "shop-migrate."},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "kubemigrate.io/operator",
        "reportingInstance": "x",
        "action": "Create",
        "reason": "JobCreated",
        "type": "Normal",
        "regarding": {"namespace": namespace, "name": "shop-migrate"},
    }
    reply = api.post(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", strict)
    assert reply.status == 422, reply.body
    causes = reply.body["details"]["causes"]
    assert [c["field"] for c in causes][:1] == ["metadata.generateName"]
