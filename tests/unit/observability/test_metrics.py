"""The metrics as a scraper sees them: a real registry behind a real HTTP endpoint.

Every assertion reads ``/metrics`` over HTTP and parses it with prometheus-client's
own parser, so the tests check the exposition a Prometheus server would ingest,
not the Python objects behind it.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from kubemigrate.domain.outcome import TERMINATION_MESSAGE_LIMIT, Counts, MigrationResult, Outcome
from kubemigrate.observability.metrics import Metrics, MetricsServer, database_label

NS = "shop"
DB = "shop/shop-db"
NOW = 1_700_000_000.0

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(version="1.2.3", clock=lambda: NOW)


@pytest.fixture
def server(metrics: Metrics) -> Iterator[MetricsServer]:
    running = metrics.serve(0, host="127.0.0.1")
    yield running
    running.stop()


def get(server: MetricsServer, path: str) -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()


def scrape(server: MetricsServer) -> Samples:
    status, _, text = get(server, "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def applied(*names: str, direction: str = "up") -> tuple[MigrationResult, ...]:
    return tuple(MigrationResult(name=n, direction=direction, durationMs=12.0) for n in names)


def test_every_metric_has_help_and_the_documented_type(server: MetricsServer) -> None:
    _, _, text = get(server, "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    expected = {
        "kubemigrate_migration_runs": "counter",
        "kubemigrate_migrations_applied": "counter",
        "kubemigrate_rollbacks": "counter",
        "kubemigrate_migration_duration_seconds": "histogram",
        "kubemigrate_pending_migrations": "gauge",
        "kubemigrate_schema_drift": "gauge",
        "kubemigrate_last_success_timestamp_seconds": "gauge",
        "kubemigrate_last_failure_timestamp_seconds": "gauge",
        "kubemigrate_operator_handler_errors": "counter",
        "kubemigrate_runs_in_flight": "gauge",
        "kubemigrate_operator_info": "gauge",  # info metrics are gauges in text format 0.0.4
    }
    assert {name: families[name].type for name in expected} == expected
    assert all(families[name].documentation.strip() for name in expected)


def test_the_version_is_exported_as_an_info_metric(server: MetricsServer) -> None:
    samples = scrape(server)
    assert value(samples, "kubemigrate_operator_info", version="1.2.3") == 1.0


def test_the_registry_is_private_to_the_instance() -> None:
    registry = CollectorRegistry()
    Metrics(registry, version="x")
    Metrics(version="y")  # a second instance must not clash with the first
    assert registry.get_sample_value("kubemigrate_operator_info", {"version": "x"}) == 1.0
    assert registry.get_sample_value("kubemigrate_operator_info", {"version": "y"}) is None


def test_the_operator_s_process_is_described_too() -> None:
    """process_start_time_seconds tells a restart (and its age), the rest its memory."""
    registry = Metrics(version="x").registry
    assert (registry.get_sample_value("process_start_time_seconds") or 0) > 0
    assert (registry.get_sample_value("process_resident_memory_bytes") or 0) > 0


def test_a_successful_migrate_run(metrics: Metrics, server: MetricsServer) -> None:
    metrics.run_started(NS, DB, "migrate")

    outcome = Outcome(
        action="migrate",
        ok=True,
        batch=3,
        migrations=applied("0001_a.sql", "0002_b.sql"),
        counts=Counts(total=5, applied=5, pending=0),
    )
    assert metrics.run_finished(NS, DB, outcome, duration_seconds=42.0) == "succeeded"

    samples = scrape(server)
    runs = "kubemigrate_migration_runs_total"
    assert (
        value(samples, runs, namespace=NS, database=DB, action="migrate", result="succeeded") == 1
    )
    assert value(samples, runs, namespace=NS, database=DB, action="migrate", result="failed") == 0
    assert value(samples, "kubemigrate_migrations_applied_total", namespace=NS, database=DB) == 2
    assert value(samples, "kubemigrate_rollbacks_total", namespace=NS, database=DB) == 0
    assert value(samples, "kubemigrate_pending_migrations", namespace=NS, database=DB) == 0
    assert value(samples, "kubemigrate_schema_drift", namespace=NS, database=DB) == 0
    assert (
        value(
            samples,
            "kubemigrate_last_success_timestamp_seconds",
            namespace=NS,
            database=DB,
            action="migrate",
        )
        == NOW
    )

    hist = "kubemigrate_migration_duration_seconds"
    labels = {"namespace": NS, "database": DB, "action": "migrate"}
    assert value(samples, f"{hist}_count", **labels) == 1
    assert value(samples, f"{hist}_sum", **labels) == 42.0
    assert value(samples, f"{hist}_bucket", le="30.0", **labels) == 0
    assert value(samples, f"{hist}_bucket", le="60.0", **labels) == 1
    assert value(samples, f"{hist}_bucket", le="1800.0", **labels) == 1


def test_buckets_cover_the_range_migrations_take(metrics: Metrics, server: MetricsServer) -> None:
    metrics.run_finished(NS, DB, Outcome(action="status", ok=True), duration_seconds=0.05)
    samples = scrape(server)
    edges = sorted(
        float(dict(labels)["le"])
        for (name, labels) in samples
        if name == "kubemigrate_migration_duration_seconds_bucket"
    )
    assert edges[0] == 0.1
    assert edges[-2:] == [1800.0, float("inf")]
    assert {600.0, 900.0} <= set(edges)  # the slow-migration alert's threshold is an edge


def test_a_failed_run_counts_as_failed_and_keeps_what_it_committed(
    metrics: Metrics, server: MetricsServer
) -> None:
    metrics.run_started(NS, DB, "migrate")
    outcome = Outcome(
        action="migrate",
        ok=False,
        exitCode=1,
        migrations=applied("0003_c.sql"),
        counts=Counts(total=5, applied=3, pending=2),
        error={"reason": "MigrationFailed", "migration": "0004_d.sql", "sqlState": "42P01"},
    )
    assert metrics.run_finished(NS, DB, outcome, duration_seconds=3.0) == "failed"

    samples = scrape(server)
    runs = "kubemigrate_migration_runs_total"
    assert value(samples, runs, namespace=NS, database=DB, action="migrate", result="failed") == 1
    assert (
        value(samples, runs, namespace=NS, database=DB, action="migrate", result="succeeded") == 0
    )
    assert value(samples, "kubemigrate_migrations_applied_total", namespace=NS, database=DB) == 1
    assert value(samples, "kubemigrate_pending_migrations", namespace=NS, database=DB) == 2
    assert not any(name == "kubemigrate_last_success_timestamp_seconds" for name, _ in samples)
    # what ends MigrationFailed is a later success than this
    failed_at = "kubemigrate_last_failure_timestamp_seconds"
    assert value(samples, failed_at, namespace=NS, database=DB, action="migrate") == NOW


def test_a_refusal_or_a_failed_preview_is_no_failure_to_put_right(
    metrics: Metrics, server: MetricsServer
) -> None:
    refused = Outcome(
        action="reset", ok=False, exitCode=5, error={"reason": "RefusedBySafetyRules"}
    )
    metrics.run_finished(NS, DB, refused, duration_seconds=1.0)
    preview = Outcome(action="migrate", ok=False, exitCode=1, dryRun=True, error={"reason": "x"})
    metrics.run_finished(NS, DB, preview, duration_seconds=1.0, action="plan")
    samples = scrape(server)
    assert not any(name == "kubemigrate_last_failure_timestamp_seconds" for name, _ in samples)


def test_counters_exist_at_zero_once_a_run_starts(metrics: Metrics, server: MetricsServer) -> None:
    """Prometheus' increase() misses the first increment of a brand-new series."""
    metrics.run_started(NS, DB, "rollback")
    samples = scrape(server)
    for result in ("succeeded", "failed", "refused"):
        labels = {"namespace": NS, "database": DB, "action": "rollback", "result": result}
        assert value(samples, "kubemigrate_migration_runs_total", **labels) == 0
    assert value(samples, "kubemigrate_rollbacks_total", namespace=NS, database=DB) == 0
    assert value(samples, "kubemigrate_migrations_applied_total", namespace=NS, database=DB) == 0
    # the first run's duration too: rate() cannot see a histogram born at its first sample
    hist = "kubemigrate_migration_duration_seconds_count"
    assert value(samples, hist, namespace=NS, database=DB, action="rollback") == 0


def test_a_rollback_counts_each_migration_rolled_back(
    metrics: Metrics, server: MetricsServer
) -> None:
    outcome = Outcome(
        action="rollback",
        ok=True,
        batch=3,
        migrations=applied("0005_e.sql", "0004_d.sql", "0003_c.sql", direction="down"),
        counts=Counts(total=5, applied=2, pending=3),
    )
    metrics.run_finished(NS, DB, outcome, duration_seconds=1.5)
    samples = scrape(server)
    assert value(samples, "kubemigrate_rollbacks_total", namespace=NS, database=DB) == 3
    assert value(samples, "kubemigrate_migrations_applied_total", namespace=NS, database=DB) == 0
    assert value(samples, "kubemigrate_pending_migrations", namespace=NS, database=DB) == 3


@pytest.mark.parametrize(
    "error",
    [
        {"reason": "ConfirmationRequired", "message": "confirm with 'rollback batch 3'"},
        {"reason": "RefusedBySafetyRules", "message": "reset is refused in production"},
    ],
)
def test_a_safety_refusal_is_neither_success_nor_failure(
    metrics: Metrics, server: MetricsServer, error: dict[str, str]
) -> None:
    outcome = Outcome(
        action="rollback", ok=False, exitCode=5, counts=Counts(total=5, applied=5), error=error
    )
    assert metrics.run_finished(NS, DB, outcome, duration_seconds=0.4) == "refused"
    samples = scrape(server)
    runs = "kubemigrate_migration_runs_total"
    labels = {"namespace": NS, "database": DB, "action": "rollback"}
    assert value(samples, runs, result="refused", **labels) == 1
    assert value(samples, runs, result="failed", **labels) is None
    assert value(samples, "kubemigrate_rollbacks_total", namespace=NS, database=DB) == 0


def test_a_database_another_tool_migrated_is_a_failure_until_baseline(
    metrics: Metrics, server: MetricsServer
) -> None:
    """Refused like a safety rule, but no consent lets it through: a deploy stays blocked
    until a person baselines, and counted as "refused" no failure alert fired."""
    error = {"reason": "NotAdopted", "message": "This database was migrated by drizzle"}
    outcome = Outcome(action="migrate", ok=False, exitCode=5, error=error)
    assert metrics.run_finished(NS, DB, outcome, duration_seconds=0.4) == "failed"


def test_a_dry_run_is_a_run_but_changes_nothing(metrics: Metrics, server: MetricsServer) -> None:
    outcome = Outcome(
        action="migrate",
        ok=True,
        dryRun=True,
        migrations=applied("0006_f.sql"),
        counts=Counts(total=6, applied=5, pending=1),
    )
    metrics.run_finished(NS, DB, outcome, duration_seconds=0.3)
    samples = scrape(server)
    labels = {"namespace": NS, "database": DB}
    runs = "kubemigrate_migration_runs_total"
    assert value(samples, runs, action="migrate", result="succeeded", **labels) == 1
    assert value(samples, "kubemigrate_migrations_applied_total", **labels) is None
    # its source may be a preview (a plan on every pull request): pending paged an hour later
    assert value(samples, "kubemigrate_pending_migrations", **labels) is None
    assert value(samples, "kubemigrate_schema_drift", **labels) is None
    assert not any(name == "kubemigrate_last_success_timestamp_seconds" for name, _ in samples)


@pytest.mark.parametrize(
    ("drift", "dirty", "reason"),
    [(True, False, "IntegrityCheckFailed"), (False, True, "DirtyDatabase")],
)
def test_integrity_problems_raise_schema_drift_until_a_clean_run(
    metrics: Metrics, server: MetricsServer, drift: bool, dirty: bool, reason: str
) -> None:
    broken = Outcome(
        action="migrate",
        ok=False,
        exitCode=4,
        drift=drift,
        dirty=dirty,
        error={"reason": reason, "message": "0002_b.sql was edited after it was applied"},
    )
    assert metrics.run_finished(NS, DB, broken, duration_seconds=0.2) == "failed"
    assert value(scrape(server), "kubemigrate_schema_drift", namespace=NS, database=DB) == 1

    # a repair (or a migrate that finds it gone) reads the deployed folder; a verify,
    # a pull request's CI gate, does not say (test_a_verify_run_leaves_...)
    fixed = Outcome(action="repair", ok=True, counts=Counts(total=2, applied=2))
    metrics.run_finished(NS, DB, fixed, duration_seconds=0.2)
    assert value(scrape(server), "kubemigrate_schema_drift", namespace=NS, database=DB) == 0


def test_a_run_that_never_saw_the_database_leaves_its_gauges_alone(
    metrics: Metrics, server: MetricsServer
) -> None:
    seen = Outcome(action="status", ok=True, counts=Counts(total=4, applied=2, pending=2))
    metrics.run_finished(NS, DB, seen, duration_seconds=0.2)
    unreachable = Outcome(
        action="migrate", ok=False, exitCode=75, error={"reason": "DatabaseUnreachable"}
    )
    metrics.run_finished(NS, DB, unreachable, duration_seconds=30.0)
    samples = scrape(server)
    assert value(samples, "kubemigrate_pending_migrations", namespace=NS, database=DB) == 2
    assert value(samples, "kubemigrate_schema_drift", namespace=NS, database=DB) == 0


def test_a_run_without_a_job_is_counted_but_not_timed(
    metrics: Metrics, server: MetricsServer
) -> None:
    missing_secret = Outcome(action="migrate", ok=False, error={"reason": "SecretNotFound"})
    metrics.run_finished(NS, DB, missing_secret, duration_seconds=None)
    samples = scrape(server)
    labels = {"namespace": NS, "database": DB, "action": "migrate"}
    assert value(samples, "kubemigrate_migration_runs_total", result="failed", **labels) == 1
    assert value(samples, "kubemigrate_migration_duration_seconds_count", **labels) is None


def test_runs_in_flight_is_what_the_lifecycle_sets(metrics: Metrics, server: MetricsServer) -> None:
    """Starts and finishes do not move it: the lifecycle knows which runs it waits for
    (tests/unit/controller/test_lost_jobs.py), including runs deleted while Running."""
    metrics.set_in_flight(2)
    metrics.run_started(NS, DB, "migrate")
    done = Outcome(action="migrate", ok=True, counts=Counts(total=1, applied=1))
    metrics.run_finished(NS, DB, done, duration_seconds=1.0)
    assert value(scrape(server), "kubemigrate_runs_in_flight") == 2.0


def test_handler_errors_are_counted_by_handler(metrics: Metrics, server: MetricsServer) -> None:
    metrics.handler_error("create_run")
    metrics.handler_error("create_run")
    metrics.handler_error("job_event")
    samples = scrape(server)
    assert value(samples, "kubemigrate_operator_handler_errors_total", handler="create_run") == 2
    assert value(samples, "kubemigrate_operator_handler_errors_total", handler="job_event") == 1


def test_forgetting_a_database_drops_its_gauges(metrics: Metrics, server: MetricsServer) -> None:
    other = database_label("billing", "billing-db")
    for database in (DB, other):
        failed = Outcome(action="rollback", ok=False, exitCode=1, counts=Counts(total=1, applied=1))
        metrics.run_finished(NS, database, failed, duration_seconds=1.0)
        outcome = Outcome(action="migrate", ok=True, counts=Counts(total=1, applied=1))
        metrics.run_finished(NS, database, outcome, duration_seconds=1.0)
    metrics.forget_database(NS, DB)
    metrics.forget_database(NS, "never/seen")
    samples = scrape(server)
    assert value(samples, "kubemigrate_last_failure_timestamp_seconds", namespace=NS,
                 database=other, action="rollback") == NOW  # fmt: skip
    gauges = (
        "kubemigrate_pending_migrations",
        "kubemigrate_schema_drift",
        "kubemigrate_last_success_timestamp_seconds",
        "kubemigrate_last_failure_timestamp_seconds",
    )
    remaining = {dict(labels)["database"] for name, labels in samples if name in gauges}
    assert remaining == {other}
    # counters keep their history for rate()
    assert value(samples, "kubemigrate_migration_runs_total", namespace=NS, database=DB,
                 action="migrate", result="succeeded") == 1  # fmt: skip


def test_a_database_with_drift_or_pending_migrations_is_not_forgotten(
    metrics: Metrics, server: MetricsServer
) -> None:
    """Its runs deleted, nothing is fixed: its alerts keep firing until a run reads it."""
    drifted = Outcome(
        action="migrate",
        ok=False,
        exitCode=4,
        drift=True,
        error={"reason": "IntegrityCheckFailed", "message": "0002_b.sql was edited"},
        counts=Counts(total=3, applied=2, pending=1),
    )
    metrics.run_finished(NS, DB, drifted, duration_seconds=0.2)
    assert metrics.forget_database(NS, DB) is False
    samples = scrape(server)
    assert value(samples, "kubemigrate_schema_drift", namespace=NS, database=DB) == 1
    assert value(samples, "kubemigrate_pending_migrations", namespace=NS, database=DB) == 1

    repaired = Outcome(action="repair", ok=True, counts=Counts(total=3, applied=3))
    metrics.run_finished(NS, DB, repaired, duration_seconds=0.2)
    assert metrics.forget_database(NS, DB) is True
    assert value(scrape(server), "kubemigrate_schema_drift", namespace=NS, database=DB) is None


@pytest.mark.parametrize(
    "database",
    ["postgresql://app:s3cret@db:5432/shop", "app:s3cret@db/shop", ""],
)
def test_a_connection_string_is_never_published(metrics: Metrics, database: str) -> None:
    with pytest.raises(ValueError, match="database"):
        metrics.run_finished(NS, database, Outcome(action="migrate", ok=True), 1.0)
    with pytest.raises(ValueError, match="database"):
        metrics.run_started(NS, database, "migrate")
    exposition = "".join(str(s) for f in metrics.registry.collect() for s in f.samples)
    assert "s3cret" not in exposition


def test_healthz_answers_ok_while_healthy(metrics: Metrics) -> None:
    state = {"healthy": True}
    running = metrics.serve(0, host="127.0.0.1", healthy=lambda: state["healthy"])
    try:
        assert get(running, "/healthz")[::2] == (200, "ok\n")
        state["healthy"] = False
        assert get(running, "/healthz")[::2] == (503, "unhealthy\n")
        status, content_type, _ = get(running, "/metrics")
        assert (status, content_type.split(";")[0]) == (200, "text/plain")
    finally:
        running.stop()


def test_stopping_the_server_frees_the_port(metrics: Metrics) -> None:
    running = metrics.serve(0, host="127.0.0.1")
    port = running.port
    running()  # the stop callable
    again = metrics.serve(port, host="127.0.0.1")
    try:
        assert get(again, "/healthz")[0] == 200
    finally:
        again.stop()


def test_a_run_is_labelled_with_the_migration_run_s_own_action(
    metrics: Metrics, server: MetricsServer
) -> None:
    """A plan runs the engine's migrate in dry-run mode; its result says "migrate"."""
    metrics.run_started(NS, DB, "plan")
    planned = Outcome(
        action="migrate",
        ok=True,
        batch=1,
        dryRun=True,
        migrations=applied("0000_a.sql", "0001_b.sql"),
        counts=Counts(total=2, applied=0, pending=2),
    )
    assert metrics.run_finished(NS, DB, planned, duration_seconds=0.3, action="plan") == (
        "succeeded"
    )
    samples = scrape(server)
    runs = "kubemigrate_migration_runs_total"
    labels = {"namespace": NS, "database": DB}
    assert value(samples, runs, action="plan", result="succeeded", **labels) == 1
    assert value(samples, runs, action="migrate", result="succeeded", **labels) is None
    hist = "kubemigrate_migration_duration_seconds_count"
    assert value(samples, hist, action="plan", **labels) == 1
    assert value(samples, hist, action="migrate", **labels) is None
    assert value(samples, "kubemigrate_migrations_applied_total", **labels) == 0
    assert value(samples, "kubemigrate_pending_migrations", **labels) is None


@pytest.mark.parametrize(
    ("action", "direction", "counter"),
    [
        ("migrate", "up", "kubemigrate_migrations_applied_total"),
        ("rollback", "down", "kubemigrate_rollbacks_total"),
    ],
)
def test_a_large_batch_is_counted_whole_after_its_result_was_cut_to_fit(
    metrics: Metrics, server: MetricsServer, action: str, direction: str, counter: str
) -> None:
    names = [f"{i:04d}_create_table_number_{i}_with_a_descriptive_name.sql" for i in range(100)]
    outcome = Outcome(
        action=action,
        ok=True,
        batch=1,
        migrations=applied(*names, direction=direction),
        counts=Counts(total=100, applied=100 if direction == "up" else 0),
    )
    cut = Outcome.from_json(outcome.to_json(TERMINATION_MESSAGE_LIMIT))
    assert cut.truncated
    assert len(cut.migrations) < 100
    metrics.run_finished(NS, DB, cut, duration_seconds=5.0)
    assert value(scrape(server), counter, namespace=NS, database=DB) == 100


def test_a_status_run_that_finds_drift_raises_the_drift_gauge(
    metrics: Metrics, server: MetricsServer
) -> None:
    found = Outcome(
        action="status",
        ok=True,
        drift=True,
        counts=Counts(total=5, applied=5),
        warnings=("0001_add_products.sql: edited: checksum differs",),
    )
    assert metrics.run_finished(NS, DB, found, duration_seconds=0.2) == "succeeded"
    assert value(scrape(server), "kubemigrate_schema_drift", namespace=NS, database=DB) == 1


def test_a_verify_run_leaves_the_pending_and_drift_gauges_alone(
    metrics: Metrics, server: MetricsServer
) -> None:
    """verify is the CI gate, run on a pull request's folder: a file the pull request
    edited paged critical for a database whose deployed folder is intact."""
    clean = Outcome(action="migrate", ok=True, counts=Counts(total=5, applied=5))
    metrics.run_finished(NS, DB, clean, duration_seconds=1.0)
    gate = Outcome(
        action="verify",
        ok=False,
        drift=True,
        exitCode=4,
        error={"reason": "IntegrityCheckFailed", "message": "0001_add_products.sql: edited"},
        counts=Counts(total=6, applied=5, pending=1),
    )
    assert metrics.run_finished(NS, DB, gate, duration_seconds=0.2) == "failed"
    samples = scrape(server)
    assert value(samples, "kubemigrate_schema_drift", namespace=NS, database=DB) == 0
    assert value(samples, "kubemigrate_pending_migrations", namespace=NS, database=DB) == 0
    failed = {"namespace": NS, "database": DB, "action": "verify", "result": "failed"}
    assert value(samples, "kubemigrate_migration_runs_total", **failed) == 1
