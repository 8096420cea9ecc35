"""The kubelet stand-in against the real emulator: Jobs in, Pod and Job status out.

One emulator and one kubelet process per module; each test has its own namespace.
Every wait is for a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubemigrate.devcluster.apiserver import ApiServerProcess
from kubemigrate.devcluster.kubelet import KubeletProcess
from tests.devcluster.devcluster_http import Http

T = TypeVar("T")
TEMPORARY = 75  # the engine's EX_TEMPFAIL
KUBEMIGRATE_POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "Count", "onExitCodes": {"operator": "In", "values": [TEMPORARY]}},
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0, TEMPORARY]}},
    ]
}


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess) -> Iterator[KubeletProcess]:
    with KubeletProcess(
        apiserver.kubeconfig, backoff_base=0.2, max_grace=1.0, retry_interval=0.2
    ) as node:
        yield node


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def job_body(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    pod_spec = spec.pop("pod", {})
    container = {
        "name": "migrate",
        "image": "kubemigrate:dev",
        "command": command,
        **spec.pop("container", {}),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            **spec,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"restartPolicy": "Never", "containers": [container], **pod_spec},
            },
        },
    }


def create(api: Http, namespace: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    group = "/apis/batch/v1" if plural == "jobs" else "/api/v1"
    reply = api.post(f"{group}/namespaces/{namespace}/{plural}", body)
    assert reply.status == 201, reply.body
    result: dict[str, Any] = reply.body
    return result


def get_job(api: Http, namespace: str, name: str) -> dict[str, Any] | None:
    reply = api.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
    return reply.body if reply.status == 200 else None


def pods_of(api: Http, namespace: str, job: str) -> list[dict[str, Any]]:
    reply = api.get(
        f"/api/v1/namespaces/{namespace}/pods",
        query={"labelSelector": f"batch.kubernetes.io/job-name={job}"},
    )
    assert reply.status == 200, reply.body
    items: list[dict[str, Any]] = reply.body["items"]
    return sorted(items, key=lambda p: p["metadata"]["creationTimestamp"])


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for found in ((obj or {}).get("status") or {}).get("conditions") or []:
        if found["type"] == kind and found["status"] == "True":
            result: dict[str, Any] = found
            return result
    return None


def wait_finished(api: Http, namespace: str, name: str, timeout: float = 30.0) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job = get_job(api, namespace, name)
        return job if condition(job, "Complete") or condition(job, "Failed") else None

    return wait_for(probe, f"job {name} to finish", timeout)


def types(job: dict[str, Any]) -> list[str]:
    return [c["type"] for c in job["status"].get("conditions") or []]


def main_state(pod: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = pod["status"]["containerStatuses"][0]["state"]
    return state


def test_success_writes_termination_message_and_status(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    script = 'echo working; echo "{\\"ok\\":true}" > /dev/termination-log; exit 0'
    job = create(api, namespace, "jobs", job_body("ok", ["sh", "-c", script]))

    done = wait_finished(api, namespace, "ok")

    status = done["status"]
    assert types(done) == ["SuccessCriteriaMet", "Complete"]
    assert condition(done, "Complete")["reason"] == "CompletionsReached"  # type: ignore[index]
    assert status["succeeded"] == 1
    assert "failed" not in status
    assert "active" not in status
    assert status["ready"] == 0
    assert status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert status["startTime"]
    assert status["completionTime"]
    [pod] = pods_of(api, namespace, "ok")
    meta = pod["metadata"]
    assert meta["name"].startswith("ok-")
    assert len(meta["name"]) == len("ok-") + 5
    uid = job["metadata"]["uid"]
    assert meta["labels"] == {
        "app": "ok",
        "batch.kubernetes.io/job-name": "ok",
        "job-name": "ok",
        "batch.kubernetes.io/controller-uid": uid,
        "controller-uid": uid,
    }
    [owner] = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Job",
        "ok",
        uid,
        True,
    )
    assert not meta.get("finalizers"), "the tracking finalizer is removed once the Pod is counted"
    assert pod["status"]["phase"] == "Succeeded"
    terminated = main_state(pod)["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert json.loads(terminated["message"]) == {"ok": True}
    assert terminated["startedAt"]
    assert terminated["finishedAt"]
    conditions = {c["type"]: c for c in pod["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "PodCompleted"
    assert conditions["PodScheduled"]["status"] == "True"
    assert conditions["Initialized"]["status"] == "True"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    assert kubelet.logs(namespace, meta["name"]) == "working\n"


def test_containers_run_in_the_background_of_the_node_s_own_processes(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    """Pods yield the CPU to the kubelet, API server and operator (kube-reserved CPU):
    in an idle cpu cgroup where cgroups can be written, else at nice 19, SCHED_IDLE."""
    # The kubelet moves the process just after the spawn: the shell waits for it.
    # /proc/PID/stat: field 19 is the nice value, field 41 the policy (5 = SCHED_IDLE).
    script = (
        "for i in $(seq 200); do "
        "if grep -q kubemigrate-devcluster-pods /proc/self/cgroup; then n=cgroup; break; fi; "
        "n=$(awk '{print $19, $41}' /proc/self/stat); "
        '[ "$n" = "19 5" ] && break; sleep 0.05; done; echo "$n"'
    )
    create(api, namespace, "jobs", job_body("nice", ["sh", "-c", script]))
    wait_finished(api, namespace, "nice")
    [pod] = pods_of(api, namespace, "nice")
    expected = "cgroup" if _cgroups_writable() else "19 5"
    assert kubelet.logs(namespace, pod["metadata"]["name"]) == expected + "\n"


def _cgroups_writable() -> bool:
    return os.geteuid() == 0 and any(
        (root / "cgroup.procs").exists()
        for root in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup"))
    )


def test_temporary_failures_are_retried_until_backoff_limit(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    body = job_body(
        "retry",
        ["sh", "-c", f"exit {TEMPORARY}"],
        backoffLimit=2,
        podReplacementPolicy="Failed",
        podFailurePolicy=KUBEMIGRATE_POLICY,
    )
    create(api, namespace, "jobs", body)

    done = wait_finished(api, namespace, "retry")

    assert types(done) == ["FailureTarget", "Failed"]
    failed = condition(done, "Failed")
    assert failed is not None
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert done["status"]["failed"] == 3
    assert "succeeded" not in done["status"]
    assert "completionTime" not in done["status"]
    pods = pods_of(api, namespace, "retry")
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        assert main_state(pod)["terminated"]["exitCode"] == TEMPORARY
        assert main_state(pod)["terminated"]["reason"] == "Error"


def test_fail_job_rule_fails_at_once(api: Http, kubelet: KubeletProcess, namespace: str) -> None:
    body = job_body(
        "broken",
        ["sh", "-c", "exit 1"],
        backoffLimit=6,
        podReplacementPolicy="Failed",
        podFailurePolicy=KUBEMIGRATE_POLICY,
    )
    create(api, namespace, "jobs", body)

    done = wait_finished(api, namespace, "broken")

    [pod] = pods_of(api, namespace, "broken")
    failed = condition(done, "Failed")
    assert failed is not None
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"] == (
        f"Container migrate for pod {namespace}/{pod['metadata']['name']} failed with exit code 1 "
        "matching FailJob rule at index 2"
    )
    assert condition(done, "FailureTarget")["message"] == failed["message"]  # type: ignore[index]
    assert done["status"]["failed"] == 1


def test_missing_secret_blocks_the_container_until_it_exists(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    env = [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}]
    script = 'printf "%s" "$DATABASE_URL" > /dev/termination-log'
    create(
        api,
        namespace,
        "jobs",
        job_body("needs-secret", ["sh", "-c", script], container={"env": env}),
    )

    def waiting() -> dict[str, Any] | None:
        pods = pods_of(api, namespace, "needs-secret")
        statuses = (pods[0].get("status") or {}).get("containerStatuses") if pods else None
        state = statuses[0]["state"] if statuses else {}
        return (
            pods[0]
            if state.get("waiting", {}).get("reason") == "CreateContainerConfigError"
            else None
        )

    pod = wait_for(waiting, "CreateContainerConfigError")
    assert main_state(pod)["waiting"]["message"] == 'secret "db" not found'
    assert pod["status"]["phase"] == "Pending"
    job = get_job(api, namespace, "needs-secret")
    assert job is not None
    assert job["status"]["active"] == 1
    assert not condition(job, "Complete")

    secret = {
        "metadata": {"name": "db"},
        "data": {"url": base64.b64encode(b"postgresql://x/y").decode()},
    }
    create(api, namespace, "secrets", secret)
    done = wait_finished(api, namespace, "needs-secret")

    assert condition(done, "Complete")
    [pod] = pods_of(api, namespace, "needs-secret")
    assert main_state(pod)["terminated"]["message"] == "postgresql://x/y"


def test_missing_key_and_optional_refs(api: Http, kubelet: KubeletProcess, namespace: str) -> None:
    create(
        api, namespace, "configmaps", {"metadata": {"name": "cfg"}, "data": {"A": "1", "B": "2"}}
    )
    env = [
        {
            "name": "OPT",
            "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}},
        },
        {"name": "MISSING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "C"}}},
    ]
    create(api, namespace, "jobs", job_body("key", ["true"], container={"env": env}))

    def message() -> str | None:
        pods = pods_of(api, namespace, "key")
        statuses = (pods[0].get("status") or {}).get("containerStatuses") if pods else None
        waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
        return (
            waiting.get("message")
            if waiting.get("reason") == "CreateContainerConfigError"
            else None
        )

    assert wait_for(message, "a missing key") == f"couldn't find key C in ConfigMap {namespace}/cfg"


def test_env_from_field_ref_and_expansion(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "configmaps", {"metadata": {"name": "cfg"}, "data": {"A": "1"}})
    secret = {"metadata": {"name": "s"}, "data": {"B": base64.b64encode(b"two").decode()}}
    create(api, namespace, "secrets", secret)
    container = {
        "envFrom": [
            {"configMapRef": {"name": "cfg"}, "prefix": "CM_"},
            {"secretRef": {"name": "s"}},
        ],
        "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "BOTH", "value": "$(CM_A)-$(B)-$$(B)"},
        ],
    }
    script = (
        'printf "%s|%s|%s|%s" "$CM_A" "$B" "$NS" "$BOTH" > /dev/termination-log; printf "%s" "$POD"'
    )
    create(api, namespace, "jobs", job_body("env", ["sh", "-c", script], container=container))

    wait_finished(api, namespace, "env")

    [pod] = pods_of(api, namespace, "env")
    assert main_state(pod)["terminated"]["message"] == f"1|two|{namespace}|1-two-$(B)"
    assert kubelet.logs(namespace, pod["metadata"]["name"]) == pod["metadata"]["name"]


def test_config_map_volume_is_readable(api: Http, kubelet: KubeletProcess, namespace: str) -> None:
    data = {"0001_init.sql": "CREATE TABLE t (id int);\n", "skip.txt": "no"}
    create(api, namespace, "configmaps", {"metadata": {"name": "migrations"}, "data": data})
    pod_spec = {
        "volumes": [
            {"name": "all", "configMap": {"name": "migrations"}},
            {
                "name": "some",
                "configMap": {
                    "name": "migrations",
                    "items": [{"key": "0001_init.sql", "path": "x/a.sql"}],
                },
            },
        ]
    }
    container = {
        "volumeMounts": [
            {"name": "all", "mountPath": "/migrations"},
            {"name": "some", "mountPath": "/some"},
        ]
    }
    script = "cat /migrations/0001_init.sql; ls /some/x; test ! -e /some/skip.txt"
    create(
        api,
        namespace,
        "jobs",
        job_body("cm", ["sh", "-c", script], pod=pod_spec, container=container),
    )

    done = wait_finished(api, namespace, "cm")

    assert condition(done, "Complete"), done["status"]
    [pod] = pods_of(api, namespace, "cm")
    assert kubelet.logs(namespace, pod["metadata"]["name"]) == "CREATE TABLE t (id int);\na.sql\n"


def test_init_container_copies_into_empty_dir(
    api: Http, kubelet: KubeletProcess, namespace: str, tmp_path: Path
) -> None:
    source = tmp_path / "image-migrations"
    source.mkdir()
    (source / "0001_a.sql").write_text("SELECT 1;\n")
    init = {
        "name": "fetch-migrations",
        "image": "app:1",
        "command": ["sh", "-c", 'cp -R "$SRC"/. /migrations/'],
        "env": [{"name": "SRC", "value": str(source)}],
        "volumeMounts": [{"name": "migrations", "mountPath": "/migrations"}],
    }
    pod_spec = {"initContainers": [init], "volumes": [{"name": "migrations", "emptyDir": {}}]}
    container = {
        "volumeMounts": [{"name": "migrations", "mountPath": "/migrations", "readOnly": True}]
    }
    create(
        api,
        namespace,
        "jobs",
        job_body("init", ["cat", "/migrations/0001_a.sql"], pod=pod_spec, container=container),
    )

    done = wait_finished(api, namespace, "init")

    assert condition(done, "Complete"), done["status"]
    [pod] = pods_of(api, namespace, "init")
    [init_status] = pod["status"]["initContainerStatuses"]
    assert init_status["name"] == "fetch-migrations"
    assert init_status["state"]["terminated"]["reason"] == "Completed"
    assert kubelet.logs(namespace, pod["metadata"]["name"], "migrate") == "SELECT 1;\n"
    assert not (Path("/migrations") / "0001_a.sql").exists(), (
        "the copy must land in the emptyDir, not on /"
    )


def test_a_termination_message_names_the_container_s_paths(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    script = "ls /migrations/missing.sql 2> /dev/termination-log; exit 1"
    pod_spec = {"volumes": [{"name": "migrations", "emptyDir": {}}]}
    container = {"volumeMounts": [{"name": "migrations", "mountPath": "/migrations"}]}
    create(
        api,
        namespace,
        "jobs",
        job_body("paths", ["sh", "-c", script], pod=pod_spec, container=container),
    )

    wait_finished(api, namespace, "paths")

    [pod] = pods_of(api, namespace, "paths")
    message = main_state(pod)["terminated"]["message"]
    # a real container's message names /migrations, never the node's directory
    assert "'/migrations/missing.sql'" in message or " /migrations/missing.sql" in message
    assert str(kubelet.workdir) not in message


def test_a_long_termination_message_keeps_its_last_4096_bytes(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    # 5000 bytes: "head" then 4992 x's then "tail", as the kubelet's tail.ReadAtMost
    script = (
        "{ printf head; head -c 4992 /dev/zero | tr '\\0' x; printf tail; } > /dev/termination-log"
    )
    create(api, namespace, "jobs", job_body("long-message", ["sh", "-c", script]))

    wait_finished(api, namespace, "long-message")

    [pod] = pods_of(api, namespace, "long-message")
    message = main_state(pod)["terminated"]["message"]
    assert len(message) == 4096
    assert message == "x" * 4092 + "tail"


def test_failed_init_container_fails_the_pod(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    init = {
        "name": "setup",
        "image": "x",
        "command": ["sh", "-c", "echo nope; exit 3"],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    create(api, namespace, "jobs", job_body("bad-init", ["true"], pod={"initContainers": [init]}))

    done = wait_finished(api, namespace, "bad-init")

    assert condition(done, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    [pod] = pods_of(api, namespace, "bad-init")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["initContainerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["message"]) == (3, "nope\n")
    assert main_state(pod)["waiting"]["reason"] == "PodInitializing"


def test_fallback_to_logs_on_error(api: Http, kubelet: KubeletProcess, namespace: str) -> None:
    script = "for i in $(seq 1 100); do echo line $i; done; exit 4"
    container = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    create(api, namespace, "jobs", job_body("logs", ["sh", "-c", script], container=container))

    wait_finished(api, namespace, "logs")

    [pod] = pods_of(api, namespace, "logs")
    message = main_state(pod)["terminated"]["message"]
    assert message.splitlines() == [f"line {i}" for i in range(21, 101)]


def test_missing_command_on_host_is_a_start_error(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "jobs", job_body("nocmd", ["definitely-not-a-command-here"]))

    wait_finished(api, namespace, "nocmd")

    [pod] = pods_of(api, namespace, "nocmd")
    terminated = main_state(pod)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert "executable file not found in $PATH" in terminated["message"]


def test_active_deadline_kills_the_process(
    api: Http, kubelet: KubeletProcess, namespace: str, tmp_path: Path
) -> None:
    # The process leaves its pid behind, so the test does not have to catch its Pod
    # Running inside the deadline (a busy machine can take longer than that to look).
    pid_file = tmp_path / "pid"
    body = job_body(
        "slow",
        ["sh", "-c", f"echo $$$$ > {pid_file}; exec sleep 30"],  # $$ is a kubelet's escape of $
        activeDeadlineSeconds=2,
        backoffLimit=3,
        podReplacementPolicy="Failed",
    )
    create(api, namespace, "jobs", body)
    pid = wait_for(lambda: pid_file.read_text().strip() if pid_file.exists() else None, "its pid")

    done = wait_finished(api, namespace, "slow")

    assert types(done) == ["FailureTarget", "Failed"]
    failed = condition(done, "Failed")
    assert failed is not None
    assert failed["reason"] == "DeadlineExceeded"
    assert failed["message"] == "Job was active longer than specified deadline"
    status = done["status"]
    assert status.get("active", 0) == 0
    assert status["terminating"] == 0
    assert status["failed"] == 1
    assert not pid_alive(int(pid))
    # The controller deleted the Job's active Pod; its kubelet removes it once stopped,
    # which may come after the Job's Failed condition (as on a real cluster).
    wait_for(lambda: not pods_of(api, namespace, "slow"), "the pod to be removed")


def running_pod(api: Http, namespace: str, job: str) -> dict[str, Any] | None:
    pods = pods_of(api, namespace, job)
    return pods[0] if pods and pods[0].get("status", {}).get("phase") == "Running" else None


def process_alive(pod: dict[str, Any]) -> bool:
    container_id = pod["status"]["containerStatuses"][0].get("containerID", "")
    return pid_alive(int(container_id.rsplit("/", 1)[-1]))


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting for its parent to reap it, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_deleting_the_job_stops_its_process(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "jobs", job_body("doomed", ["sleep", "30"]))

    pod = wait_for(lambda: running_pod(api, namespace, "doomed"), "the pod to run")
    reply = api.request(
        "DELETE",
        f"/apis/batch/v1/namespaces/{namespace}/jobs/doomed",
        {"propagationPolicy": "Background"},
    )
    assert reply.status == 200, reply.body

    wait_for(lambda: not pods_of(api, namespace, "doomed"), "the pods to go")
    wait_for(lambda: not process_alive(pod), "the process to die")


def test_ttl_deletes_the_finished_job_and_its_pods(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "jobs", job_body("short-lived", ["true"], ttlSecondsAfterFinished=0))

    wait_for(lambda: get_job(api, namespace, "short-lived") is None, "the TTL to delete the job")
    wait_for(lambda: not pods_of(api, namespace, "short-lived"), "the pods to go")


def test_suspended_job_starts_when_resumed(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "jobs", job_body("later", ["true"], suspend=True))

    suspended = wait_for(
        lambda: condition(get_job(api, namespace, "later"), "Suspended"), "Suspended"
    )
    assert suspended["reason"] == "JobSuspended"
    assert not pods_of(api, namespace, "later")
    job = get_job(api, namespace, "later")
    assert job is not None
    assert "startTime" not in job["status"]

    reply = api.request(
        "PATCH",
        f"/apis/batch/v1/namespaces/{namespace}/jobs/later",
        {"spec": {"suspend": False}},
        content_type="application/merge-patch+json",
    )
    assert reply.status == 200, reply.body
    done = wait_finished(api, namespace, "later")

    assert condition(done, "Complete")
    resumed = [c for c in done["status"]["conditions"] if c["type"] == "Suspended"]
    assert resumed[0]["status"] == "False"
    assert resumed[0]["reason"] == "JobResumed"


def test_many_jobs_at_once(api: Http, kubelet: KubeletProcess, namespace: str) -> None:
    names = [f"bulk-{i}" for i in range(50)]
    for name in names:
        create(
            api,
            namespace,
            "jobs",
            job_body(name, ["sh", "-c", "sleep 0.2; echo done > /dev/termination-log"]),
        )

    def all_done() -> bool:
        reply = api.get(f"/apis/batch/v1/namespaces/{namespace}/jobs")
        return sum(1 for job in reply.body["items"] if condition(job, "Complete")) == len(names)

    wait_for(all_done, "50 jobs to complete", timeout=120)
