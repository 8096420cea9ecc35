"""What the operator keeps of Job pods deleted while they ran, and what it leaves."""

from __future__ import annotations

from typing import Any

from kubemigrate.controller.results import job_uid
from kubemigrate.controller.terminations import Terminations, stopped_by_deletion


def pod(
    uid: str = "p1",
    *,
    job: str = "j1",
    deletion: str | None = "2026-01-01T00:00:40Z",
    grace: int = 30,
    finished: str | None = "2026-01-01T00:00:12Z",
    controller: bool = True,
) -> dict[str, Any]:
    """A Job pod; by default its deletion was asked for at 00:00:10 and it ended at 00:00:12."""
    state: dict[str, Any] = (
        {"terminated": {"exitCode": 130, "message": "{}", "finishedAt": finished}}
        if finished
        else {"running": {}}
    )
    meta: dict[str, Any] = {
        "name": f"job-{uid}",
        "namespace": "ns",
        "uid": uid,
        "labels": {"job-name": "job"},
        "annotations": {"a": "b" * 1000},
        "ownerReferences": [{"kind": "Job", "name": "job", "uid": job, "controller": controller}],
    }
    if deletion:
        meta |= {"deletionTimestamp": deletion, "deletionGracePeriodSeconds": grace}
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "migrate", "env": [{"name": "X", "value": "y"}]}]},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "migrate", "state": state}]},
    }


def test_a_pod_stopped_by_its_deletion_is_kept_trimmed_under_its_job() -> None:
    kept = Terminations()
    assert kept.saw(pod()) == "j1"
    (only,) = kept.pods("j1")
    assert only["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 130
    assert only["metadata"]["ownerReferences"][0]["uid"] == "j1"  # results.pods_of checks it
    assert "spec" not in only  # the env (a URL, maybe) is not what a report reads
    assert "annotations" not in only["metadata"]


def test_the_latest_state_of_a_pod_replaces_the_one_before() -> None:
    kept = Terminations()
    kept.saw(pod(finished=None))  # marked for deletion, still running
    kept.saw(pod(), deleted=True)
    (only,) = kept.pods("j1")
    assert "terminated" in only["status"]["containerStatuses"][0]["state"]


def test_pods_not_stopped_by_a_deletion_are_not_kept() -> None:
    kept = Terminations()
    assert kept.saw(pod(deletion=None)) is None  # it lists like any other pod
    # ended a minute before its deletion (a collection) was asked for at 00:00:10
    assert kept.saw(pod(finished="2025-12-31T23:59:10Z")) is None
    assert kept.saw(pod(controller=False)) is None  # a mere ownerReference is anyone's
    assert len(kept) == 0


def test_the_kubelet_s_last_delete_moves_the_stamp_back_to_the_request() -> None:
    """Its grace of 0 moves deletionTimestamp by the difference: still when it was asked."""
    assert stopped_by_deletion(pod(deletion="2026-01-01T00:00:10Z", grace=0))
    assert stopped_by_deletion(pod(finished="2026-01-01T00:00:10Z"))  # in that very second
    assert stopped_by_deletion(pod(finished="2026-01-01T00:00:07Z"))  # a node's clock behind
    assert stopped_by_deletion(pod(finished=None))  # still stopping
    assert not stopped_by_deletion(pod(deletion=None, finished=None))
    assert stopped_by_deletion(pod(deletion=None), deleted=True)


def test_a_pod_deleted_before_it_started_is_kept() -> None:
    """Its waiting state is what tells the report the database was not touched."""
    waiting = pod()
    waiting["status"] = {"phase": "Pending"}
    assert Terminations().saw(waiting) == "j1"


def test_memory_is_bounded_by_jobs_and_by_pods_per_job() -> None:
    kept = Terminations(max_jobs=2, max_pods=2)
    for job in ("j1", "j2", "j3"):
        kept.saw(pod(job=job))
    assert (kept.pods("j1"), len(kept)) == ([], 2)  # the least recently seen went
    for uid in ("p1", "p2", "p3"):
        kept.saw(pod(uid, job="j2"))
    assert [p["metadata"]["uid"] for p in kept.pods("j2")] == ["p2", "p3"]


def test_a_job_is_forgotten_once_reported() -> None:
    kept = Terminations()
    kept.saw(pod())
    kept.forget("j1")
    assert kept.pods("j1") == []
    kept.forget("j1")  # twice is fine: a report and the Job's deletion


def test_only_a_controlling_job_owns_a_pod() -> None:
    assert job_uid(pod()) == "j1"
    assert job_uid(pod(controller=False)) is None
    assert job_uid({"metadata": {}}) is None
