"""Prometheus metrics of the operator: what ran, how it went, and what is left to do.

The operator never connects to a database, so everything about a database here
comes from the ``Outcome`` that a Job's pod writes into its termination message;
the controller hands that outcome to :meth:`Metrics.run_finished` and this module
decides which series it moves. Success rate, duration percentiles and rollback
frequency are PromQL over these series (see ``alerts/kubemigrate-rules.yaml`` and
``dashboards/kubemigrate.json``, whose tests check they only name metrics that
exist here).

Design choices, and why:

* A dedicated ``CollectorRegistry`` per :class:`Metrics`, never the global one:
  tests (and a second operator in one process) get isolated, predictable output,
  and the endpoint shows only kubemigrate's series plus the process collectors we
  add on purpose.
* Labels are bounded. ``database`` is ``"<secret-namespace>/<secret-name>"`` (the
  Secret that holds the URL), never the URL itself: a URL carries a password, and a
  value per host/port/option would explode cardinality. :meth:`Metrics.run_finished`
  refuses anything that looks like a URL rather than publish it.
* Counters are created at zero before they count: for every action of a database
  when the operator first sees it (a run created, or listed), and for a run's
  action when its Job is created or it fails without one. ``increase()`` cannot see
  the first value of a series, so a later action's first failure is visible to it.
  That zero is not what makes a database's very first runs count, though: a Job
  ends in seconds and Prometheus scrapes every 30 s, and a run that fails before
  it has a Job is created and counted at once, so Prometheus mostly first sees
  such a series already at 1. The rules count a series born within their window
  from zero instead (the recording rules in ``alerts/kubemigrate-rules.yaml``).
* Dry runs count as runs (they took time and may fail) but never as applied or
  rolled-back migrations, and never as the last success of an action: nothing
  changed in the database. Nor do they, or ``verify`` runs, set the pending and
  drift gauges: their source may be a pull request's (a plan is its preview, a
  verify its CI gate), not what is deployed, and a gate failing on an edited file
  is the gate's answer to whoever ran it, not drift to page for. ``status`` runs
  do set them: they are the monitoring read of the deployed folder.
* Runs are labelled with the MigrationRun's own action, not the engine's: a
  ``plan`` runs the engine's migrate in dry-run mode, and its result says
  ``migrate``; counted as a migrate, it would look like a deployment on the
  dashboard and in the success rate.
* Migrations are counted from the result's count, not its list: the list is cut
  to fit the 4 KiB termination message, the count is not.
* A run is counted from its one result, the last Pod's: a Job that retried its Pod
  (evicted, or exit 75 after a lock timeout) has the engine report what the earlier
  attempts of the run did too (``earlierAttempt``, from the history table), so each
  migration of the run is counted once, neither lost with the earlier Pod nor added
  again from its own result.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)

from kubemigrate.domain.errors import ConfirmationRequired, ExitCode, NotAdopted, SafetyRefusal
from kubemigrate.domain.migrations import Action, Direction
from kubemigrate.domain.outcome import Outcome
from kubemigrate.domain.status import Phase, Reason

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "DURATION_BUCKETS",
    "GAUGE_BLIND_ACTIONS",
    "RESULT_FAILED",
    "RESULT_REFUSED",
    "RESULT_SUCCEEDED",
    "Metrics",
    "MetricsServer",
    "database_label",
    "result_of",
    "result_of_status",
]

RESULT_SUCCEEDED: Final = "succeeded"
RESULT_FAILED: Final = "failed"
RESULT_REFUSED: Final = "refused"
RESULTS: Final = (RESULT_SUCCEEDED, RESULT_FAILED, RESULT_REFUSED)

DURATION_BUCKETS: Final[tuple[float, ...]] = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
)
"""Seconds. A migration run spans an empty ``status`` check (well under a second
once the pod is up) to a large backfill or ``CREATE INDEX CONCURRENTLY`` (tens of
minutes); 600 s and 900 s are bucket edges so the slow-migration alert's threshold
is measured, not interpolated across a wide bucket."""

_SHUTDOWN_POLL_SECONDS: Final = 0.1
"""How often the serving loop checks for ``stop()``: the wait ``stop()`` may block for."""

_REFUSAL_REASONS: Final = frozenset(
    # the operator's name for a run's phrase that does not match (a stale one)
    {SafetyRefusal.reason, ConfirmationRequired.reason, Reason.CONFIRMATION_MISMATCH}
)

GAUGE_BLIND_ACTIONS: Final = frozenset({Action.PLAN, Action.VERIFY})
"""MigrationRun actions whose findings never move the pending and drift gauges (see the
module docstring): their source may be a pull request's, not the deployed one."""


def database_label(secret_namespace: str, secret_name: str) -> str:
    """The ``database`` label for the Secret a run's URL comes from."""
    return f"{secret_namespace}/{secret_name}"


def result_of(outcome: Outcome) -> str:
    """``succeeded``, ``failed`` or ``refused`` for the ``result`` label.

    A refusal (production reset, rollback awaiting its confirmation phrase) is the
    safety rules working, not a failure: it is kept apart so it neither pages
    anyone nor drags the success rate down. Integrity failures (edited, missing
    files, a dirty database) *are* failures: nothing can be deployed until a
    human acts.
    """
    if outcome.ok:
        return RESULT_SUCCEEDED
    return _failure_result((outcome.error or {}).get("reason"), outcome.exitCode)


def result_of_status(status: Mapping[str, Any]) -> str | None:
    """``result_of`` of a run from its status (None until it has finished): what a new
    process, which saw no run end, tells from the runs it lists."""
    phase = status.get("phase")
    if phase == Phase.SUCCEEDED:
        return RESULT_SUCCEEDED
    if phase != Phase.FAILED:
        return None
    return _failure_result((status.get("error") or {}).get("reason"))


def _failure_result(reason: object, exit_code: int | None = None) -> str:
    """``refused`` or ``failed``, for a run that did not succeed (see ``result_of``)."""
    if reason == NotAdopted.reason:  # refused, but only a person's baseline ends it
        return RESULT_FAILED
    if reason in _REFUSAL_REASONS or exit_code == ExitCode.REFUSED:
        return RESULT_REFUSED
    return RESULT_FAILED


def _check_label(name: str, value: str) -> None:
    if not value:
        raise ValueError(f"metric label {name!r} must not be empty")
    if "://" in value or "@" in value:
        raise ValueError(
            f"metric label {name!r} looks like a connection string; "
            "pass '<secret-namespace>/<secret-name>' (see database_label())"
        )


def _package_version() -> str:
    try:
        return metadata.version("kubemigrate")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """The operator's metrics, on a registry of their own.

    The controller creates one instance at start-up, calls :meth:`serve` once,
    and reports each run with :meth:`run_started` / :meth:`run_finished` and each
    handler failure with :meth:`handler_error`. All methods are thread-safe.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        version: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create the metrics on ``registry`` (a fresh one when ``None``).

        ``clock`` gives the wall-clock time written to the ``last_success`` and
        ``last_failure`` timestamps; tests pass a fixed one.
        """
        if registry is None:
            registry = CollectorRegistry(auto_describe=True)
            # the process's own: start time (restarts), memory, CPU, open files
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        self.registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        # per database: each action's last success and last failure, and when its
        # pending/drift gauges were true (Unix time), for settle() to tell a listing's
        # older news from newer
        self._stamps: dict[str, dict[tuple[str, str], dict[str, float]]] = {
            RESULT_SUCCEEDED: {},
            RESULT_FAILED: {},
        }
        self._observed: dict[tuple[str, str], float] = {}
        # databases whose gauges last said pending > 0 or drift: kept when forgotten
        self._unsettled: set[tuple[str, str]] = set()
        self._seen: set[tuple[str, str]] = set()

        self.runs = Counter(
            "kubemigrate_migration_runs",
            "MigrationRuns that finished, by action and result "
            "(succeeded, failed, or refused by the safety rules).",
            ["namespace", "database", "action", "result"],
            registry=self.registry,
        )
        self.applied = Counter(
            "kubemigrate_migrations_applied",
            "Migrations applied (up), including those a later-failing run committed; "
            "dry runs excluded.",
            ["namespace", "database"],
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "kubemigrate_rollbacks",
            "Migrations rolled back (down), counted one per migration; dry runs excluded.",
            ["namespace", "database"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "kubemigrate_migration_duration_seconds",
            "Wall-clock duration of a MigrationRun's migration command in its Job (lock wait "
            "included), whatever its result.",
            ["namespace", "database", "action"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.pending = Gauge(
            "kubemigrate_pending_migrations",
            "Migrations found in the source but not applied, as of the last run "
            "that could read the database.",
            ["namespace", "database"],
            registry=self.registry,
        )
        self.drift = Gauge(
            "kubemigrate_schema_drift",
            "1 when the last run found edited, missing or out-of-order migration files "
            "or a dirty database (every later run refuses until fixed), else 0.",
            ["namespace", "database"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "kubemigrate_last_success_timestamp_seconds",
            "Unix time of the last successful non-dry run of this action.",
            ["namespace", "database", "action"],
            registry=self.registry,
        )
        self.last_failure = Gauge(
            "kubemigrate_last_failure_timestamp_seconds",
            "Unix time of the last failed non-dry run of this action (refusals by the "
            "safety rules excluded): a later last success means it was put right.",
            ["namespace", "database", "action"],
            registry=self.registry,
        )
        self.handler_errors = Counter(
            "kubemigrate_operator_handler_errors",
            "Operator handler invocations that raised (kopf retries them).",
            ["handler"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "kubemigrate_runs_in_flight",
            "MigrationRuns whose Job this operator process is currently waiting for.",
            registry=self.registry,
        )
        self.oldest_in_flight = Gauge(
            "kubemigrate_oldest_run_in_flight_seconds",
            "How long this process has waited for the oldest Job still running (0 when "
            "none): a migration blocked on a lock shows here before it ends.",
            registry=self.registry,
        )
        self.build_info = Info(
            "kubemigrate_operator",
            "The running operator's version (value is always 1).",
            registry=self.registry,
        )
        self.build_info.info({"version": version if version is not None else _package_version()})

    def database_seen(self, namespace: str, database: str) -> None:
        """Create the run counters of every action for a database the operator meets,
        at zero: its first run of each action then moves a series Prometheus has seen
        at 0 (a run's own zero, made when it starts, is rarely scraped before it ends)."""
        _check_label("namespace", namespace)
        _check_label("database", database)
        with self._lock:
            if (namespace, database) in self._seen:
                return
            self._seen.add((namespace, database))
        for action in Action:
            for result in RESULTS:
                self.runs.labels(namespace, database, action, result)
        self.applied.labels(namespace, database)
        self.rollbacks.labels(namespace, database)

    def run_started(self, namespace: str, database: str, action: str) -> None:
        """A run's Job was created, or it failed without one: its counters are created at
        zero, where ``database_seen`` has not already (see the module docstring). Also called,
        after a restart, for every (database, action) the runs in the cluster name: a
        new process's registry is empty, and its first failure would be born at 1."""
        _check_label("namespace", namespace)
        _check_label("database", database)
        _check_label("action", action)
        for result in RESULTS:
            self.runs.labels(namespace, database, action, result)
        # the histogram too: born at its first observation, the first run's duration
        # was invisible to rate(), and the slow-migration alert missed it
        self.duration.labels(namespace, database, action)
        self.applied.labels(namespace, database)
        self.rollbacks.labels(namespace, database)

    def set_in_flight(self, runs: int) -> None:
        """How many runs' Jobs this process waits for. The lifecycle keeps that set (a
        run deleted while Running never finishes, so started/finished pairs drift)."""
        self.in_flight.set(runs)

    def watch_oldest_in_flight(self, seconds: Callable[[], float]) -> None:
        """Read at every scrape, so the age grows while nothing else happens."""
        self.oldest_in_flight.set_function(seconds)

    def run_finished(
        self,
        namespace: str,
        database: str,
        outcome: Outcome,
        duration_seconds: float | None,
        *,
        action: str | None = None,
    ) -> str:
        """Record a finished run from its Job's ``Outcome``; returns the result label.

        ``duration_seconds`` is the engine's own run time in the Job as its result
        reports it (else the Job's, to the second); ``None`` when no Job ran (the
        run failed validation, or its Secret is missing), so the histogram only
        ever holds real executions.

        ``action`` is the MigrationRun's ``spec.action`` (the engine's, from the
        outcome, when not given): a ``plan`` run's result says ``migrate``.

        Applied and rolled-back migrations are counted from the outcome's count of
        them, which survives the cut a large result gets to fit its 4 KiB
        termination message (``outcome.truncated``); a dry run counts none.
        """
        _check_label("namespace", namespace)
        _check_label("database", database)
        action = action or outcome.action
        _check_label("action", action)
        result = result_of(outcome)

        self.runs.labels(namespace, database, action, result).inc()
        if duration_seconds is not None:
            self.duration.labels(namespace, database, action).observe(max(duration_seconds, 0.0))

        if not outcome.dryRun:
            done = outcome.migration_counts()
            ups, downs = done.get(Direction.UP, 0), done.get(Direction.DOWN, 0)
            # Always touch the children: a series at 0 beats a missing one in PromQL.
            self.applied.labels(namespace, database).inc(ups)
            self.rollbacks.labels(namespace, database).inc(downs)
            if result in self._stamps:
                at = self._clock()
                self._stamp_gauge(result).labels(namespace, database, action).set(at)
                with self._lock:
                    self._stamps[result].setdefault((namespace, database), {})[action] = at

        # a dry run's or verify's source may be a pull request's: its pending migrations
        # and edited files are not the deployed folder's, and paged
        if outcome.observed_database and not outcome.dryRun and action not in GAUGE_BLIND_ACTIONS:
            drift = outcome.drift or outcome.dirty
            self.pending.labels(namespace, database).set(outcome.counts.pending)
            self.drift.labels(namespace, database).set(1 if drift else 0)
            with self._lock:
                self._observed[(namespace, database)] = self._clock()
                self._mark(namespace, database, clean=not drift and not outcome.counts.pending)

        return result

    def databases(self) -> set[tuple[str, str]]:
        """The (namespace, database) pairs that have gauges."""
        with self._lock:
            return set(self._observed).union(*self._stamps.values())

    def settle(
        self,
        namespace: str,
        database: str,
        *,
        pending: int | None,
        drift: bool | None,
        as_of: float,
        successes: Mapping[str, float],
        failures: Mapping[str, float] | None = None,
    ) -> None:
        """A database's gauges as its runs' status shows them (``as_of``: the newest
        such run's completion; ``successes``/``failures``: each action's newest), from
        every complete listing. Gauges live in this process: a new one restores them,
        where a restart dropped firing drift and pending alerts or paged for no recent
        success; a standby replica, which sees no run end, keeps them current, where its
        stale values kept an alert firing for ever under ``max by``. What this process
        set from a run it saw end later is kept."""
        _check_label("namespace", namespace)
        _check_label("database", database)
        key = (namespace, database)
        with self._lock:
            newer = pending is not None and as_of > self._observed.get(key, float("-inf"))
            if newer:
                self._observed[key] = as_of
                self._mark(namespace, database, clean=not drift and not pending)
            fresh: dict[str, dict[str, float]] = {}
            for result, stamps in ((RESULT_SUCCEEDED, successes), (RESULT_FAILED, failures)):
                known = self._stamps[result].setdefault(key, {})
                new = {a: at for a, at in (stamps or {}).items() if at > known.get(a, -math.inf)}
                known.update(new)
                fresh[result] = new
        if newer:
            self.pending.labels(namespace, database).set(pending or 0)
            self.drift.labels(namespace, database).set(1 if drift else 0)
        for result, new in fresh.items():
            for action, at in new.items():
                _check_label("action", action)
                self._stamp_gauge(result).labels(namespace, database, action).set(at)

    def _stamp_gauge(self, result: str) -> Gauge:
        """The timestamp gauge of a run ``result`` (succeeded, failed)."""
        return self.last_success if result == RESULT_SUCCEEDED else self.last_failure

    def handler_error(self, handler: str) -> None:
        """A kopf handler raised; ``handler`` is its (code-defined, bounded) name."""
        _check_label("handler", handler)
        self.handler_errors.labels(handler).inc()

    def _mark(self, namespace: str, database: str, *, clean: bool) -> None:
        """Called with ``_lock`` held, whenever the pending and drift gauges are set."""
        if clean:
            self._unsettled.discard((namespace, database))
        else:
            self._unsettled.add((namespace, database))

    def forget_database(self, namespace: str, database: str) -> bool:
        """Drop the gauges of a clean database no run refers to any more; False (and
        nothing dropped) while its last known state has pending migrations or drift.

        Gauges keep their last value forever, so a database that is gone would keep
        its alerts firing; but people delete finished runs routinely (one-shot runs,
        ``kubectl delete mr --all``), and dropping a dirty database's gauges with its
        runs resolved a critical ``KubemigrateSchemaDrift`` nobody fixed. Such a
        database keeps them until a run reads it again (a repair clears drift, a
        migrate pending), or until the operator restarts, which rebuilds the gauges
        from the runs that still exist only. Counters and the histogram are left
        alone: ``rate()`` handles series that stop moving.
        """
        with self._lock:
            if (namespace, database) in self._unsettled:
                return False
        for gauge in (self.pending, self.drift):
            with contextlib.suppress(KeyError):  # older prometheus-client raises here
                gauge.remove(namespace, database)
        with self._lock:
            self._observed.pop((namespace, database), None)
            stamped = {r: by.pop((namespace, database), {}) for r, by in self._stamps.items()}
        for result, actions in stamped.items():
            for action in actions:
                self._stamp_gauge(result).remove(namespace, database, action)
        return True

    def serve(
        self,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104 - a pod must listen on its pod IP
        *,
        healthy: Callable[[], bool] | None = None,
    ) -> MetricsServer:
        """Serve ``/metrics`` (and every other path but ``/healthz``) on ``host:port``.

        ``/healthz`` answers 200 ``ok`` while ``healthy()`` is true (always, when
        not given) and 503 otherwise; the Deployment's probes point at it. The
        server runs on daemon threads; call the returned object (or its
        ``stop()``) to shut it down and free the port. ``port=0`` picks a free
        port, readable as ``.port``.
        """
        app = _with_healthz(make_wsgi_app(self.registry), healthy)
        server_class = _ThreadingWSGIServer6 if ":" in host else _ThreadingWSGIServer
        httpd = make_server(host, port, app, server_class, handler_class=_SilentHandler)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _SHUTDOWN_POLL_SECONDS},
            name="kubemigrate-metrics",
            daemon=True,
        )
        thread.start()
        return MetricsServer(httpd=httpd, thread=thread)


@dataclass(frozen=True)
class MetricsServer:
    """A running metrics server: call it (or ``stop()``) to shut it down."""

    httpd: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port actually bound (useful after ``serve(0)``)."""
        return int(self.httpd.server_port)

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the serving thread."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def __call__(self) -> None:
        self.stop()


def _with_healthz(
    metrics_app: WSGIApplication, healthy: Callable[[], bool] | None
) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            ok = healthy is None or healthy()
            status = "200 OK" if ok else "503 Service Unavailable"
            body = b"ok\n" if ok else b"unhealthy\n"
            start_response(
                status,
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return metrics_app(environ, start_response)

    return app


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per scrape, so a slow client cannot block the probes."""

    daemon_threads = True


class _ThreadingWSGIServer6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _SilentHandler(WSGIRequestHandler):
    """No access log on stderr: a scrape every 15 s is noise, not information."""

    def log_message(self, format: str, *args: object) -> None:
        return
