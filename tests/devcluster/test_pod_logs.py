"""``pods/<name>/log`` served from the kubelet stand-in's files, as the real apiserver serves it.

The expected codes and messages are the real ones, from the Kubernetes source:
``validateContainer`` (pkg/registry/core/pod/strategy.go), the kubelet's
``validateContainerLogStatus`` (pkg/kubelet/kubelet_pods.go, its errors passed on as
400 BadRequest by the apiserver's ``GenericHttpResponseChecker``) and
``ValidatePodLogOptions``. One emulator (with ``--pod-logs-dir``) and one kubelet per
module, sharing the kubelet's work directory; every wait polls with a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from kubemigrate.devcluster.apiserver import ApiServerProcess
from kubemigrate.devcluster.kubelet import KubeletProcess
from tests.devcluster.devcluster_http import Http
from tests.devcluster.test_kubelet import create, job_body, pods_of, wait_finished, wait_for


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubelet")


@pytest.fixture(scope="module")
def apiserver(node_dir: Path) -> Iterator[ApiServerProcess]:
    with ApiServerProcess(pod_logs_dir=node_dir) as server:
        yield server


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess, node_dir: Path) -> Iterator[KubeletProcess]:
    with KubeletProcess(
        apiserver.kubeconfig, workdir=node_dir, backoff_base=0.2, max_grace=1.0, retry_interval=0.2
    ) as node:
        yield node


def log_path(namespace: str, pod: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{pod}/log"


def pod_body(name: str, containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    spec = {"restartPolicy": "Never", "containers": containers, **extra.pop("spec", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **extra}, "spec": spec}


def container(name: str, script: str) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", "command": ["sh", "-c", script]}


def wait_pod_phase(api: Http, namespace: str, name: str, phases: tuple[str, ...]) -> Any:
    def probe() -> Any:
        reply = api.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
        return reply.body if (reply.body.get("status") or {}).get("phase") in phases else None

    return wait_for(probe, f"pod {name} to reach {phases}")


def assert_status(reply: Any, code: int, reason: str, message: str) -> None:
    assert reply.status == code, reply.body
    assert reply.headers.get("Content-Type", "").startswith("application/json")
    assert reply.body["kind"] == "Status"
    assert reply.body["reason"] == reason
    assert reply.body["code"] == code
    assert reply.body["message"] == message


def test_job_output_via_the_api_and_kubectl(
    api: Http, kubelet: KubeletProcess, kubectl: Any, namespace: str
) -> None:
    create(api, namespace, "jobs", job_body("hello", ["sh", "-c", "echo hello; echo world >&2"]))
    wait_finished(api, namespace, "hello")
    [pod] = pods_of(api, namespace, "hello")
    name = pod["metadata"]["name"]

    reply = api.get(log_path(namespace, name))

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain"
    assert reply.body == "hello\nworld\n"
    assert kubectl("logs", name, "-n", namespace).stdout == "hello\nworld\n"
    assert kubectl("logs", "job/hello", "-n", namespace).stdout == "hello\nworld\n"
    assert api.get(log_path(namespace, name), query={"tailLines": "1"}).body == "world\n"
    assert api.get(log_path(namespace, name), query={"limitBytes": "3"}).body == "hel"
    assert kubectl("logs", name, "-n", namespace, "--tail", "1").stdout == "world\n"


def test_container_must_be_named_when_there_are_several(
    api: Http, kubelet: KubeletProcess, kubectl: Any, namespace: str
) -> None:
    body = pod_body(
        "two",
        [container("main", "echo from-main"), container("side", "echo from-side")],
        annotations={"kubectl.kubernetes.io/default-container": "side"},
        spec={"initContainers": [container("setup", "echo from-setup")]},
    )
    create(api, namespace, "pods", body)
    wait_pod_phase(api, namespace, "two", ("Succeeded", "Failed"))
    path = log_path(namespace, "two")

    # The annotation is kubectl's business: the server never reads it.
    assert_status(
        api.get(path),
        400,
        "BadRequest",
        "a container name must be specified for pod two, choose one of: [setup main side]",
    )
    assert api.get(path, query={"container": "main"}).body == "from-main\n"
    assert api.get(path, query={"container": "setup"}).body == "from-setup\n"
    assert kubectl("logs", "two", "-n", namespace).stdout == "from-side\n"
    assert kubectl("logs", "two", "-n", namespace, "-c", "main").stdout == "from-main\n"
    assert_status(
        api.get(path, query={"container": "nope"}),
        400,
        "BadRequest",
        "container nope is not valid for pod two",
    )


def test_missing_pod_is_404(api: Http, namespace: str) -> None:
    reply = api.get(log_path(namespace, "ghost"))

    assert_status(reply, 404, "NotFound", 'pods "ghost" not found')
    assert reply.body["details"] == {"name": "ghost", "kind": "pods"}


def test_a_container_waiting_to_start_has_no_log_yet(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    # A Secret volume that does not exist keeps the Pod in ContainerCreating for good.
    body = pod_body(
        "stuck",
        [container("main", "echo never")],
        spec={"volumes": [{"name": "s", "secret": {"secretName": "absent"}}]},
    )
    create(api, namespace, "pods", body)
    path = log_path(namespace, "stuck")
    message = 'container "main" in pod "stuck" is waiting to start: ContainerCreating'

    wait_for(
        lambda: api.get(f"/api/v1/namespaces/{namespace}/pods/stuck").body["spec"].get("nodeName"),
        "the pod to be bound",
    )
    assert_status(api.get(path), 400, "BadRequest", message)  # before the kubelet reports it too
    wait_for(
        lambda: (
            api.get(f"/api/v1/namespaces/{namespace}/pods/stuck")
            .body["status"]
            .get("containerStatuses")
        ),
        "the kubelet to report the container waiting",
    )
    assert_status(api.get(path), 400, "BadRequest", message)


def test_a_pod_bound_to_no_node_has_an_empty_log(
    api: Http, kubectl: Any, kubelet: KubeletProcess, namespace: str
) -> None:
    # No node has this label: the scheduler leaves the Pod Pending, unbound.
    body = pod_body(
        "nowhere", [container("main", "echo never")], spec={"nodeSelector": {"disk": "ssd"}}
    )
    create(api, namespace, "pods", body)
    wait_for(
        lambda: any(
            c.get("reason") == "Unschedulable"
            for c in api.get(f"/api/v1/namespaces/{namespace}/pods/nowhere")
            .body["status"]
            .get("conditions")
            or []
        ),
        "the scheduler to give up on the pod",
    )

    reply = api.get(log_path(namespace, "nowhere"))
    followed = api.get(log_path(namespace, "nowhere"), query={"follow": "true"})
    printed = kubectl("logs", "nowhere", "-n", namespace)

    assert (reply.status, reply.body) == (200, None)  # an empty text/plain body
    assert reply.headers.get("Content-Type", "").startswith("text/plain")
    assert (followed.status, followed.body) == (200, None)  # ends at once: nothing to follow
    assert printed.returncode == 0
    assert printed.stdout == ""


def test_options_are_validated_and_previous_needs_a_previous_run(
    api: Http, kubelet: KubeletProcess, namespace: str
) -> None:
    create(api, namespace, "pods", pod_body("once", [container("main", "echo once")]))
    wait_pod_phase(api, namespace, "once", ("Succeeded",))
    path = log_path(namespace, "once")

    assert_status(
        api.get(path, query={"previous": "true"}),
        400,
        "BadRequest",
        'previous terminated container "main" in pod "once" not found',
    )
    invalid = api.get(path, query={"tailLines": "-1", "limitBytes": "0"})
    assert_status(
        invalid,
        422,
        "Invalid",
        'PodLogOptions "once" is invalid: [tailLines: Invalid value: -1: must be greater than '
        "or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]",
    )
    assert api.get(path, query={"tailLines": "0"}).body is None  # an empty body
    assert api.post(path, {}).status == 405


def test_follow_streams_until_the_container_ends(
    api: Http, kubelet: KubeletProcess, namespace: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    script = f"echo first; while [ ! -e {go} ]; do sleep 0.05; done; echo second"
    create(api, namespace, "pods", pod_body("tail", [container("main", script)]))
    wait_pod_phase(api, namespace, "tail", ("Running",))
    conn = api.connect(timeout=30)
    try:
        conn.request("GET", f"{log_path(namespace, 'tail')}?{urlencode({'follow': 'true'})}")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/plain"
        assert response.readline() == b"first\n"  # served while the container still runs

        go.touch()

        assert response.read() == b"second\n"  # then the stream ends with the container
    finally:
        conn.close()
    assert wait_pod_phase(api, namespace, "tail", ("Succeeded",))
