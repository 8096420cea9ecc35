"""A MigrationRun's life: validate, create its Job, read the result, report it.

The kopf handlers (handlers.py) only route events here. Every transition goes
through ``_transition``: one status patch (phase, conditions, timestamps) and one
Event, so what ``kubectl get``, ``kubectl wait`` and ``kubectl describe`` show
always agrees.

A run's Job is created before its status says Running, so a Running run always had
its Job: an operator that stops in between leaves a Job that its successor adopts by
its deterministic name. Once Running, the Job is never created again. When it is gone
(deleted by a person, or collected before its result was read) the run fails as
``JobLost`` instead of getting a second Job: running the action again could apply or
undo another batch. A result recorded needs the status to name its Job, and the
status is written only from the phase it was read in, so a Job that finishes before
"Running" is written is reported right after it, never overtaken by it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from kubemigrate.controller import jobs, policy, results, translation
from kubemigrate.controller.kube import Conflict, Kube, now
from kubemigrate.controller.spec import (
    DRY_RUN_ACTIONS,
    InvalidSpec,
    MigrationRunSpec,
    effective_environment,
    parse_spec,
)
from kubemigrate.controller.terminations import Terminations
from kubemigrate.domain.migrations import BASELINED_PHRASE, Action, Environment
from kubemigrate.domain.outcome import Outcome
from kubemigrate.domain.status import (
    Phase,
    Reason,
    conditions,
    event_type,
    failure_message,
    from_outcome,
    said_once,
    summary,
)
from kubemigrate.observability.logging import get_logger
from kubemigrate.observability.metrics import (
    GAUGE_BLIND_ACTIONS,
    RESULT_FAILED,
    RESULT_SUCCEEDED,
    Metrics,
    database_label,
    result_of_status,
)
from kubemigrate.settings import OperatorSettings

_CONFLICT_RETRIES = 5
_JOB_CREATION_GRACE_S = 30.0
"""How long after turning Running a run without a Job may still be getting it from
another operator process: a replica of a version that wrote Running before creating
the Job (during a rolling upgrade), so the resync waits."""
_READ_ONLY_ACTIONS = frozenset({Action.STATUS, Action.VERIFY, Action.PLAN})
_RESULT_GRACE_S = 10.0
"""How long a finished Job's report waits for the end of a pod the Job counts and this
process has not seen end: the pods' watch is not the Jobs', so the Job may say Failed
before the deleted pod's last state (its result) is handled; and a standby replica,
which watches nothing, rechecks too and must not report "no result" first."""


def _meta(run: Mapping[str, Any]) -> Mapping[str, Any]:
    return run.get("metadata") or {}


def _status(run: Mapping[str, Any]) -> Mapping[str, Any]:
    return run.get("status") or {}


def _failed_at(job: Mapping[str, Any]) -> str | None:
    """When the Job controller marked the Job Failed (its condition's transition)."""
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return condition.get("lastTransitionTime") or None
    return None


def _seconds_between(start: str | None, end: str | None) -> float | None:
    a, b = results.parse_time(start), results.parse_time(end)
    if a is None or b is None:
        return None
    return max(0.0, (b - a).total_seconds())


def running_since(status: Mapping[str, Any]) -> str | None:
    """When the run's Running condition last turned True (its Job was asked for then)."""
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Running" and condition.get("status") == "True":
            return str(condition.get("lastTransitionTime") or "") or None
    return None


# What confirms a staging reset: the word the waiting run's message shows. Any value
# did, and `confirm: "no"`, written to hold the run, rolled back every migration.
RESET_PHRASE = "reset"


def _needs_confirmation(action: Action, environment: Environment) -> bool:
    """Runs that plan first and wait for spec.confirm: a production rollback (its phrase
    names the batches) and a staging reset (``RESET_PHRASE``; production refuses
    resets)."""
    return (action, environment) in (
        (Action.ROLLBACK, Environment.PRODUCTION),
        (Action.RESET, Environment.STAGING),
    )


def read_only(run: Mapping[str, Any], job_name: str) -> bool:
    """Whether ``job_name`` could not have changed the run's database."""
    meta, spec = _meta(run), run.get("spec") or {}
    if job_name == jobs.job_name(str(meta.get("name")), str(meta.get("uid")), mode="plan"):
        return True
    action = spec.get("action") or Action.MIGRATE
    return action in _READ_ONLY_ACTIONS or (bool(spec.get("dryRun")) and action in DRY_RUN_ACTIONS)


def _action(run: Mapping[str, Any]) -> str:
    """The run's spec.action as written (migrate when left out)."""
    return str((run.get("spec") or {}).get("action") or "migrate")


def metric_action(run: Mapping[str, Any]) -> str:
    """The action label of a run's metrics: a dry run is counted as the preview it is
    (``plan``), so that it neither inflates a real action's success rate nor pulls its
    durations down."""
    action = _action(run)
    if action not in {str(a) for a in Action}:
        # the CRD's enum refuses it; without that validation (an old CRD), whatever a
        # person wrote became a label value, and each a new series
        return "invalid"
    dry_run = (run.get("spec") or {}).get("dryRun")
    return str(Action.PLAN) if dry_run and action in DRY_RUN_ACTIONS else action


def _in_run_terms(outcome: Outcome, spec: Mapping[str, Any]) -> Outcome:
    """A Job's result as its run says it: spec fields for the CLI's flags, and the
    reasons the run's condition names (``translation.in_run_reasons``)."""
    return translation.in_run_reasons(jobs.in_run_terms(outcome, spec), spec)


def job_lost_message(
    job_name: str, *, read_only: bool, finished: str | None = None, resumed: bool = False
) -> str:
    """What a person should know when a run's Job vanished without a readable result.

    Only that result could say what the Job did, so the message sends the reader to
    the database's own record instead of guessing; a Job that only reads changed
    nothing, and its run can simply be created again. Found missing by an operator
    that started again (``resumed``), the Job was deleted while no operator watched;
    or, in a status an older operator wrote (one that said Running before creating the
    Job), it may never have been created. Creating it now could run a second time what
    a deleted Job did, so that is said, not done.
    """
    gone = (
        f"Job {job_name} finished ({finished}) but was deleted before its result was read"
        if finished
        else f"Job {job_name} was not found when the operator started again: it was deleted "
        "while no operator watched (or, if an operator version older than this one started "
        "the run, that operator stopped before creating it)"
        if resumed
        else f"Job {job_name} was deleted before it reported a result"
    )
    if read_only:
        return f"{gone}; it only reads the database, so nothing changed: create the run again"
    return (
        f"{gone}, so the run's effect on the database is unknown: check the applied and "
        "pending counts with a status run (spec.action: status, then kubectl get mr) or "
        "`kubemigrate status` before creating the run again"
    )


def _owner(job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The MigrationRun controlling ``job`` (a mere ownerReference is anyone's to write)."""
    ref = jobs.controller_of(job)
    return ref if ref is not None and ref.get("kind") == "MigrationRun" else None


def adoption_refused_message(what: str, problem: str) -> str:
    """Why a run will not take an object found under the name it needs as its own."""
    return (
        f"{what} already exists and is not this run's: {problem}. The operator neither "
        "adopts nor deletes it: something else created it under the name this run needs "
        "(derived from the run's uid); find out what, delete it, and create the run again"
    )


class Lifecycle:
    def __init__(self, kube: Kube, settings: OperatorSettings, metrics: Metrics) -> None:
        self.kube = kube
        self.settings = settings
        self.metrics = metrics
        self._lookups = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lookup")
        self._flight = threading.Lock()
        # uids whose launch (the Job's create, then the status naming it) is under way here
        self._launching: set[str] = set()
        # uid: its Job, finished before its launch had written the status naming it
        self._held: dict[str, Mapping[str, Any]] = {}
        # uid -> when this process began waiting for its Job (time.monotonic())
        # uid: (when this process began waiting, when the run started: its age counts from)
        self._waiting: dict[str, tuple[float, float]] = {}
        # what the watch showed of the Job pods deleted while they ran (their results)
        self.terminations = Terminations()
        # Job uid: (namespace, name, when this process began waiting for a pod's end)
        self._awaiting_ends: dict[str, tuple[str, str, float]] = {}
        self.result_grace_s = _RESULT_GRACE_S
        metrics.watch_oldest_in_flight(self._oldest_waiting)

    # -- helpers ---------------------------------------------------------------

    def _log(self, run: Mapping[str, Any], job: str | None = None) -> Any:
        meta = _meta(run)
        return get_logger(namespace=meta.get("namespace"), run=meta.get("name"), job=job)

    def _database(self, run: Mapping[str, Any]) -> str:
        ref = ((run.get("spec") or {}).get("database") or {}).get("secretRef") or {}
        return database_label(str(_meta(run).get("namespace")), str(ref.get("name") or "unknown"))

    def _transition(
        self,
        run: Mapping[str, Any],
        phase: Phase,
        reason: str,
        message: str,
        *,
        event_type: str = "Normal",
        **fields: Any,
    ) -> dict[str, Any] | None:
        """Patch status and post the Event; None when another writer moved the run first."""
        for _ in range(_CONFLICT_RETRIES):
            meta, old = _meta(run), _status(run)
            status = self._status_for(old, meta, phase, reason, message, fields)
            try:
                updated = self.kube.patch_run_status(
                    meta["namespace"],
                    meta["name"],
                    status,
                    resource_version=meta.get("resourceVersion"),
                )
                break
            except Conflict:
                pass
            # Someone wrote the run since we read it (kopf's annotations, or another
            # handler reporting the same Job): apply our decision only if the phase it
            # was made from still holds, so a result is never reported twice.
            fresh = self.kube.get_run(meta["namespace"], meta["name"])
            if fresh is None or _status(fresh).get("phase") != old.get("phase"):
                return None
            run = fresh
        else:
            raise Conflict(f"{_meta(run)['name']}: the run kept changing under its status writes")
        if phase is not Phase.RUNNING:
            self._stop_waiting(str(_meta(run).get("uid")))
        if old.get("phase") != str(phase) or any(
            c.get("reason") != reason
            for c in old.get("conditions") or ()
            if c.get("status") == "True"
        ):
            self.kube.post_event(run, type_=event_type, reason=reason, message=message)
        self._log(run, status.get("jobName") or old.get("jobName")).info(
            message, phase=str(phase), reason=reason
        )
        return updated

    @staticmethod
    def _status_for(
        old: Mapping[str, Any],
        meta: Mapping[str, Any],
        phase: Phase,
        reason: str,
        message: str,
        fields: Mapping[str, Any],
    ) -> dict[str, Any]:
        stamp = now()
        status: dict[str, Any] = {
            "phase": str(phase),
            "observedGeneration": meta.get("generation"),
            "conditions": conditions(
                old.get("conditions"),
                phase,
                reason=reason,
                message=message,
                generation=meta.get("generation"),
                now=stamp,
            ),
            **fields,
        }
        if phase is Phase.RUNNING and not old.get("startedAt"):
            status["startedAt"] = stamp
        if phase.terminal:
            status["completedAt"] = stamp
        return status

    def _fail_without_result(
        self, run: Mapping[str, Any], reason: str, message: str, action: str
    ) -> None:
        """Failed with the operator's own reason: no Job ran, or none left a result."""
        applied = self._transition(
            run,
            Phase.FAILED,
            reason,
            message,
            event_type="Warning",
            error={"reason": reason, "message": message},
        )
        if applied is None:
            return
        # as for a run with a Job: its other results' series and its histogram at 0 too
        self.metrics.run_started(
            str(_meta(run)["namespace"]), self._database(run), metric_action(run)
        )
        self._finished(run, results.failed_outcome(action, reason, message), None)

    def _finished(self, run: Mapping[str, Any], outcome: Outcome, duration: float | None) -> None:
        self.metrics.run_finished(
            str(_meta(run)["namespace"]),
            self._database(run),
            outcome,
            duration,
            action=metric_action(run),
        )

    # -- runs in flight --------------------------------------------------------
    #
    # kubemigrate_runs_in_flight is kept here, from the runs this process waits for,
    # not from run_started/run_finished pairs: a run deleted while Running (its Job
    # collected with it) never finishes, and a pair count kept it in flight for ever.

    def _publish_in_flight(self) -> None:
        with self._flight:
            self.metrics.set_in_flight(len(self._waiting))

    def _oldest_waiting(self) -> float:
        with self._flight:
            since = [started for _, started in self._waiting.values()]
        return time.monotonic() - min(since) if since else 0.0

    def _start_waiting(self, uid: str, started_at: str | None = None) -> None:
        """``started_at``: the run's status.startedAt, for a run an earlier process
        started: its age counts from then (a restart made a run stuck for 40 minutes
        look 15 minutes old, and the long-running alert never fired)."""
        began = since = time.monotonic()
        if started_at:
            with contextlib.suppress(ValueError):
                since -= max(time.time() - datetime.fromisoformat(started_at).timestamp(), 0.0)
        with self._flight:
            self._waiting.setdefault(uid, (began, since))
        self._publish_in_flight()

    def _stop_waiting(self, uid: str) -> None:
        with self._flight:
            self._waiting.pop(uid, None)
        self._publish_in_flight()

    def _is_launching(self, uid: str) -> bool:
        with self._flight:
            return uid in self._launching

    def run_deleted(self, run: Mapping[str, Any]) -> None:
        """A deleted run is waited for no more (its Job goes with it, unreported)."""
        self._stop_waiting(str(_meta(run).get("uid")))

    def settle_in_flight(self, running: Collection[str], listed_at: float) -> None:
        """Forget the runs a listing begun at ``listed_at`` shows are no longer Running.

        A deletion or a result this process did not see (a missed watch event, another
        replica's write) would otherwise keep a run in flight. Runs this process began
        waiting for after the listing started are kept: it could not show them yet.
        """
        with self._flight:
            for uid, (since, _) in list(self._waiting.items()):
                if since < listed_at and uid not in running:
                    del self._waiting[uid]
        self._publish_in_flight()

    def settle_gauges(self, runs: Sequence[Mapping[str, Any]]) -> None:
        """The database gauges, set right from the runs a complete listing shows.

        A database no run refers to any more loses its gauges (an alert on a database
        that is gone would fire for ever), unless they say it has pending migrations or
        drift: deleting its runs fixed nothing (``Metrics.forget_database``). After a
        restart with no runs left, though, nothing restores them: the gauges come from
        the runs that exist only. Each other gets what its last finished run reported,
        and its newest success and failure per action, where newer than what this process
        holds (``Metrics.settle``): a restarted process gets back the alerts its
        predecessor's gauges fired, and a standby replica follows the runs the active
        one finished. Every (database, action) the runs name has its series at zero, as
        before a restart, so that ``increase()`` sees the next failure.
        """
        referenced = {(str(_meta(run).get("namespace")), self._database(run)) for run in runs}
        for namespace, database in self.metrics.databases() - referenced:
            self.metrics.forget_database(namespace, database)
        last: dict[tuple[str, str], tuple[float, Mapping[str, Any]]] = {}
        newest: dict[str, dict[tuple[str, str], dict[str, float]]] = {
            RESULT_SUCCEEDED: {},
            RESULT_FAILED: {},
        }
        for run in runs:
            status = _status(run)
            key = (str(_meta(run).get("namespace")), self._database(run))
            action = metric_action(run)
            self.metrics.database_seen(*key)
            self.metrics.run_started(*key, action)
            try:
                done = datetime.fromisoformat(str(status.get("completedAt"))).timestamp()
            except ValueError:
                continue  # not finished (or a stamp no one could have written)
            # a plan's (a dry run's) or verify's source may be a pull request's: its counts
            # are not the gauges'
            if (
                "pending" in status
                and action not in GAUGE_BLIND_ACTIONS
                and done > last.get(key, (0.0,))[0]
            ):
                last[key] = (done, status)
            result = result_of_status(status)
            if result in newest and action != Action.PLAN:  # a dry run changed nothing
                stamps = newest[result].setdefault(key, {})
                stamps[action] = max(done, stamps.get(action, 0.0))
        successes, failures = newest[RESULT_SUCCEEDED], newest[RESULT_FAILED]
        for key in last.keys() | successes.keys() | failures.keys():
            as_of, status = last.get(key, (float("-inf"), {}))
            self.metrics.settle(
                *key,
                pending=status.get("pending"),
                drift=status.get("drift") or status.get("dirty"),
                as_of=as_of,
                successes=successes.get(key, {}),
                failures=failures.get(key, {}),
            )

    def environment(
        self,
        run: Mapping[str, Any],
        spec: MigrationRunSpec,
        labels: Mapping[str, str] | None = None,
    ) -> Environment:
        if labels is None:
            labels = self.kube.namespace_labels(str(_meta(run)["namespace"]))
        return effective_environment(
            spec.environment.value if spec.environment else None,
            labels.get(self.settings.production_namespace_label),
            self.settings.default_environment,
        )

    # -- a new (or resumed) run ------------------------------------------------

    def start(self, run: Mapping[str, Any]) -> None:
        """Create/resume: everything up to a running Job, or a Failed with the reason."""
        self.metrics.database_seen(str(_meta(run)["namespace"]), self._database(run))
        status = _status(run)
        phase = status.get("phase")
        if phase == Phase.AWAITING_CONFIRMATION and (run.get("spec") or {}).get("confirm"):
            self.confirm(run)  # confirmed while no operator was there to see it
            return
        if phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.AWAITING_CONFIRMATION):
            return
        if phase == Phase.RUNNING and status.get("jobName"):
            self._resume(run, str(status["jobName"]))
            return
        action = _action(run)
        try:
            spec = parse_spec(run.get("spec"))
            policy.check(spec, self.settings, str(_meta(run)["namespace"]))
        except InvalidSpec as exc:
            self._fail_without_result(run, Reason.INVALID_SPEC, exc.message, action)
            return
        labels, secret_exists, configmap_exists = self._look_up(run, spec)
        environment = self.environment(run, spec, labels)
        if spec.action is Action.RESET and environment is Environment.PRODUCTION:
            self._fail_without_result(
                run,
                Reason.REFUSED,
                "reset is refused in production: it would roll back every migration; "
                "create a rollback MigrationRun instead (it asks for a confirmation)",
                action,
            )
            return
        if not self._inputs_exist(run, spec, action, secret_exists, configmap_exists):
            return
        # a staging reset's spec.confirm at creation skips the wait only when it is the
        # word (a production rollback's phrase is checked by the engine itself)
        unconfirmed = spec.confirm is None or (
            spec.action is Action.RESET and spec.confirm != RESET_PHRASE
        )
        needs_plan = (
            _needs_confirmation(spec.action, environment)
            and unconfirmed
            and not spec.dry_run
            and not _status(run).get("confirmationPhrase")
        )
        self._launch(run, environment, mode="plan" if needs_plan else "run")

    def _look_up(
        self, run: Mapping[str, Any], spec: MigrationRunSpec
    ) -> tuple[dict[str, str], bool, bool]:
        """The namespace's labels, and whether the Secret and the ConfigMap exist.

        Asked at once (one round trip rather than three): when many runs arrive
        together, these reads are most of the time before a run's Job exists.
        """
        namespace = str(_meta(run)["namespace"])
        config_map = spec.source.config_map
        labels = self._lookups.submit(self.kube.namespace_labels, namespace)
        secret = self._lookups.submit(
            self.kube.exists, "secrets", namespace, spec.database.secret_ref.name
        )
        configmap = (
            self._lookups.submit(self.kube.exists, "configmaps", namespace, config_map.name)
            if config_map is not None
            else None
        )
        return (
            labels.result(),
            secret.result(),
            configmap.result() if configmap is not None else True,
        )

    def _inputs_exist(
        self,
        run: Mapping[str, Any],
        spec: MigrationRunSpec,
        action: str,
        secret_exists: bool,
        configmap_exists: bool,
    ) -> bool:
        namespace = str(_meta(run)["namespace"])
        secret = spec.database.secret_ref.name
        if not secret_exists:
            self._fail_without_result(
                run,
                Reason.SECRET_NOT_FOUND,
                f"Secret {namespace}/{secret} not found: create it with the database URL under key "
                f"{spec.database.secret_ref.key} (kubectl create secret generic {secret} "
                f"--from-literal={spec.database.secret_ref.key}=postgresql://...), "
                "then create the run again",
                action,
            )
            return False
        config_map = spec.source.config_map
        if config_map is not None and not configmap_exists:
            self._fail_without_result(
                run,
                Reason.CONFIGMAP_NOT_FOUND,
                f"ConfigMap {namespace}/{config_map.name} not found: "
                "create it from your migrations "
                f"(kubectl create configmap {config_map.name} "
                f"{' '.join(jobs.configmap_from_files())}), then create the run again",
                action,
            )
            return False
        return True

    def _resume(self, run: Mapping[str, Any], job_name: str) -> None:
        """A run already Running when this process met it: adopt its Job, never make one.

        Its Job was created by an earlier process. If it is gone now (deleted while no
        operator watched), creating it again would run the action a second time.
        """
        job = self.kube.get_job(str(_meta(run)["namespace"]), job_name)
        if job is None:
            self._job_gone(run, job_name, resumed=True)
            return
        if self._refused_as_not_owned(run, job):
            return
        self._start_waiting(str(_meta(run)["uid"]), _status(run).get("startedAt"))
        self._log(run, job_name).info("job adopted")
        self.job_changed(job)  # it may have finished while no operator watched

    def _launch(
        self, run: Mapping[str, Any], environment: Environment, *, mode: jobs.JobMode
    ) -> None:
        meta = _meta(run)
        uid = str(meta["uid"])
        try:
            job = jobs.build_job(run, self.settings, environment=str(environment), mode=mode)
        except InvalidSpec as exc:
            # the settings changed since the run started (a confirmed rollback's plan ran
            # under looser ones): the run fails as any run they refuse does
            self._fail_without_result(run, Reason.INVALID_SPEC, exc.message, _action(run))
            return
        name = job["metadata"]["name"]
        if mode == "plan":
            message = (
                f"planning the production rollback with the read-only Job {name} "
                "before asking for confirmation"
            )
            reason = Reason.PLANNING
        else:
            action = (run.get("spec") or {}).get("action", "migrate")
            message = f"Job {name} runs {action} ({environment})"
            reason = Reason.JOB_CREATED
        # The Job first, then the status naming it. An operator that stops in between
        # leaves a Job and no Running: its successor launches the run again and adopts
        # the Job by its name. Written the other way round, it left a run Running without
        # a Job, which no successor can tell from one whose Job was deleted while no
        # operator watched (JobLost, as running the action again could undo a second
        # batch). One crash is left that no order can tell apart: a Job created, then
        # deleted (by a person, or its ttlSecondsAfterFinished) before a successor starts;
        # that successor creates it again, and as every Job of the run passes its uid as
        # --run-id, the engine takes the second for another attempt of the same run: it
        # reports what the first did, and never undoes more batches than the run asked
        # for. Marked while launching: the Job's events that come before its run's status
        # names it are held for the launch to report (``_hold``).
        with self._flight:
            self._launching.add(uid)
        updated: Mapping[str, Any] | None = None
        try:
            made = self._create(run, job)
            if made is None:
                return  # refused: the run has failed, saying why
            found, created = made
            updated = run
            if _status(run).get("jobName") != name or _status(run).get("phase") != Phase.RUNNING:
                updated = self._transition(
                    run, Phase.RUNNING, reason, message, jobName=name, environment=str(environment)
                )
            if updated is not None:
                self._start_waiting(uid)
        finally:
            with self._flight:
                self._launching.discard(uid)
                held = self._held.pop(uid, None)
        if updated is None:
            return  # another writer moved the run on (a replica launching it too): theirs
        if mode == "run":
            self.metrics.run_started(
                str(meta["namespace"]), self._database(run), metric_action(run)
            )
        self._log(run, name).info("job created" if created else "job adopted", mode=mode)
        # it may have finished already: before the status named it, or (adopted) while no
        # operator watched
        finished = held if held is not None else (None if created else found)
        if finished is not None:
            self.job_changed(finished)

    def _create(
        self, run: Mapping[str, Any], job: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool] | None:
        """Create the run's Job (and its inline ConfigMap), or adopt its own from an earlier
        attempt: (the Job, whether created). None when the run failed instead: the API
        server refused one, or one found under its name is not the run's."""
        configmap = jobs.build_inline_configmap(run)
        what = f"Job {job['metadata']['name']}"
        try:
            if configmap is not None:
                what = f"ConfigMap {configmap['metadata']['name']} (spec.source.inline's files)"
                found, made = self.kube.create_configmap(configmap)
                problem = None if made else jobs.adoption_problem(found, configmap)
                if problem is not None:  # its SQL is not the run's: no Job may mount it
                    self._refuse_adoption(run, what, problem)
                    return None
                what = f"Job {job['metadata']['name']}"
            found, created = self.kube.create_job(job)
            problem = None if created else jobs.adoption_problem(found, job)
            if problem is not None:
                self._refuse_adoption(run, what, problem)
                return None
        except Exception as exc:
            if not translation.refused_as_is(exc):
                raise  # conflicts, throttling, a server error: kopf retries
            # spec.job's resources passed the CRD but not the Job's validation (a limit
            # below its request), RBAC forbids it, inline SQL past a ConfigMap's 1 MiB
            message = translation.refusal_message(exc, what)
            self._fail_without_result(run, Reason.JOB_REJECTED, message, _action(run))
            return None
        return found, created

    def _refuse_adoption(self, run: Mapping[str, Any], what: str, problem: str) -> None:
        """Found under this run's name, not this run's: fail the run, touch nothing."""
        message = adoption_refused_message(what, problem)
        self._fail_without_result(run, Reason.ADOPTION_REFUSED, message, _action(run))

    def _refused_as_not_owned(self, run: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
        """The run's Job, found by name, is another's: the run fails (True)."""
        problem = jobs.not_owned(job, str(_meta(run).get("uid")))
        if problem is None:
            return False
        self._refuse_adoption(run, f"Job {(job.get('metadata') or {}).get('name')}", problem)
        return True

    def _pods(self, job: Mapping[str, Any], *, gone: bool = True) -> list[Mapping[str, Any]]:
        """The pods ``job`` controls (listed by label, kept by ownerReference), and with
        ``gone`` those the watch saw deleted while they ran, gone since (``Terminations``):
        a finished Job's result may be in one; a running Job's state is in those it has."""
        meta = job.get("metadata") or {}
        pods: list[Mapping[str, Any]] = list(
            self.kube.job_pods(str(meta["namespace"]), str(meta["name"]))
        )
        if gone:
            pods = results.with_kept(pods, self.terminations.pods(str(meta.get("uid"))))
        return results.pods_of(pods, job)

    def _forget_job(self, uid: str) -> None:
        self.terminations.forget(uid)
        with self._flight:
            self._awaiting_ends.pop(uid, None)

    def _await_end(self, job: Mapping[str, Any]) -> bool:
        """Whether to wait for the end of a pod the finished ``job`` counts (True): once
        it has come (``pod_changed``) or ``result_grace_s`` has passed (the resync's
        recheck), the Job is read again."""
        meta = job.get("metadata") or {}
        uid = str(meta.get("uid"))
        now_s = time.monotonic()
        with self._flight:
            _, _, since = self._awaiting_ends.setdefault(
                uid, (str(meta.get("namespace")), str(meta.get("name")), now_s)
            )
        return now_s - since < self.result_grace_s

    def pod_changed(self, pod: Mapping[str, Any], *, deleted: bool = False) -> None:
        """A Job pod's event: kept if its deletion stopped it (see ``Terminations``); its
        end reported at once when its Job's report waits for it."""
        uid = self.terminations.saw(pod, deleted=deleted)
        if uid is None or not results.ended(pod):
            return
        with self._flight:
            awaited = self._awaiting_ends.get(uid)
        if awaited is None:
            return  # the usual order: the pod's end comes before its Job's
        job = self.kube.get_job(awaited[0], awaited[1])
        if job is not None and (job.get("metadata") or {}).get("uid") == uid:
            self.job_changed(job)  # a namesake Job since is another run's

    # -- confirmation ----------------------------------------------------------

    def confirm(self, run: Mapping[str, Any]) -> None:
        """spec.confirm was set: run the real Job if it matches the planned phrase."""
        status = _status(run)
        if status.get("phase") != Phase.AWAITING_CONFIRMATION:
            return
        given = (run.get("spec") or {}).get("confirm")
        phrase = status.get("confirmationPhrase")
        wanted = phrase or RESET_PHRASE  # a staging reset has no batch phrase: the word
        if given != wanted:
            self._transition(
                run,
                Phase.AWAITING_CONFIRMATION,
                Reason.CONFIRMATION_MISMATCH,
                f"spec.confirm {given!r} does not match the planned "
                f"{'rollback' if phrase else 'reset'}; set it to {wanted!r}",
                event_type="Warning",
            )
            return
        spec = parse_spec(run.get("spec"))
        # looked for again: the confirmation may come long after the plan, and a Job whose
        # ConfigMap went meanwhile would sit in ContainerCreating for its whole deadline
        labels, secret_exists, configmap_exists = self._look_up(run, spec)
        if self._inputs_exist(run, spec, str(spec.action), secret_exists, configmap_exists):
            self._launch(run, self.environment(run, spec, labels), mode="run")

    # -- a Job changed ---------------------------------------------------------

    def recheck(self, run: Mapping[str, Any]) -> None:
        """Level-triggered safety net: a Running run's Job, looked at again.

        Job events are not retried by kopf, so a status patch that failed on a Job's
        last event would otherwise leave the run Running for ever.
        """
        status = _status(run)
        if status.get("phase") != Phase.RUNNING or not status.get("jobName"):
            return
        job_name = str(status["jobName"])
        job = self.kube.get_job(str(_meta(run)["namespace"]), job_name)
        if job is not None and self._refused_as_not_owned(run, job):
            return
        if job is not None:  # finished: record it; stuck: say why (pods change, Jobs don't)
            self.job_changed(job, look_for_stuck_pods=True)
            return
        since = _seconds_between(running_since(status), now())
        if since is not None and since < _JOB_CREATION_GRACE_S:
            return
        self._job_gone(run, job_name)

    def job_deleted(self, job: Mapping[str, Any]) -> None:
        """A Job was deleted: a run still waiting for it would wait for ever.

        A finished Job whose pods are still there has its result read as usual (a
        ``ttlSecondsAfterFinished`` of 0 can delete it before its last event is
        handled); a run that already has its result, or is being deleted itself
        (which is what took the Job), is left alone.
        """
        meta = job.get("metadata") or {}
        try:
            self._job_deleted(job, meta)
        finally:
            self._forget_job(str(meta.get("uid")))

    def _job_deleted(self, job: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        owner, run = self._run_of(job)
        if run is None:
            if owner is not None:
                self._stop_waiting(owner)
            return
        status = _status(run)
        if status.get("phase") != Phase.RUNNING or status.get("jobName") != meta.get("name"):
            return
        state = results.job_state(job)
        if state.finished and self._pods(job):
            self.job_changed(job, waiting=False)
            return
        finished = None
        if state.finished:
            finished = "Complete" if state.succeeded else state.reason or "Failed"
        self._job_gone(run, str(meta["name"]), finished=finished)

    def _run_of(self, job: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None]:
        """The uid of the MigrationRun that owns ``job``, and that run as it is now: None
        when it is gone, or when a namesake created since has taken its name."""
        owner = _owner(job)
        namespace = (job.get("metadata") or {}).get("namespace")
        if owner is None or not namespace:
            return None, None
        run = self.kube.get_run(namespace, owner["name"])
        if run is None or _meta(run).get("uid") != owner.get("uid"):
            return str(owner.get("uid")), None
        return str(owner.get("uid")), run

    def _job_gone(
        self,
        run: Mapping[str, Any],
        job_name: str,
        *,
        finished: str | None = None,
        resumed: bool = False,
    ) -> None:
        """The run's Job no longer exists and left no result: the run fails, unrepeated."""
        if _meta(run).get("deletionTimestamp"):
            self._stop_waiting(str(_meta(run).get("uid")))  # its own deletion took the Job
            return
        message = job_lost_message(
            job_name, read_only=read_only(run, job_name), finished=finished, resumed=resumed
        )
        action = _action(run)
        self._fail_without_result(run, Reason.JOB_LOST, message, action)

    def job_changed(
        self,
        job: Mapping[str, Any],
        *,
        look_for_stuck_pods: bool = False,
        waiting: bool = True,
    ) -> None:
        """A finished Job's result goes into its run's status, exactly once.

        A pod that cannot start is looked for only on a recheck: a Job's own events
        while it starts (active, not ready) come before its pod could say why, and
        reading the run and the pods on each of them doubled the operator's API calls
        for every run. With ``waiting``, a Job that counts a pod's end this process
        has not seen is reported only once it has, or a while later (``_await_end``);
        a deleted Job has nothing more to show.
        """
        state = results.job_state(job)
        meta = job.get("metadata") or {}
        job_status = job.get("status") or {}
        age = _seconds_between(meta.get("creationTimestamp"), now())
        stuck = (
            look_for_stuck_pods
            and not state.finished
            and not job_status.get("ready")
            # a starting pod, or none long after the Job was made (creating it failed)
            and (job_status.get("active") or (age is not None and age > _JOB_CREATION_GRACE_S))
        )
        if not state.finished and not stuck:
            return  # nothing to report yet: most Job events are of this kind
        # asked before the run is read: a launch that ends in between has written its status
        launching = state.finished and self._is_launching(str((_owner(job) or {}).get("uid")))
        owner, run = self._run_of(job)
        if run is None:
            if state.finished:
                self._forget_job(str(meta.get("uid")))
            return
        status = _status(run)
        terminal = Phase(status.get("phase", "Pending")).terminal
        if launching and not terminal and status.get("jobName") != meta.get("name"):
            # finished before its launch here wrote the status naming it
            if not self._hold(str(owner), job):
                self.job_changed(job, waiting=waiting)  # it has written it since
            return
        if status.get("jobName") != meta.get("name") or terminal:
            if state.finished:
                self._forget_job(str(meta.get("uid")))
            return
        if not state.finished:
            self._report_stuck(run, job)
            return
        action = _action(run)
        pods = self._pods(job)
        if waiting and results.unseen_ends(job, pods) and self._await_end(job):
            return
        self._record(run, job, state, pods, action)
        self._forget_job(str(meta.get("uid")))  # not on an error: the retry reads them

    def _hold(self, uid: str, job: Mapping[str, Any]) -> bool:
        """Keep ``job`` for the launch of run ``uid`` under way in this process to report,
        once the status naming it is written (True); False when that launch has ended
        meanwhile, and the run names its Job now."""
        with self._flight:
            if uid not in self._launching:
                return False
            self._held[uid] = job
            return True

    def _record(
        self,
        run: Mapping[str, Any],
        job: Mapping[str, Any],
        state: results.JobState,
        pods: Sequence[Mapping[str, Any]],
        action: str,
    ) -> None:
        """The finished Job's result, from its last attempt (the last of ``pods``), as the
        run's status."""
        meta = job.get("metadata") or {}
        job_status = job.get("status") or {}
        spec = run.get("spec") or {}
        attempts = results.read_attempts(job, pods)
        outcome = attempts.outcome
        if outcome is not None:
            outcome = _in_run_terms(outcome, spec)
            if state.reason == "DeadlineExceeded":
                outcome = results.stopped_at_deadline(outcome, job)
        else:
            outcome = self._without_result(run, job, state, attempts, action)
        mode = (meta.get("labels") or {}).get(jobs.LABEL_MODE, "run")
        # a failed Job has no completionTime: it ended when it was marked Failed, not when
        # this process read it (after a restart, the outage went into the histogram)
        ended = job_status.get("completionTime") or _failed_at(job) or now()
        job_seconds = _seconds_between(job_status.get("startTime"), ended)
        duration = outcome.durationMs / 1000 if outcome.durationMs is not None else job_seconds
        if len(pods) > 1 and job_seconds is not None and duration is not None:
            # retried: the run took from its first pod's start to its last's end (four
            # lock timeouts and a success over 75 s were one 38 s observation)
            duration = max(duration, job_seconds)
        if mode == "plan" and outcome.ok:
            self._planned(run, outcome)
            return
        succeeded = outcome.ok and state.succeeded
        if not succeeded:
            outcome = results.after_attempts(outcome, attempts.count)
        fields = from_outcome(outcome)
        if succeeded:
            applied = self._transition(
                run,
                Phase.SUCCEEDED,
                Reason.SUCCEEDED,
                summary(outcome),
                event_type=event_type(outcome),
                **fields,
            )
        else:
            reason = translation.failure_reason(outcome)
            applied = self._transition(
                run, Phase.FAILED, reason, summary(outcome), event_type="Warning", **fields
            )
        if applied is not None:  # counted once, by whoever recorded the result
            self._finished(run, outcome, duration)

    def _without_result(
        self,
        run: Mapping[str, Any],
        job: Mapping[str, Any],
        state: results.JobState,
        attempts: results.Attempts,
        action: str,
    ) -> Outcome:
        """The outcome of a finished Job whose last attempt left no result: the Job's
        condition says why it ended, and what the database saw is said as far as the pods
        tell. A last attempt that never started, after others, changed nothing: the run
        did what the attempt before it reported, whose migrations and counts stay."""
        spec = run.get("spec") or {}
        reason = translation.job_reason(state.reason) if not state.succeeded else Reason.JOB_FAILED
        ended = state.reason or "Failed"
        changes = not read_only(run, str((job.get("metadata") or {}).get("name")))
        before = attempts.before
        if before is not None:
            before = _in_run_terms(before, spec)
        earlier = (
            f"; the attempt before it ended with {before.error.get('reason')}: "
            f"{failure_message(before)}"
            if before is not None and before.error
            else ""
        )
        unknown = (
            "left no result, so what it changed is unknown: the migrations before the one it "
            "stopped in may have committed (a status run shows the counts)"
        )
        if attempts.started or attempts.count < 2:
            problem = (
                attempts.problem
                or attempts.raw
                or state.message
                or "the Job failed without a result"
            )
            message = f"{ended}: {problem}"
            if not attempts.started:
                message += "; its pod never started, so the database was not touched"
            elif changes:
                message += f"; it {unknown}"
            return results.failed_outcome(action, reason, message + earlier)
        said = state.message or "the Job failed"
        message = f"{ended}: {said}; its last attempt's pod never started"
        if attempts.problem:
            message += f" ({attempts.problem})"
        message += ", so it did not touch the database"
        if before is None:
            if changes:
                message += f"; the attempt before it {unknown}"
            return results.failed_outcome(action, reason, message)
        error = {"reason": reason, "message": said_once(reason, message + earlier)}
        return replace(before, ok=False, exitCode=1, error=error)

    def _report_stuck(self, run: Mapping[str, Any], job: Mapping[str, Any]) -> None:
        """A pod that cannot start (a missing Secret key, an image that cannot be pulled).

        Kubernetes keeps retrying, and so does the run, but the person waiting on it
        should see why in its condition and Events rather than a bare "Running".
        """
        meta = job.get("metadata") or {}
        pods = self._pods(job, gone=False)
        problem = results.waiting_problem(pods)
        if problem is None and not pods:
            problem = results.no_pod_problem(str(meta["namespace"]), str(meta["name"]))
        if problem is None:
            return
        reason = problem.split(":", 1)[0]
        current: Mapping[str, Any] = next(
            (c for c in _status(run).get("conditions") or () if c.get("type") == "Running"), {}
        )
        if current.get("reason") != reason:
            self._transition(
                run,
                Phase.RUNNING,
                reason,
                f"the Job's pod cannot start: {problem}",
                event_type="Warning",
            )

    def _planned(self, run: Mapping[str, Any], outcome: Outcome) -> None:
        names = [m.name for m in outcome.migrations]
        fields = from_outcome(outcome)
        if outcome.action == Action.RESET and names:
            self._await(run, fields, names, None)
            return
        if not names or not outcome.confirmation:
            applied = self._transition(
                run, Phase.SUCCEEDED, Reason.SUCCEEDED, "nothing to roll back", **fields
            )
            if applied is not None:
                self._finished(run, outcome, None)
            return
        self._await(run, fields, names, outcome.confirmation)

    def _await(
        self, run: Mapping[str, Any], fields: dict[str, Any], names: list[str], phrase: str | None
    ) -> None:
        """AwaitingConfirmation: a production rollback's ``phrase``, or (None) a staging
        reset, which ``RESET_PHRASE`` confirms."""
        meta = _meta(run)
        what = "production rollback" if phrase else "staging reset"
        undone = ", ".join(names)
        baselined = bool(phrase and phrase.endswith(BASELINED_PHRASE))
        if baselined:
            undone += (
                " (some recorded by a baseline run: their rollback SQL removes what "
                "predates kubemigrate)"
            )
        message = (  # a command to copy as it is, whatever namespace the reader's kubectl is in
            f"{what} would undo {undone}; confirm with "
            f"kubectl patch mr {meta['name']} -n {meta['namespace']} --type merge "
            f'-p \'{{"spec":{{"confirm":"{phrase or RESET_PHRASE}"}}}}\''
        )
        waiting = self._transition(
            run,
            Phase.AWAITING_CONFIRMATION,
            Reason.CONFIRMATION_REQUIRED,
            message,
            event_type="Warning" if baselined else "Normal",
            **{**fields, "confirmationPhrase": phrase, "plannedMigrations": names},
        )
        if waiting is not None and (waiting.get("spec") or {}).get("confirm") is not None:
            # set while the plan ran: spec.confirm will not change again, so its handler
            # will not fire again either; patching the same value is "no change"
            self.confirm(waiting)
