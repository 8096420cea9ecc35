"""An object found under a name the run needs is its own only if the run controls it.

Job and inline ConfigMap names are deterministic (from the run's uid), so that a
restarted operator adopts what it created. Whoever may create Jobs, ConfigMaps or
pods in the namespace may also create one under that name first, to swap the SQL a
run applies or forge the result it reports. The run then fails as AdoptionRefused,
and the object is neither adopted nor deleted; results come only from the pods the
Job controls.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from prometheus_client import CollectorRegistry

from kubemigrate.controller import jobs
from kubemigrate.controller.kube import Kube
from kubemigrate.controller.lifecycle import Lifecycle
from kubemigrate.controller.resync import Resync
from kubemigrate.domain.outcome import Counts, MigrationResult, Outcome
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import load_settings
from tests.unit.controller.test_lifecycle import _finished_job, owned_by_job
from tests.unit.controller.test_lost_jobs import RUN_JOB, Cluster, _pending, _running

INLINE = [{"name": "0000_users", "up": "CREATE TABLE users (id int);"}]
CONFIGMAP = jobs.inline_configmap_name("r", "u1")


class Namespace(Cluster):
    """Cluster whose ConfigMaps, like its Jobs, may exist before the run makes them."""

    def __init__(
        self, run: dict[str, Any], *, configmaps: dict[str, dict[str, Any]] | None = None, **kw: Any
    ) -> None:
        super().__init__(run, **kw)
        self.configmaps = dict(configmaps or {})
        self.configmaps_created: list[str] = []

    def create_configmap(self, configmap: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        name = configmap["metadata"]["name"]
        if name in self.configmaps:
            return copy.deepcopy(self.configmaps[name]), False
        self.configmaps[name] = configmap
        self.configmaps_created.append(name)
        return configmap, True


def _lifecycle(kube: Cluster) -> Lifecycle:
    return Lifecycle(cast(Kube, kube), load_settings(), Metrics(registry=CollectorRegistry()))


def _inline_run() -> dict[str, Any]:
    run = _pending()
    run["spec"]["source"] = {"inline": INLINE}
    return run


def _built_job(run: dict[str, Any]) -> dict[str, Any]:
    return jobs.build_job(run, load_settings(), environment="development")


def _refused(kube: Cluster) -> str:
    """The run failed as AdoptionRefused (never saying Running: no Job of its own was
    made); its message."""
    assert [p["phase"] for p in kube.patches] == ["Failed"]
    failed = kube.patches[-1]
    condition = next(c for c in failed["conditions"] if c["type"] == "Failed")
    assert condition["reason"] == failed["error"]["reason"] == "AdoptionRefused"
    assert kube.events[-1] == "AdoptionRefused"
    message: str = condition["message"]
    assert "The operator neither adopts nor deletes it" in message
    return message


# -- the Job ---------------------------------------------------------------------------


def test_a_job_squatting_the_run_s_name_is_not_adopted() -> None:
    squatter = copy.deepcopy(_built_job(_pending()))
    squatter["metadata"].pop("ownerReferences")
    kube = Namespace(_pending(), jobs_={RUN_JOB: squatter})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    message = _refused(kube)
    assert message.startswith(
        f"Job {RUN_JOB} already exists and is not this run's: it has no controller ownerReference."
    )
    assert kube.created == []
    assert kube.jobs[RUN_JOB] == squatter  # left as it was: not adopted, not deleted


def test_a_job_another_object_controls_is_not_adopted() -> None:
    squatter = _built_job(_pending())
    squatter["metadata"]["ownerReferences"] = [
        {"kind": "MigrationRun", "name": "other", "uid": "u9", "controller": True}
    ]
    kube = Namespace(_pending(), jobs_={RUN_JOB: squatter})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert "its controller is MigrationRun other (uid u9)" in _refused(kube)


def test_a_job_naming_the_run_as_owner_but_not_as_controller_is_not_adopted() -> None:
    squatter = _built_job(_pending())
    squatter["metadata"]["ownerReferences"][0]["controller"] = False
    kube = Namespace(_pending(), jobs_={RUN_JOB: squatter})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert "it has no controller ownerReference" in _refused(kube)


def test_a_job_controlled_by_the_run_but_running_something_else_is_not_adopted() -> None:
    """Whoever read the run's uid can write it in an ownerReference: what the Job runs
    must be the run's too."""
    forged = _built_job(_pending())
    container = forged["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["sh", "-c", "echo '{\"ok\": true}' > /dev/termination-log"]
    kube = Namespace(_pending(), jobs_={RUN_JOB: forged})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert "its pod template is not this run's Job's" in _refused(kube)


def test_the_run_s_own_job_from_an_earlier_attempt_is_adopted() -> None:
    """What the API server stored: the Job as built, defaults added, a uid given."""
    stored = _built_job(_pending())
    stored["metadata"]["uid"] = "j1"
    pod = stored["spec"]["template"]["spec"]
    pod.update(
        terminationGracePeriodSeconds=30,
        dnsPolicy="ClusterFirst",
        schedulerName="default-scheduler",
        serviceAccount="default",
        serviceAccountName="default",
    )
    pod["volumes"][0]["configMap"]["defaultMode"] = 420
    assert jobs.adoption_problem(stored, _built_job(_pending())) is None
    kube = Namespace(_pending(), jobs_={RUN_JOB: stored})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert [p["phase"] for p in kube.patches] == ["Running"]


def test_a_resumed_run_whose_job_is_another_s_fails_instead_of_reading_it() -> None:
    squatter = _finished_job()
    squatter["metadata"]["name"] = RUN_JOB
    squatter["metadata"]["ownerReferences"] = []
    kube = Namespace(_running(), jobs_={RUN_JOB: squatter})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert [p["phase"] for p in kube.patches] == ["Failed"]
    assert kube.patches[0]["error"]["reason"] == "AdoptionRefused"
    assert kube.jobs[RUN_JOB] == squatter


def test_the_resync_fails_a_run_whose_job_is_another_s() -> None:
    squatter = _finished_job()
    squatter["metadata"]["name"] = RUN_JOB
    squatter["metadata"]["ownerReferences"][0]["uid"] = "u9"
    kube = Namespace(_running(), jobs_={RUN_JOB: squatter})
    Resync(_lifecycle(kube), cast(Kube, kube), ["ns"]).once()
    assert [p["phase"] for p in kube.patches] == ["Failed"]
    assert "its controller is MigrationRun r (uid u9)" in kube.patches[0]["error"]["message"]


def test_a_job_event_for_a_job_that_only_mentions_the_run_is_ignored() -> None:
    job = _finished_job()
    job["metadata"]["ownerReferences"][0]["controller"] = False
    kube = Namespace(_running(job_name="r-job"))
    _lifecycle(kube).job_changed(job)
    assert kube.patches == []


# -- the inline ConfigMap ----------------------------------------------------------------


def _squatting_configmap(**changes: Any) -> dict[str, Any]:
    configmap = jobs.build_inline_configmap(_inline_run())
    assert configmap is not None
    configmap.update(changes)
    return configmap


def test_a_configmap_squatting_the_inline_source_s_name_gets_no_job() -> None:
    forged = _squatting_configmap(data={"0000_users.sql": "DROP TABLE payments;"})
    forged["metadata"].pop("ownerReferences")
    kube = Namespace(_inline_run(), configmaps={CONFIGMAP: forged})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    message = _refused(kube)
    assert message.startswith(
        f"ConfigMap {CONFIGMAP} (spec.source.inline's files) already exists and is not this "
        "run's: it has no controller ownerReference."
    )
    assert kube.created == []  # no Job ever mounts the forged SQL
    assert kube.configmaps[CONFIGMAP] == forged


def test_a_configmap_the_run_controls_with_other_sql_gets_no_job() -> None:
    forged = _squatting_configmap(data={"0000_users.sql": "DROP TABLE payments;"})
    kube = Namespace(_inline_run(), configmaps={CONFIGMAP: forged})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert "its data is not this run's spec.source.inline" in _refused(kube)
    assert kube.created == []


def test_a_mutable_configmap_is_not_adopted_even_with_the_right_sql() -> None:
    kube = Namespace(_inline_run(), configmaps={CONFIGMAP: _squatting_configmap(immutable=False)})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert "it is not immutable" in _refused(kube)
    assert kube.created == []


def test_the_run_s_own_configmap_from_an_earlier_attempt_is_adopted() -> None:
    kube = Namespace(_inline_run(), configmaps={CONFIGMAP: _squatting_configmap()})
    _lifecycle(kube).start(copy.deepcopy(kube.run))
    assert [p["phase"] for p in kube.patches] == ["Running"]
    assert kube.created == [RUN_JOB]


# -- results come from the Job's own pods ------------------------------------------------


def _pod(ok: bool, *, metadata: dict[str, Any], finished: str) -> dict[str, Any]:
    outcome = Outcome(
        action="migrate",
        ok=ok,
        batch=1 if ok else None,
        migrations=(MigrationResult(name="0000_a.sql", direction="up"),) if ok else (),
        counts=Counts(total=1, applied=1 if ok else 0, pending=0 if ok else 1),
        exitCode=0 if ok else 1,
        error=None if ok else {"reason": "MigrationFailed", "message": "syntax error"},
    )
    terminated = {
        "exitCode": outcome.exitCode,
        "message": outcome.to_json(),
        "finishedAt": finished,
    }
    return {
        "metadata": metadata,
        "status": {"containerStatuses": [{"name": "migrate", "state": {"terminated": terminated}}]},
    }


def _failed_job() -> dict[str, Any]:
    job = _finished_job()
    job["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "PodFailure"}]
    return job


def test_a_pod_wearing_the_job_s_label_cannot_forge_its_result() -> None:
    real = _pod(False, metadata=owned_by_job(), finished="2026-01-01T00:00:01Z")
    forgeries = [
        _pod(True, metadata={"name": "forged"}, finished="2026-01-01T00:00:09Z"),
        _pod(True, metadata=owned_by_job("j9"), finished="2026-01-01T00:00:09Z"),
        _pod(
            True,
            metadata={
                "ownerReferences": [{"kind": "Job", "name": "r-job", "uid": "j1"}]  # no controller
            },
            finished="2026-01-01T00:00:09Z",
        ),
    ]
    kube = Namespace(_running(job_name="r-job"), pods=[real, *forgeries])
    _lifecycle(kube).job_changed(_failed_job())
    assert [p["phase"] for p in kube.patches] == ["Failed"]
    assert kube.patches[0]["error"]["reason"] == "MigrationFailed"


def test_a_forged_pod_alone_gives_no_result() -> None:
    forged = _pod(True, metadata={"name": "forged"}, finished="2026-01-01T00:00:09Z")
    kube = Namespace(_running(job_name="r-job"), pods=[forged])
    lifecycle = _lifecycle(kube)
    lifecycle.job_changed(_finished_job())
    assert kube.patches == []  # the Job's own pod, which it counts, may yet be seen
    lifecycle.result_grace_s = 0.0  # it is not: gone while no operator process watched
    lifecycle.job_changed(_finished_job())
    assert [p["phase"] for p in kube.patches] == ["Failed"]
    assert kube.patches[0]["error"]["reason"] == "JobFailed"
    assert "applied" not in kube.patches[0]
