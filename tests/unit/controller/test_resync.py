"""The recheck loop: a Running run whose last Job event was missed still gets its result."""

from __future__ import annotations

import copy
import time
from typing import Any

from prometheus_client import CollectorRegistry

from kubemigrate.controller.lifecycle import Lifecycle
from kubemigrate.controller.resync import Resync
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import load_settings
from tests.unit.controller.test_lifecycle import FakeKube, _finished_job, _run


class ListingKube(FakeKube):
    """FakeKube that also lists runs and serves the finished Job; one namespace can fail."""

    def __init__(self, runs: dict[str, dict[str, Any]], broken: str | None = None) -> None:
        super().__init__(runs["ns"], conflicts=0, winner=None)
        self.runs = runs
        self.broken = broken
        self.listed: list[str | None] = []

    def list_runs(self, namespace: str | None = None) -> list[dict[str, Any]]:
        self.listed.append(namespace)
        if namespace == self.broken:
            raise OSError("connection refused")
        return [copy.deepcopy(self.run)] if namespace == "ns" else []

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return _finished_job()


def _errors(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value(
        "kubemigrate_operator_handler_errors_total", {"handler": "recheck_running"}
    )
    return value or 0.0


def test_a_running_run_gets_the_result_its_missed_job_event_carried() -> None:
    kube = ListingKube({"ns": _run()})
    metrics = Metrics(registry=CollectorRegistry())
    lifecycle = Lifecycle(kube, load_settings(), metrics)  # type: ignore[arg-type]
    Resync(lifecycle, kube, ["other", "ns"]).once()  # type: ignore[arg-type]
    assert kube.listed == ["other", "ns"]
    assert [p["phase"] for p in kube.patches] == ["Succeeded"]


def test_finished_runs_are_left_alone_and_a_failing_namespace_does_not_stop_the_rest() -> None:
    kube = ListingKube({"ns": _run(phase="Succeeded")}, broken="bad")
    metrics = Metrics(registry=CollectorRegistry())
    lifecycle = Lifecycle(kube, load_settings(), metrics)  # type: ignore[arg-type]
    Resync(lifecycle, kube, ["bad", "ns"]).once()  # type: ignore[arg-type]
    assert kube.listed == ["bad", "ns"]
    assert kube.patches == []
    assert _errors(metrics) == 1.0


def test_the_first_listing_comes_at_start_not_an_interval_later() -> None:
    """A new process has no database gauges until its first listing restores them; an
    interval's wait restarted every alert's `for:` timer at each operator restart."""
    kube = ListingKube({"ns": _run(phase="Succeeded")})
    metrics = Metrics(registry=CollectorRegistry())
    lifecycle = Lifecycle(kube, load_settings(), metrics)  # type: ignore[arg-type]
    resync = Resync(lifecycle, kube, ["ns"], interval_s=3600)  # type: ignore[arg-type]
    resync.start()
    try:
        deadline = time.monotonic() + 10
        while not kube.listed and time.monotonic() < deadline:
            resync._stop.wait(0.01)
        assert kube.listed == ["ns"]
    finally:
        resync.stop()
