"""What a person sees once a run's Job has finished: its status, condition, Event, metrics.

Each test hands the lifecycle a finished Job whose pod carries the engine's result
exactly as the Job writes it (``Outcome.to_json`` cut to the 4 KiB termination
message), then reads back what ``kubectl get/describe`` and a Prometheus scrape
would show.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from kubemigrate.controller.kube import Kube
from kubemigrate.controller.lifecycle import Lifecycle
from kubemigrate.domain.outcome import TERMINATION_MESSAGE_LIMIT, Counts, MigrationResult, Outcome
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import load_settings
from tests.unit.controller.test_lifecycle import owned_by_job

NAMES = [f"{i:04d}_{name}.sql" for i, name in enumerate(("a", "b", "c", "d", "e"))]
LABELS = {"namespace": "ns", "database": "ns/db"}


@dataclass
class Event:
    type: str
    reason: str
    message: str


@dataclass
class FakeKube:
    """The adapter's surface the result path uses, backed by one run and one pod."""

    run: dict[str, Any]
    pods: list[dict[str, Any]]
    events: list[Event] = field(default_factory=list)

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
        self.run = {**self.run, "status": {**self.run["status"], **status}}
        return copy.deepcopy(self.run)

    def job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return self.pods

    def post_event(self, run: Any, *, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))


@dataclass
class Seen:
    """The run after its result was recorded, and the metrics registry."""

    kube: FakeKube
    metrics: Metrics

    @property
    def status(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.kube.run["status"])

    def condition(self, ctype: str) -> dict[str, Any]:
        return next(c for c in self.status["conditions"] if c["type"] == ctype)

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, {**LABELS, **labels})


def _run(action: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubemigrate.io/v1alpha1",
        "kind": "MigrationRun",
        "metadata": {"name": "r", "namespace": "ns", "uid": "u1", "generation": 1},
        "spec": {
            "action": action,
            "database": {"secretRef": {"name": "db"}},
            "source": {"configMap": {"name": "m"}},
            **spec,
        },
        "status": {"phase": "Running", "jobName": "r-job"},
    }


def _job(
    *, failed: tuple[str, str] | None = None, completed: str = "2026-01-01T00:00:01Z"
) -> dict[str, Any]:
    condition = (
        {
            "type": "Failed",
            "status": "True",
            "reason": failed[0],
            "message": failed[1],
            "lastTransitionTime": completed,
        }
        if failed
        else {"type": "Complete", "status": "True"}
    )
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
            "conditions": [condition],
            "startTime": "2026-01-01T00:00:00Z",
            # set on success only, as the Job controller does
            **({} if failed else {"completionTime": completed}),
        },
    }


def _pod(outcome: Outcome, finished_at: str = "2026-01-01T00:00:01Z") -> dict[str, Any]:
    """A pod whose container wrote ``outcome`` as the Job's engine does."""
    terminated = {
        "exitCode": outcome.exitCode,
        "message": outcome.to_json(TERMINATION_MESSAGE_LIMIT),
        "finishedAt": finished_at,
    }
    return {
        "metadata": owned_by_job(),
        "status": {"containerStatuses": [{"name": "migrate", "state": {"terminated": terminated}}]},
    }


def _finish(
    run: dict[str, Any],
    outcome: Outcome | None,
    *,
    failed: tuple[str, str] | None = None,
    earlier_pods: tuple[Outcome, ...] = (),
    completed: str = "2026-01-01T00:00:01Z",
) -> Seen:
    """The run's Job finished; ``earlier_pods`` are the results of Pods it retried."""
    pods = [_pod(o, f"2026-01-01T00:00:0{n}Z") for n, o in enumerate(earlier_pods, start=1)]
    if outcome is not None:
        pods.append(_pod(outcome, f"2026-01-01T00:00:0{len(pods) + 1}Z"))
    kube = FakeKube(run, pods)
    metrics = Metrics(registry=CollectorRegistry())
    job = _job(failed=failed, completed=completed)
    Lifecycle(cast(Kube, kube), load_settings(), metrics).job_changed(job)
    return Seen(kube, metrics)


def _results(names: list[str], direction: str) -> tuple[MigrationResult, ...]:
    return tuple(
        MigrationResult(name=n, direction=direction, checksum="c" * 64, durationMs=3.5)
        for n in names
    )


# -- plan and dry runs: what would happen, not what did --------------------------------


def test_a_plan_says_what_it_would_apply_and_counts_as_a_plan() -> None:
    # `plan` runs the engine's migrate in dry-run mode: its result says "migrate"
    result = Outcome(
        action="migrate",
        ok=True,
        batch=1,
        dryRun=True,
        migrations=_results(NAMES, "up"),
        counts=Counts(total=5, applied=0, pending=5),
        durationMs=120.0,
    )
    seen = _finish(_run("plan"), result)

    assert seen.status["phase"] == "Succeeded"
    message = seen.condition("Complete")["message"]
    assert message == f"would apply 5 migration(s): {', '.join(NAMES)}"
    assert "batch" not in seen.status
    assert [m["name"] for m in seen.status["migrations"]] == NAMES  # as the CRD documents
    assert [(e.type, e.reason, e.message) for e in seen.kube.events] == [
        ("Normal", "Succeeded", message)
    ]

    runs = "kubemigrate_migration_runs_total"
    assert seen.sample(runs, action="plan", result="succeeded") == 1
    assert seen.sample(runs, action="migrate", result="succeeded") is None
    duration = "kubemigrate_migration_duration_seconds_count"
    assert seen.sample(duration, action="plan") == 1
    assert seen.sample(duration, action="migrate") is None
    assert not seen.sample("kubemigrate_migrations_applied_total")
    assert seen.sample("kubemigrate_last_success_timestamp_seconds", action="plan") is None
    # its source may be a preview (a plan on every pull request): the gauges are not its
    assert seen.sample("kubemigrate_pending_migrations") is None


def test_a_dry_run_rollback_says_what_it_would_roll_back_and_rolls_back_nothing() -> None:
    result = Outcome(
        action="rollback",
        ok=True,
        batch=1,
        dryRun=True,
        migrations=_results(NAMES[::-1], "down"),
        counts=Counts(total=5, applied=5, pending=0),
    )
    seen = _finish(_run("rollback", dryRun=True), result)

    assert seen.condition("Complete")["message"] == (
        f"would roll back 5 migration(s): {', '.join(NAMES[::-1])}"
    )
    assert "batch" not in seen.status
    assert not seen.sample("kubemigrate_rollbacks_total")
    runs = "kubemigrate_migration_runs_total"
    # counted as the preview it is: a real rollback's success rate and durations stay real
    assert seen.sample(runs, action="plan", result="succeeded") == 1
    assert seen.sample(runs, action="rollback", result="succeeded") is None
    assert seen.sample("kubemigrate_last_success_timestamp_seconds", action="rollback") is None


def test_a_real_migrate_still_reports_its_batch() -> None:
    result = Outcome(
        action="migrate",
        ok=True,
        batch=4,
        migrations=_results(NAMES[:2], "up"),
        counts=Counts(total=5, applied=5, pending=0),
    )
    seen = _finish(_run("migrate"), result)
    assert seen.condition("Complete")["message"] == (
        f"applied 2 migration(s) (batch 4): {NAMES[0]}, {NAMES[1]}"
    )
    assert seen.status["batch"] == 4
    assert seen.sample("kubemigrate_migrations_applied_total") == 2
    assert seen.sample("kubemigrate_migration_runs_total", action="migrate", result="succeeded")


# -- large batches: the count survives the 4 KiB cut -----------------------------------


def _many(n: int) -> list[str]:
    return [f"{i:04d}_create_table_number_{i}_with_a_descriptive_name.sql" for i in range(n)]


def test_a_hundred_applied_migrations_are_reported_as_a_hundred() -> None:
    names = _many(100)
    result = Outcome(
        action="migrate",
        ok=True,
        batch=1,
        migrations=_results(names, "up"),
        counts=Counts(total=100, applied=100, pending=0),
    )
    assert result.to_json(TERMINATION_MESSAGE_LIMIT).count(".sql") < 100  # it is cut
    seen = _finish(_run("migrate"), result)

    assert seen.condition("Complete")["message"] == (
        f"applied 100 migration(s) (batch 1): {', '.join(names[:5])} and 95 more"
    )
    assert (seen.status["applied"], seen.status["pending"]) == (100, 0)
    assert seen.sample("kubemigrate_migrations_applied_total") == 100
    assert seen.status["migrationCount"] == 100 > len(seen.status["migrations"])


def test_a_hundred_rolled_back_migrations_are_counted_as_a_hundred_rollbacks() -> None:
    names = _many(100)[::-1]
    result = Outcome(
        action="rollback",
        ok=True,
        batch=1,
        migrations=_results(names, "down"),
        counts=Counts(total=100, applied=0, pending=100),
    )
    seen = _finish(_run("rollback"), result)

    assert seen.condition("Complete")["message"] == (
        f"rolled back 100 migration(s) (batch 1): {', '.join(names[:5])} and 95 more"
    )
    assert seen.sample("kubemigrate_rollbacks_total") == 100
    assert seen.sample("kubemigrate_migrations_applied_total") == 0


def test_a_failed_batch_counts_every_migration_it_committed() -> None:
    names = _many(80)
    result = Outcome(
        action="migrate",
        ok=False,
        exitCode=1,
        batch=2,
        migrations=_results(names, "up"),
        counts=Counts(total=100, applied=80, pending=20),
        error={"reason": "MigrationFailed", "message": "0080_x.sql: boom", "sqlState": "42P01"},
    )
    seen = _finish(_run("migrate"), result, failed=("PodFailurePolicy", "exit code 1"))
    assert seen.status["phase"] == "Failed"
    assert seen.condition("Failed")["reason"] == "MigrationFailed"
    assert seen.sample("kubemigrate_migrations_applied_total") == 80


# -- a Job that retried its Pod: the run's whole work, counted once --------------------


def _retried(
    names: list[str], earlier: int, *, batches: tuple[int, ...]
) -> tuple[Outcome, Outcome]:
    """The first Pod's result (``earlier`` migrations, then a lock timeout) and the last
    Pod's, which reports them too, from the history table."""
    timed_out = {"reason": "LockTimeout", "message": f"{names[earlier]}: lock timeout"}
    first = Outcome(
        action="migrate",
        ok=False,
        exitCode=75,
        batch=batches[0],
        migrations=_results(names[:earlier], "up"),
        counts=Counts(total=len(names), applied=earlier, pending=len(names) - earlier),
        error=timed_out,
    )
    theirs = tuple(replace(m, earlierAttempt=True) for m in first.migrations)
    last = Outcome(
        action="migrate",
        ok=True,
        batches=batches,
        migrations=(*theirs, *_results(names[earlier:], "up")),
        counts=Counts(total=len(names), applied=len(names), pending=0),
    )
    return first, last


def test_a_retried_job_reports_and_counts_every_migration_of_the_run_once() -> None:
    first, last = _retried(NAMES, 2, batches=(2, 3))
    seen = _finish(_run("migrate"), last, earlier_pods=(first,))
    assert seen.condition("Complete")["message"] == (
        "applied 5 migration(s) (batches 2 and 3; 2 of them by an earlier attempt of this "
        f"run): {', '.join(NAMES)}"
    )
    assert [m["name"] for m in seen.status["migrations"]] == NAMES
    assert [m.get("earlierAttempt", False) for m in seen.status["migrations"]] == [
        True, True, False, False, False,
    ]  # fmt: skip
    assert seen.status["batches"] == [2, 3]
    assert "batch" not in seen.status
    assert "earlierCount" not in seen.status  # the list says it
    # not the last Pod's 3, nor both Pods' results added up (7)
    assert seen.sample("kubemigrate_migrations_applied_total") == 5
    assert seen.sample("kubemigrate_migration_runs_total", action="migrate", result="succeeded")
    assert not seen.sample("kubemigrate_migration_runs_total", action="migrate", result="failed")


def test_a_retried_job_s_duration_spans_its_pods() -> None:
    """Four lock timeouts and a success over 75 s were one 38 s observation: the last
    Pod's engine time alone."""
    first, last = _retried(NAMES, 2, batches=(2, 3))
    last = replace(last, durationMs=38_000.0)
    seen = _finish(_run("migrate"), last, earlier_pods=(first,), completed="2026-01-01T00:01:15Z")
    assert seen.sample("kubemigrate_migration_duration_seconds_sum", action="migrate") == 75.0
    # failed (backoff exceeded): until its Failed condition, not until it was read
    failing = replace(last, ok=False, exitCode=75, error={"reason": "LockTimeout"})
    given_up = _finish(
        _run("migrate"),
        failing,
        earlier_pods=(first,),
        failed=("BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        completed="2026-01-01T00:01:15Z",
    )
    assert given_up.sample("kubemigrate_migration_duration_seconds_sum", action="migrate") == 75.0
    once = _finish(_run("migrate"), last, completed="2026-01-01T00:01:15Z")
    # one Pod: the engine's own time, to the 0.1 ms (the Job's has whole seconds)
    assert once.sample("kubemigrate_migration_duration_seconds_sum", action="migrate") == 38.0


def test_a_retried_job_s_earlier_work_survives_the_cut_of_its_result() -> None:
    names = _many(100)
    first, last = _retried(names, 60, batches=(1, 2))
    assert last.to_json(TERMINATION_MESSAGE_LIMIT).count(".sql") < 100  # it is cut
    seen = _finish(_run("migrate"), last, earlier_pods=(first,))
    assert seen.condition("Complete")["message"] == (
        "applied 100 migration(s) (batches 1 and 2; 60 of them by an earlier attempt of this "
        f"run): {', '.join(names[:5])} and 95 more"
    )
    assert seen.status["earlierCount"] == 60
    assert seen.sample("kubemigrate_migrations_applied_total") == 100


def test_a_rollback_an_earlier_attempt_did_whole_is_reported_and_counted() -> None:
    """The first Pod undid the batch and died before writing its result: the retry
    finds nothing left, and reports what the run did."""
    undone = tuple(replace(m, earlierAttempt=True) for m in _results(NAMES[:1:-1], "down"))
    result = Outcome(
        action="rollback",
        ok=True,
        batch=3,
        migrations=undone,
        counts=Counts(total=5, applied=2, pending=3),
    )
    seen = _finish(_run("rollback", environment="production", confirm="rollback-batch-3"), result)
    assert seen.status["phase"] == "Succeeded"
    assert seen.condition("Complete")["message"] == (
        f"rolled back 3 migration(s) (batch 3; all by an earlier attempt of this run): "
        f"{', '.join(NAMES[:1:-1])}"
    )
    assert seen.sample("kubemigrate_rollbacks_total") == 3


def _refused_rollback(confirm: str | None) -> Outcome:
    """The engine's refusal of a production rollback, phrase given (a stale one) or not."""
    wrong = f"The confirmation {confirm!r} does not match this rollback (rollback-batch-2): "
    return Outcome(
        action="rollback",
        ok=False,
        exitCode=5,
        counts=Counts(total=5, applied=5),
        confirmation="rollback-batch-2",
        error={
            "reason": "ConfirmationRequired",
            "message": (wrong if confirm else "Rolling back in production needs confirmation. ")
            + f"It would undo: {NAMES[4]}.",
            "hint": "re-run with --confirm rollback-batch-2",
        },
    )


def _refused_as(confirm: str | None) -> Seen:
    spec = {"environment": "production"} | ({"confirm": confirm} if confirm else {})
    seen = _finish(
        _run("rollback", **spec),
        _refused_rollback(confirm),
        failed=("PodFailurePolicy", "exit code 5"),
    )
    reason = seen.status["error"]["reason"]
    assert seen.condition("Failed")["reason"] == reason
    assert [(e.type, e.reason) for e in seen.kube.events] == [("Warning", reason)]
    assert "create a new rollback MigrationRun" in seen.status["error"]["hint"]
    assert seen.status["confirmationPhrase"] is None  # the run has ended: no phrase to patch
    # refused, not failed: the failure-rate alert is not for a phrase to fix
    assert seen.sample("kubemigrate_migration_runs_total", action="rollback", result="refused")
    assert not seen.sample("kubemigrate_migration_runs_total", action="rollback", result="failed")
    return seen


def test_a_refused_production_rollback_says_whether_its_phrase_was_wrong_or_missing() -> None:
    """A phrase given for an older batch was refused as ConfirmationRequired, while a run
    that waits calls a phrase that does not match ConfirmationMismatch."""
    assert _refused_as("rollback-batch-1").status["error"]["reason"] == "ConfirmationMismatch"
    assert _refused_as(None).status["error"]["reason"] == "ConfirmationRequired"


# -- status: drift and warnings ----------------------------------------------------------

EDITED = "0001_add_products.sql: edited: its checksum differs from the one recorded at apply"


def test_a_status_run_shows_drift_and_warnings() -> None:
    result = Outcome(
        action="status",
        ok=True,
        counts=Counts(total=5, applied=3, pending=2),
        drift=True,
        warnings=(EDITED, "0004_x.sql: out-of-order: older than the newest applied"),
    )
    seen = _finish(_run("status"), result)

    assert seen.status["phase"] == "Succeeded"
    assert seen.status["drift"] is True
    assert seen.status["warnings"] == list(result.warnings)
    message = seen.condition("Complete")["message"]
    assert message == (
        f"status: 3 applied, 2 pending; schema drift: {EDITED} (and 1 more in status.warnings)"
    )
    assert [(e.type, e.reason, e.message) for e in seen.kube.events] == [
        ("Warning", "Succeeded", message)
    ]
    assert seen.sample("kubemigrate_schema_drift") == 1


def test_a_clean_status_run_says_there_is_no_drift() -> None:
    result = Outcome(action="status", ok=True, counts=Counts(total=5, applied=5, pending=0))
    seen = _finish(_run("status"), result)
    assert seen.status["drift"] is False
    assert "warnings" not in seen.status
    assert seen.condition("Complete")["message"] == "status: 5 applied, 0 pending"
    assert [e.type for e in seen.kube.events] == ["Normal"]
    assert seen.sample("kubemigrate_schema_drift") == 0


def test_a_run_that_never_reached_the_database_claims_no_drift_either_way() -> None:
    result = Outcome(
        action="status",
        ok=False,
        exitCode=75,
        error={"reason": "DatabaseUnreachable", "message": "could not connect to the database"},
    )
    seen = _finish(_run("status"), result, failed=("PodFailurePolicy", "exit code 75"))
    assert "drift" not in seen.status
    assert seen.sample("kubemigrate_schema_drift") is None


# -- wording ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "result", "message"),
    [
        (
            "rollback",
            Outcome(action="rollback", ok=True, counts=Counts(total=5, applied=0, pending=5)),
            "nothing to roll back: 0 applied, 5 pending",
        ),
        (
            "baseline",
            Outcome(
                action="baseline",
                ok=True,
                batch=1,
                migrations=_results(NAMES[:3], "baseline"),
                counts=Counts(total=5, applied=3, pending=2),
            ),
            f"baselined 3 migration(s) (batch 1): {', '.join(NAMES[:3])}",
        ),
        (
            "repair",
            Outcome(
                action="repair",
                ok=True,
                migrations=_results(NAMES[1:2], "repair"),
                counts=Counts(total=5, applied=5, pending=0),
            ),
            f"repaired 1 migration(s): {NAMES[1]}",
        ),
    ],
    ids=["nothing-to-roll-back", "baselined", "repaired"],
)
def test_the_message_reads_as_english(action: str, result: Outcome, message: str) -> None:
    assert _finish(_run(action), result).condition("Complete")["message"] == message


UNKNOWN = (
    "; it left no result, so what it changed is unknown: the migrations before the one it "
    "stopped in may have committed (a status run shows the counts)"
)


def test_a_job_past_its_deadline_says_so_once() -> None:
    deadline = ("DeadlineExceeded", "Job was active longer than specified deadline")
    seen = _finish(_run("migrate"), None, failed=deadline)

    failed = seen.condition("Failed")
    said = (deadline[0], deadline[1] + UNKNOWN)
    assert (failed["reason"], failed["message"]) == said
    assert seen.status["error"] == {"reason": said[0], "message": said[1]}
    assert [(e.type, e.reason, e.message) for e in seen.kube.events] == [("Warning", *said)]
    # nobody saw the database: no "0 applied, 0 pending" for `kubectl get mr` to show
    assert "applied" not in seen.status
    assert "pending" not in seen.status


def test_a_read_only_run_past_its_deadline_changed_nothing() -> None:
    deadline = ("DeadlineExceeded", "Job was active longer than specified deadline")
    seen = _finish(_run("status"), None, failed=deadline)
    assert seen.condition("Failed")["message"] == deadline[1]


def test_the_job_s_own_reason_stays_when_the_condition_s_is_more_general() -> None:
    seen = _finish(
        _run("migrate"),
        None,
        failed=("BackoffLimitExceeded", "Job has reached the specified backoff limit"),
    )
    failed = seen.condition("Failed")
    assert failed["reason"] == "JobFailed"
    assert failed["message"] == (
        "BackoffLimitExceeded: Job has reached the specified backoff limit" + UNKNOWN
    )


def test_an_engine_error_does_not_repeat_its_reason_in_the_condition() -> None:
    result = Outcome(
        action="migrate",
        ok=False,
        exitCode=130,
        error={"reason": "Interrupted", "message": "Interrupted: the statement was cancelled"},
    )
    seen = _finish(_run("migrate"), result, failed=("PodFailurePolicy", "exit code 130"))
    failed = seen.condition("Failed")
    assert (failed["reason"], failed["message"]) == ("Interrupted", "the statement was cancelled")


# -- a Job past its deadline: its pod gone before the Job is Failed --------------------

INTERRUPTED = Outcome(
    action="migrate",
    ok=False,
    exitCode=130,
    migrations=_results(NAMES[:1], "up"),
    counts=Counts(total=2, applied=1, pending=1),
    error={
        "reason": "Interrupted",
        "migration": NAMES[1],
        "message": f"Interrupted in {NAMES[1]}: its transaction was rolled back and nothing "
        "after it ran.",
    },
)
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")


@dataclass
class JobsKube(FakeKube):
    """With the Job to read again, as the pod handler does once the end it waited for came."""

    job: dict[str, Any] = field(default_factory=dict)
    job_reads: int = 0

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.job_reads += 1
        return copy.deepcopy(self.job)


def _deadline_job() -> dict[str, Any]:
    job = _job(failed=DEADLINE)
    job["spec"] = {"activeDeadlineSeconds": 15}
    job["status"]["failed"] = 1  # the pod it deleted, counted
    return job


def _deleted_pod(outcome: Outcome = INTERRUPTED) -> dict[str, Any]:
    """The pod's last state in the watch: deleted at the deadline, its result written."""
    deleted = _pod(outcome, "2026-01-01T00:00:16Z")
    deleted["metadata"] |= {
        "uid": "p1",
        "deletionTimestamp": "2026-01-01T00:00:15Z",
        "deletionGracePeriodSeconds": 0,
    }
    deleted["status"]["phase"] = "Failed"
    return deleted


def _lifecycle(kube: FakeKube) -> tuple[Lifecycle, Metrics]:
    metrics = Metrics(registry=CollectorRegistry())
    return Lifecycle(cast(Kube, kube), load_settings(), metrics), metrics


def test_a_run_past_its_deadline_reports_the_result_its_deleted_pod_left() -> None:
    kube = JobsKube(_run("migrate"), pods=[], job=_deadline_job())
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.pod_changed(_deleted_pod(), deleted=True)  # the watch, before the Job fails

    lifecycle.job_changed(_deadline_job())  # no pod left to list
    seen = Seen(kube, metrics)

    assert [m["name"] for m in seen.status["migrations"]] == NAMES[:1]
    assert (seen.status["applied"], seen.status["pending"]) == (1, 1)
    failed = seen.condition("Failed")
    assert failed["reason"] == seen.status["error"]["reason"] == "Interrupted"
    assert failed["message"].startswith(
        f"stopped at the Job's deadline (activeDeadlineSeconds: 15 s): Interrupted in {NAMES[1]}"
    )
    assert seen.sample("kubemigrate_migrations_applied_total") == 1
    assert len(lifecycle.terminations) == 0  # reported: forgotten
    assert kube.job_reads == 0  # the usual order costs no API call


def test_a_job_failed_before_its_pod_s_end_was_seen_waits_for_it() -> None:
    """The pods' watch and the Jobs' are apart: the Job's Failed may be handled first."""
    kube = JobsKube(_run("migrate"), pods=[], job=_deadline_job())
    lifecycle, metrics = _lifecycle(kube)

    lifecycle.job_changed(_deadline_job())
    assert kube.run["status"]["phase"] == "Running"  # not "no result" yet
    assert kube.events == []

    lifecycle.pod_changed(_deleted_pod(), deleted=True)  # its end: the Job is read again
    assert kube.job_reads == 1
    seen = Seen(kube, metrics)
    assert seen.status["phase"] == "Failed"
    assert seen.status["error"]["reason"] == "Interrupted"
    assert (seen.status["applied"], seen.status["pending"]) == (1, 1)


def test_a_pod_end_that_never_comes_is_waited_for_a_while_only() -> None:
    """A pod gone while no operator process watched (a restart, a replica handing over):
    its result is nowhere, and the run says so once the grace has passed."""
    kube = JobsKube(_run("migrate"), pods=[], job=_deadline_job())
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.job_changed(_deadline_job())
    assert kube.run["status"]["phase"] == "Running"

    lifecycle.result_grace_s = 0.0  # the resync's recheck, past the grace
    lifecycle.job_changed(_deadline_job(), look_for_stuck_pods=True)
    failed = Seen(kube, metrics).condition("Failed")
    assert failed["reason"] == "DeadlineExceeded"
    assert failed["message"] == DEADLINE[1] + UNKNOWN


def test_a_pod_another_job_controls_tells_this_run_nothing() -> None:
    """Results come only from the Job's own pods: kept under their controller's uid."""
    kube = JobsKube(_run("migrate"), pods=[], job=_deadline_job())
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.result_grace_s = 0.0
    impostor = _deleted_pod()
    impostor["metadata"]["ownerReferences"][0]["uid"] = "another-job"
    lifecycle.pod_changed(impostor, deleted=True)

    lifecycle.job_changed(_deadline_job())
    assert Seen(kube, metrics).status["error"]["reason"] == "DeadlineExceeded"


def test_a_pod_deleted_at_the_deadline_before_it_started_touched_nothing() -> None:
    kube = JobsKube(_run("migrate"), pods=[], job=_deadline_job())
    lifecycle, metrics = _lifecycle(kube)
    waiting = _deleted_pod()
    waiting["status"]["containerStatuses"][0]["state"] = {
        "waiting": {"reason": "ContainerCreating"}
    }
    lifecycle.pod_changed(waiting, deleted=True)

    lifecycle.job_changed(_deadline_job())
    failed = Seen(kube, metrics).condition("Failed")
    assert failed["message"].endswith("its pod never started, so the database was not touched")


# -- a Job that retried its pod, then failed ---------------------------------------------

LOCK_MESSAGE = "Another migration run holds the lock: pid 42; waited 3 s."
LOCKED = Outcome(
    action="migrate",
    ok=False,
    exitCode=75,
    migrations=_results(NAMES[:1], "up"),
    counts=Counts(total=2, applied=1, pending=1),
    error={
        "reason": "LockTimeout",
        "message": LOCK_MESSAGE,
        "hint": "let it finish and retry, or raise --lock-wait",
    },
)
NEVER_STARTED = {  # the last pod's migration container, as each node leaves it
    "waiting": {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "db" not found'}
    },
    # the real kubelet's, for a container it never created once the pod is terminated
    "kubelet-ended": {
        "terminated": {
            "exitCode": 137,
            "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated",
        }
    },
}


def _attempt(outcome: Outcome, created: str, finished: str) -> dict[str, Any]:
    pod = _pod(outcome, finished)
    pod["metadata"] = owned_by_job() | {"creationTimestamp": created}
    pod["status"]["phase"] = "Failed"
    return pod


def _retried_job(failed: tuple[str, str], attempts: int) -> dict[str, Any]:
    job = _job(failed=failed, completed="2026-01-01T00:00:15Z")
    job["spec"] = {"activeDeadlineSeconds": 15, "backoffLimit": 6}
    job["status"]["failed"] = attempts
    return job


@pytest.mark.parametrize("node", list(NEVER_STARTED))
def test_a_job_past_its_deadline_after_a_retry_reports_the_deadline_not_the_retried_error(
    node: str,
) -> None:
    """A lock timeout, then the Secret deleted: the next pod never started and the Job
    passed its deadline. The run reported the first pod's LockTimeout, the newest
    result there was, as if the lock had stopped it."""
    never = _attempt(LOCKED, "2026-01-01T00:00:05Z", "")
    never["status"]["containerStatuses"][0]["state"] = NEVER_STARTED[node]
    pods = [never, _attempt(LOCKED, "2026-01-01T00:00:00Z", "2026-01-01T00:00:04Z")]
    kube = FakeKube(_run("migrate"), pods)
    metrics = Metrics(registry=CollectorRegistry())
    Lifecycle(cast(Kube, kube), load_settings(), metrics).job_changed(_retried_job(DEADLINE, 2))
    seen = Seen(kube, metrics)

    failed = seen.condition("Failed")
    assert failed["reason"] == seen.status["error"]["reason"] == "DeadlineExceeded"
    cause = ' (CreateContainerConfigError: secret "db" not found)' if node == "waiting" else ""
    assert (
        failed["message"]
        == seen.status["error"]["message"]
        == (
            f"after 2 attempts: {DEADLINE[1]}; its last attempt's pod never started{cause}, so it "
            "did not touch the database; the attempt before it ended with LockTimeout: "
            f"{LOCK_MESSAGE}"
        )
    )
    # what the run did is what that attempt said: the last one changed nothing
    assert [m["name"] for m in seen.status["migrations"]] == NAMES[:1]
    assert (seen.status["applied"], seen.status["pending"]) == (1, 1)
    assert seen.sample("kubemigrate_migration_runs_total", action="migrate", result="failed")


def test_a_run_that_failed_after_several_attempts_says_how_many() -> None:
    pods = [
        _attempt(LOCKED, f"2026-01-01T00:00:0{start}Z", f"2026-01-01T00:00:0{start + 2}Z")
        for start in (0, 3, 6)
    ]
    kube = FakeKube(_run("migrate"), pods)
    metrics = Metrics(registry=CollectorRegistry())
    backoff = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    Lifecycle(cast(Kube, kube), load_settings(), metrics).job_changed(_retried_job(backoff, 3))
    seen = Seen(kube, metrics)

    failed = seen.condition("Failed")
    assert failed["reason"] == "LockTimeout"
    assert failed["message"] == f"after 3 attempts: {LOCK_MESSAGE}"
    assert seen.status["error"]["message"] == failed["message"]
