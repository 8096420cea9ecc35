"""The project's install paths on the local cluster: kubectl apply of the rendered Helm
chart and of ``kubectl kustomize manifests/``, with client-side validation on, and the
plain ``kubectl create`` commands (protobuf bodies)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.devcluster.devcluster_http import Http

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kubemigrate"
NAMESPACE = "kubemigrate-system"


def render_chart(**values: Any) -> dict[str, str]:
    from helm_python.chart import Chart

    with Chart.load(CHART) as chart:
        rendered: dict[str, str] = chart.render(values=values, name="km", namespace=NAMESPACE)
    return rendered


def chart_manifest(**values: Any) -> str:
    return "\n---\n".join(
        text for name, text in sorted(render_chart(**values).items()) if name.endswith(".yaml")
    )


def kinds_of(manifest: str) -> set[str]:
    return {o["kind"] for o in yaml.safe_load_all(manifest) if o}


@pytest.fixture(scope="module")
def kustomized(kubectl: Any) -> str:
    manifest: str = kubectl("kustomize", str(ROOT / "manifests")).stdout
    out = kubectl("apply", "-f", "-", stdin=manifest).stdout
    assert "namespace/kubemigrate-system created" in out
    return manifest


@pytest.fixture(scope="module")
def chart(kubectl: Any, kustomized: str) -> str:
    manifest = chart_manifest()
    kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=manifest)
    return manifest


def test_kustomize_output_applies_with_validation(kubectl: Any, kustomized: str) -> None:
    assert {
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "Deployment",
    } <= kinds_of(kustomized)
    again = kubectl("apply", "-f", "-", stdin=kustomized).stdout.splitlines()
    assert again
    assert all(line.endswith(" unchanged") for line in again), again


def test_chart_applies_with_validation(kubectl: Any, chart: str) -> None:
    assert {"ClusterRole", "RoleBinding", "Service", "Deployment"} <= kinds_of(chart)
    again = kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=chart).stdout.splitlines()
    changed = [line for line in again if not line.endswith(" unchanged")]
    # The CRD is in both install paths, with different labels: the chart re-labels it.
    assert all(line.startswith("customresourcedefinition") for line in changed), changed


def test_objects_are_stored_and_listed(kubectl: Any, chart: str) -> None:
    names = kubectl("get", "clusterroles,clusterrolebindings", "-o", "name").stdout.split()
    assert "clusterrole.rbac.authorization.k8s.io/km-kubemigrate-runs" in names
    assert "clusterrolebinding.rbac.authorization.k8s.io/kubemigrate-cluster" in names
    deploy = json.loads(
        kubectl("get", "deploy", "km-kubemigrate", "-n", NAMESPACE, "-o", "json").stdout
    )
    assert deploy["apiVersion"] == "apps/v1"
    assert deploy["metadata"]["generation"] == 1
    assert deploy["spec"]["revisionHistoryLimit"] == 10  # defaulted as by the real server
    assert deploy["status"] == {}  # no Deployment controller: no Pods, no status
    svc = json.loads(
        kubectl("get", "svc", "km-kubemigrate-metrics", "-n", NAMESPACE, "-o", "json").stdout
    )
    assert svc["spec"]["clusterIP"].startswith("10.")
    assert svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    assert svc["spec"]["ports"][0]["protocol"] == "TCP"


def test_tables(kubectl: Any, chart: str) -> None:
    roles = kubectl("get", "clusterroles").stdout.splitlines()
    assert roles[0].split() == ["NAME", "CREATED", "AT"]
    bindings = kubectl("get", "rolebindings", "-n", NAMESPACE).stdout.splitlines()
    assert bindings[0].split() == ["NAME", "ROLE", "AGE"]
    assert any(
        line.split()[:2] == ["km-kubemigrate", "Role/km-kubemigrate"] for line in bindings[1:]
    )
    wide = kubectl("get", "clusterrolebindings", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    services = kubectl("get", "svc", "-n", NAMESPACE).stdout.splitlines()
    assert services[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    row = next(line.split() for line in services if line.startswith("km-kubemigrate-metrics"))
    assert row[1:5] == ["ClusterIP", row[2], "<none>", "8080/TCP"]
    deployments = kubectl("get", "deploy", "-n", NAMESPACE).stdout.splitlines()
    assert deployments[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert next(line for line in deployments if line.startswith("km-")).split()[1] == "0/1"


def test_a_change_is_applied_as_a_strategic_merge_patch(kubectl: Any, kustomized: str) -> None:
    changed = kustomized.replace("port: 8080\n", "port: 9090\n", 1)
    assert changed != kustomized
    out = kubectl("apply", "-f", "-", stdin=changed).stdout
    assert "service/kubemigrate-metrics configured" in out
    svc = json.loads(
        kubectl("get", "svc", "kubemigrate-metrics", "-n", NAMESPACE, "-o", "json").stdout
    )
    assert [p["port"] for p in svc["spec"]["ports"]] == [9090]
    kubectl("apply", "-f", "-", stdin=kustomized)


def test_service_monitor_needs_its_crd(kubectl: Any, chart: str) -> None:
    rendered = render_chart(metrics={"serviceMonitor": {"enabled": True}})
    monitor = next(t for n, t in rendered.items() if n.endswith("servicemonitor.yaml"))
    assert "kind: ServiceMonitor" in monitor
    result = kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=monitor, check=False)
    assert result.returncode == 1
    assert 'no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1"' in (
        result.stderr
    )


def test_discovery_of_the_new_kinds(api: Http) -> None:
    rbac = {r["name"]: r for r in api.get("/apis/rbac.authorization.k8s.io/v1").body["resources"]}
    assert rbac["clusterroles"]["namespaced"] is False
    assert rbac["clusterrolebindings"]["kind"] == "ClusterRoleBinding"
    assert rbac["rolebindings"]["namespaced"] is True
    assert "deletecollection" in rbac["roles"]["verbs"]
    core = {r["name"]: r for r in api.get("/api/v1").body["resources"]}
    assert core["services"]["shortNames"] == ["svc"]
    assert core["services"]["categories"] == ["all"]
    assert "services/status" in core
    apps = {r["name"]: r for r in api.get("/apis/apps/v1").body["resources"]}
    assert apps["deployments"]["shortNames"] == ["deploy"]
    assert "deployments/status" in apps


def test_openapi_v2_is_served_in_the_asked_format(api: Http) -> None:
    proto = api.get(
        "/openapi/v2", accept="application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    )
    assert proto.status == 200
    assert proto.headers["Content-Type"].endswith("+protobuf")
    assert api.get("/openapi/v2").body["swagger"] == "2.0"
    assert api.get("/openapi/v2", accept="text/html").status == 406


def test_plain_create_namespace_and_secret(kubectl: Any) -> None:
    kubectl("create", "ns", "plain-x")
    out = kubectl(
        "create", "secret", "generic", "db", "-n", "plain-x", "--from-literal=url=postgres://h"
    ).stdout
    assert "secret/db created" in out
    secret = json.loads(kubectl("get", "secret", "db", "-n", "plain-x", "-o", "json").stdout)
    assert base64.b64decode(secret["data"]["url"]) == b"postgres://h"
    assert secret["type"] == "Opaque"
    assert "plain-x" in kubectl("get", "ns").stdout
    kubectl("create", "serviceaccount", "runner", "-n", "plain-x")
    kubectl("create", "role", "r", "-n", "plain-x", "--verb=get", "--resource=secrets")
    kubectl(
        "create",
        "rolebinding",
        "rb",
        "-n",
        "plain-x",
        "--role=r",
        "--serviceaccount=plain-x:runner",
    )
    binding = json.loads(kubectl("get", "rolebinding", "rb", "-n", "plain-x", "-o", "json").stdout)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "r",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "runner", "namespace": "plain-x"}
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("secret", "generic", "s1", "--from-literal=a=b", "--from-literal=c=dd"),
        ("secret", "docker-registry", "s2", "--docker-username=u", "--docker-password=p"),
        ("configmap", "c1", "--from-literal=a=b"),
        ("serviceaccount", "sa1"),
        ("role", "r1", "--verb=get,list", "--resource=pods,secrets", "--resource-name=a"),
        ("rolebinding", "rb1", "--role=r1", "--user=u", "--group=g"),
    ],
)
def test_plain_create_stores_what_a_client_side_dry_run_prints(
    kubectl: Any, kustomized: str, args: tuple[str, ...]
) -> None:
    scoped = (*args, "-n", NAMESPACE)
    want = json.loads(kubectl("create", *scoped, "--dry-run=client", "-o", "json").stdout)
    got = json.loads(kubectl("create", *scoped, "-o", "json").stdout)
    want["metadata"].pop("creationTimestamp", None)
    for key, value in want.items():
        if key == "metadata":
            assert {k: got["metadata"][k] for k in value} == value
        else:
            assert got[key] == value, key


def test_a_63_character_full_name_installs(kubectl: Any, kustomized: str) -> None:
    """``fullnameOverride`` (or a long release name) of 63 characters: the chart appended
    ``-metrics`` after cutting the name to 63, a 71-character Service name the API
    server refuses (a Service's name is a DNS-1035 label), so the install failed there."""
    full = "k" * 63
    manifest = chart_manifest(fullnameOverride=full, crds={"create": False})
    result = kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=manifest, check=False)
    assert result.returncode == 0, result.stderr
    services = kubectl("get", "services", "-n", NAMESPACE, "-o", "name").stdout.split()
    assert f"service/{'k' * 55}-metrics" in services
    kubectl("delete", "-n", NAMESPACE, "-f", "-", stdin=manifest)
