"""Pod status as the kubelet writes it, rendered from what the runtime knows (pure).

The runtime keeps one :class:`ContainerRecord` per container and a
:class:`PodRecord`; :func:`render` turns them into ``status`` with the shape and
vocabulary of a real node (Kubernetes >= 1.29): phase, the five Pod conditions with
their reasons, ``startTime``, host/pod IPs, and container statuses whose state is
``waiting{reason,message}``, ``running{startedAt}`` or ``terminated{exitCode,
reason, message, startedAt, finishedAt}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

NODE_IP = "127.0.0.1"

# Messages the real kubelet and pod GC use.
SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown."
LOST_MESSAGE = "PodGC: node no longer exists"
LOST_CONTAINER_MESSAGE = "The container could not be located when the pod was terminated"


@dataclass
class ContainerRecord:
    name: str
    image: str
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"  # waiting reason, or terminated reason
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    last_state: JsonDict = field(default_factory=dict)
    container_id: str = ""

    def wait(self, reason: str, message: str = "") -> None:
        self.state, self.reason, self.message = "waiting", reason, message

    def run(self, started_at: str, container_id: str) -> None:
        self.state, self.reason, self.message = "running", "", ""
        self.started_at, self.finished_at, self.exit_code = started_at, None, None
        self.container_id = container_id

    def terminate(self, exit_code: int, reason: str, message: str, finished_at: str) -> None:
        self.state, self.reason, self.message = "terminated", reason, message
        self.exit_code, self.finished_at = exit_code, finished_at
        self.started_at = self.started_at or finished_at

    def restart(self) -> None:
        """Keep the terminated state as ``lastState``, as a restarting container does."""
        self.last_state = {"terminated": self._terminated()}
        self.restart_count += 1
        self.wait("CrashLoopBackOff", f"back-off restarting failed container {self.name}")

    def _terminated(self) -> JsonDict:
        terminated: JsonDict = {
            "exitCode": self.exit_code if self.exit_code is not None else 0,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }
        if self.message:
            terminated["message"] = self.message
        if self.container_id:
            terminated["containerID"] = self.container_id
        return terminated

    def status(self) -> JsonDict:
        if self.state == "running":
            state: JsonDict = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            state = {"terminated": self._terminated()}
        else:
            waiting: JsonDict = {"reason": self.reason}
            if self.message:
                waiting["message"] = self.message
            state = {"waiting": waiting}
        result: JsonDict = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "lastState": self.last_state,
            "ready": self.state == "running",
            "restartCount": self.restart_count,
            "started": self.state == "running",
            "state": state,
        }
        if self.container_id and self.state != "waiting":
            result["containerID"] = self.container_id
        return result


@dataclass
class PodRecord:
    init: list[ContainerRecord]
    main: list[ContainerRecord]
    phase: str = "Pending"
    start_time: str | None = None
    reason: str = ""  # pod-level status.reason (node shutdown)
    message: str = ""
    disruption: tuple[str, str] | None = None  # DisruptionTarget (reason, message)
    qos_class: str = "BestEffort"
    transitions: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (status, time)

    @property
    def terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def _condition(
    record: PodRecord, kind: str, value: bool, now: str, reason: str = "", message: str = ""
) -> JsonDict:
    status = "True" if value else "False"
    previous = record.transitions.get(kind)
    since = previous[1] if previous is not None and previous[0] == status else now
    record.transitions[kind] = (status, since)
    condition: JsonDict = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _names(containers: list[ContainerRecord]) -> str:
    return "[" + " ".join(c.name for c in containers) + "]"


def render(record: PodRecord, now: str) -> JsonDict:
    """The Pod's ``status`` (transition times carried in ``record.transitions``)."""
    completed = record.phase == "Succeeded"
    incomplete = [c for c in record.init if not (c.state == "terminated" and c.exit_code == 0)]
    unready = [c for c in record.main if c.state != "running"]
    sandbox = record.start_time is not None and not record.terminal
    conditions: list[JsonDict] = []
    if record.disruption is not None:
        conditions.append(_condition(record, "DisruptionTarget", True, now, *record.disruption))
    conditions.append(_condition(record, "PodReadyToStartContainers", sandbox, now))
    if not incomplete:
        conditions.append(
            _condition(record, "Initialized", True, now, "PodCompleted" if completed else "")
        )
    else:
        conditions.append(
            _condition(
                record,
                "Initialized",
                False,
                now,
                "ContainersNotInitialized",
                f"containers with incomplete status: {_names(incomplete)}",
            )
        )
    for kind in ("Ready", "ContainersReady"):
        if completed:
            conditions.append(_condition(record, kind, False, now, "PodCompleted"))
        elif unready or record.terminal:
            conditions.append(
                _condition(
                    record,
                    kind,
                    False,
                    now,
                    "ContainersNotReady",
                    f"containers with unready status: {_names(unready or record.main)}",
                )
            )
        else:
            conditions.append(_condition(record, kind, True, now))
    conditions.append(_condition(record, "PodScheduled", True, now))
    status: JsonDict = {
        "phase": record.phase,
        "conditions": conditions,
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": NODE_IP,
        "podIPs": [{"ip": NODE_IP}],
        "qosClass": record.qos_class,
    }
    if record.start_time:
        status["startTime"] = record.start_time
    if record.reason:
        status["reason"] = record.reason
    if record.message:
        status["message"] = record.message
    if record.init:
        status["initContainerStatuses"] = [c.status() for c in record.init]
    status["containerStatuses"] = [c.status() for c in record.main]
    return status


def new_record(pod: JsonDict) -> PodRecord:
    """A fresh record for a Pod about to start: init containers first, all waiting."""
    spec = pod.get("spec") or {}
    init = [
        ContainerRecord(c["name"], c.get("image", "")) for c in spec.get("initContainers") or []
    ]
    main = [ContainerRecord(c["name"], c.get("image", "")) for c in spec.get("containers") or []]
    for container in init[1:] + (main if init else []):
        container.wait("PodInitializing")
    if init:
        init[0].wait("PodInitializing")
    return PodRecord(
        init=init, main=main, qos_class=(pod.get("status") or {}).get("qosClass", "BestEffort")
    )


def lost(pod: JsonDict, now: str) -> JsonDict:
    """The status of a Pod this node ran before a restart: gone with the node (pod GC's words)."""
    status: JsonDict = dict(pod.get("status") or {})
    for key in ("initContainerStatuses", "containerStatuses"):
        updated = []
        for cs in status.get(key) or []:
            cs = dict(cs)
            state = cs.get("state") or {}
            if "terminated" not in state:
                started = (state.get("running") or {}).get("startedAt")
                cs["state"] = {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "ContainerStatusUnknown",
                        "message": LOST_CONTAINER_MESSAGE,
                        "startedAt": started,
                        "finishedAt": now,
                    }
                }
                cs["ready"] = False
                cs["started"] = False
            updated.append(cs)
        if updated:
            status[key] = updated
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    for condition in conditions:
        if condition.get("type") in ("Ready", "ContainersReady", "PodReadyToStartContainers") and (
            condition.get("status") == "True"
        ):
            condition.update(status="False", lastTransitionTime=now)
    conditions.insert(
        0,
        {
            "type": "DisruptionTarget",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": now,
            "reason": "DeletionByPodGC",
            "message": LOST_MESSAGE,
        },
    )
    status["conditions"] = conditions
    status["phase"] = "Failed"
    return status
