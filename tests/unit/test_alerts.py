"""The alert and recording rules in alerts/: valid, unit-tested, and about real metrics.

``promtool`` (Debian/Ubuntu package ``prometheus``) does the checking. Where it is
missing the promtool tests skip, except under ``CI=true``: CI installs it, so a
missing promtool there is a broken pipeline, not a reason to skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemigrate.domain.outcome import Counts, MigrationResult, Outcome
from kubemigrate.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "kubemigrate-rules.yaml"
RULE_TESTS = sorted((ROOT / "alerts" / "tests").glob("*.yaml"))

EXPECTED_ALERTS = {
    "KubemigrateMigrationFailed",
    "KubemigrateHighFailureRate",
    "KubemigratePendingMigrations",
    "KubemigrateSchemaDrift",
    "KubemigrateSlowMigration",
    "KubemigrateFrequentRollbacks",
    "KubemigrateNoRecentSuccess",
    "KubemigrateOperatorHandlerErrors",
    "KubemigrateRunRunningLong",
    "KubemigrateOperatorDown",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is not installed; CI must `apt-get install -y prometheus`")
        pytest.skip("promtool not installed (apt-get install -y prometheus)")
    return path


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def exported_series() -> set[str]:
    """Every series name the operator's /metrics can show, found by exercising it."""
    metrics = Metrics(version="test")
    metrics.run_started("ns", "ns/db", "migrate")
    outcome = Outcome(
        action="migrate",
        ok=True,
        migrations=(MigrationResult(name="0001.sql", direction="up"),),
        counts=Counts(total=1, applied=1),
    )
    metrics.run_finished("ns", "ns/db", outcome, duration_seconds=1.0)
    failed = Outcome(action="rollback", ok=False, exitCode=1, error={"reason": "MigrationFailed"})
    metrics.run_finished("ns", "ns/db", failed, duration_seconds=1.0)
    metrics.handler_error("create")
    return {s.name for family in metrics.registry.collect() for s in family.samples}


def metric_names(expr: str) -> set[str]:
    """Metric (and recording rule) names in a PromQL expression.

    Strings, label matchers and ranges are removed first, so label values and names
    (and a subquery's ``[1h:1m]``) never count; what is left are functions, keywords,
    grouping labels and metric names, and only names with our prefix (or a recording
    rule's colons) are kept.
    """
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n.startswith("kubemigrate_") or ":" in n}


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = subprocess.run(
        [promtool(), "test", "rules", *map(str, RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_expected_alert_exists_with_severity_and_annotations() -> None:
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(alerts) == EXPECTED_ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name


def test_rules_name_only_metrics_the_operator_exports() -> None:
    exported = exported_series()
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        unknown = metric_names(rule["expr"]) - exported - recorded
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: {sorted(unknown)}"


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing >= EXPECTED_ALERTS, sorted(EXPECTED_ALERTS - firing)
    assert quiet >= EXPECTED_ALERTS, sorted(EXPECTED_ALERTS - quiet)


def test_every_recording_rule_is_tested() -> None:
    tested = {
        check["expr"]
        for path in RULE_TESTS
        for case in yaml.safe_load(path.read_text())["tests"]
        for check in case.get("promql_expr_test", [])
    }
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    missing = {name for name in recorded if not any(name in expr for expr in tested)}
    assert not missing
