"""Lifecycle decisions against an in-memory API (a test double of the Kube adapter).

The e2e tests cover the happy paths on the local cluster; these pin down the races
a cluster rarely shows on demand: two writers reporting the same finished Job.
"""

from __future__ import annotations

import copy
import json
from typing import Any, cast

from prometheus_client import CollectorRegistry

from kubemigrate.controller.kube import Conflict, Kube
from kubemigrate.controller.lifecycle import Lifecycle
from kubemigrate.domain.outcome import Counts, MigrationResult, Outcome
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import load_settings


def _run(phase: str = "Running", rv: str = "5") -> dict[str, Any]:
    return {
        "apiVersion": "kubemigrate.io/v1alpha1",
        "kind": "MigrationRun",
        "metadata": {
            "name": "r",
            "namespace": "ns",
            "uid": "u1",
            "generation": 1,
            "resourceVersion": rv,
        },
        "spec": {
            "action": "migrate",
            "database": {"secretRef": {"name": "db"}},
            "source": {"configMap": {"name": "m"}},
        },
        "status": {"phase": phase, "jobName": "r-job"},
    }


def _finished_job() -> dict[str, Any]:
    return {
        "metadata": {
            "name": "r-job",
            "namespace": "ns",
            "labels": {"kubemigrate.io/mode": "run"},
            "uid": "j1",
            "ownerReferences": [
                {"kind": "MigrationRun", "name": "r", "uid": "u1", "controller": True}
            ],
        },
        "status": {
            "conditions": [{"type": "Complete", "status": "True"}],
            "succeeded": 1,
            # whole seconds, as the API serves them: 2 s for what may have taken 1.0 s
            "startTime": "2026-01-01T00:00:00Z",
            "completionTime": "2026-01-01T00:00:02Z",
        },
    }


def owned_by_job(uid: str = "j1") -> dict[str, Any]:
    """A pod's metadata when the Job of uid ``uid`` created it (its controller)."""
    return {
        "name": f"r-job-{uid}",
        "ownerReferences": [{"kind": "Job", "name": "r-job", "uid": uid, "controller": True}],
    }


def _pod(duration_ms: float | None = None) -> dict[str, Any]:
    outcome = Outcome(
        action="migrate",
        ok=True,
        batch=1,
        migrations=(MigrationResult(name="0000_a.sql", direction="up"),),
        counts=Counts(total=1, applied=1, pending=0),
        durationMs=duration_ms,
    )
    terminated = {"exitCode": 0, "message": outcome.to_json(), "finishedAt": "2026-01-01T00:00:00Z"}
    return {
        "metadata": owned_by_job(),
        "status": {"containerStatuses": [{"name": "migrate", "state": {"terminated": terminated}}]},
    }


class FakeKube:
    """The adapter's surface, backed by dicts; conflicts are scripted."""

    def __init__(
        self,
        run: dict[str, Any],
        *,
        conflicts: int = 0,
        winner: dict[str, Any] | None = None,
        pod: dict[str, Any] | None = None,
    ) -> None:
        self.run = run
        self.pod = pod or _pod()
        self.conflicts = conflicts
        self.winner = winner
        self.patches: list[dict[str, Any]] = []
        self.events: list[str] = []

    def get_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.run)

    def patch_run_status(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        if self.conflicts:
            self.conflicts -= 1
            if self.winner is not None:
                self.run = self.winner  # another writer got there first
            raise Conflict("changed")
        self.patches.append(status)
        self.run = {**self.run, "status": {**self.run["status"], **status}}
        return copy.deepcopy(self.run)

    def job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return [self.pod]

    def post_event(self, run: Any, *, type_: str, reason: str, message: str) -> None:
        self.events.append(reason)


def _succeeded_count(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value(
        "kubemigrate_migration_runs_total",
        {"namespace": "ns", "database": "ns/db", "action": "migrate", "result": "succeeded"},
    )
    return value or 0.0


def _lifecycle(kube: FakeKube) -> tuple[Lifecycle, Metrics]:
    metrics = Metrics(registry=CollectorRegistry())
    return Lifecycle(cast(Kube, kube), load_settings(), metrics), metrics


def test_a_result_already_recorded_by_another_writer_is_not_counted_again() -> None:
    kube = FakeKube(_run(), conflicts=1, winner=_run(phase="Succeeded", rv="6"))
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.job_changed(_finished_job())
    assert kube.patches == []
    assert kube.events == []
    assert _succeeded_count(metrics) == 0.0


def test_a_conflict_from_an_unrelated_write_is_retried_and_the_result_recorded_once() -> None:
    kube = FakeKube(_run(), conflicts=1, winner=_run(phase="Running", rv="6"))
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.job_changed(_finished_job())
    assert [p["phase"] for p in kube.patches] == ["Succeeded"]
    assert json.dumps(kube.patches[0]["migrations"]) == json.dumps(
        [{"name": "0000_a.sql", "direction": "up"}]
    )
    assert kube.events == ["Succeeded"]
    assert _succeeded_count(metrics) == 1.0


def _duration(metrics: Metrics) -> tuple[float, float]:
    labels = {"namespace": "ns", "database": "ns/db", "action": "migrate"}
    count = metrics.registry.get_sample_value(
        "kubemigrate_migration_duration_seconds_count", labels
    )
    total = metrics.registry.get_sample_value("kubemigrate_migration_duration_seconds_sum", labels)
    return count or 0.0, total or 0.0


def test_the_duration_metric_takes_the_engine_s_own_time_not_the_job_s_whole_seconds() -> None:
    kube = FakeKube(_run(), pod=_pod(duration_ms=1234.5))
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.job_changed(_finished_job())
    assert _duration(metrics) == (1.0, 1.2345)


def test_a_result_without_a_duration_falls_back_to_the_job_s_times() -> None:
    kube = FakeKube(_run(), pod=_pod(duration_ms=None))  # e.g. a Job of an older image
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.job_changed(_finished_job())
    assert _duration(metrics) == (1.0, 2.0)


# -- a Job whose pod cannot start --------------------------------------------------


class _NoPods(FakeKube):
    def __init__(self, run: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        super().__init__(run)
        self.pods = pods

    def job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return self.pods


def _starting_job(created: str, *, active: int | None = None) -> dict[str, Any]:
    job = _finished_job()
    job["metadata"]["creationTimestamp"] = created
    job["status"] = {"active": active} if active else {}
    return job


def _running_reason(kube: FakeKube) -> str | None:
    conditions = kube.run["status"].get("conditions") or []
    return next((c["reason"] for c in conditions if c["type"] == "Running"), None)


def test_a_job_that_made_no_pod_long_after_its_creation_says_where_to_look() -> None:
    kube = _NoPods(_run(), [])
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_changed(_starting_job("2026-01-01T00:00:00Z"), look_for_stuck_pods=True)
    assert _running_reason(kube) == "PodNotCreated"
    message = kube.patches[-1]["conditions"][-1]["message"]
    assert "kubectl -n ns describe job r-job" in message
    assert "serviceAccountName" in message


def test_a_job_just_made_is_given_time_for_its_pod() -> None:
    from kubemigrate.controller.kube import now

    kube = _NoPods(_run(), [])
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_changed(_starting_job(now()), look_for_stuck_pods=True)
    assert kube.patches == []


def test_a_pod_no_node_can_take_says_so() -> None:
    pending = {
        "metadata": owned_by_job(),
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 node(s) didn't match "
                    "Pod's node affinity/selector.",
                }
            ],
        },
    }
    kube = _NoPods(_run(), [pending])
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_changed(_starting_job("2026-01-01T00:00:00Z", active=1), look_for_stuck_pods=True)
    assert _running_reason(kube) == "Unschedulable"
    assert "spec.job.nodeSelector" in kube.patches[-1]["conditions"][-1]["message"]


# -- the database gauges after a restart ---------------------------------------------


def _finished_run(
    name: str, phase: str, completed: str, *, pending: int, drift: bool
) -> dict[str, Any]:
    run = _run(phase=phase)
    run["metadata"]["name"] = name
    run["status"].update(completedAt=completed, pending=pending, drift=drift)
    return run


def _gauge(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"namespace": "ns", **labels})


def test_a_restarted_operator_takes_the_database_gauges_from_the_runs() -> None:
    """Gauges live in the process: a new one had no drift and no pending series, so the
    alerts on them resolved although nothing was fixed."""
    lifecycle, metrics = _lifecycle(FakeKube(_run()))
    runs = [
        _finished_run("old", "Succeeded", "2026-01-01T00:00:00Z", pending=0, drift=False),
        _finished_run("new", "Failed", "2026-01-02T00:00:00Z", pending=2, drift=True),
        # a preview's counts are its source's, maybe not the deployed one's
        _finished_run("preview", "Succeeded", "2026-01-03T00:00:00Z", pending=7, drift=False),
    ]
    runs[-1]["spec"]["dryRun"] = True
    lifecycle.settle_gauges(runs)
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") == 2
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") == 1
    last = _gauge(
        metrics, "kubemigrate_last_success_timestamp_seconds", database="ns/db", action="migrate"
    )
    assert last == 1767225600.0  # the success's completedAt, not the restart's time
    # the failure's too, newer than the success: MigrationFailed stays until one succeeds
    failed_at = _gauge(
        metrics, "kubemigrate_last_failure_timestamp_seconds", database="ns/db", action="migrate"
    )
    assert failed_at == 1767312000.0
    # the runs' series exist at zero: the new process's first failure is visible to increase()
    failed = {"database": "ns/db", "action": "migrate", "result": "failed"}
    assert _gauge(metrics, "kubemigrate_migration_runs_total", **failed) == 0


def test_deleting_a_dirty_database_s_runs_keeps_its_drift_alert_firing() -> None:
    """`kubectl delete mr --all` resolved a critical SchemaDrift nobody had fixed."""
    lifecycle, metrics = _lifecycle(FakeKube(_run()))
    drifted = _finished_run("new", "Failed", "2026-01-02T00:00:00Z", pending=2, drift=True)
    lifecycle.settle_gauges([drifted])
    lifecycle.settle_gauges([])
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") == 2
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") == 1
    # a repair that finds it clean ends it; its runs deleted, the database is forgotten
    repaired = _finished_run("repair", "Succeeded", "2026-01-03T00:00:00Z", pending=0, drift=False)
    repaired["spec"]["action"] = "repair"
    lifecycle.settle_gauges([repaired])
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") == 0
    lifecycle.settle_gauges([])
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") is None
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") is None


def test_a_clean_database_no_run_refers_to_is_forgotten() -> None:
    """Gauges keep their last value for ever: a database that is gone would show too."""
    lifecycle, metrics = _lifecycle(FakeKube(_run()))
    done = _finished_run("done", "Succeeded", "2026-01-02T00:00:00Z", pending=0, drift=False)
    lifecycle.settle_gauges([done])
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") == 0
    lifecycle.settle_gauges([])
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") is None
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") is None


def test_a_standby_replica_follows_the_runs_the_active_one_finished() -> None:
    """A replica that sees no run end kept the values it restored at its start: pending
    5 for ever after the active one's migrate, and `max by` kept the alert firing."""
    lifecycle, metrics = _lifecycle(FakeKube(_run()))
    first = _finished_run("old", "Failed", "2026-01-01T00:00:00Z", pending=5, drift=False)
    lifecycle.settle_gauges([first])
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") == 5
    done = _finished_run("new", "Succeeded", "2026-01-02T00:00:00Z", pending=0, drift=False)
    lifecycle.settle_gauges([first, done])
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") == 0
    # a run that stopped midway outside a transaction left the database dirty: drift
    dirty = _finished_run("dirty", "Failed", "2026-01-03T00:00:00Z", pending=1, drift=False)
    dirty["status"]["dirty"] = True
    lifecycle.settle_gauges([first, done, dirty])
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") == 1


def test_a_verify_run_s_findings_are_not_the_database_s_gauges() -> None:
    """A restarted operator read a pull request's failed gate as drift of the database."""
    lifecycle, metrics = _lifecycle(FakeKube(_run()))
    deployed = _finished_run("deploy", "Succeeded", "2026-01-01T00:00:00Z", pending=0, drift=False)
    gate = _finished_run("gate", "Failed", "2026-01-02T00:00:00Z", pending=1, drift=True)
    gate["spec"]["action"] = "verify"
    lifecycle.settle_gauges([deployed, gate])
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") == 0
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") == 0


def test_a_database_s_run_counters_exist_at_zero_once_the_operator_sees_it() -> None:
    """A run that fails before it has a Job was its series' first value: born at 1,
    and the database's next failures of other actions were born at 1 as well."""
    run = _run()
    run["status"] = {}
    del run["spec"]["source"]  # invalid: failed with InvalidSpec, no Job
    lifecycle, metrics = _lifecycle(FakeKube(run))
    lifecycle.start(run)
    runs = "kubemigrate_migration_runs_total"
    failed = {"database": "ns/db", "result": "failed"}
    assert _gauge(metrics, runs, action="migrate", **failed) == 1
    assert _gauge(metrics, runs, action="migrate", result="succeeded", database="ns/db") == 0
    for action in ("rollback", "repair", "baseline", "reset", "status", "verify", "plan"):
        assert _gauge(metrics, runs, action=action, **failed) == 0, action
    assert _gauge(metrics, "kubemigrate_rollbacks_total", database="ns/db") == 0


def test_a_listing_does_not_undo_what_this_process_saw_end_later() -> None:
    lifecycle, metrics = _lifecycle(FakeKube(_run()))
    seen = Outcome(action="migrate", ok=True, counts=Counts(total=3, applied=3, pending=0))
    metrics.run_finished("ns", "ns/db", seen, 1.0)
    older = _finished_run("old", "Failed", "2026-01-01T00:00:00Z", pending=2, drift=True)
    lifecycle.settle_gauges([older])
    assert _gauge(metrics, "kubemigrate_pending_migrations", database="ns/db") == 0
    assert _gauge(metrics, "kubemigrate_schema_drift", database="ns/db") == 0


def test_the_oldest_run_in_flight_is_told_while_it_runs() -> None:
    """A migration blocked on a lock shows in the metrics before it ends."""
    lifecycle, metrics = _lifecycle(FakeKube(_run()))
    name = "kubemigrate_oldest_run_in_flight_seconds"
    assert metrics.registry.get_sample_value(name) == 0.0
    lifecycle._start_waiting("u1")
    assert (metrics.registry.get_sample_value(name) or 0.0) > 0.0
    lifecycle._stop_waiting("u1")
    assert metrics.registry.get_sample_value(name) == 0.0


def test_a_run_s_action_label_is_one_of_the_actions_whatever_its_spec_says() -> None:
    """Without the CRD's enum (an old CRD), an invalid spec.action became a label value as
    written: a series per typo, or per whatever a person cared to write."""
    from kubemigrate.controller.lifecycle import metric_action

    assert metric_action({"spec": {"action": "rollback"}}) == "rollback"
    assert metric_action({"spec": {"action": "migrate", "dryRun": True}}) == "plan"
    assert metric_action({"spec": {}}) == "migrate"
    assert metric_action({"spec": {"action": "drop everything please"}}) == "invalid"
