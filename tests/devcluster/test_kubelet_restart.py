"""The kubelet stand-in across its own restarts: a crash, and a graceful shutdown.

Each test starts and stops its own kubelet (the module's emulator is shared), so it
lives apart from test_kubelet.py, whose kubelet runs for the whole module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubemigrate.devcluster.apiserver import ApiServerProcess
from kubemigrate.devcluster.kubelet import KubeletProcess
from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_kubelet import (
    KUBEMIGRATE_POLICY,
    condition,
    create,
    job_body,
    main_state,
    pods_of,
    process_alive,
    running_pod,
    wait_finished,
    wait_for,
)


def start(apiserver: ApiServerProcess, workdir: Path) -> KubeletProcess:
    node = KubeletProcess(apiserver.kubeconfig, workdir=workdir, backoff_base=0.2, max_grace=1.0)
    node.start()
    return node


def second_run_succeeds(marker: Path) -> list[str]:
    """Sleeps the first time (to be interrupted), succeeds the second."""
    return ["sh", "-c", f'if [ -e "{marker}" ]; then exit 0; fi; touch "{marker}"; sleep 30']


def condition_of(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in pod["status"]["conditions"] if c["type"] == kind]
    assert len(found) == 1, found
    return found[0]


def test_a_crashed_kubelet_s_pods_fail_like_on_a_lost_node(
    apiserver: ApiServerProcess, api: Http, namespace: str, tmp_path: Path
) -> None:
    workdir = tmp_path / "node"
    first = start(apiserver, workdir)
    try:
        create(
            api,
            namespace,
            "jobs",
            job_body("crash", second_run_succeeds(tmp_path / "mark"), backoffLimit=1),
        )
        pod = wait_for(lambda: running_pod(api, namespace, "crash"), "the pod to run")
    finally:
        first.kill()  # SIGKILL: no shutdown, the container process is left running
    assert process_alive(pod)

    second = start(apiserver, workdir)
    try:
        done = wait_finished(api, namespace, "crash")
    finally:
        second.close()

    assert condition(done, "Complete"), done["status"]
    assert (done["status"]["failed"], done["status"]["succeeded"]) == (1, 1)
    pods = pods_of(api, namespace, "crash")
    [lost] = [p for p in pods if p["metadata"]["uid"] == pod["metadata"]["uid"]]
    [replacement] = [p for p in pods if p is not lost]
    assert lost["status"]["phase"] == "Failed"
    disruption = condition_of(lost, "DisruptionTarget")
    assert (disruption["status"], disruption["reason"]) == ("True", "DeletionByPodGC")
    terminated = main_state(lost)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "ContainerStatusUnknown")
    assert replacement["status"]["phase"] == "Succeeded"
    assert not process_alive(pod), "the restarted kubelet kills what the crashed one left"


def test_graceful_shutdown_is_a_disruption_that_the_policy_ignores(
    apiserver: ApiServerProcess, api: Http, namespace: str, tmp_path: Path
) -> None:
    workdir = tmp_path / "node"
    body = job_body(
        "drained",
        second_run_succeeds(tmp_path / "mark"),
        backoffLimit=0,
        podReplacementPolicy="Failed",
        podFailurePolicy=KUBEMIGRATE_POLICY,
    )
    first = start(apiserver, workdir)
    try:
        create(api, namespace, "jobs", body)
        pod = wait_for(lambda: running_pod(api, namespace, "drained"), "the pod to run")
    finally:
        first.stop()  # SIGTERM: a graceful node shutdown

    [stopped] = pods_of(api, namespace, "drained")
    assert stopped["status"]["phase"] == "Failed"
    assert stopped["status"]["reason"] == "Terminated"
    assert condition_of(stopped, "DisruptionTarget")["reason"] == "TerminationByKubelet"
    assert main_state(stopped)["terminated"]["exitCode"] in (143, 137)
    assert not process_alive(pod)

    second = start(apiserver, workdir)
    try:
        done = wait_finished(api, namespace, "drained")
    finally:
        second.close()

    assert condition(done, "Complete"), done["status"]
    assert "failed" not in done["status"], (
        "an Ignore rule on DisruptionTarget does not count the failure"
    )
    assert done["status"]["succeeded"] == 1
