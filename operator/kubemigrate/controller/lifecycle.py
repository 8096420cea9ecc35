"""A MigrationRun's life: validate, create its Job, read the result, report it.

The kopf handlers (handlers.py) only route events here. Every transition goes
through ``_transition``: one status patch (phase, conditions, timestamps) and one
Event, so what ``kubectl get``, ``kubectl wait`` and ``kubectl describe`` show
always agrees. Status is written before the Job is created, so a Job that
finishes at once can never be overtaken by a stale "Running".
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from kubemigrate.controller import jobs, results, translation
from kubemigrate.controller.kube import Conflict, Kube, now
from kubemigrate.controller.spec import (
    InvalidSpec,
    MigrationRunSpec,
    effective_environment,
    parse_spec,
)
from kubemigrate.domain.migrations import Action, Environment
from kubemigrate.domain.outcome import Outcome
from kubemigrate.domain.status import Phase, Reason, conditions, from_outcome, summary
from kubemigrate.observability.logging import get_logger
from kubemigrate.observability.metrics import Metrics, database_label
from kubemigrate.settings import OperatorSettings

_CONFLICT_RETRIES = 5


def _meta(run: Mapping[str, Any]) -> Mapping[str, Any]:
    return run.get("metadata") or {}


def _status(run: Mapping[str, Any]) -> Mapping[str, Any]:
    return run.get("status") or {}


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (b - a).total_seconds())


class Lifecycle:
    def __init__(self, kube: Kube, settings: OperatorSettings, metrics: Metrics) -> None:
        self.kube = kube
        self.settings = settings
        self.metrics = metrics
        self._lookups = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lookup")

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

    def _fail_before_job(
        self, run: Mapping[str, Any], reason: str, message: str, action: str
    ) -> None:
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
        outcome = results.failed_outcome(action, reason, message)
        self.metrics.run_finished(str(_meta(run)["namespace"]), self._database(run), outcome, None)

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
        phase = _status(run).get("phase")
        if phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.AWAITING_CONFIRMATION):
            return
        action = str((run.get("spec") or {}).get("action") or "migrate")
        try:
            spec = parse_spec(run.get("spec"))
        except InvalidSpec as exc:
            self._fail_before_job(run, Reason.INVALID_SPEC, exc.message, action)
            return
        labels, secret_exists, configmap_exists = self._look_up(run, spec)
        environment = self.environment(run, spec, labels)
        if spec.action is Action.RESET and environment is Environment.PRODUCTION:
            self._fail_before_job(
                run,
                Reason.REFUSED,
                "reset is refused in production: it would roll back every migration; "
                "create a rollback MigrationRun instead (it asks for a confirmation)",
                action,
            )
            return
        if not self._inputs_exist(run, spec, action, secret_exists, configmap_exists):
            return
        needs_plan = (
            spec.action is Action.ROLLBACK
            and environment is Environment.PRODUCTION
            and spec.confirm is None
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
            self._fail_before_job(
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
            self._fail_before_job(
                run,
                Reason.CONFIGMAP_NOT_FOUND,
                f"ConfigMap {namespace}/{config_map.name} not found: "
                "create it from your migrations "
                f"(kubectl create configmap {config_map.name} --from-file=drizzle/ "
                "--from-file=drizzle/meta/), then create the run again",
                action,
            )
            return False
        return True

    def _launch(
        self, run: Mapping[str, Any], environment: Environment, *, mode: jobs.JobMode
    ) -> None:
        meta = _meta(run)
        job = jobs.build_job(run, self.settings, environment=str(environment), mode=mode)
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
        if _status(run).get("jobName") != name or _status(run).get("phase") != Phase.RUNNING:
            updated = self._transition(
                run, Phase.RUNNING, reason, message, jobName=name, environment=str(environment)
            )
            if updated is None:
                return  # another handler moved the run on: it owns what happens next
            run = updated
        configmap = jobs.build_inline_configmap(run)
        if configmap is not None:
            self.kube.create_configmap(configmap)
        _, created = self.kube.create_job(job)
        if created and mode == "run":
            self.metrics.run_started(
                str(meta["namespace"]),
                self._database(run),
                str((run.get("spec") or {}).get("action", "migrate")),
            )
        self._log(run, name).info("job created" if created else "job adopted", mode=mode)

    # -- confirmation ----------------------------------------------------------

    def confirm(self, run: Mapping[str, Any]) -> None:
        """spec.confirm was set: run the real Job if it matches the planned phrase."""
        status = _status(run)
        if status.get("phase") != Phase.AWAITING_CONFIRMATION:
            return
        given = (run.get("spec") or {}).get("confirm")
        phrase = status.get("confirmationPhrase")
        if given != phrase:
            self._transition(
                run,
                Phase.AWAITING_CONFIRMATION,
                Reason.CONFIRMATION_MISMATCH,
                f"spec.confirm {given!r} does not match the planned rollback; set it to {phrase!r}",
                event_type="Warning",
            )
            return
        spec = parse_spec(run.get("spec"))
        self._launch(run, self.environment(run, spec), mode="run")

    # -- a Job changed ---------------------------------------------------------

    def recheck(self, run: Mapping[str, Any]) -> None:
        """Level-triggered safety net: a Running run's Job, looked at again.

        Job events are not retried by kopf, so a status patch that failed on a Job's
        last event would otherwise leave the run Running for ever.
        """
        status = _status(run)
        if status.get("phase") != Phase.RUNNING or not status.get("jobName"):
            return
        job = self.kube.get_job(str(_meta(run)["namespace"]), str(status["jobName"]))
        if job is not None:  # finished: record it; stuck: say why (pods change, Jobs don't)
            self.job_changed(job, look_for_stuck_pods=True)

    def job_changed(self, job: Mapping[str, Any], *, look_for_stuck_pods: bool = False) -> None:
        """A finished Job's result goes into its run's status, exactly once.

        A pod that cannot start is looked for only on a recheck: a Job's own events
        while it starts (active, not ready) come before its pod could say why, and
        reading the run and the pods on each of them doubled the operator's API calls
        for every run.
        """
        state = results.job_state(job)
        meta = job.get("metadata") or {}
        job_status = job.get("status") or {}
        stuck = (
            look_for_stuck_pods
            and not state.finished
            and job_status.get("active")
            and not job_status.get("ready")
        )
        if not state.finished and not stuck:
            return  # nothing to report yet: most Job events are of this kind
        owner = next(
            (o for o in meta.get("ownerReferences") or () if o.get("kind") == "MigrationRun"), None
        )
        namespace = meta.get("namespace")
        if owner is None or not namespace:
            return
        run = self.kube.get_run(namespace, owner["name"])
        if run is None or _meta(run).get("uid") != owner.get("uid"):
            return
        status = _status(run)
        if (
            status.get("jobName") != meta.get("name")
            or Phase(status.get("phase", "Pending")).terminal
        ):
            return
        if not state.finished:
            self._report_stuck(run, namespace, str(meta["name"]))
            return
        action = str((run.get("spec") or {}).get("action") or "migrate")
        pods = self.kube.job_pods(namespace, meta["name"])
        outcome, raw = results.outcome_from_pods(pods)
        if outcome is None:
            problem = (
                results.waiting_problem(pods)
                or raw
                or state.message
                or "the Job failed without a result"
            )
            reason = (
                translation.job_reason(state.reason) if not state.succeeded else Reason.JOB_FAILED
            )
            outcome = results.failed_outcome(
                action, reason, f"{state.reason or 'Failed'}: {problem}"
            )
        mode = (meta.get("labels") or {}).get(jobs.LABEL_MODE, "run")
        duration = (
            outcome.durationMs / 1000
            if outcome.durationMs is not None
            else _seconds_between(
                (job.get("status") or {}).get("startTime"),
                (job.get("status") or {}).get("completionTime") or now(),
            )
        )
        if mode == "plan" and outcome.ok:
            self._planned(run, outcome)
            return
        fields = from_outcome(outcome)
        if outcome.ok and state.succeeded:
            applied = self._transition(
                run, Phase.SUCCEEDED, Reason.SUCCEEDED, summary(outcome), **fields
            )
        else:
            reason = translation.failure_reason(outcome)
            applied = self._transition(
                run, Phase.FAILED, reason, summary(outcome), event_type="Warning", **fields
            )
        if applied is not None:  # counted once, by whoever recorded the result
            self.metrics.run_finished(str(namespace), self._database(run), outcome, duration)

    def _report_stuck(self, run: Mapping[str, Any], namespace: str, job_name: str) -> None:
        """A pod that cannot start (a missing Secret key, an image that cannot be pulled).

        Kubernetes keeps retrying, and so does the run, but the person waiting on it
        should see why in its condition and Events rather than a bare "Running".
        """
        problem = results.waiting_problem(self.kube.job_pods(namespace, job_name))
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
        if not names or not outcome.confirmation:
            applied = self._transition(
                run, Phase.SUCCEEDED, Reason.SUCCEEDED, "nothing to roll back", **fields
            )
            if applied is not None:
                self.metrics.run_finished(
                    str(_meta(run)["namespace"]), self._database(run), outcome, None
                )
            return
        phrase = outcome.confirmation
        meta = _meta(run)
        message = (  # a command to copy as it is, whatever namespace the reader's kubectl is in
            f"production rollback would undo {', '.join(names)}; confirm with "
            f"kubectl patch mr {meta['name']} -n {meta['namespace']} --type merge "
            f'-p \'{{"spec":{{"confirm":"{phrase}"}}}}\''
        )
        self._transition(
            run,
            Phase.AWAITING_CONFIRMATION,
            Reason.CONFIRMATION_REQUIRED,
            message,
            **{**fields, "confirmationPhrase": phrase, "plannedMigrations": names},
        )
