"""The Helm chart, rendered offline by Helm's own SDK (helm-python-sdk) and linted.

What matters to a cluster admin is asserted on the rendered objects: the operator
runs under the "restricted" Pod Security Standard, its RBAC is what the operator
needs and no more (Secrets: ``get`` only, never ``list``/``watch``), and the CRD and
alert rules shipped by the chart are exactly the project's single sources.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from helm_python.chart import Chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kubemigrate"
CRD_SOURCE = ROOT / "crds" / "migrationruns.kubemigrate.io.yaml"
RULES_SOURCE = ROOT / "alerts" / "kubemigrate-rules.yaml"
DASHBOARD_SOURCE = ROOT / "dashboards" / "kubemigrate.json"
NAMESPACE = "kubemigrate-system"

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def chart() -> Iterator[Chart]:
    with Chart.load(CHART) as loaded:
        yield loaded


def render(chart: Chart, **values: Any) -> list[Obj]:
    manifests = chart.render(values=values, name="km", namespace=NAMESPACE)
    return [
        obj
        for name, text in sorted(manifests.items())
        if name.endswith(".yaml")
        for obj in yaml.safe_load_all(text)
        if obj
    ]


def only(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def kinds(objects: list[Obj]) -> set[str]:
    return {o["kind"] for o in objects}


def env(container: Obj) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def aggregated(role: Obj) -> bool:
    """Whether ``role`` is added to Kubernetes' user-facing roles (people's, not ours)."""
    return any(k.startswith(AGGREGATE) for k in role["metadata"].get("labels", {}))


def rules_for(objects: list[Obj], group: str, resource: str) -> set[str]:
    """Every verb any Role/ClusterRole of the operator's grants on group/resource."""
    verbs: set[str] = set()
    for obj in objects:
        if obj["kind"] in {"Role", "ClusterRole"} and not aggregated(obj):
            for rule in obj["rules"]:
                if group in rule["apiGroups"] and resource in rule["resources"]:
                    verbs |= set(rule["verbs"])
    return verbs


def assert_restricted(pod: Obj) -> None:
    """The Pod Security Standard "restricted" profile, field by field."""
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key), key
    pod_sc = pod.get("securityContext", {})
    assert pod_sc.get("seccompProfile", {}).get("type") in {"RuntimeDefault", "Localhost"}
    allowed_volumes = {"configMap", "emptyDir", "projected", "secret", "downwardAPI"}
    for volume in pod.get("volumes", []):
        assert set(volume) - {"name"} <= allowed_volumes, volume
    for container in pod["containers"] + pod.get("initContainers", []):
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert not sc.get("capabilities", {}).get("add")
        assert not sc.get("privileged")
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True
        assert sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0
        assert sc["readOnlyRootFilesystem"] is True  # beyond restricted: our own bar


def test_helm_lint_is_clean() -> None:
    report = helm_python.lint(CHART, strict=True)
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert problems == []


def test_default_install(chart: Chart) -> None:
    objects = render(chart)
    assert kinds(objects) == {
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
    }
    deployment = only(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert_restricted(pod)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # standalone kopf
    (container,) = pod["containers"]
    assert container["command"] == ["kubemigrate", "operator"]
    assert "args" not in container
    assert container["image"] == "ghcr.io/kubemigrate/kubemigrate:0.1.0"
    settings = env(container)
    assert settings["KUBEMIGRATE_NAMESPACES"] == ""  # every namespace
    assert settings["KUBEMIGRATE_JOB_IMAGE"] == container["image"]  # one image
    assert settings["KUBEMIGRATE_STANDALONE"] == "true"
    assert settings["KUBEMIGRATE_METRICS_PORT"] == "8080"
    assert settings["KUBEMIGRATE_HEALTH_PORT"] == "8081"
    assert settings["KUBEMIGRATE_JOB_TTL_SECONDS_AFTER_FINISHED"] == "none"
    # kopf's name for the replica: else its user's, which the image's UID 65532 has none of
    pod_id = {"fieldRef": {"fieldPath": "metadata.name"}}
    assert {"name": "POD_ID", "valueFrom": pod_id} in container["env"]
    assert pod["serviceAccountName"] == only(objects, "ServiceAccount")["metadata"]["name"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}


def test_the_operator_settings_the_chart_sets_exist() -> None:
    """Every KUBEMIGRATE_* variable the chart sets is a field of OperatorSettings."""
    settings = pytest.importorskip("kubemigrate.settings")
    fields = {f"KUBEMIGRATE_{name.upper()}" for name in settings.OperatorSettings.model_fields}
    with Chart.load(CHART) as loaded:
        container = only(render(loaded), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    ours = {name for name in env(container) if name.startswith("KUBEMIGRATE_")}
    assert ours <= fields, sorted(ours - fields)


def test_rbac_grants_what_the_operator_needs(chart: Chart) -> None:
    """What the operator's calls (controller/kube.py) and kopf's need, and no more: a
    cluster-wide ConfigMap update, say, reaches kube-system's."""
    objects = render(chart)
    assert rules_for(objects, "kubemigrate.io", "migrationruns") == {
        "get",
        "list",
        "watch",
        "patch",
    }
    assert rules_for(objects, "kubemigrate.io", "migrationruns/status") == {"get", "patch"}
    assert rules_for(objects, "kubemigrate.io", "migrationruns/finalizers") == {"update"}
    assert rules_for(objects, "batch", "jobs") == {"create", "get", "list", "watch"}
    assert rules_for(objects, "", "pods") == {"get", "list", "watch"}
    assert rules_for(objects, "", "pods/log") == set()
    assert rules_for(objects, "", "configmaps") == {"get", "create"}
    assert rules_for(objects, "", "events") == {"create"}
    assert rules_for(objects, "", "namespaces") == {"get", "list", "watch"}
    assert rules_for(objects, "coordination.k8s.io", "leases") == set()
    runs_binding = only(objects, "ClusterRoleBinding", "km-kubemigrate-runs")
    assert runs_binding["subjects"][0]["namespace"] == NAMESPACE


def test_people_with_view_read_runs_and_with_edit_or_admin_create_them(chart: Chart) -> None:
    """A namespace's editors could not create a MigrationRun, nor its viewers list one,
    until a cluster admin wrote roles by hand: the chart adds runs to Kubernetes' own
    view, edit and admin roles (edit and admin create pods already: README, Security).
    The status stays the operator's."""
    roles = [o for o in render(chart) if o["kind"] == "ClusterRole" and aggregated(o)]
    granted: dict[str, set[str]] = {}
    for role in roles:
        labels = role["metadata"]["labels"]
        for level in ("view", "edit", "admin"):
            if labels.get(AGGREGATE + level) == "true":
                for rule in role["rules"]:
                    assert rule["apiGroups"] == ["kubemigrate.io"], rule
                    for resource in rule["resources"]:
                        key = f"{level} {resource}"
                        granted[key] = granted.get(key, set()) | set(rule["verbs"])
    read = {"get", "list", "watch"}
    write = {"create", "update", "patch", "delete", "deletecollection"}
    assert granted == {
        "view migrationruns": read,
        "view migrationruns/status": read,
        **{f"{level} migrationruns": read | write for level in ("edit", "admin")},
        **{f"{level} migrationruns/status": read for level in ("edit", "admin")},
    }
    assert not any(
        o["kind"].endswith("Binding")
        and o["roleRef"]["name"] in {r["metadata"]["name"] for r in roles}
        for o in render(chart)
    )


def test_the_job_s_user_can_be_left_to_the_platform(chart: Chart) -> None:
    """operator.jobRunAsUser=null for OpenShift: the operator builds Jobs asking for no
    uid (its own pod's are podSecurityContext's, already values)."""

    def job_user(**values: Any) -> str:
        container = only(render(chart, **values), "Deployment")["spec"]["template"]["spec"]
        return env(container["containers"][0])["KUBEMIGRATE_JOB_RUN_AS_USER"]

    assert job_user() == "65532"
    assert job_user(operator={"jobRunAsUser": None}) == "none"
    assert job_user(operator={"jobRunAsUser": 1000680000}) == "1000680000"


def test_the_user_facing_roles_can_be_left_out(chart: Chart) -> None:
    objects = render(chart, rbac={"aggregateToDefaultRoles": False})
    assert not [o for o in objects if o["kind"] == "ClusterRole" and aggregated(o)]
    assert rules_for(objects, "kubemigrate.io", "migrationruns") == {
        "get",
        "list",
        "watch",
        "patch",
    }


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"operator": {"watchNamespaces": ["shop"]}},
        {"peering": {"enabled": True}, "replicaCount": 2},
    ],
)
def test_secrets_are_get_only_and_nothing_is_a_wildcard(chart: Chart, values: Obj) -> None:
    objects = render(chart, **values)
    assert rules_for(objects, "", "secrets") == {"get"}
    for obj in objects:
        for rule in obj.get("rules", []):
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule


def test_secret_access_can_be_turned_off(chart: Chart) -> None:
    assert rules_for(render(chart, rbac={"secretsGet": False}), "", "secrets") == set()


def test_an_unnamed_existing_service_account_is_refused(chart: Chart) -> None:
    """serviceAccount.create=false alone bound the ClusterRoles to the namespace's
    `default` ServiceAccount: every pod running as default could read Secrets and create
    Jobs in every namespace."""
    with pytest.raises(helm_python.HelmError, match=r"needs serviceAccount\.name") as failed:
        render(chart, serviceAccount={"create": False})
    assert "serviceAccount.create=true" in str(failed.value)
    objects = render(chart, serviceAccount={"create": False, "name": "migrator"})
    assert "ServiceAccount" not in kinds(objects)
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "migrator"
    bindings = [o for o in objects if o["kind"] in {"RoleBinding", "ClusterRoleBinding"}]
    assert bindings
    assert all(
        b["subjects"] == [{"kind": "ServiceAccount", "name": "migrator", "namespace": NAMESPACE}]
        for b in bindings
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key repeated in one mapping, as `kubectl apply` and
    the API server do (PyYAML and Helm keep the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        repeated = {key for key in keys if keys.count(key) > 1}
        assert not repeated, f"{node.start_mark}: {sorted(repeated)} repeated"
        return super().construct_mapping(node, deep=deep)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"probes": {"liveness": {"periodSeconds": 30, "terminationGracePeriodSeconds": 5}}},
        {"probes": {"readiness": {"successThreshold": 2}}},
        {"podLabels": {"team": "db"}, "podAnnotations": {"a": "b"}},
        {"peering": {"enabled": True}, "operator": {"watchNamespaces": ["shop", "billing"]}},
    ],
)
def test_no_rendered_object_repeats_a_key(chart: Chart, values: Obj) -> None:
    """probes.liveness.httpGet and a podLabels key of the selector rendered a key twice;
    the schema now refuses both (test_helm_schema.py)."""
    manifests = chart.render(values=values, name="km", namespace=NAMESPACE)
    for name, text in manifests.items():
        if name.endswith(".yaml"):
            list(yaml.load_all(text, Loader=_UniqueKeyLoader))


def test_watch_namespaces_bind_runs_rbac_per_namespace(chart: Chart) -> None:
    objects = render(chart, operator={"watchNamespaces": ["shop", "billing"]})
    container = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert env(container)["KUBEMIGRATE_NAMESPACES"] == "shop,billing"
    bindings = [
        o for o in objects if o["kind"] == "RoleBinding" and o["roleRef"]["name"].endswith("-runs")
    ]
    assert {b["metadata"]["namespace"] for b in bindings} == {"shop", "billing"}
    assert all(b["roleRef"]["kind"] == "ClusterRole" for b in bindings)
    cluster_bindings = [o["roleRef"]["name"] for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert cluster_bindings == ["km-kubemigrate-cluster"]  # namespaces/CRDs reads only


def test_peering_switches_to_rolling_updates_and_grants_kopf_peerings(chart: Chart) -> None:
    objects = render(chart, peering={"enabled": True}, replicaCount=2)
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert (
        env(deployment["spec"]["template"]["spec"]["containers"][0])["KUBEMIGRATE_STANDALONE"]
        == "false"
    )
    assert rules_for(objects, "kopf.dev", "clusterkopfpeerings") >= {"get", "list", "patch"}
    scoped = render(chart, peering={"enabled": True}, operator={"watchNamespaces": ["shop"]})
    assert rules_for(scoped, "kopf.dev", "kopfpeerings") >= {"get", "list", "patch"}
    assert rules_for(scoped, "kopf.dev", "clusterkopfpeerings") == set()


def test_replicas_get_a_disruption_budget_and_spread_across_nodes(chart: Chart) -> None:
    """With two replicas a node drain could evict both at once, and both could share
    the node whose loss then took the operator down."""
    single = render(chart)
    assert "PodDisruptionBudget" not in kinds(single)  # would block every drain
    assert "affinity" not in only(single, "Deployment")["spec"]["template"]["spec"]
    objects = render(chart, peering={"enabled": True}, replicaCount=2)
    template = only(objects, "Deployment")["spec"]["template"]
    budget = only(objects, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert budget["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    (preferred,) = template["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    term = preferred["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()


def test_spreading_and_the_budget_can_be_chosen(chart: Chart) -> None:
    replicas: Obj = {"peering": {"enabled": True}, "replicaCount": 3}

    def affinity(**values: Any) -> Obj:
        objects = render(chart, **replicas, **values)
        spec: Obj = only(objects, "Deployment")["spec"]["template"]["spec"]
        found: Obj = spec.get("affinity", {})
        return found

    hard = affinity(podAntiAffinity="hard")["podAntiAffinity"]
    assert list(hard) == ["requiredDuringSchedulingIgnoredDuringExecution"]
    assert affinity(podAntiAffinity="none") == {}
    nodes: Obj = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}
    assert set(affinity(affinity=nodes)) == {"nodeAffinity", "podAntiAffinity"}
    own: Obj = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}
    assert affinity(affinity=own) == own  # the user's own wins
    budget = only(
        render(chart, **replicas, podDisruptionBudget={"minAvailable": "50%"}),
        "PodDisruptionBudget",
    )
    assert budget["spec"]["minAvailable"] == "50%"
    off = render(chart, **replicas, podDisruptionBudget={"enabled": False})
    assert "PodDisruptionBudget" not in kinds(off)
    with pytest.raises(
        helm_python.HelmError, match=r"minAvailable \(3\) is not below replicaCount"
    ):
        render(chart, **replicas, podDisruptionBudget={"minAvailable": 3})


def test_replicas_without_peering_are_refused(chart: Chart) -> None:
    with pytest.raises(helm_python.HelmError, match="peering"):
        render(chart, replicaCount=2)


def test_extra_args_follow_the_command(chart: Chart) -> None:
    objects = render(chart, operator={"extraArgs": ["--verbose"]})
    container = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["kubemigrate", "operator"]
    assert container["args"] == ["--verbose"]


def test_metrics_service_is_annotated_for_scraping(chart: Chart) -> None:
    service = only(render(chart), "Service")
    assert service["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
    }
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    deployment = only(render(chart), "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_service_monitor_on(chart: Chart) -> None:
    objects = render(
        chart, metrics={"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}
    )
    monitor = only(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    # alerts must name the MigrationRun's namespace, not the operator's
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    service = only(objects, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    # scraped by the ServiceMonitor only, not a second time through the annotations
    assert "prometheus.io/scrape" not in (service["metadata"].get("annotations") or {})


def test_prometheus_rule_carries_the_alerts_file(chart: Chart) -> None:
    rule = only(render(chart, metrics={"prometheusRule": {"enabled": True}}), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES_SOURCE.read_text())


def test_grafana_dashboard_configmap_carries_the_dashboard(chart: Chart) -> None:
    """The chart shipped the alerts but not the dashboard: Grafana's sidecar loads a
    ConfigMap with its label."""
    assert "ConfigMap" not in kinds(render(chart))
    values = {"grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "db"}}}
    dashboard = only(render(chart, metrics=values), "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "db"}
    assert json.loads(dashboard["data"]["kubemigrate.json"]) == json.loads(
        DASHBOARD_SOURCE.read_text()
    )


def test_crd_is_the_single_source_with_keep_policy(chart: Chart) -> None:
    """Fails until crds/migrationruns.kubemigrate.io.yaml exists and the copy matches."""
    crd = only(render(chart), "CustomResourceDefinition")
    annotations = crd["metadata"].pop("annotations")
    assert annotations == {"helm.sh/resource-policy": "keep"}
    assert crd == yaml.safe_load(CRD_SOURCE.read_text())


def test_values_of_an_older_chart_are_named_as_the_cause(chart: Chart) -> None:
    """`helm upgrade --reuse-values` keeps the old release's values, without the new
    chart's keys: the render failed on a limit the user never set ("jobBackoffLimit is
    above jobMaxBackoffLimit", a missing key read as 0)."""
    with pytest.raises(Exception, match="--reset-then-reuse-values") as failed:
        render(chart, operator={"jobMaxBackoffLimit": None})
    assert "operator.jobMaxBackoffLimit is missing" in str(failed.value)


def test_crds_off(chart: Chart) -> None:
    assert "CustomResourceDefinition" not in kinds(render(chart, crds={"create": False}))


@pytest.mark.parametrize(
    ("copy", "source"),
    [
        ("files/crds/migrationruns.kubemigrate.io.yaml", CRD_SOURCE),
        ("files/kubemigrate-rules.yaml", RULES_SOURCE),
        ("files/kubemigrate-dashboard.json", DASHBOARD_SOURCE),
    ],
)
def test_chart_copies_match_their_sources(copy: str, source: Path) -> None:
    assert (CHART / copy).read_bytes() == source.read_bytes(), (
        f"helm/kubemigrate/{copy} is stale: cp {source.relative_to(ROOT)} "
        f"helm/kubemigrate/{Path(copy).parent}/"
    )


def test_values_are_documented_line_by_line() -> None:
    """Every value in values.yaml has a comment above it or above an enclosing key."""
    documented_ancestors: list[tuple[int, bool]] = []  # (indent, documented) of open keys
    previous = ""
    for line in (CHART / "values.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "- ")):
            indent = len(line) - len(line.lstrip())
            while documented_ancestors and documented_ancestors[-1][0] >= indent:
                documented_ancestors.pop()
            documented = previous.startswith("#")
            covered = documented or any(doc for _, doc in documented_ancestors)
            key, _, value = stripped.partition(":")
            is_section = value.strip() == ""  # its children carry the documentation
            assert covered or is_section, f"values.yaml: undocumented key {key!r}"
            documented_ancestors.append((indent, documented))
        previous = stripped


def test_peering_objects_are_the_release_s_and_kopf_s_crds_come_from_crds_dir(
    chart: Chart,
) -> None:
    """kopf's CRDs and the peering objects were templates of one release, and Helm maps
    every object's kind before it creates any: `helm install --set peering.enabled=true`
    failed on "no matches for kind ClusterKopfPeering ... ensure CRDs are installed
    first". Helm creates crds/ before it maps the templates (only where absent)."""
    peering_crds = {
        crd["metadata"]["name"]: crd
        for crd in (yaml.safe_load(f["data"]) for f in chart.crds)
        if crd["spec"]["group"] == "kopf.dev"
    }
    assert set(peering_crds) == {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}
    objects = render(chart, peering={"enabled": True}, replicaCount=2)
    assert not any(
        o["kind"] == "CustomResourceDefinition" and "kopf" in o["metadata"]["name"] for o in objects
    )
    (peering,) = [o for o in objects if o["kind"].endswith("KopfPeering")]
    scoped = render(
        chart,
        peering={"enabled": True, "installCRDs": False},  # accepted, no longer read
        operator={"watchNamespaces": ["shop", "billing"]},
    )
    namespaced = [o for o in scoped if o["kind"].endswith("KopfPeering")]
    assert sorted(o["metadata"]["namespace"] for o in namespaced) == ["billing", "shop"]
    for obj in [peering, *namespaced]:
        crd = peering_crds[f"{obj['kind'].lower()}s.kopf.dev"]  # a CRD serves each kind
        assert crd["spec"]["names"]["kind"] == obj["kind"]
        assert obj["apiVersion"] == "kopf.dev/" + crd["spec"]["versions"][0]["name"]
        assert (crd["spec"]["scope"] == "Namespaced") == ("namespace" in obj["metadata"])
    assert peering["kind"] == "ClusterKopfPeering"
    assert peering["metadata"]["name"] == "kubemigrate"
    assert not any(o["kind"].endswith("KopfPeering") for o in render(chart))


def test_an_upgrade_to_peering_without_kopf_s_crds_names_the_fix(chart: Chart) -> None:
    """`helm upgrade` never reads crds/: a release installed without them (an older
    chart, --skip-crds) must be told where they are, not only "no matches for kind"."""
    with pytest.raises(helm_python.HelmError, match="kubectl apply -f helm/kubemigrate/crds/"):
        chart.render(
            values={"peering": {"enabled": True}},
            name="km",
            namespace=NAMESPACE,
            is_upgrade=True,
        )
    chart.render(values={}, name="km", namespace=NAMESPACE, is_upgrade=True)


def notes(chart: Chart, **values: Any) -> str:
    rendered = chart.render(values=values, name="km", namespace=NAMESPACE)
    return rendered["kubemigrate/templates/NOTES.txt"]


@pytest.mark.parametrize("values", [{}, {"fullnameOverride": "f" * 63}])
def test_notes_give_the_metrics_service_s_real_address(chart: Chart, values: Obj) -> None:
    """NOTES printed `<fullname>-metrics`, which is not the Service's name when the
    full name is cut to fit the suffix (a long fullnameOverride)."""
    service = only(render(chart, **values), "Service")
    (line,) = [line for line in notes(chart, **values).splitlines() if "Metrics" in line]
    url = f"http://{service['metadata']['name']}.{NAMESPACE}.svc:8080/metrics"
    assert line == f"Metrics: {url}"


def test_notes_give_no_metrics_address_without_the_service(chart: Chart) -> None:
    text = notes(chart, metrics={"service": {"enabled": False}})
    assert ".svc" not in text
    assert "no Service (metrics.service.enabled=false)" in text


def test_notes_say_peering_install_crds_is_no_longer_read(chart: Chart) -> None:
    assert "installCRDs" not in notes(chart)
    assert "--skip-crds" in notes(chart, peering={"installCRDs": False})


# -- what a MigrationRun may ask of its Job -------------------------------------------


def _operator_settings(objects: list[Obj], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The OperatorSettings the rendered Deployment's environment gives the operator."""
    settings = pytest.importorskip("kubemigrate.settings")
    container = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for key in [k for k in os.environ if k.startswith("KUBEMIGRATE_")]:
        monkeypatch.delenv(key)
    for name, value in env(container).items():
        if name.startswith("KUBEMIGRATE_"):
            monkeypatch.setenv(name, value)
    return settings.load_settings()


def test_a_default_install_limits_what_runs_ask_of_their_jobs(
    chart: Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _operator_settings(render(chart), monkeypatch)
    assert settings.allowed_source_images == ()
    assert settings.allowed_service_accounts == ()
    assert settings.allow_node_selector is True
    assert settings.allow_tolerations is False
    assert settings.allow_image_pull_secrets is True
    assert settings.job_max_backoff_limit == 10
    assert settings.job_max_active_deadline_seconds == 86400
    assert settings.job_resources == type(settings).model_fields["job_resources"].default


def test_job_resources_reach_the_operator(chart: Chart, monkeypatch: pytest.MonkeyPatch) -> None:
    """Helm merges maps: a limit the chart's default names stays unless set to null."""
    objects = render(
        chart,
        operator={"jobResources": {"limits": {"memory": "1Gi", "ephemeral-storage": None}}},
    )
    resources = _operator_settings(objects, monkeypatch).job_resources.as_dict()
    assert resources == {
        "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
        "limits": {"memory": "1Gi"},
    }


def test_job_resources_take_yaml_numbers(chart: Chart, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cpu: 0.5` in a values file, which Kubernetes reads as a quantity, was refused by
    the schema; the operator takes it as the string "0.5", whole numbers as numbers."""
    values = helm_python.values_from_yaml(
        "operator:\n  jobResources:\n    requests: {cpu: 0.5, memory: 134217728}\n"
        "    limits: {cpu: 1.5}\n"
    )
    resources = _operator_settings(render(chart, **values), monkeypatch).job_resources
    assert resources.requests["cpu"] == "0.5"
    assert resources.requests["memory"] == 134217728
    assert resources.limits["cpu"] == "1.5"


def test_the_admin_s_limits_reach_the_operator(
    chart: Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render(
        chart,
        operator={
            "allowedSourceImages": ["registry.example.com/shop/", "docker.io/library/"],
            "allowedServiceAccounts": ["shop/shop-migrator", "migrator"],
            "allowNodeSelector": False,
            "allowTolerations": True,
            "allowImagePullSecrets": False,
            "jobMaxBackoffLimit": 5,
            "jobMaxActiveDeadlineSeconds": None,
        },
    )
    settings = _operator_settings(objects, monkeypatch)
    assert settings.allowed_source_images == ("registry.example.com/shop/", "docker.io/library/")
    assert settings.allowed_service_accounts == ("shop/shop-migrator", "migrator")
    assert settings.allow_node_selector is False
    assert settings.allow_tolerations is True
    assert settings.allow_image_pull_secrets is False
    assert settings.job_max_backoff_limit == 5
    assert settings.job_max_active_deadline_seconds is None


def test_any_image_is_one_value(chart: Chart, monkeypatch: pytest.MonkeyPatch) -> None:
    objects = render(chart, operator={"allowedSourceImages": ["*"]})
    assert _operator_settings(objects, monkeypatch).allowed_source_images == ("*",)


@pytest.mark.parametrize(
    ("operator", "words"),
    [
        ({"jobBackoffLimit": 5, "jobMaxBackoffLimit": 2}, "jobMaxBackoffLimit"),
        (
            {"jobActiveDeadlineSeconds": 90000, "jobMaxActiveDeadlineSeconds": 86400},
            "jobMaxActiveDeadlineSeconds",
        ),
    ],
)
def test_a_default_above_its_maximum_is_refused_at_install(
    chart: Chart, operator: Obj, words: str
) -> None:
    with pytest.raises(helm_python.HelmError, match=words):
        render(chart, operator=operator)


def test_no_default_deadline_under_a_maximum_installs(chart: Chart) -> None:
    objects = render(chart, operator={"jobActiveDeadlineSeconds": None})
    container = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert env(container)["KUBEMIGRATE_JOB_ACTIVE_DEADLINE_SECONDS"] == "none"


def test_every_setting_a_refusal_names_is_a_chart_value() -> None:
    """A refused run names the Helm value to change: it must be the one that sets it."""
    policy = pytest.importorskip("kubemigrate.controller.policy")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    with Chart.load(CHART) as loaded:
        container = only(render(loaded), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    template = (CHART / "templates" / "deployment.yaml").read_text()
    for variable, value in policy.SETTINGS.values():
        section, key = value.split(".")
        assert key in values[section], value
        assert variable in env(container), variable
        assert f".Values.{value}" in template.split(f"name: {variable}\n", 1)[1].split("\n")[0]


# -- object names ----------------------------------------------------------------------

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize(
    ("release", "values"),
    [
        ("km", {"fullnameOverride": "f" * 63}),
        ("km", {"fullnameOverride": "f" * 80}),
        ("km", {"fullnameOverride": "f" * 58 + "-" * 5 + "g"}),
        ("r" * 53, {}),  # Helm's longest release name
        ("r" * 53, {"nameOverride": "n" * 70}),
    ],
)
def test_every_object_name_stays_valid(chart: Chart, release: str, values: Obj) -> None:
    """The Service was `<fullname cut to 63>-metrics`, 71 characters: a Service's name
    is a DNS-1035 label of at most 63, so the install failed at the API server."""
    values = {
        **values,
        "metrics": {"grafanaDashboard": {"enabled": True}},
        "operator": {"watchNamespaces": ["shop"]},
    }
    manifests = chart.render(values=values, name=release, namespace=NAMESPACE)
    objects = [
        o
        for n, t in sorted(manifests.items())
        if n.endswith(".yaml")
        for o in yaml.safe_load_all(t)
    ]
    objects = [o for o in objects if o]
    service = only(objects, "Service")["metadata"]["name"]
    assert _DNS1035.fullmatch(service), service
    assert len(service) <= 63, service
    assert service.endswith("-metrics")
    for obj in objects:
        name = obj["metadata"]["name"]
        assert len(name) <= 253, name
        if not obj["kind"].startswith(("Role", "ClusterRole")):  # RBAC: path segments
            assert _SUBDOMAIN.fullmatch(name), (obj["kind"], name)
        for value in (obj["metadata"].get("labels") or {}).values():
            assert len(value) <= 63, value
            assert _LABEL_VALUE.fullmatch(value), value
    rbac = {o["metadata"]["name"] for o in objects if o["kind"] == "ClusterRole"}
    assert len(rbac) == 4  # -runs, -cluster, -view and -edit kept apart however long the name
    assert {name.rsplit("-", 1)[1] for name in rbac} == {"runs", "cluster", "view", "edit"}


def test_a_name_no_service_can_have_is_named_with_its_fix(chart: Chart) -> None:
    with pytest.raises(helm_python.HelmError, match="set fullnameOverride") as failed:
        chart.render(values={}, name="9.shop", namespace=NAMESPACE)
    assert '"9.shop-kubemigrate-metrics"' in str(failed.value)
