"""values.schema.json: Helm refuses at install what the operator would refuse at start-up.

Without it, ``helm install`` succeeded with values the operator rejects
(``operator.jobMaxBackoffLimit=30``, ``defaultEnvironment=prod``, a memory request
above its limit, ``allowedSourceImages="*"``) and the pod crash-looped; a misspelt key
was silently ignored. The schema holds each value's own limits, the templates the
cross-field ones. Two tests keep it and ``kubemigrate.settings`` from drifting apart:
one compares their limits field by field, the other renders a corpus of values with
Helm's own SDK and checks that the chart refuses exactly what the operator refuses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pydantic
import pytest
import yaml
from helm_python.chart import Chart

from kubemigrate import settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kubemigrate"
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def chart() -> Iterator[Chart]:
    with Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def unchecked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chart]:
    """The chart with no schema and no template checks: what the operator would get."""
    copy = tmp_path_factory.mktemp("chart") / "kubemigrate"
    shutil.copytree(CHART, copy)
    (copy / "values.schema.json").unlink()
    for template in (copy / "templates").rglob("*.yaml"):
        text = template.read_text()
        template.write_text(text.replace("{{- fail ", "{{- $_ := print "))
    with Chart.load(copy) as loaded:
        yield loaded


def render(chart: Chart, values: Obj) -> dict[str, str]:
    rendered: dict[str, str] = chart.render(values=values, name="km", namespace="ops")
    return rendered


def node(path: str) -> Obj:
    """The schema of a dotted values path."""
    found = SCHEMA
    for key in path.split("."):
        found = found["properties"][key]
    return found


def _leaves(values: Obj, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        yield path, value
        if isinstance(value, dict) and node(path).get("additionalProperties") is False:
            yield from _leaves(value, f"{path}.")


def test_every_value_is_in_the_schema_with_a_description() -> None:
    for path, _ in _leaves(VALUES):
        assert str(node(path).get("description", "")).strip(), f"{path}: no description"
    assert SCHEMA["additionalProperties"] is False


def test_the_chart_s_own_objects_take_no_unknown_keys() -> None:
    """A typo (operator.allowedSourceImage) must fail, not be ignored."""
    for path, value in _leaves(VALUES):
        schema = node(path)
        open_maps = schema.get("additionalProperties") not in (None, False)
        if isinstance(value, dict) and value and not open_maps and "properties" in schema:
            kubernetes_shaped = path in {"resources", "podSecurityContext", "securityContext"}
            assert kubernetes_shaped or schema.get("additionalProperties") is False, path


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"operator": {"jobMaxBackoffLimit": 30}}, "/operator/jobMaxBackoffLimit"),
        ({"operator": {"defaultEnvironment": "prod"}}, "/operator/defaultEnvironment"),
        ({"operator": {"allowedSourceImages": "*"}}, "/operator/allowedSourceImages"),
        ({"operator": {"allowedSourceImage": ["*"]}}, "'allowedSourceImage' not allowed"),
        ({"replicaCounts": 2}, "'replicaCounts' not allowed"),
        (
            {"operator": {"jobResources": {"requests": {"memory": "512Mi"}}}},
            "operator.jobResources.requests.memory (512Mi) is above "
            "operator.jobResources.limits.memory (256Mi)",
        ),
        ({"operator": {"jobResources": {"limits": {"memory": "0"}}}}, "/limits/memory"),
        (
            {"operator": {"jobResources": {"requests": {"gpu": 1}}}},
            "/operator/jobResources/requests': additional properties 'gpu' not allowed",
        ),
    ],
)
def test_what_the_operator_refuses_fails_the_install(chart: Chart, values: Obj, words: str) -> None:
    with pytest.raises(helm_python.HelmError) as failed:
        render(chart, values)
    assert words in str(failed.value)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        # the chart's httpGet on /healthz is the handler: a second was a duplicate key
        ({"probes": {"liveness": {"httpGet": {"path": "/", "port": 80}}}}, "/probes/liveness"),
        ({"probes": {"readiness": {"exec": {"command": ["true"]}}}}, "/probes/readiness"),
        ({"probes": {"liveness": {"successThreshold": 2}}}, "/probes/liveness/successThreshold"),
        # the Deployment's selector labels: a second was a duplicate key
        (
            {"podLabels": {"app.kubernetes.io/instance": "x"}},
            "podLabels.app.kubernetes.io/instance: the chart sets this label",
        ),
    ],
)
def test_what_would_render_a_key_twice_fails_the_install(
    chart: Chart, values: Obj, words: str
) -> None:
    """The chart's own probe handler and selector labels: the value rendered beside
    them, a key twice in one mapping (kept or refused, depending on who reads it)."""
    with pytest.raises(helm_python.HelmError) as failed:
        render(chart, values)
    assert words in str(failed.value)


# -- the schema and kubemigrate.settings cannot drift apart ---------------------------


def _chart_values_of_settings() -> dict[str, str]:
    """KUBEMIGRATE_X -> the values path the Deployment template sets it from."""
    template = (CHART / "templates" / "deployment.yaml").read_text()
    pairs = re.findall(r"- name: (KUBEMIGRATE_\w+)\n\s+value: ([^\n]+)", template)
    found = {}
    for variable, expression in pairs:
        (path,) = set(re.findall(r"\.Values\.([\w.]+)", expression))
        found[variable] = path
    return found


def _field_schema(name: str) -> tuple[Obj, bool]:
    """A settings field's JSON schema (pydantic's) and whether it takes None."""
    prop = settings.OperatorSettings.model_json_schema()["properties"][name]
    options = prop.get("anyOf", [prop])
    nullable = any(o.get("type") == "null" for o in options)
    (typed,) = [o for o in options if o.get("type") != "null"] or [prop]
    return typed, nullable


def test_every_setting_the_chart_sets_has_the_settings_limits() -> None:
    mapping = _chart_values_of_settings()
    assert len(mapping) >= 20
    for variable, path in mapping.items():
        field = variable.removeprefix("KUBEMIGRATE_").lower()
        assert field in settings.OperatorSettings.model_fields, variable
        ours = node(path)
        theirs, nullable = _field_schema(field)
        types = ours.get("type", [])
        types = types if isinstance(types, list) else [types]
        assert ("null" in types) == nullable, path
        for key in ("enum", "minimum", "maximum"):
            assert ours.get(key) == theirs.get(key), (path, key)
        if theirs.get("type") in {"integer", "boolean", "array"} and field != "standalone":
            assert theirs["type"] in types, path


def test_the_patterns_are_the_settings_own() -> None:
    label = settings._DNS_LABEL.pattern
    assert node("operator.watchNamespaces")["items"] == {
        "type": "string",
        "maxLength": 63,
        "pattern": label,
    }
    assert node("peering.name")["pattern"] == label
    assert node("peering.name")["maxLength"] == 63
    assert node("operator.productionNamespaceLabel")["pattern"] == settings._LABEL_KEY.pattern
    for path, regex in (
        ("operator.allowedSourceImages", settings._REGISTRY_HOST),
        ("operator.allowedServiceAccounts", settings._SERVICE_ACCOUNT),
    ):
        assert node(path)["items"]["anyOf"] == [{"const": settings.ANY}, {"pattern": regex.pattern}]
    resources = node("operator.jobResources")["properties"]
    for part in ("requests", "limits"):
        assert tuple(resources[part]["properties"]) == settings._CONTAINER_RESOURCES
        assert list(resources[part]["patternProperties"]) == ["/"]  # extended resources
        assert resources[part]["additionalProperties"] is False


CORPUS: list[Obj] = [
    {},
    *({"listenAddress": a} for a in ("::", "0.0.0.0", "127.0.0.1", "[::]", "localhost")),  # noqa: S104
    *({"operator": {"jobBackoffLimit": n}} for n in (-1, 0, 10, 11)),
    *({"operator": {"jobRunAsUser": n}} for n in (-1, 0, 1, 65532, None, 2**31)),
    *({"operator": {"jobBackoffLimit": 0, "jobMaxBackoffLimit": n}} for n in (-1, 0, 10, 11, 30)),
    {"operator": {"jobBackoffLimit": 5, "jobMaxBackoffLimit": 2}},
    *({"operator": {"jobActiveDeadlineSeconds": n}} for n in (0, 1, None)),
    *(
        {"operator": {"jobActiveDeadlineSeconds": None, "jobMaxActiveDeadlineSeconds": n}}
        for n in (0, 1, None)
    ),
    {"operator": {"jobActiveDeadlineSeconds": 90000}},
    *({"operator": {"jobTtlSecondsAfterFinished": n}} for n in (-1, 0, None)),
    *(
        {"operator": {"defaultEnvironment": e}}
        for e in ("development", "staging", "production", "prod", "Production")
    ),
    *({"operator": {"jobImagePullPolicy": p}} for p in ("Always", "Never", "always")),
    *(
        {"operator": {"watchNamespaces": ns}}
        for ns in (["shop", "billing"], ["Shop"], ["a" * 64], ["a" * 63], ["a.b"], ["-a"])
    ),
    *(
        {"operator": {"productionNamespaceLabel": key}}
        for key in ("env", "example.com/env", "bad key", "-x", "a/b/c")
    ),
    *(
        {"operator": {"allowedSourceImages": images}}
        for images in (
            ["*"],
            ["registry.example.com/shop/", "docker.io/library/"],
            ["localhost/x"],
            ["localhost:5000/x"],
            ["shop/"],
            ["postgres"],
            "*",
        )
    ),
    *(
        {"operator": {"allowedServiceAccounts": accounts}}
        for accounts in (["*"], ["migrator", "shop/migrator"], ["Shop"], ["a/b/c"], "*")
    ),
    *(
        {"operator": {"jobResources": resources}}
        for resources in (
            {"limits": {"memory": "1Gi"}},
            {"limits": {"memory": "1Gi", "ephemeral-storage": None}},
            {"requests": {"memory": "512Mi"}},
            {"requests": {"memory": "256Mi"}},
            {"requests": {"memory": 268435456}},
            {"requests": {"memory": 268435457}},
            {"requests": {"cpu": "100m"}, "limits": {"cpu": "0.1"}},
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}},
            {"requests": {"cpu": "1e3"}, "limits": {"cpu": "1k"}},
            {"requests": {"gpu": "1"}},
            {"requests": {"nvidia.com/gpu": 1}},
            {"limits": {"memory": "0"}},
            {"limits": {"memory": "0Mi"}},
            {"limits": {"memory": 0}},
            {"requests": {"cpu": "0"}},
            {"requests": {"cpu": "-1"}},
            {"limits": {"memory": "lots"}},
            {"requests": {"cpu": "5."}},
            {"limit": {"memory": "1Gi"}},
            # YAML numbers, which Kubernetes takes as quantities
            {"requests": {"cpu": 0.5}},
            {"requests": {"cpu": 0.5}, "limits": {"cpu": 1.5}},
            {"requests": {"cpu": 0.5}, "limits": {"cpu": 0.25}},
            {"requests": {"cpu": -0.5}},
            {"limits": {"cpu": 0.0}},
            {"requests": {"memory": 1.5e8}},
        )
    ),
    *({"metrics": {"port": p}} for p in (0, 1, 65535, 65536, 8081)),
    *({"health": {"port": p}} for p in (0, 65536, 8080)),
    *({"peering": {"name": n}} for n in ("kubemigrate", "km-peers", "Bad_Name", "a" * 64)),
]


def _operator_refuses(rendered: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> bool:
    """Start the operator's settings from the rendered Deployment's environment."""
    docs = [d for n, t in rendered.items() if n.endswith(".yaml") for d in yaml.safe_load_all(t)]
    (deployment,) = [d for d in docs if d and d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    with monkeypatch.context() as patched:
        for key in [k for k in os.environ if k.startswith("KUBEMIGRATE_")]:
            patched.delenv(key)
        for variable in container["env"]:
            if variable["name"].startswith("KUBEMIGRATE_"):
                patched.setenv(variable["name"], variable["value"])
        try:
            settings.load_settings()
        except pydantic.ValidationError:
            return True
    return False


def _chart_refuses(chart: Chart, values: Obj) -> bool:
    try:
        render(chart, values)
    except helm_python.HelmError:
        return True
    return False


# Where the chart is stricter than the operator, on purpose (each is checked to be so).
STRICTER: list[Obj] = [
    # a string where a list is expected: the template writes it as a JSON string, the
    # operator reads that as one prefix with its quotes, which matches no image
    {"operator": {"allowedSourceImages": "registry.example.com/shop/"}},
    # pydantic reads "yes" as true; the chart's booleans are booleans (its templates
    # read any non-empty string as true: peering.enabled="false" would enable peering)
    {"operator": {"allowTolerations": "yes"}},
    # a misspelt key: ignored by the templates, so its value never reached the operator
    {"operator": {"allowedSourceImage": ["*"]}},
    {"operator": {"jobResource": {"limits": {"memory": "1Gi"}}}},
    # the same namespace twice: the operator reads it once, but the release holds each
    # per-namespace object (RoleBinding, KopfPeering) twice; a copy-paste slip, named
    {"operator": {"watchNamespaces": ["shop", "billing", "shop"]}},
]


@pytest.mark.parametrize("values", STRICTER, ids=lambda v: json.dumps(v)[:80])
def test_where_the_chart_is_stricter_than_the_operator(
    chart: Chart, unchecked: Chart, values: Obj, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not _operator_refuses(render(unchecked, values), monkeypatch)
    assert _chart_refuses(chart, values)


@pytest.mark.parametrize("values", CORPUS, ids=lambda v: json.dumps(v)[:80])
def test_the_chart_refuses_what_the_operator_refuses(
    chart: Chart, unchecked: Chart, values: Obj, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator_refuses = _operator_refuses(render(unchecked, values), monkeypatch)
    chart_refuses = _chart_refuses(chart, values)
    assert chart_refuses == operator_refuses, (
        "the chart "
        + ("refuses" if chart_refuses else "accepts")
        + " what the operator "
        + ("refuses" if operator_refuses else "accepts")
    )


# -- helm upgrade --reuse-values from an older chart ----------------------------------


@pytest.mark.parametrize(
    "missing",
    [
        {"operator": {"jobResources": None}},
        {"operator": dict.fromkeys(("allowNodeSelector", "allowTolerations"))},
        {"operator": {"jobMaxBackoffLimit": None, "jobMaxActiveDeadlineSeconds": None}},
        {"operator": {"allowedSourceImages": None, "allowedServiceAccounts": None}},
        {"podAntiAffinity": None, "podDisruptionBudget": None},
    ],
)
def test_an_older_chart_s_values_are_not_refused_by_the_schema(chart: Chart, missing: Obj) -> None:
    """With --reuse-values the values of an older chart version (which lacked keys this
    one added) are validated against this schema: none is required, so the template's
    message that names the cause and the fix is what the user sees."""
    error = ""
    try:
        render(chart, missing)
    except helm_python.HelmError as failed:
        error = str(failed)
    assert "schema" not in error
    assert not error or "--reset-then-reuse-values" in error, error


# -- as a dependency of an umbrella chart ----------------------------------------------


@pytest.fixture(scope="module")
def umbrella(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A parent chart that lists this one with the usual `condition: kubemigrate.enabled`."""
    parent = tmp_path_factory.mktemp("umbrella") / "platform"
    shutil.copytree(CHART, parent / "charts" / "kubemigrate")
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    dependency = {"name": "kubemigrate", "version": version, "condition": "kubemigrate.enabled"}
    chart_yaml = {"apiVersion": "v2", "name": "platform", "version": "1.0.0"}
    (parent / "Chart.yaml").write_text(yaml.safe_dump({**chart_yaml, "dependencies": [dependency]}))
    return parent


@pytest.mark.parametrize(("enabled", "deployments"), [(True, 1), (False, 0)])
def test_the_chart_is_a_dependency_an_umbrella_can_turn_on_and_off(
    umbrella: Path, enabled: bool, deployments: int
) -> None:
    """The schema allowed only `global` beside the chart's own keys: the parent's
    `kubemigrate.enabled: true` failed with "additional properties 'enabled' not allowed"."""
    with Chart.load(umbrella) as parent:
        rendered = parent.render(
            values={"kubemigrate": {"enabled": enabled}}, name="platform", namespace="ops"
        )
    kinds = [
        d["kind"]
        for name, text in rendered.items()
        if name.endswith(".yaml")
        for d in yaml.safe_load_all(text)
        if d
    ]
    assert kinds.count("Deployment") == deployments


def test_enabled_is_a_boolean(chart: Chart) -> None:
    with pytest.raises(helm_python.HelmError, match="/enabled"):
        render(chart, {"enabled": "yes"})
