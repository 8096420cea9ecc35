"""The kopf handlers: thin routes from watch events to ``Lifecycle``.

Errors leave through ``translation.to_kopf`` so kopf retries what a retry can
fix and gives up on what it cannot; the handler-error counter sees both.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import kopf

from kubemigrate.controller import jobs, translation
from kubemigrate.controller.kube import GROUP, PLURAL, VERSION, Kube, load_client
from kubemigrate.controller.lifecycle import Lifecycle
from kubemigrate.controller.resync import Resync
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import OperatorSettings, load_settings

RUNS = (GROUP, VERSION, PLURAL)
JOB_LABELS = {jobs.LABEL_MANAGED_BY: jobs.MANAGED_BY}
PODS = ("", "v1", "pods")
JOBS = ("batch", "v1", "jobs")


def watch_only_ours(settings: kopf.OperatorSettings) -> None:
    """The Jobs and Job pods this operator made, filtered by the API server: kopf's
    ``labels=`` filters in the client, after every Job and pod of the cluster (a CI
    cluster's thousands) crossed the wire and was decoded."""
    ours = ",".join(f"{k}={v}" for k, v in JOB_LABELS.items())
    for resource in (JOBS, PODS):
        settings.watching.label_selectors[resource] = ours


def _guarded(name: str, memo: Any, doing: str, work: Callable[[Lifecycle], None]) -> None:
    lifecycle: Lifecycle = memo.lifecycle
    try:
        work(lifecycle)
    except (kopf.TemporaryError, kopf.PermanentError):
        lifecycle.metrics.handler_error(name)
        raise
    except Exception as exc:
        lifecycle.metrics.handler_error(name)
        raise translation.to_kopf(exc, doing=doing) from exc


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    """kopf's own bookkeeping goes to annotations; status belongs to the run."""
    if "settings" not in memo:  # started by `kopf run -m ...` rather than `kubemigrate operator`
        memo.settings = load_settings()
        memo.metrics = Metrics()
        memo.api = load_client()
    operator: OperatorSettings = memo.settings
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.enabled = False  # Lifecycle posts one Event per transition itself
    settings.peering.standalone = operator.standalone
    settings.peering.name = operator.peering_name
    # kopf lets the peer of highest priority work and the others stand by, but peers of
    # equal priority all pause ("freeze, leaving the cluster unserved"): every replica
    # of the chart would, at the default 0. A random one per process makes one active.
    settings.peering.priority = random.SystemRandom().randint(1, 2**30)
    settings.execution.max_workers = 32
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = [0.5, 1, 2, 5]
    watch_only_ours(settings)
    metrics: Metrics = memo.metrics
    kube = Kube(memo.api)
    memo.lifecycle = Lifecycle(kube, operator, metrics)
    memo.resync = Resync(memo.lifecycle, kube, operator.namespaces)
    memo.resync.start()


@kopf.on.cleanup()
def stop_resync(memo: Any, **_: Any) -> None:
    resync: Resync | None = getattr(memo, "resync", None)
    if resync is not None:
        resync.stop()


@kopf.on.resume(*RUNS)
@kopf.on.create(*RUNS)
def run_created(body: kopf.Body, memo: Any, **_: Any) -> None:
    _guarded(
        "run_created",
        memo,
        f"starting MigrationRun {body.metadata.name}",
        lambda lc: lc.start(dict(body)),
    )


@kopf.on.field(*RUNS, field="spec.confirm")
def confirm_changed(body: kopf.Body, memo: Any, old: Any, new: Any, **_: Any) -> None:
    if old == new or new is None:
        return
    _guarded(
        "confirm_changed",
        memo,
        f"confirming MigrationRun {body.metadata.name}",
        lambda lc: lc.confirm(dict(body)),
    )


@kopf.on.event(*RUNS)
def run_event(body: kopf.Body, memo: Any, type: str | None, **_: Any) -> None:
    """Only deletions: a run deleted while Running is no longer in flight.

    An event handler rather than ``on.delete``, which would put a finalizer on every run.
    """
    if type == "DELETED":
        _guarded(
            "run_deleted",
            memo,
            f"forgetting MigrationRun {body.metadata.name}",
            lambda lc: lc.run_deleted(dict(body)),
        )


@kopf.on.event(*JOBS, labels=JOB_LABELS)
def job_event(body: kopf.Body, memo: Any, type: str | None, **_: Any) -> None:
    if type == "DELETED":
        _guarded(
            "job_deleted",
            memo,
            f"reading deleted Job {body.metadata.name}",
            lambda lc: lc.job_deleted(dict(body)),
        )
        return
    _guarded(
        "job_event",
        memo,
        f"reading Job {body.metadata.name}",
        lambda lc: lc.job_changed(dict(body)),
    )


@kopf.on.event(*PODS, labels=JOB_LABELS)
def pod_event(body: kopf.Body, memo: Any, type: str | None, **_: Any) -> None:
    """A Job pod deleted while it runs (the Job's deadline) has its result only until it
    goes, before its Job is Failed: kept as the watch shows it (``Terminations``)."""
    _guarded(
        "pod_event",
        memo,
        f"reading pod {body.metadata.name}",
        lambda lc: lc.pod_changed(dict(body), deleted=type == "DELETED"),
    )
