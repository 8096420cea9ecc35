"""The MigrationRun CRD: structural, documented, and its rules do what they say.

No API server runs here, so the CEL rules are evaluated with cel-python (celpy)
against sample specs after applying the schema's defaults, as the API server does
before it validates. A small OpenAPI check stands in for the server's schema
validation, so each bad sample is shown to be rejected by the schema or by a rule,
and each good one to pass both.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy.adapter import json_to_cel
from celpy.celtypes import BoolType

from kubemigrate.controller.spec import InvalidSpec, parse_spec
from kubemigrate.domain.outcome import MigrationResult

CRD_PATH = Path(__file__).parents[2] / "crds" / "migrationruns.kubemigrate.io.yaml"


def load_crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text())  # type: ignore[no-any-return]


def root_schema() -> dict[str, Any]:
    return load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node below ``node`` with its path, ``.a.b[].c`` style."""
    yield path, node
    for key, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{key}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


# --- identity, printer columns ----------------------------------------------------------


def test_names_scope_and_version() -> None:
    crd = load_crd()
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == "migrationruns.kubemigrate.io"
    spec = crd["spec"]
    assert spec["group"] == "kubemigrate.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "MigrationRun",
        "listKind": "MigrationRunList",
        "plural": "migrationruns",
        "singular": "migrationrun",
        "shortNames": ["mr"],
        "categories": ["kubemigrate"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    columns = load_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    default = [(c["name"], c["type"], c["jsonPath"]) for c in columns if not c.get("priority")]
    assert default == [
        ("Action", "string", ".spec.action"),
        ("Dry-Run", "boolean", ".spec.dryRun"),  # a preview is no migrate: same action
        ("Phase", "string", ".status.phase"),
        ("Applied", "integer", ".status.applied"),
        ("Pending", "integer", ".status.pending"),
        ("Age", "date", ".metadata.creationTimestamp"),
    ]
    schema = dict(walk(root_schema()))
    for column in columns:
        assert column["description"]
        if column["jsonPath"].startswith((".spec", ".status")):
            node = schema[column["jsonPath"]]
            expected = column["type"] if column["type"] in {"integer", "boolean"} else "string"
            assert node["type"] == expected, column
            if column["type"] == "boolean":  # never blank (<none>): the API defaults it
                assert node.get("default") is False, column


# --- structural and documented ------------------------------------------------------------


def test_every_property_has_a_type_and_a_description() -> None:
    missing = []
    for path, node in walk(root_schema()):
        if path == ".metadata":
            continue  # the API server owns metadata's schema; only name rules may go here
        if "type" not in node and not node.get("x-kubernetes-int-or-string"):
            missing.append(f"{path}: type")
        is_map_value = path.endswith("{}")
        if not is_map_value and not str(node.get("description", "")).strip():
            missing.append(f"{path}: description")
    assert missing == []


def test_schema_is_structural() -> None:
    for path, node in walk(root_schema()):
        if node.get("type") == "array":
            assert "items" in node, path
        if node.get("type") == "object" and path != ".metadata":
            assert "properties" in node or "additionalProperties" in node, path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string"), f"{path}: anyOf only for int-or-string"
            assert all(set(o) == {"type"} for o in node["anyOf"]), path


def test_no_unknown_fields_are_preserved() -> None:
    """Everything is typed, so CEL can compare it (CEL cannot see preserved fields)."""
    preserved = [p for p, n in walk(root_schema()) if n.get("x-kubernetes-preserve-unknown-fields")]
    assert preserved == []


def test_defaults_enums_and_bounds() -> None:
    nodes = dict(walk(root_schema()))
    assert nodes[".spec.action"]["default"] == "migrate"
    assert nodes[".spec.action"]["enum"] == [
        "migrate", "rollback", "status", "verify", "plan", "reset", "repair", "baseline",
    ]  # fmt: skip
    assert nodes[".spec.format"]["default"] == "drizzle"
    assert nodes[".spec.format"]["enum"] == ["drizzle", "golang-migrate", "flyway", "dbmate"]
    assert nodes[".spec.environment"]["enum"] == ["development", "staging", "production"]
    assert "default" not in nodes[".spec.environment"]
    assert nodes[".spec.dryRun"]["default"] is False
    assert nodes[".spec.database.secretRef.key"]["default"] == "DATABASE_URL"
    assert nodes[".spec.source.image.path"]["default"] == "/migrations"
    assert nodes[".spec.source.image.pullPolicy"]["enum"] == ["Always", "IfNotPresent", "Never"]
    assert nodes[".spec.source.inline"]["maxItems"] == 100
    assert nodes[".spec.timeouts"]["default"] == {}
    wait = nodes[".spec.timeouts.lockWaitSeconds"]
    assert (wait["default"], wait["minimum"], wait["maximum"]) == (60, 0, 3600)
    assert nodes[".spec.timeouts.lockTimeoutMs"]["minimum"] == 0
    assert nodes[".spec.timeouts.statementTimeoutSeconds"]["minimum"] == 0
    assert nodes[".spec.steps"]["minimum"] == 1
    backoff = nodes[".spec.job.backoffLimit"]
    assert (backoff["minimum"], backoff["maximum"]) == (0, 10)
    assert nodes[".spec.job.activeDeadlineSeconds"]["minimum"] == 1
    assert nodes[".spec.job.ttlSecondsAfterFinished"]["minimum"] == 0
    assert nodes[".spec.repair.acceptRenames"]["default"] is False
    assert nodes[".spec.repair.force"]["default"] is False
    for field in ("acceptChecksums", "acceptDowns"):
        names = nodes[f".spec.repair.{field}"]
        assert names["x-kubernetes-list-type"] == "set"  # unique names
        assert (names["items"]["minLength"], names["items"]["maxLength"]) == (1, 255)
    assert nodes[".status.phase"]["enum"] == [
        "Pending", "Running", "AwaitingConfirmation", "Succeeded", "Failed",
    ]  # fmt: skip


def test_every_default_is_valid_for_its_own_schema() -> None:
    for path, node in walk(root_schema()):
        if "default" in node:
            assert schema_errors(node, apply_defaults(node, node["default"]), path) == []


def test_status_has_the_documented_fields() -> None:
    status = root_schema()["properties"]["status"]["properties"]
    assert {
        "phase", "conditions", "observedGeneration", "jobName", "startedAt", "completedAt",
        "batch", "batches", "migrations", "earlierCount", "applied", "pending", "total",
        "confirmationPhrase", "plannedMigrations", "error",
    } <= set(status)  # fmt: skip
    conditions = status["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    condition = conditions["items"]["properties"]
    assert condition["status"]["enum"] == ["True", "False", "Unknown"]
    assert condition["lastTransitionTime"]["format"] == "date-time"
    assert set(condition) == {
        "type", "status", "reason", "message", "lastTransitionTime", "observedGeneration",
    }  # fmt: skip
    # every field of a migration's result has its place (the API server drops the rest)
    assert set(status["migrations"]["items"]["properties"]) == {
        "name", "direction", "checksum", "durationMs", "earlierAttempt",
    } == set(MigrationResult.__dataclass_fields__)  # fmt: skip
    assert set(status["error"]["properties"]) == {
        "reason", "migration", "sqlState", "position", "file", "message", "hint",
    }  # fmt: skip


# --- a stand-in for the API server's defaulting and validation ------------------------------


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Fill in defaults below ``value`` the way the API server does on create and read."""
    if isinstance(value, dict) and "properties" in schema:
        filled = dict(value)
        for key, sub in schema["properties"].items():
            if key not in filled and "default" in sub:
                filled[key] = copy.deepcopy(sub["default"])
            if key in filled:
                filled[key] = apply_defaults(sub, filled[key])
        return filled
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def schema_errors(schema: dict[str, Any], value: Any, path: str = "spec") -> list[str]:
    """The OpenAPI checks the API server makes that our schema uses; messages name the path."""
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, str) and "pattern" in schema:
            return [] if re.search(schema["pattern"], value) else [f"{path}: pattern"]
        return [] if isinstance(value, (int, str)) else [f"{path}: int-or-string"]
    expected = _TYPES[schema["type"]]
    if not isinstance(value, expected) or (schema["type"] == "integer" and isinstance(value, bool)):
        return [f"{path}: must be {schema['type']}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: must be one of {schema['enum']}")
    for key, test in (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("minLength", lambda v, b: len(v) >= b),
        ("maxLength", lambda v, b: len(v) <= b),
        ("minItems", lambda v, b: len(v) >= b),
        ("maxItems", lambda v, b: len(v) <= b),
        ("pattern", lambda v, b: re.search(b, v) is not None),
    ):
        if key in schema and not test(value, schema[key]):
            errors.append(f"{path}: {key} {schema[key]}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [
            f"{path}.{k}: Required value" for k in schema.get("required", []) if k not in value
        ]
        for key, sub_value in value.items():
            if key in props:
                errors += schema_errors(props[key], sub_value, f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(schema["additionalProperties"], sub_value, f"{path}.{key}")
            else:
                errors.append(f"{path}.{key}: unknown field")
    if isinstance(value, list):
        for i, item in enumerate(value):
            errors += schema_errors(schema["items"], item, f"{path}[{i}]")
        if schema.get("x-kubernetes-list-type") == "set" and len(value) != len(
            {json.dumps(item, sort_keys=True) for item in value}
        ):
            errors.append(f"{path}: Duplicate value")
        if schema.get("x-kubernetes-list-type") == "map":
            keys = [
                tuple(item.get(k) for k in schema["x-kubernetes-list-map-keys"]) for item in value
            ]
            if len(set(keys)) != len(keys):
                errors.append(f"{path}: Duplicate value")
    return errors


_CEL = celpy.Environment()


def rules(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, node in walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            yield path, rule


def cel_errors(schema: dict[str, Any], new: Any, old: Any = None) -> list[str]:
    """Evaluate every x-kubernetes-validations rule that applies, as the API server does.

    Transition rules (those naming oldSelf) run only where an old value exists, and
    old values are matched to new ones by property name.
    """
    errors = []
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"] and old is None:
            continue
        activation = {"self": json_to_cel(new)}
        if old is not None:
            activation["oldSelf"] = json_to_cel(old)
        result = _CEL.program(_CEL.compile(rule["rule"])).evaluate(activation)
        if result != BoolType(True):
            errors.append(rule["message"])
    if isinstance(new, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in new:
                old_sub = old.get(key) if isinstance(old, dict) else None
                errors += cel_errors(sub, new[key], old_sub)
    if isinstance(new, list) and "items" in schema:
        for item in new:
            errors += cel_errors(schema["items"], item)
    return errors


def spec_schema() -> dict[str, Any]:
    return root_schema()["properties"]["spec"]  # type: ignore[no-any-return]


def api_server_errors(raw: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """What a create (or, with ``old``, an update) of ``spec: raw`` would be refused for."""
    schema = spec_schema()
    new = apply_defaults(schema, raw)
    errors = schema_errors(schema, new)
    if errors:
        return errors  # like the API server: CEL runs only on schema-valid objects
    return cel_errors(schema, new, apply_defaults(schema, old) if old is not None else None)


# --- the CEL rules --------------------------------------------------------------------------


def test_every_rule_compiles_and_has_a_message() -> None:
    found = list(rules(root_schema()))
    assert len(found) >= 7
    nodes = dict(walk(root_schema()))
    for path, rule in found:
        _CEL.compile(rule["rule"])
        assert rule["message"].strip(), rule
        if "fieldPath" in rule:
            assert f"{path}{rule['fieldPath']}" in nodes, rule["fieldPath"]


def test_rules_with_old_self_sit_on_a_required_object() -> None:
    """Transition rules only run when both old and new exist: on spec they always do."""
    for path, rule in rules(root_schema()):
        if "oldSelf" in rule["rule"]:
            assert path == ".spec"
            assert "spec" in root_schema()["required"]


BASE: dict[str, Any] = {
    "database": {"secretRef": {"name": "shop-db"}},
    "source": {"configMap": {"name": "shop-migrations"}},
}
INLINE = {
    "inline": [{"name": "0000_init", "up": "CREATE TABLE t (id int);", "down": "DROP TABLE t;"}]
}
IMAGE = {"image": {"reference": "reg.example.com/shop/migrations:1.4.2", "pullPolicy": "Always"}}

GOOD = {
    "minimal": BASE,
    "inline": {**BASE, "source": INLINE},
    "image": {**BASE, "source": IMAGE},
    "rollback-steps": {**BASE, "action": "rollback", "steps": 2, "confirm": "rollback-batch-3"},
    "rollback-target": {**BASE, "action": "rollback", "target": "0001_users"},
    "reset-confirmed": {**BASE, "action": "reset", "environment": "staging", "confirm": "x"},
    "baseline": {**BASE, "action": "baseline", "target": "0004_orders"},
    "plan": {**BASE, "action": "plan", "target": "0004_orders", "format": "flyway"},
    "status": {**BASE, "action": "status", "dryRun": True},
    "repair": {**BASE, "action": "repair"},
    "repair-accepting": {
        **BASE,
        "action": "repair",
        "repair": {
            "acceptChecksums": ["0003_add_orders", "0004_add_analytics.sql"],
            "acceptDowns": ["0003_add_orders"],
            "acceptRenames": True,
            "force": True,
        },
    },
    "repair-empty": {**BASE, "action": "repair", "repair": {}},
    "drizzle-table": {**BASE, "drizzleTable": "app.migrations"},
    "drizzle-table-quoted": {**BASE, "action": "baseline", "drizzleTable": '"a.b"."C""d"'},
    "everything": {
        **BASE,
        "timeouts": {"lockWaitSeconds": 0, "lockTimeoutMs": 5000, "statementTimeoutSeconds": 30},
        "job": {
            "resources": {"requests": {"cpu": "100m", "memory": 134217728}},
            "serviceAccountName": "migrator",
            "nodeSelector": {"pool": "batch"},
            "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
            "imagePullSecrets": [{"name": "regcred"}],
            "backoffLimit": 0,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 3600,
        },
    },
}

BAD = {
    "no source": ({**BASE, "source": {}}, "exactly one of source.configMap"),
    "two sources": ({**BASE, "source": {**IMAGE, **INLINE}}, "exactly one of source.configMap"),
    "steps on migrate": ({**BASE, "steps": 1}, "steps is only allowed with action rollback"),
    "confirm on migrate": ({**BASE, "confirm": "yes"}, "confirm is only allowed"),
    "confirm on status": ({**BASE, "action": "status", "confirm": "y"}, "confirm is only allowed"),
    "target on verify": (
        {**BASE, "action": "verify", "target": "0001_a"},
        "target is only allowed",
    ),
    "steps and target": (
        {**BASE, "action": "rollback", "steps": 1, "target": "0001_a"},
        "set steps or target, not both",
    ),
    "repair on migrate": (
        {**BASE, "repair": {"acceptRenames": True}},
        "repair is only allowed with action repair",
    ),
    "repair on verify": (
        {**BASE, "action": "verify", "repair": {"acceptChecksums": ["0001_a"]}},
        "repair is only allowed with action repair",
    ),
    "duplicate accepted checksum": (
        {**BASE, "action": "repair", "repair": {"acceptChecksums": ["0001_a", "0001_a"]}},
        "spec.repair.acceptChecksums: Duplicate value",
    ),
    "duplicate accepted down": (
        {**BASE, "action": "repair", "repair": {"acceptDowns": ["0001_a", "0001_a"]}},
        "spec.repair.acceptDowns: Duplicate value",
    ),
    "empty accepted name": (
        {**BASE, "action": "repair", "repair": {"acceptDowns": [""]}},
        "spec.repair.acceptDowns[0]: minLength 1",
    ),
    "long accepted name": (
        {**BASE, "action": "repair", "repair": {"acceptChecksums": ["x" * 256]}},
        "spec.repair.acceptChecksums[0]: maxLength 255",
    ),
    "renames not a boolean": (
        {**BASE, "action": "repair", "repair": {"acceptRenames": "please"}},
        "spec.repair.acceptRenames: must be boolean",
    ),
    "force not a boolean": (
        {**BASE, "action": "repair", "repair": {"force": "please"}},
        "spec.repair.force: must be boolean",
    ),
    "unknown repair field": (
        {**BASE, "action": "repair", "repair": {"acceptAll": True}},
        "spec.repair.acceptAll: unknown field",
    ),
    "inline as flyway": ({**BASE, "format": "flyway", "source": INLINE}, "drizzle's layout"),
    "drizzle table on rollback": (
        {**BASE, "action": "rollback", "drizzleTable": "app.migrations"},
        "drizzleTable is only allowed with action migrate, baseline or plan",
    ),
    "drizzle table without schema": (
        {**BASE, "drizzleTable": "migrations"},
        "spec.drizzleTable: pattern",
    ),
    "drizzle table open quote": (
        {**BASE, "drizzleTable": '"app.migrations'},
        "spec.drizzleTable: pattern",
    ),
    "unknown action": ({**BASE, "action": "explode"}, "spec.action: must be one of"),
    "no database": ({"source": BASE["source"]}, "spec.database: Required value"),
    "steps zero": ({**BASE, "action": "rollback", "steps": 0}, "spec.steps: minimum 1"),
    "lock wait too long": ({**BASE, "timeouts": {"lockWaitSeconds": 3601}}, "maximum 3600"),
    "backoff too high": ({**BASE, "job": {"backoffLimit": 11}}, "spec.job.backoffLimit: maximum"),
    "bad inline name": (
        {**BASE, "source": {"inline": [{"name": "init", "up": "x"}]}},
        "spec.source.inline[0].name",
    ),
    "duplicate inline": (
        {
            **BASE,
            "source": {"inline": [{"name": "0000_a", "up": "x"}, {"name": "0000_a", "up": "y"}]},
        },
        "spec.source.inline: Duplicate value",
    ),
    "too many inline": (
        {**BASE, "source": {"inline": [{"name": f"{i:04}_m", "up": "x"} for i in range(101)]}},
        "maxItems 100",
    ),
    "relative image path": (
        {**BASE, "source": {"image": {"reference": "x", "path": "migrations"}}},
        "spec.source.image.path: pattern",
    ),
    "bad quantity": (
        {**BASE, "job": {"resources": {"limits": {"memory": "lots"}}}},
        "spec.job.resources.limits.memory: pattern",
    ),
    "unknown field": ({**BASE, "dryrun": True}, "spec.dryrun: unknown field"),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_specs_are_accepted(name: str) -> None:
    assert api_server_errors(GOOD[name]) == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_specs_are_refused_with_a_clear_message(name: str) -> None:
    raw, message = BAD[name]
    errors = api_server_errors(raw)
    assert any(message in e for e in errors), errors


@pytest.mark.parametrize("name", sorted(GOOD) + sorted(BAD))
def test_operator_and_api_server_agree(name: str) -> None:
    """The operator's pydantic models accept exactly what the CRD accepts."""
    raw = GOOD[name] if name in GOOD else BAD[name][0]
    crd_accepts = not api_server_errors(raw)
    try:
        parse_spec(raw)
    except InvalidSpec:
        operator_accepts = False
    else:
        operator_accepts = True
    assert crd_accepts == operator_accepts


IMMUTABLE = "spec is immutable once created, except spec.confirm"

CHANGES = {
    "action": (GOOD["minimal"], {**BASE, "action": "status"}),
    "secret": (BASE, {**BASE, "database": {"secretRef": {"name": "other"}}}),
    "secret key": (BASE, {**BASE, "database": {"secretRef": {"name": "shop-db", "key": "URL"}}}),
    "source kind": (BASE, {**BASE, "source": INLINE}),
    "inline sql": (
        GOOD["inline"],
        {**BASE, "source": {"inline": [{"name": "0000_init", "up": "DROP SCHEMA public;"}]}},
    ),
    "format": (GOOD["plan"], {**GOOD["plan"], "format": "dbmate"}),
    "steps": (GOOD["rollback-steps"], {**GOOD["rollback-steps"], "steps": 5}),
    "steps added": (
        {**BASE, "action": "rollback"},
        {**BASE, "action": "rollback", "steps": 3},
    ),
    "target removed": (GOOD["baseline"], {**BASE, "action": "baseline"}),
    "drizzle table": (GOOD["drizzle-table"], {**BASE, "drizzleTable": "public.migrations"}),
    "drizzle table added": (BASE, GOOD["drizzle-table"]),
    "environment added": (BASE, {**BASE, "environment": "development"}),
    "dry run": (BASE, {**BASE, "dryRun": True}),
    "timeouts": (BASE, {**BASE, "timeouts": {"lockWaitSeconds": 61}}),
    "job added": (BASE, {**BASE, "job": {"backoffLimit": 1}}),
    "job removed": (
        GOOD["everything"],
        {k: v for k, v in GOOD["everything"].items() if k != "job"},
    ),
    "repair added": (GOOD["repair"], GOOD["repair-accepting"]),
    "repair removed": (GOOD["repair-accepting"], GOOD["repair"]),
    "repair names": (
        GOOD["repair-accepting"],
        {
            **GOOD["repair-accepting"],
            "repair": {**GOOD["repair-accepting"]["repair"], "acceptDowns": ["0004_x"]},
        },
    ),
    "resources": (
        GOOD["everything"],
        {**GOOD["everything"], "job": {**GOOD["everything"]["job"], "resources": {}}},
    ),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_spec_is_immutable(name: str) -> None:
    old, new = CHANGES[name]
    assert api_server_errors(old) == api_server_errors(new) == []
    errors = api_server_errors(new, old=old)
    assert len(errors) == 1
    assert errors[0].startswith(IMMUTABLE)


def test_confirm_may_be_added_or_changed() -> None:
    waiting = {**BASE, "action": "rollback", "steps": 2}
    confirmed = {**waiting, "confirm": "rollback-batch-3"}
    assert api_server_errors(confirmed, old=waiting) == []
    assert api_server_errors({**waiting, "confirm": "rollback-batch-4"}, old=confirmed) == []


def test_an_unchanged_spec_passes_the_transition_rule() -> None:
    for name, raw in GOOD.items():
        assert api_server_errors(raw, old=copy.deepcopy(raw)) == [], name


def test_defaults_written_out_are_not_a_change() -> None:
    """kubectl apply of a manifest that spells out a default is the same spec."""
    explicit = {**BASE, "action": "migrate", "format": "drizzle", "dryRun": False}
    assert api_server_errors(explicit, old=BASE) == []
