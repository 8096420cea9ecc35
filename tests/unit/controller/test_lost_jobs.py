"""A Running run whose Job is gone: it fails as JobLost, and never gets a second Job.

A second Job would run the action again (for a rollback: undo another batch), so
every way of finding the Job gone (its deletion event, the resync, an operator that
starts and finds the run Running) ends in Failed; and the in-flight gauge follows
the runs this process really waits for, deleted runs included.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from kubernetes.client.exceptions import ApiException
from prometheus_client import CollectorRegistry

from kubemigrate.controller import jobs
from kubemigrate.controller.kube import Kube, now
from kubemigrate.controller.lifecycle import Lifecycle, job_lost_message, read_only
from kubemigrate.controller.resync import Resync
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import load_settings
from tests.unit.controller.test_lifecycle import FakeKube, _finished_job, _run

RUN_JOB = jobs.job_name("r", "u1")
PLAN_JOB = jobs.job_name("r", "u1", mode="plan")


class Cluster(FakeKube):
    """FakeKube with Jobs that can be created and listed, a run that can be deleted."""

    def __init__(
        self,
        run: dict[str, Any],
        *,
        jobs_: dict[str, dict[str, Any]] | None = None,
        pods: list[dict[str, Any]] | None = None,
        failing_creates: int = 0,
    ) -> None:
        super().__init__(run)
        self.deleted = False
        self.jobs = dict(jobs_ or {})
        self.pods = pods if pods is not None else [self.pod]
        self.failing_creates = failing_creates
        self.created: list[str] = []

    def get_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None if self.deleted else copy.deepcopy(self.run)

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.jobs.get(name))

    def create_job(self, job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        if self.failing_creates:
            self.failing_creates -= 1
            raise ApiException(status=500, reason="Internal Server Error")
        name = job["metadata"]["name"]
        if name in self.jobs:
            return self.jobs[name], False
        self.jobs[name] = job
        self.created.append(name)
        return job, True

    def create_configmap(self, configmap: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return configmap, True

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return {}

    def exists(self, kind: str, namespace: str, name: str) -> bool:
        return True

    def job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return self.pods

    def list_runs(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [] if self.deleted else [copy.deepcopy(self.run)]


def _running(job_name: str = RUN_JOB, **status: Any) -> dict[str, Any]:
    run = _run()
    run["status"] = {"phase": "Running", "jobName": job_name, **status}
    return run


def _pending() -> dict[str, Any]:
    run = _run()
    run["status"] = {}
    return run


def _job(name: str = RUN_JOB, *, finished: bool = False) -> dict[str, Any]:
    job = _finished_job()
    job["metadata"]["name"] = name
    if not finished:
        job["status"] = {"active": 1, "startTime": "2026-01-01T00:00:00Z"}
    return job


def _lifecycle(kube: Cluster) -> tuple[Lifecycle, Metrics]:
    metrics = Metrics(registry=CollectorRegistry())
    return Lifecycle(cast(Kube, kube), load_settings(), metrics), metrics


def _failed(kube: Cluster) -> dict[str, Any]:
    assert [p["phase"] for p in kube.patches] == ["Failed"]
    patch = kube.patches[0]
    failed = next(c for c in patch["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == patch["error"]["reason"] == "JobLost"
    assert kube.events == ["JobLost"]
    return patch


def _count(metrics: Metrics, result: str) -> float:
    labels = {"namespace": "ns", "database": "ns/db", "action": "migrate", "result": result}
    return metrics.registry.get_sample_value("kubemigrate_migration_runs_total", labels) or 0.0


def _in_flight(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("kubemigrate_runs_in_flight")


# -- the Job's deletion event --------------------------------------------------


def test_a_job_deleted_while_it_runs_fails_its_run_as_job_lost() -> None:
    kube = Cluster(_running())
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.job_deleted(_job())
    message = _failed(kube)["error"]["message"]
    assert f"Job {RUN_JOB} was deleted before it reported a result" in message
    assert "effect on the database is unknown" in message
    assert "kubemigrate status" in message
    assert _count(metrics, "failed") == 1.0
    assert kube.created == []


def test_a_job_collected_after_its_result_was_recorded_leaves_the_run_succeeded() -> None:
    run = _running()
    run["status"]["phase"] = "Succeeded"
    kube = Cluster(run)
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_deleted(_job(finished=True))  # ttlSecondsAfterFinished at work
    assert kube.patches == []
    assert kube.events == []


def test_a_finished_job_deleted_before_its_result_was_read_still_reports_it() -> None:
    kube = Cluster(_running())  # ttlSecondsAfterFinished: 0, the pod not collected yet
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.job_deleted(_job(finished=True))
    assert [p["phase"] for p in kube.patches] == ["Succeeded"]
    assert _count(metrics, "succeeded") == 1.0


def test_a_finished_job_deleted_with_its_pods_is_lost_and_says_it_had_finished() -> None:
    kube = Cluster(_running(), pods=[])
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_deleted(_job(finished=True))
    message = _failed(kube)["error"]["message"]
    assert f"Job {RUN_JOB} finished (Complete) but was deleted before its result was read" in (
        message
    )


def test_a_run_being_deleted_gets_no_status_write_when_its_job_goes_first() -> None:
    run = _running()
    run["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:05Z"  # foreground deletion
    kube = Cluster(run)
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_deleted(_job())
    assert kube.patches == []
    assert kube.events == []


def test_a_job_whose_run_is_gone_changes_nothing() -> None:
    kube = Cluster(_running())
    kube.deleted = True  # the run was deleted; the collector then took its Job
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_deleted(_job())
    assert kube.patches == []


def test_a_plan_job_deleted_after_the_plan_was_recorded_is_ignored() -> None:
    run = _running(job_name=PLAN_JOB)
    run["status"]["phase"] = "AwaitingConfirmation"
    kube = Cluster(run)
    lifecycle, _ = _lifecycle(kube)
    lifecycle.job_deleted(_job(PLAN_JOB))
    assert kube.patches == []


# -- an operator that starts and finds the run Running ------------------------


def test_a_resumed_run_whose_job_is_gone_fails_instead_of_running_again() -> None:
    kube = Cluster(_running())  # the Job was deleted while no operator watched
    lifecycle, _ = _lifecycle(kube)
    lifecycle.start(copy.deepcopy(kube.run))
    assert kube.created == []
    message = _failed(kube)["error"]["message"]
    assert (
        f"Job {RUN_JOB} was not found when the operator started again: it was deleted while "
        "no operator watched" in message
    )
    # or never created, by an operator that wrote Running first (this one creates first)
    assert "if an operator version older than this one started the run, that operator" in message
    assert "effect on the database is unknown" in message


def test_a_resumed_run_adopts_its_job_and_is_in_flight() -> None:
    kube = Cluster(_running(), jobs_={RUN_JOB: _job()})
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.start(copy.deepcopy(kube.run))
    assert kube.created == []
    assert kube.patches == []
    assert _in_flight(metrics) == 1.0


def test_a_resumed_run_is_as_old_as_its_start_says() -> None:
    """After a restart the run's age counts from status.startedAt: counted from the
    adoption, a run stuck for 40 minutes looked 15 minutes old to the long-running
    alert, which then never fired."""
    run = _running()
    run["status"]["startedAt"] = (datetime.now(UTC) - timedelta(minutes=40)).isoformat()
    kube = Cluster(run, jobs_={RUN_JOB: _job()})
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.start(copy.deepcopy(kube.run))
    age = metrics.registry.get_sample_value("kubemigrate_oldest_run_in_flight_seconds") or 0.0
    assert 40 * 60 <= age < 41 * 60


class Crash(BaseException):
    """The operator's process ending where it stands: no handler, retry or clean-up runs."""


class Stopping(Cluster):
    """Cluster whose operator process stops right after the API server applied its first
    write for the run (a status patch or the Job's create), before it hears back."""

    def __init__(self, run: dict[str, Any]) -> None:
        super().__init__(run)
        self.stopped = False

    def _stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            raise Crash

    def patch_run_status(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        updated = super().patch_run_status(
            namespace, name, status, resource_version=resource_version
        )
        self._stop()
        return updated

    def create_job(self, job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        found, created = super().create_job(job)
        self._stop()
        return found, created


def test_an_operator_stopped_while_launching_leaves_its_successor_the_run_s_one_job() -> None:
    """An operator that stops between its two writes leaves the Job, not yet Running: the
    one that starts next adopts it and runs the run. Running was written first, and an
    operator stopped before the create left a run its successor failed as JobLost
    ("deleted while no operator watched") for a Job that never existed."""
    kube = Stopping(_pending())
    first, _ = _lifecycle(kube)
    with pytest.raises(Crash):
        first.start(copy.deepcopy(kube.run))
    assert (kube.created, kube.patches) == ([RUN_JOB], [])  # what the crash left
    successor, metrics = _lifecycle(kube)  # a new process: nothing of the first in memory
    successor.start(copy.deepcopy(kube.run))  # kopf resumes the run
    assert kube.created == [RUN_JOB]  # adopted, not created again
    assert (kube.run["status"]["phase"], kube.run["status"]["jobName"]) == ("Running", RUN_JOB)
    assert kube.events == ["JobCreated"]
    successor.job_changed(_job(finished=True))
    assert kube.run["status"]["phase"] == "Succeeded"
    assert _count(metrics, "succeeded") == 1.0
    assert kube.created == [RUN_JOB]


class Quick(Cluster):
    """Cluster whose Job finishes, and its event is handled, before its create returns."""

    def __init__(self, run: dict[str, Any]) -> None:
        super().__init__(run)
        self.lifecycle: Lifecycle | None = None

    def create_job(self, job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        found, created = super().create_job(job)
        assert self.lifecycle is not None
        self.lifecycle.job_changed(_job(finished=True))  # the watch, in another thread
        return found, created


def test_a_job_that_finishes_before_its_run_says_running_is_reported_after_it() -> None:
    """Its event came before the status named the Job: reported once Running is written,
    and the run is no longer in flight (it was counted in flight for ever)."""
    kube = Quick(_pending())
    lifecycle, metrics = _lifecycle(kube)
    kube.lifecycle = lifecycle
    lifecycle.start(copy.deepcopy(kube.run))
    assert [p["phase"] for p in kube.patches] == ["Running", "Succeeded"]
    assert _count(metrics, "succeeded") == 1.0
    assert _in_flight(metrics) == 0.0


def test_a_create_retried_by_kopf_in_the_same_process_still_creates_the_job() -> None:
    kube = Cluster(_pending(), failing_creates=1)
    lifecycle, _ = _lifecycle(kube)
    with pytest.raises(ApiException):  # kopf retries the handler
        lifecycle.start(copy.deepcopy(kube.run))
    assert kube.patches == []  # not Running: it has no Job
    lifecycle.start(copy.deepcopy(kube.run))
    assert kube.created == [RUN_JOB]
    assert [p["phase"] for p in kube.patches] == ["Running"]


# -- the resync ----------------------------------------------------------------


def test_the_resync_fails_a_run_whose_job_vanished_unseen() -> None:
    kube = Cluster(_running())
    lifecycle, _ = _lifecycle(kube)
    Resync(lifecycle, cast(Kube, kube), ["ns"]).once()
    _failed(kube)
    assert kube.created == []


def test_the_resync_gives_a_run_that_just_turned_running_time_to_get_its_job() -> None:
    running = {"type": "Running", "status": "True", "lastTransitionTime": now()}
    kube = Cluster(_running(conditions=[running]))  # another replica may be creating it
    lifecycle, _ = _lifecycle(kube)
    Resync(lifecycle, cast(Kube, kube), ["ns"]).once()
    assert kube.patches == []


def test_the_resync_leaves_a_run_whose_job_could_not_be_created_yet() -> None:
    """It is not Running (kopf retries its create), so it cannot look lost."""
    kube = Cluster(_pending(), failing_creates=1)
    lifecycle, _ = _lifecycle(kube)
    with pytest.raises(ApiException):
        lifecycle.start(copy.deepcopy(kube.run))
    Resync(lifecycle, cast(Kube, kube), ["ns"]).once()
    assert kube.patches == []
    assert kube.events == []


# -- the in-flight gauge -------------------------------------------------------


def test_a_run_deleted_while_running_leaves_the_in_flight_gauge() -> None:
    kube = Cluster(_pending())
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.start(copy.deepcopy(kube.run))
    assert _in_flight(metrics) == 1.0
    kube.deleted = True
    lifecycle.run_deleted(kube.run)
    assert _in_flight(metrics) == 0.0
    lifecycle.job_deleted(_job())  # then the collector takes its Job
    assert _in_flight(metrics) == 0.0
    assert kube.patches[-1]["phase"] == "Running"


def test_a_lost_job_and_a_recorded_result_both_end_the_wait() -> None:
    kube = Cluster(_pending())
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.start(copy.deepcopy(kube.run))
    lifecycle.job_deleted(_job())
    assert _in_flight(metrics) == 0.0
    kube.run = _pending() | {"metadata": {**_pending()["metadata"], "uid": "u2"}}
    lifecycle.start(copy.deepcopy(kube.run))
    assert _in_flight(metrics) == 1.0
    finished = _job(jobs.job_name("r", "u2"), finished=True)
    finished["metadata"]["ownerReferences"][0]["uid"] = "u2"
    lifecycle.job_changed(finished)
    assert _in_flight(metrics) == 0.0


def test_the_resync_forgets_runs_deleted_unseen_but_not_runs_started_since_its_list() -> None:
    kube = Cluster(_pending())
    lifecycle, metrics = _lifecycle(kube)
    lifecycle.start(copy.deepcopy(kube.run))
    kube.deleted = True  # while the watch was down: no DELETED event came
    Resync(lifecycle, cast(Kube, kube), ["ns"]).once()
    assert _in_flight(metrics) == 0.0
    kube.run, kube.deleted = _pending(), False
    lifecycle.start(copy.deepcopy(kube.run))
    lifecycle.settle_in_flight(set(), listed_at=0.0)  # a list begun before it started
    assert _in_flight(metrics) == 1.0


# -- what the message says -----------------------------------------------------


def test_the_message_names_the_job_and_what_to_check() -> None:
    message = job_lost_message("r-1", read_only=False)
    assert message.startswith("Job r-1 was deleted before it reported a result, so ")
    assert "kubectl get mr" in message
    assert "kubemigrate status" in message


def test_a_run_that_only_reads_says_nothing_changed() -> None:
    assert "nothing changed" in job_lost_message("r-1", read_only=True)
    assert read_only(_run(), PLAN_JOB)
    assert not read_only(_run(), RUN_JOB)
    status = _run()
    status["spec"]["action"] = "status"
    assert read_only(status, RUN_JOB)
    dry = _run()
    dry["spec"]["dryRun"] = True
    assert read_only(dry, RUN_JOB)
    reset = _run()
    reset["spec"].update(action="reset", dryRun=True)  # its Job runs the reset's plan
    assert read_only(reset, RUN_JOB)
    repair = _run()
    repair["spec"].update(action="repair")
    assert not read_only(repair, RUN_JOB)
