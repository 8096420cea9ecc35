"""The Job controller's decisions, env resolution and path rewriting: pure, no processes."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any

import pytest

from kubemigrate.devcluster.kubelet import env, volumes
from kubemigrate.devcluster.kubelet.controller import (
    TRACKING_FINALIZER,
    ControllerSettings,
    format_time,
    match_pod_failure_policy,
    new_pod,
    reconcile,
)

NOW = datetime.datetime(2026, 11, 24, 12, 0, 0, tzinfo=datetime.UTC)
T0 = format_time(NOW)
FAST = ControllerSettings(backoff_base=0.0)
POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "Count", "onExitCodes": {"operator": "In", "values": [75]}},
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0, 75]}},
    ]
}


def job(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "j", "namespace": "ns", "uid": "job-uid", "resourceVersion": "1"},
        "spec": {
            "backoffLimit": 6,
            "completions": 1,
            "parallelism": 1,
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"restartPolicy": "Never"}},
            **spec,
        },
        "status": status or {},
    }


def pod(
    name: str,
    phase: str = "Running",
    *,
    exit_code: int | None = None,
    finalizer: bool = True,
    deleting: bool = False,
    conditions: list[dict[str, Any]] | None = None,
    finished: str = T0,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "ownerReferences": [{"kind": "Job", "name": "j", "uid": "job-uid", "controller": True}],
    }
    if finalizer:
        meta["finalizers"] = [TRACKING_FINALIZER]
    if deleting:
        meta["deletionTimestamp"] = T0
    state: dict[str, Any] = {"running": {"startedAt": T0}}
    if exit_code is not None:
        state = {"terminated": {"exitCode": exit_code, "finishedAt": finished}}
    status = {
        "phase": phase,
        "containerStatuses": [{"name": "migrate", "state": state}],
        "conditions": conditions or [],
    }
    return {"metadata": meta, "status": status}


def kinds(status: dict[str, Any]) -> list[str]:
    return [c["type"] for c in status.get("conditions") or []]


def test_a_new_job_gets_a_pod_and_a_start_time() -> None:
    plan = reconcile(job(), [], NOW)

    assert plan.create == 1
    assert plan.status == {
        "startTime": T0,
        "active": 1,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }


def test_new_pod_carries_labels_owner_and_tracking_finalizer() -> None:
    body = new_pod(job())

    meta = body["metadata"]
    assert meta["generateName"] == "j-"
    assert meta["labels"] == {
        "app": "x",
        "batch.kubernetes.io/job-name": "j",
        "job-name": "j",
        "batch.kubernetes.io/controller-uid": "job-uid",
        "controller-uid": "job-uid",
    }
    assert meta["finalizers"] == [TRACKING_FINALIZER]
    assert meta["ownerReferences"][0]["controller"] is True
    assert body["spec"] == {"restartPolicy": "Never"}


def test_success_is_recorded_before_finalizers_go_then_completes() -> None:
    running = job(
        {"startTime": T0, "active": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}}
    )

    plan = reconcile(running, [pod("a", "Succeeded", exit_code=0)], NOW)

    assert plan.record is not None
    assert plan.record["uncountedTerminatedPods"] == {"succeeded": ["uid-a"]}
    assert plan.remove_finalizers == ("a",)
    assert plan.status["succeeded"] == 1
    assert "active" not in plan.status
    assert kinds(plan.status) == ["SuccessCriteriaMet", "Complete"]
    assert plan.status["completionTime"] == T0
    assert plan.create == 0


def test_uncounted_pods_left_by_a_crash_are_folded_once() -> None:
    recorded = job({"startTime": T0, "uncountedTerminatedPods": {"failed": ["uid-a"]}, "failed": 1})

    plan = reconcile(recorded, [pod("a", "Failed", exit_code=75)], NOW, FAST)

    assert plan.record is None
    assert plan.remove_finalizers == ("a",)
    assert plan.status["failed"] == 2
    assert plan.status["uncountedTerminatedPods"] == {}


def test_failures_are_replaced_until_the_backoff_limit() -> None:
    status = {"startTime": T0, "failed": 1}
    retry = reconcile(job(status, backoffLimit=2), [pod("b", "Failed", exit_code=75)], NOW, FAST)
    assert retry.create == 1
    assert retry.status["failed"] == 2

    exhausted = reconcile(
        job({"startTime": T0, "failed": 2}, backoffLimit=2),
        [pod("c", "Failed", exit_code=75)],
        NOW,
        FAST,
    )
    assert exhausted.create == 0
    assert kinds(exhausted.status) == ["FailureTarget", "Failed"]
    assert exhausted.status["conditions"][1]["reason"] == "BackoffLimitExceeded"


def test_replacement_waits_for_the_exponential_backoff() -> None:
    failed_now = pod("a", "Failed", exit_code=75, finished=T0)
    plan = reconcile(job({"startTime": T0}), [failed_now], NOW, ControllerSettings(backoff_base=10))

    assert plan.create == 0
    assert plan.requeue_after == pytest.approx(10.0)
    later = reconcile(
        job({"startTime": T0, "failed": 1}),
        [pod("a", "Failed", exit_code=75, finalizer=False)],
        NOW + datetime.timedelta(seconds=11),
        ControllerSettings(backoff_base=10),
    )
    assert later.create == 1


def test_fail_job_rule_names_the_container_and_rule() -> None:
    plan = reconcile(
        job({"startTime": T0}, podFailurePolicy=POLICY), [pod("a", "Failed", exit_code=1)], NOW
    )

    failed = plan.status["conditions"][-1]
    assert (failed["type"], failed["reason"]) == ("Failed", "PodFailurePolicy")
    assert failed["message"] == (
        "Container migrate for pod ns/a failed with exit code 1 matching FailJob rule at index 2"
    )
    assert plan.status["failed"] == 1


def test_ignore_rule_releases_the_pod_without_counting_it() -> None:
    disrupted = pod(
        "a", "Failed", exit_code=137, conditions=[{"type": "DisruptionTarget", "status": "True"}]
    )

    plan = reconcile(
        job({"startTime": T0}, podFailurePolicy=POLICY, backoffLimit=0), [disrupted], NOW, FAST
    )

    assert plan.remove_finalizers == ("a",)
    assert "failed" not in plan.status
    assert plan.create == 1


def test_exit_code_zero_never_matches_not_in() -> None:
    rule = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [75]}}]}
    assert match_pod_failure_policy(rule, pod("a", "Failed", exit_code=0)) is None


def test_deadline_sets_failure_target_and_deletes_active_pods_first() -> None:
    started = format_time(NOW - datetime.timedelta(seconds=5))
    plan = reconcile(
        job({"startTime": started, "active": 1}, activeDeadlineSeconds=3), [pod("a")], NOW
    )

    assert plan.delete == ("a",)
    assert kinds(plan.status) == ["FailureTarget"], "Failed waits until no pod is left running"
    assert plan.status["conditions"][0]["reason"] == "DeadlineExceeded"
    assert plan.status["terminating"] == 1
    assert "active" not in plan.status

    gone = reconcile(job(plan.status, activeDeadlineSeconds=3), [], NOW)
    assert kinds(gone.status) == ["FailureTarget", "Failed"]


def test_deadline_in_the_future_asks_for_a_requeue() -> None:
    plan = reconcile(job({"startTime": T0, "active": 1}, activeDeadlineSeconds=30), [pod("a")], NOW)

    assert plan.requeue_after == pytest.approx(30.0)
    assert plan.create == 0
    assert plan.delete == ()


def test_terminating_pods_block_replacement_with_policy_failed() -> None:
    deleting = pod("a", deleting=True)

    waiting = reconcile(
        job({"startTime": T0}, podReplacementPolicy="Failed"), [deleting], NOW, FAST
    )
    assert waiting.create == 0
    assert waiting.status["terminating"] == 1
    assert "failed" not in waiting.status

    eager = reconcile(job({"startTime": T0}), [deleting], NOW, FAST)
    assert eager.status["failed"] == 1, "TerminatingOrFailed counts a terminating pod as failed"


def test_suspend_and_resume() -> None:
    suspended = reconcile(job({"startTime": T0, "active": 1}, suspend=True), [pod("a")], NOW)
    assert suspended.delete == ("a",)
    assert suspended.status["conditions"][0]["reason"] == "JobSuspended"
    assert "startTime" not in suspended.status

    resumed = reconcile(job(suspended.status, suspend=False), [], NOW)
    assert resumed.create == 1
    assert resumed.status["conditions"][0]["status"] == "False"
    assert resumed.status["conditions"][0]["reason"] == "JobResumed"


def test_ttl_deletes_a_finished_job_after_its_time() -> None:
    finished = {
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": T0}],
        "succeeded": 1,
    }

    early = reconcile(
        job(finished, ttlSecondsAfterFinished=60), [], NOW + datetime.timedelta(seconds=10)
    )
    assert not early.delete_job
    assert early.requeue_after == pytest.approx(50.0)
    due = reconcile(
        job(finished, ttlSecondsAfterFinished=60), [], NOW + datetime.timedelta(seconds=60)
    )
    assert due.delete_job


def test_a_steady_job_plans_no_change() -> None:
    first = reconcile(job(), [], NOW)
    again = reconcile(job(first.status), [pod("a")], NOW)

    assert again.status == first.status
    assert again.create == 0


def test_other_controllers_pods_are_ignored() -> None:
    stranger = pod("x", "Failed", exit_code=1)
    stranger["metadata"]["ownerReferences"][0]["uid"] = "other"

    plan = reconcile(job({"startTime": T0}), [stranger], NOW)

    assert plan.create == 1
    assert plan.remove_finalizers == ()


# --- env --------------------------------------------------------------------------------

POD = {"metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}}}


def test_env_precedence_expansion_and_secret_decoding() -> None:
    container = {
        "envFrom": [{"secretRef": {"name": "s"}, "prefix": "S_"}],
        "env": [
            {"name": "S_K", "value": "override"},
            {"name": "URL", "valueFrom": {"secretKeyRef": {"name": "s", "key": "K"}}},
            {"name": "REF", "value": "$(URL)/$(NOPE)$$"},
            {"name": "LABEL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}}},
        ],
    }
    secrets = {"s": {"data": {"K": base64.b64encode(b"v").decode()}}}

    resolved = env.resolve(container, POD, secrets, {})

    assert resolved == {"S_K": "override", "URL": "v", "REF": "v/$(NOPE)$", "LABEL": "b"}


def test_env_errors_use_the_kubelet_s_words() -> None:
    missing = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}]}
    with pytest.raises(env.ConfigError, match=r'^secret "db" not found$'):
        env.resolve(missing, POD, {"db": None}, {})
    with pytest.raises(env.ConfigError, match=r"^couldn't find key url in Secret ns/db$"):
        env.resolve(missing, POD, {"db": {"data": {}}}, {})
    env_from = {"envFrom": [{"configMapRef": {"name": "cfg"}}]}
    with pytest.raises(env.ConfigError, match=r'^configmap "cfg" not found$'):
        env.resolve(env_from, POD, {}, {"cfg": None})


def test_optional_refs_are_skipped() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg", "optional": True}}],
        "env": [
            {
                "name": "X",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "url", "optional": True}},
            }
        ],
    }
    assert env.resolve(container, POD, {"db": None}, {"cfg": None}) == {}


# --- volumes ------------------------------------------------------------------------------


def test_paths_are_rewritten_inside_shell_text_longest_mount_first(tmp_path: Path) -> None:
    rewrite = volumes.PathRewriter(
        {
            "/data": tmp_path / "d",
            "/data/cache": tmp_path / "c",
            "/dev/termination-log": tmp_path / "t",
        }
    )

    assert rewrite("/data/cache/x") == f"{tmp_path}/c/x"
    assert rewrite("--dir=/data") == f"--dir={tmp_path}/d"
    assert rewrite('cp -R "$S"/. /data/; echo 1 > /dev/termination-log') == (
        f'cp -R "$S"/. {tmp_path}/d/; echo 1 > {tmp_path}/t'
    )
    assert rewrite("/database /x/data /data2") == "/database /x/data /data2"


def test_config_map_volume_items_and_missing_source(tmp_path: Path) -> None:
    spec = {
        "volumes": [
            {"name": "v", "configMap": {"name": "cm", "items": [{"key": "a", "path": "sub/b"}]}}
        ]
    }

    made = volumes.materialise(spec, tmp_path, {}, {"cm": {"data": {"a": "1", "c": "2"}}})

    assert (made["v"] / "sub" / "b").read_text() == "1"
    assert not (made["v"] / "c").exists()
    with pytest.raises(env.ConfigError, match='configmap "cm" not found'):
        volumes.materialise(spec, tmp_path / "again", {}, {"cm": None})
