"""MigrationRun.spec models: the same rules as the CRD, errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemigrate.controller.spec import (
    InvalidSpec,
    MigrationRunSpec,
    effective_environment,
    parse_spec,
)
from kubemigrate.domain.errors import KubemigrateError
from kubemigrate.domain.migrations import Action, Environment

CRD_PATH = Path(__file__).parents[3] / "crds" / "migrationruns.kubemigrate.io.yaml"

MINIMAL: dict[str, Any] = {
    "database": {"secretRef": {"name": "shop-db"}},
    "source": {"configMap": {"name": "shop-migrations"}},
}


def spec(**fields: Any) -> dict[str, Any]:
    return {**MINIMAL, **fields}


def crd_spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_PATH.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["spec"]  # type: ignore[no-any-return]


# --- parsing -------------------------------------------------------------------------


def test_minimal_spec_gets_the_crd_defaults() -> None:
    parsed = parse_spec(MINIMAL)
    assert parsed.action is Action.MIGRATE
    assert parsed.format == "drizzle"
    assert parsed.dry_run is False
    assert parsed.database.secret_ref.key == "DATABASE_URL"
    assert parsed.timeouts.lock_wait_seconds == 60
    assert parsed.timeouts.lock_timeout_ms is None
    assert parsed.environment is None
    assert parsed.job is None
    assert parsed.repair is None


def test_repair_spec_round_trips_in_camel_case() -> None:
    raw = spec(
        action="repair",
        repair={
            "acceptChecksums": ["0003_add_orders", "0004_add_analytics.sql"],
            "acceptDowns": ["0002_add_products"],
            "acceptRenames": True,
            "force": True,
        },
    )
    parsed = parse_spec(raw)
    assert parsed.repair is not None
    assert parsed.repair.accept_checksums == ["0003_add_orders", "0004_add_analytics.sql"]
    assert parsed.repair.accept_downs == ["0002_add_products"]
    assert parsed.repair.accept_renames is True
    assert parsed.repair.force is True
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["repair"] == raw["repair"]


def test_repair_fields_default_to_accepting_nothing() -> None:
    parsed = parse_spec(spec(action="repair", repair={}))
    assert parsed.repair is not None
    assert parsed.repair.accept_checksums is None
    assert parsed.repair.accept_downs is None
    assert parsed.repair.accept_renames is False
    assert parsed.repair.force is False


def test_full_spec_round_trips_in_camel_case() -> None:
    raw = spec(
        action="rollback",
        steps=2,
        environment="production",
        confirm="rollback-batch-7",
        dryRun=True,
        source={"image": {"reference": "reg/x:1", "path": "/app/drizzle", "pullPolicy": "Always"}},
        timeouts={"lockWaitSeconds": 5, "lockTimeoutMs": 3000, "statementTimeoutSeconds": 60},
        job={
            "resources": {"requests": {"cpu": "100m", "memory": 128}, "limits": {"memory": "1Gi"}},
            "serviceAccountName": "migrator",
            "nodeSelector": {"pool": "batch"},
            "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
            "imagePullSecrets": [{"name": "regcred"}],
            "backoffLimit": 0,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 0,
        },
    )
    parsed = parse_spec(raw)
    assert parsed.environment is Environment.PRODUCTION
    assert parsed.job is not None
    assert parsed.job.backoff_limit == 0
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["job"] == raw["job"]
    assert dumped["source"] == raw["source"]
    assert dumped["timeouts"] == raw["timeouts"]


def test_invalid_spec_is_a_permanent_usage_error() -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(spec(action="explode"))
    error = caught.value
    assert isinstance(error, KubemigrateError)
    assert error.reason == "InvalidSpec"
    assert not error.retryable
    assert error.details["fields"] == ["spec.action"]
    assert "spec.action:" in error.message
    assert error.to_dict()["reason"] == "InvalidSpec"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"source": MINIMAL["source"]}, "spec.database", "Field required"),
        (spec(database={"secretRef": {"name": "Bad_Name"}}), "spec.database.secretRef.name", ""),
        (spec(format="liquibase"), "spec.format", "drizzle"),
        (spec(timeouts={"lockWaitSeconds": 3601}), "spec.timeouts.lockWaitSeconds", "3600"),
        (spec(timeouts={"lockTimeoutMs": -1}), "spec.timeouts.lockTimeoutMs", "0"),
        (spec(job={"backoffLimit": 11}), "spec.job.backoffLimit", "10"),
        (spec(job={"activeDeadlineSeconds": 0}), "spec.job.activeDeadlineSeconds", "1"),
        (spec(job={"nodeSelector": {"a": 1}}), "spec.job.nodeSelector.a", "string"),
        (spec(job={"resources": {"limits": {"memory": "lots"}}}), "spec.job.resources", ""),
        (spec(surprise=True), "spec.surprise", "Extra inputs"),
        (spec(source={}), "spec.source", "exactly one of"),
        (
            spec(source={"configMap": {"name": "a"}, "inline": [{"name": "0000_a", "up": "x"}]}),
            "spec.source",
            "exactly one of",
        ),
        (spec(source={"inline": []}), "spec.source.inline", "at least 1"),
        (spec(source={"inline": [{"name": "init", "up": "x"}]}), "spec.source.inline[0].name", ""),
        (
            spec(source={"inline": [{"name": "0000_a", "up": "x"}, {"name": "0000_a", "up": "y"}]}),
            "spec.source",
            "duplicate names: 0000_a",
        ),
        (
            spec(source={"image": {"reference": "x", "path": "relative"}}),
            "spec.source.image.path",
            "",
        ),
        (spec(steps=2), "spec", "steps is only allowed with action rollback"),
        (spec(action="migrate", confirm="yes"), "spec", "confirm is only allowed"),
        (spec(action="status", target="0001_a"), "spec", "target is only allowed"),
        (spec(action="rollback", steps=1, target="0001_a"), "spec", "set one, not both"),
        (
            spec(repair={"acceptRenames": True}),
            "spec",
            "repair is only allowed with action repair",
        ),
        (
            spec(action="verify", repair={"acceptChecksums": ["0001_a"]}),
            "spec",
            "repair is only allowed with action repair",
        ),
        (
            spec(action="repair", repair={"acceptChecksums": ["0001_a", "0002_b", "0001_a"]}),
            "spec.repair.acceptChecksums",
            "duplicate names: 0001_a",
        ),
        (
            spec(action="repair", repair={"acceptDowns": ["0002_b", "0002_b"]}),
            "spec.repair.acceptDowns",
            "duplicate names: 0002_b",
        ),
        (spec(action="repair", repair={"acceptDowns": [""]}), "spec.repair.acceptDowns[0]", ""),
        (
            spec(action="repair", repair={"acceptChecksums": ["x" * 256]}),
            "spec.repair.acceptChecksums[0]",
            "255",
        ),
        (
            spec(action="repair", repair={"acceptChecksums": "0001_a"}),
            "spec.repair.acceptChecksums",
            "list",
        ),
        (
            spec(action="repair", repair={"acceptRenames": "please"}),
            "spec.repair.acceptRenames",
            "boolean",
        ),
        (
            spec(action="repair", repair={"acceptAll": True}),
            "spec.repair.acceptAll",
            "Extra inputs",
        ),
        (
            spec(format="flyway", source={"inline": [{"name": "0000_a", "up": "x"}]}),
            "spec",
            "drizzle's layout",
        ),
        (spec(drizzleTable="migrations"), "spec.drizzleTable", "pattern"),
        (spec(drizzleTable='"app.migrations'), "spec.drizzleTable", "pattern"),
        (
            spec(action="rollback", drizzleTable="app.migrations"),
            "spec",
            "drizzleTable is only allowed with action migrate, baseline or plan",
        ),
    ],
)
def test_errors_name_the_field(raw: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(raw)
    assert any(f.startswith(field) for f in caught.value.details["fields"]), caught.value.message
    assert words in caught.value.message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(spec(format="x", timeouts={"lockWaitSeconds": -1}))
    assert caught.value.details["fields"] == ["spec.format", "spec.timeouts.lockWaitSeconds"]


def test_missing_spec_is_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.database"):
        parse_spec(None)


@pytest.mark.parametrize(
    "raw",
    [
        spec(action="rollback", steps=3),
        spec(action="rollback", target="0001_a", confirm="rollback-batch-2"),
        spec(action="reset", confirm="reset-everything"),
        spec(action="baseline", target="0004_x"),
        spec(action="plan", target="0002_y"),
        spec(drizzleTable="app.migrations"),
        spec(action="baseline", drizzleTable='"Billing"."Migrations"'),
        spec(action="plan", drizzleTable="public.__drizzle_migrations"),
        spec(action="status"),
        spec(action="repair"),
        spec(action="repair", repair={}),
        spec(action="repair", repair={"acceptChecksums": ["0001_a"], "acceptRenames": False}),
        spec(source={"inline": [{"name": "0000_init", "up": "CREATE TABLE t (id int);"}]}),
    ],
)
def test_meaningful_combinations_are_accepted(raw: dict[str, Any]) -> None:
    parse_spec(raw)


# --- environment -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("own", "label", "default", "expected"),
    [
        (None, None, "development", "development"),
        (None, None, "production", "production"),
        ("staging", None, "production", "staging"),
        ("development", "production", "development", "production"),
        ("production", "development", "development", "production"),
        (None, "staging", "development", "staging"),
        ("staging", "dev", "development", "staging"),
        ("development", "prod", "development", "production"),
        ("development", "Production ", "development", "production"),
        ("development", "typo", "development", "production"),
    ],
)
def test_the_stricter_environment_wins(
    own: str | None, label: str | None, default: str, expected: str
) -> None:
    assert effective_environment(own, label, default) == Environment(expected)


# --- the models mirror the CRD -----------------------------------------------------------

_COMPARED = (
    *("type", "enum", "minimum", "maximum"),
    *("minLength", "maxLength", "pattern", "minItems", "maxItems"),
)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and drop pydantic's ``| None`` so a node compares with the CRD's."""
    node = dict(node)
    while True:
        if "$ref" in node:
            target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
            node = {**target, **node}
        elif "anyOf" in node and any(o.get("type") == "null" for o in node["anyOf"]):
            options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
            if len(options) == 1:
                node = {**options[0], **node}
            else:
                node["anyOf"] = options
        else:
            return node


def _crd_defaults(crd: dict[str, Any], value: Any) -> Any:
    """``value`` with the CRD's nested defaults filled in, as the API server does."""
    if not isinstance(value, dict) or "properties" not in crd:
        return value
    filled = dict(value)
    for key, sub in crd["properties"].items():
        if key not in filled and "default" in sub:
            filled[key] = sub["default"]
        if key in filled:
            filled[key] = _crd_defaults(sub, filled[key])
    return filled


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _mirror(
    crd: dict[str, Any], model: dict[str, Any], defs: dict[str, Any], path: str
) -> list[str]:
    model = _resolve(model, defs)
    problems = []
    if crd.get("x-kubernetes-int-or-string"):
        types = {o.get("type") for o in model.get("anyOf", [])}
        return [] if types == {"integer", "string"} else [f"{path}: model is not int-or-string"]
    for key in _COMPARED:
        if crd.get(key) != model.get(key):
            problems.append(
                f"{path}: {key} is {crd.get(key)!r} in the CRD, {model.get(key)!r} in the model"
            )
    if "default" in crd or model.get("default") is not None:
        crd_default = _crd_defaults(crd, crd.get("default"))
        if crd_default != _without_nulls(model.get("default")):
            problems.append(f"{path}: default {crd_default!r} vs {model.get('default')!r}")
    if sorted(crd.get("required", [])) != sorted(model.get("required", [])):
        problems.append(f"{path}: required {crd.get('required')} vs {model.get('required')}")
    crd_props, model_props = crd.get("properties", {}), model.get("properties", {})
    if set(crd_props) != set(model_props):
        problems.append(f"{path}: properties {sorted(crd_props)} vs {sorted(model_props)}")
    for key in set(crd_props) & set(model_props):
        problems += _mirror(crd_props[key], model_props[key], defs, f"{path}.{key}")
    if "items" in crd:
        problems += _mirror(crd["items"], model["items"], defs, f"{path}[]")
    if isinstance(crd.get("additionalProperties"), dict):
        problems += _mirror(
            crd["additionalProperties"], model["additionalProperties"], defs, f"{path}{{}}"
        )
    return problems


def test_models_mirror_the_crd_exactly() -> None:
    schema = MigrationRunSpec.model_json_schema(by_alias=True)
    assert _mirror(crd_spec_schema(), schema, schema["$defs"], "spec") == []


def test_the_mirror_check_catches_drift() -> None:
    """The check above must be able to fail: change one bound and it reports it."""
    crd = crd_spec_schema()
    crd["properties"]["timeouts"]["properties"]["lockWaitSeconds"]["maximum"] = 7200
    crd["properties"]["action"]["enum"].append("destroy")
    schema = MigrationRunSpec.model_json_schema(by_alias=True)
    problems = _mirror(crd, schema, schema["$defs"], "spec")
    assert len(problems) == 2
    assert "spec.timeouts.lockWaitSeconds: maximum" in problems[0] + problems[1]
