"""The kubelet's part in graceful deletion: SIGTERM, the grace period, SIGKILL, removal.

This module's node caps the grace period at 30 s (the others cap it at 1 s), so a
Pod that ignores SIGTERM stays Terminating for as long as the API says: each test
waits, with a deadline well under 30 s, for what a shorter grace period must bring.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubemigrate.devcluster.apiserver import ApiServerProcess
from kubemigrate.devcluster.kubelet import KubeletProcess
from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_kubelet import (
    KUBEMIGRATE_POLICY,
    condition,
    create,
    get_job,
    job_body,
    pods_of,
    process_alive,
    wait_for,
)

# A container that notes SIGTERM in its working directory and goes on running.
STUBBORN = ["sh", "-c", "trap 'touch \"$HOME/got-term\"' TERM; while :; do sleep 0.1; done"]
# A container that stops on SIGTERM, leaving its termination message.
POLITE = [
    "sh",
    "-c",
    "trap 'echo got TERM > /dev/termination-log; exit 0' TERM; while :; do sleep 0.1; done",
]
# The engine on SIGTERM: its result in the termination message, exit 130.
INTERRUPTED = [
    "sh",
    "-c",
    "trap 'echo result > /dev/termination-log; exit 130' TERM; while :; do sleep 0.1; done",
]


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess) -> Iterator[KubeletProcess]:
    with KubeletProcess(
        apiserver.kubeconfig, backoff_base=0.2, max_grace=30.0, retry_interval=0.2
    ) as node:
        yield node


def pods(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/pods"
    return f"{base}/{name}" if name else base


def pod_body(name: str, command: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox:1", "command": command}],
        },
    }


def running(api: Http, namespace: str, name: str) -> dict[str, Any] | None:
    reply = api.get(pods(namespace, name))
    phase = reply.body.get("status", {}).get("phase") if reply.status == 200 else None
    return reply.body if phase == "Running" else None


def got_term(kubelet: KubeletProcess, pod: dict[str, Any]) -> bool:
    meta = pod["metadata"]
    pod_dir = kubelet.workdir / "pods" / f"{meta['namespace']}_{meta['name']}_{meta['uid']}"
    return any(Path(pod_dir, "cwd").glob("*/got-term"))  # whatever the container's name


def terminated(event: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = event["object"]["status"]["containerStatuses"][0]["state"]
    return state.get("terminated") or {}


def test_a_deleted_pod_is_stopped_then_removed_by_its_kubelet(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "pods", pod_body("polite", POLITE))
    wait_for(lambda: running(api, namespace, "polite"), "the pod to run")

    reply = api.delete(pods(namespace, "polite"))

    assert reply.status == 200
    marked = reply.body["metadata"]
    assert marked["deletionGracePeriodSeconds"] == 30
    events = api.watch_until(
        pods(namespace),
        {"resourceVersion": marked["resourceVersion"], "fieldSelector": "metadata.name=polite"},
        lambda e: e["type"] == "DELETED",
    )
    final = [e for e in events if e["type"] == "MODIFIED" and terminated(e)][-1]
    # SIGTERM reached the container, whose own exit became the status...
    assert terminated(final)["exitCode"] == 0
    assert terminated(final)["message"] == "got TERM\n"
    assert final["object"]["status"]["phase"] == "Succeeded"
    # ... which was written before the kubelet deleted the Pod with no grace left.
    assert events[-1]["object"]["metadata"]["deletionGracePeriodSeconds"] == 0


def test_a_container_ignoring_sigterm_is_killed_when_the_api_s_grace_ends(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    pod = create(api, namespace, "pods", pod_body("stubborn", STUBBORN))
    wait_for(lambda: running(api, namespace, "stubborn"), "the pod to run")

    reply = api.delete(pods(namespace, "stubborn"), {"gracePeriodSeconds": 1})

    events = api.watch_until(
        pods(namespace),
        {
            "resourceVersion": reply.body["metadata"]["resourceVersion"],
            "fieldSelector": "metadata.name=stubborn",
        },
        lambda e: e["type"] == "DELETED",
        timeout=15.0,  # the spec's 30 s would end this first
    )
    final = [e for e in events if e["type"] == "MODIFIED" and terminated(e)][-1]
    assert got_term(kubelet, pod)
    assert terminated(final)["exitCode"] == 137  # SIGKILL
    assert final["object"]["status"]["phase"] == "Failed"


def test_a_job_counts_its_terminating_pod_until_a_shorter_delete_ends_it(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "jobs", job_body("held", STUBBORN, backoffLimit=0))
    pod = wait_for(
        lambda: next(
            (p for p in pods_of(api, namespace, "held") if p["status"].get("phase") == "Running"),
            None,
        ),
        "the job's pod to run",
    )
    name = pod["metadata"]["name"]

    api.delete(pods(namespace, name))  # the spec's 30 s
    wait_for(lambda: got_term(kubelet, pod), "SIGTERM to reach the container")
    job = wait_for(
        lambda: (
            (found := get_job(api, namespace, "held"))
            and found["status"].get("terminating") == 1
            and found
        ),
        "the job to count its terminating pod",
    )
    # Its one failure decided the Job, which is not Failed while the pod still runs.
    assert condition(job, "FailureTarget") is not None
    assert condition(job, "Failed") is None

    shorter = api.delete(pods(namespace, name), {"gracePeriodSeconds": 1})
    assert shorter.body["metadata"]["deletionGracePeriodSeconds"] == 1

    done = wait_for(
        lambda: (found := get_job(api, namespace, "held")) and condition(found, "Failed") and found,
        "the job to fail once its pod is gone",
        timeout=15.0,  # the first DELETE's 30 s would end this first
    )
    assert done["status"].get("terminating", 0) == 0
    wait_for(lambda: not pods_of(api, namespace, "held"), "the pod to be removed")
    assert not process_alive(pod)


def test_a_deleted_job_s_pods_are_collected_gracefully(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "jobs", job_body("dropped", STUBBORN))
    pod = wait_for(
        lambda: next(
            (
                p
                for p in pods_of(api, namespace, "dropped")
                if p["status"].get("phase") == "Running"
            ),
            None,
        ),
        "the job's pod to run",
    )
    name = pod["metadata"]["name"]

    jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    assert api.delete(f"{jobs}/dropped", {"propagationPolicy": "Background"}).status == 200

    wait_for(lambda: got_term(kubelet, pod), "the collector's delete to reach the container")
    marked = api.get(pods(namespace, name))
    assert marked.status == 200  # still terminating: the collector gave it the default grace
    assert marked.body["metadata"]["deletionGracePeriodSeconds"] == 30
    api.delete(pods(namespace, name), {"gracePeriodSeconds": 0})  # a forced delete
    wait_for(lambda: api.get(pods(namespace, name)).status == 404, "the pod to go")
    wait_for(lambda: not process_alive(pod), "the process to die", timeout=15.0)


def test_a_job_past_its_deadline_shows_its_pod_s_end_before_it_fails(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    """At the deadline the Job controller deletes its running Pod; the watch shows the
    Pod's terminated state (its termination message) while it is marked for deletion,
    then DELETED with that state. The Job is Failed only after that end (FailureTarget
    first), when the Pod may already be gone: the operator reads a run's result from
    these events, as it must on a real cluster."""
    job = job_body(
        "late",
        INTERRUPTED,
        activeDeadlineSeconds=2,
        podReplacementPolicy="Failed",
        podFailurePolicy=KUBEMIGRATE_POLICY,
    )
    created = create(api, namespace, "jobs", job)
    since = {"resourceVersion": created["metadata"]["resourceVersion"]}

    pod_events = api.watch_until(pods(namespace), since, lambda e: e["type"] == "DELETED")
    job_events = api.watch_until(
        f"/apis/batch/v1/namespaces/{namespace}/jobs",
        since,
        lambda e: condition(e["object"], "Failed") is not None,
    )

    ended = [
        e
        for e in pod_events
        if e["type"] == "MODIFIED"
        and e["object"]["status"].get("containerStatuses")
        and terminated(e)
    ]
    first = ended[0]
    assert first["object"]["metadata"]["deletionTimestamp"]  # stopped by its deletion
    assert (terminated(first)["exitCode"], terminated(first)["message"]) == (130, "result\n")
    assert terminated(pod_events[-1])["message"] == "result\n"  # DELETED: the final state
    target = next(e for e in job_events if condition(e["object"], "FailureTarget"))
    assert condition(target["object"], "Failed") is None
    decided = condition(target["object"], "FailureTarget")
    assert decided is not None
    assert decided["reason"] == "DeadlineExceeded"
    # The emulator's resourceVersions are one counter, as etcd's revision is: the Job
    # was Failed after the Pod's end was written (whether or not the Pod is gone yet).
    failed = job_events[-1]["object"]["metadata"]["resourceVersion"]
    assert int(failed) > int(first["object"]["metadata"]["resourceVersion"])
