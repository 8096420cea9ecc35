"""``helm install`` and ``helm upgrade`` of the chart against the API server emulator,
through Helm's own Go SDK (helm-python-sdk's ``Config``), as an installer runs them.

What ``helm template`` cannot show: Helm maps every object of a release to the
cluster's APIs before it creates any of them, and creates a chart's ``crds/`` at
``helm install`` only. Each test starts from an empty cluster (its own emulator), and
each Helm command gets its own ``Config``, as each ``helm`` run discovers the cluster
afresh.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helm_python import Config, HelmError
from helm_python.chart import Chart

from kubemigrate.devcluster.apiserver import ApiServerProcess
from tests.devcluster.conftest import kubectl_binary

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kubemigrate"
NAMESPACE = "kubemigrate-system"
RELEASE = "km"
PEERING = {"peering": {"enabled": True}, "replicaCount": 2}
KOPF_CRDS = {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}


@pytest.fixture
def cluster() -> Iterator[ApiServerProcess]:
    with ApiServerProcess(startup_timeout=30.0) as server:
        for namespace in (NAMESPACE, "shop", "billing"):
            kubectl(server, "create", "namespace", namespace)
        yield server


def kubectl(server: ApiServerProcess, *args: str) -> str:
    result = subprocess.run(
        [kubectl_binary(), *args],
        capture_output=True,
        text=True,
        env=server.env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def get(server: ApiServerProcess, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl(server, "get", *args, "-o", "json"))
    return found


def helm(
    server: ApiServerProcess, action: str, values: dict[str, Any], chart: Path = CHART
) -> None:
    with (
        Config(kubeconfig_path=str(server.kubeconfig), namespace=NAMESPACE) as config,
        Chart.load(chart) as loaded,
    ):
        run = config.install if action == "install" else config.upgrade
        run(loaded, RELEASE, values, namespace=NAMESPACE, timeout=60)


def peerings(server: ApiServerProcess) -> set[tuple[str, str]]:
    """(namespace or "", name) of every peering object in the cluster."""
    items = get(server, "clusterkopfpeerings,kopfpeerings", "-A")["items"]
    return {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items}


def kopf_crds(server: ApiServerProcess) -> set[str]:
    names = {o["metadata"]["name"] for o in get(server, "crds")["items"]}
    return names & KOPF_CRDS


def test_peering_installs_with_one_helm_install(cluster: ApiServerProcess) -> None:
    """The README's command for more than one replica failed: "resource mapping not
    found ... no matches for kind ClusterKopfPeering in version kopf.dev/v1"."""
    helm(cluster, "install", PEERING)
    assert kopf_crds(cluster) == KOPF_CRDS
    assert peerings(cluster) == {("", "kubemigrate")}
    peering = get(cluster, "clusterkopfpeering", "kubemigrate")
    assert peering["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
    deployment = get(cluster, "deployment", "-n", NAMESPACE, "km-kubemigrate")
    assert deployment["spec"]["replicas"] == 2
    # a node drain evicts one replica at a time: the budget is installed with the rest
    budget = get(cluster, "pdb", "-n", NAMESPACE, "km-kubemigrate")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    listed = kubectl(cluster, "get", "pdb", "-n", NAMESPACE).splitlines()
    assert listed[0].split() == [
        "NAME",
        "MIN",
        "AVAILABLE",
        "MAX",
        "UNAVAILABLE",
        "ALLOWED",
        "DISRUPTIONS",
        "AGE",
    ]
    assert listed[1].split()[:4] == ["km-kubemigrate", "1", "N/A", "0"]
    # uninstall deletes the release's peering object and keeps the CRDs other kopf
    # operators may peer through (history kept: the emulator cannot yet take the
    # protobuf DeleteOptions with which Helm purges it)
    with Config(kubeconfig_path=str(cluster.kubeconfig), namespace=NAMESPACE) as config:
        config.uninstall(RELEASE, keep_history=True)
    assert peerings(cluster) == set()
    assert kopf_crds(cluster) == KOPF_CRDS


def test_a_default_release_upgrades_to_peering(cluster: ApiServerProcess) -> None:
    helm(cluster, "install", {})
    assert peerings(cluster) == set()
    helm(cluster, "upgrade", PEERING)
    assert peerings(cluster) == {("", "kubemigrate")}
    helm(cluster, "upgrade", PEERING)  # and again, the object kept as it is
    assert peerings(cluster) == {("", "kubemigrate")}


def test_watched_namespaces_get_a_peering_object_each(cluster: ApiServerProcess) -> None:
    helm(cluster, "install", {**PEERING, "operator": {"watchNamespaces": ["shop", "billing"]}})
    assert peerings(cluster) == {("shop", "kubemigrate"), ("billing", "kubemigrate")}


@pytest.mark.parametrize("peering", [{"enabled": True}, {"enabled": True, "installCRDs": False}])
def test_another_operator_s_kopf_crds_are_left_as_they_are(
    cluster: ApiServerProcess, peering: dict[str, Any]
) -> None:
    """Where another kopf operator installed the CRDs, Helm neither refuses them (as it
    refuses another release's objects) nor takes them over."""
    kubectl(cluster, "apply", "-f", str(CHART / "crds"))
    kubectl(cluster, "label", "crd", *sorted(KOPF_CRDS), "app=other-operator")
    helm(cluster, "install", {**PEERING, "peering": peering})
    assert peerings(cluster) == {("", "kubemigrate")}
    for name in KOPF_CRDS:
        metadata = get(cluster, "crd", name)["metadata"]
        assert metadata["labels"] == {"app": "other-operator"}
        assert not any(key.startswith("meta.helm.sh/") for key in metadata.get("annotations", {}))


def test_an_upgrade_without_kopf_s_crds_says_how_to_get_them(
    cluster: ApiServerProcess, tmp_path: Path
) -> None:
    """`helm upgrade` never reads crds/: a release installed without them (here by the
    chart without its crds/, as an older chart or --skip-crds would) is told where
    they are, then upgrades once they are applied."""
    without = tmp_path / "kubemigrate"
    shutil.copytree(CHART, without)
    shutil.rmtree(without / "crds")
    helm(cluster, "install", {}, chart=without)
    assert kopf_crds(cluster) == set()
    with pytest.raises(HelmError, match="kubectl apply -f helm/kubemigrate/crds/"):
        helm(cluster, "upgrade", PEERING)
    kubectl(cluster, "apply", "-f", str(CHART / "crds"))
    helm(cluster, "upgrade", PEERING)
    assert peerings(cluster) == {("", "kubemigrate")}
