"""The Grafana dashboard in dashboards/: valid JSON that queries metrics that exist.

A dashboard whose PromQL names a metric the operator does not export shows "No
data" forever and nobody notices; these tests compare every expression with the
series a real ``Metrics`` instance produces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kubemigrate.domain.outcome import Counts, MigrationResult, Outcome
from kubemigrate.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboards" / "kubemigrate.json"
RULES = ROOT / "alerts" / "kubemigrate-rules.yaml"

# Metrics without namespace/database labels: operator-wide health.
OPERATOR_WIDE = {
    "kubemigrate_runs_in_flight",
    "kubemigrate_operator_info",
    "kubemigrate_operator_handler_errors_total",
}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))  # collapsed rows nest theirs


def exprs() -> list[tuple[str, str]]:
    """(panel title, expr) for every query, including the template variables'."""
    found = [
        (panel["title"], target["expr"])
        for panel in all_panels(dashboard()["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", text)
            assert inner, text
            found.append((f"${variable['name']}", inner.group(1)))
    return found


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
    metrics.handler_error("create")
    return {s.name for family in metrics.registry.collect() for s in family.samples}


def recorded() -> dict[str, str]:
    """Each recording rule's name and expression: panels read runs through them, so a
    series born already past zero counts as the alerts count it."""
    document = yaml.safe_load(RULES.read_text())
    return {
        rule["record"]: rule["expr"]
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def source_metrics(names: set[str]) -> set[str]:
    """The exported metrics behind ``names``, recording rules followed to their source."""
    rules = recorded()
    found: set[str] = set()
    for name in names:
        found |= source_metrics(metric_names(rules[name])) if name in rules else {name}
    return found


def metric_names(expr: str) -> set[str]:
    """Names with our prefix (or a recording rule's colons), outside strings and matchers."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n.startswith("kubemigrate_") or ":" in n}


def test_the_dashboard_is_valid_json_with_unique_panel_ids() -> None:
    data = dashboard()
    ids = [panel["id"] for panel in all_panels(data["panels"])]
    assert len(ids) == len(set(ids))
    assert data["uid"] == "kubemigrate"
    assert all("gridPos" in panel for panel in all_panels(data["panels"]))


def test_every_query_names_only_exported_metrics() -> None:
    exported = exported_series()
    queries = exprs()
    assert len(queries) > 10
    for title, expr in queries:
        names = metric_names(expr)
        assert names, f"{title}: no kubemigrate metric in {expr!r}"
        unknown = names - exported - set(recorded())
        assert not unknown, f"{title}: unknown {sorted(unknown)}"


def test_the_dashboard_shows_what_users_asked_for() -> None:
    used = source_metrics({name for _, expr in exprs() for name in metric_names(expr)})
    assert {
        "kubemigrate_migration_runs_total",
        "kubemigrate_migration_duration_seconds_bucket",
        "kubemigrate_rollbacks_total",
        "kubemigrate_migrations_applied_total",
        "kubemigrate_pending_migrations",
        "kubemigrate_schema_drift",
        "kubemigrate_last_success_timestamp_seconds",
        "kubemigrate_operator_handler_errors_total",
        "kubemigrate_runs_in_flight",
    } <= used
    all_exprs = "\n".join(expr for _, expr in exprs())
    for quantile in ("0.50", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in all_exprs


def test_the_datasource_is_a_variable_used_by_every_panel() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in all_panels(dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_queries_follow_the_namespace_and_database_variables() -> None:
    variables = {v["name"] for v in dashboard()["templating"]["list"]}
    assert {"namespace", "database"} <= variables
    for title, expr in exprs():
        if title.startswith("$") or metric_names(expr) <= OPERATOR_WIDE:
            continue
        for selector in re.findall(r"[\w:]*kubemigrate_[\w:]+(\{[^}]*\})?", expr):
            assert 'namespace=~"$namespace"' in selector, f"{title}: {expr}"
            assert 'database=~"$database"' in selector, f"{title}: {expr}"
