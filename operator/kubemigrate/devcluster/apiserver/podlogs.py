"""``GET pods/<name>/log``: a container's output, served as the apiserver + kubelet pair does.

On a real cluster the apiserver checks the options and the container name, then
proxies to the kubelet of the Pod's node, which picks the container's log from its
status (running, terminated, or the last termination) or refuses with a 400 that
says why (``is waiting to start: ContainerCreating``). Here the "node" is the
kubelet stand-in, a separate process that writes each container's output to
``<workdir>/pods/<ns>_<pod>_<uid>/logs/<container>.log``; the emulator is told that
work directory (``--pod-logs-dir``) and reads the files itself, deciding from the
Pod's status exactly as the kubelet's ``validateContainerLogStatus`` does.

Wording and codes come from the Kubernetes source (``pkg/registry/core/pod/strategy.go``
``validateContainer``, ``pkg/kubelet/kubelet_pods.go`` ``validateContainerLogStatus``,
``ValidatePodLogOptions``), so a client that handles them here handles them there.

A Pod bound to no node (pending scheduling, unschedulable, gated) has no kubelet to
ask: the apiserver answers an empty log, 200, as ``LogLocation`` returns no location.

Known differences, all refusals or supersets rather than silent successes: the
stand-in appends every restart of a container to one file, so ``previous=true`` on a
container that did restart is refused (400) rather than answered with mixed output;
``timestamps``, ``sinceSeconds`` and ``sinceTime`` are validated but not applied
(the files carry no timestamps).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors
from .errors import ApiError, FieldError
from .wire import Request

JsonDict = dict[str, Any]

CONTENT_TYPE = "text/plain"
FOLLOW_POLL = 0.1  # seconds between looks at a followed log file (server side, not a test wait)
_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


@dataclass(frozen=True)
class LogOptions:
    """The PodLogOptions query parameters we act on."""

    container: str = ""
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(
            f'unable to parse query parameter {name}: strconv.ParseInt: parsing "{raw}": '
            "invalid syntax"
        ) from None


def parse_options(request: Request, pod_name: str) -> LogOptions:
    """Query parameters -> options; 422 ``PodLogOptions "<pod>" is invalid`` like the real one."""
    tail_lines = _int_param(request, "tailLines")
    limit_bytes = _int_param(request, "limitBytes")
    since_seconds = _int_param(request, "sinceSeconds")
    found: list[FieldError] = []
    if tail_lines is not None and tail_lines < 0:
        found.append(errors.invalid("tailLines", tail_lines, "must be greater than or equal to 0"))
    if limit_bytes is not None and limit_bytes < 1:
        found.append(errors.invalid("limitBytes", limit_bytes, "must be greater than 0"))
    if since_seconds is not None and request.query.get("sinceTime"):
        found.append(
            errors.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified")
        )
    elif since_seconds is not None and since_seconds < 1:
        found.append(errors.invalid("sinceSeconds", since_seconds, "must be greater than 0"))
    if found:
        raise errors.invalid_object("PodLogOptions", "", pod_name, found)
    return LogOptions(
        container=request.query.get("container", ""),
        follow=request.flag("follow"),
        previous=request.flag("previous"),
        tail_lines=tail_lines,
        limit_bytes=limit_bytes,
    )


def _names(spec: JsonDict, kind: str) -> list[str]:
    return [str(c.get("name", "")) for c in spec.get(kind) or [] if isinstance(c, dict)]


def choose_container(pod: JsonDict, wanted: str) -> str:
    """The apiserver's ``validateContainer``: the container the request is about, or 400.

    Without ``container`` only a Pod with exactly one (main) container is answered.
    The ``kubectl.kubernetes.io/default-container`` annotation is *not* honoured here:
    kubectl reads it and sends ``container=`` itself, and the real server ignores it,
    so a client relying on the server for it must fail here as it would there.
    """
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    main = _names(spec, "containers")
    every = _names(spec, "initContainers") + main + _names(spec, "ephemeralContainers")
    if not wanted:
        if len(main) == 1:
            return main[0]
        if not main:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        listed = " ".join(every)
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{listed}]"
        )
    if wanted not in every:
        raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def container_status(pod: JsonDict, container: str) -> JsonDict | None:
    status = pod.get("status") or {}
    for kind in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(kind) or []:
            if isinstance(entry, dict) and entry.get("name") == container:
                return entry
    return None


def check_log_status(pod_name: str, container: str, entry: JsonDict | None, previous: bool) -> None:
    """The kubelet's ``validateContainerLogStatus``: 400 unless there is a log to read.

    Only for a Pod bound to a node (an unbound one has an empty log, see ``Api``). The
    real kubelet judges by the status it keeps itself, which has every container
    waiting (ContainerCreating) from the moment it admits the Pod; here the status is
    the API's, so a container the stand-in has not reported yet is answered the same.
    """
    state = (entry or {}).get("state") or {"waiting": {"reason": "ContainerCreating"}}
    last = ((entry or {}).get("lastState") or {}).get("terminated")
    who = f'container "{container}" in pod "{pod_name}"'
    if previous:
        if not last or not last.get("containerID"):
            raise errors.bad_request(f"previous terminated {who} not found")
        raise errors.bad_request(
            f"{who} restarted: the devcluster kubelet keeps one log file for all runs of a "
            "container, so previous=true cannot be answered faithfully"
        )
    if "running" in state:
        return
    if "terminated" in state:
        if state["terminated"].get("containerID") or (last and last.get("containerID")):
            return
        raise errors.bad_request(f"{who} is terminated")
    if last is not None:
        if last.get("containerID"):
            return
        raise errors.bad_request(f"{who} is terminated")
    if "waiting" in state:
        reason = (state["waiting"] or {}).get("reason", "")
        if reason == "ErrImagePull":
            raise errors.bad_request(f"{who} is waiting to start: image can't be pulled")
        if reason == "ImagePullBackOff":
            raise errors.bad_request(f"{who} is waiting to start: trying and failing to pull image")
        raise errors.bad_request(f"{who} is waiting to start: {reason}")
    raise errors.bad_request(f"{who} is waiting to start - no logs yet")


def log_file(logs_dir: Path, pod: JsonDict, container: str) -> Path:
    """Where the kubelet stand-in keeps this container's output (see kubelet/runtime.py)."""
    meta = pod["metadata"]
    pod_dir = f"{meta['namespace']}_{meta['name']}_{meta['uid']}"
    return logs_dir / "pods" / pod_dir / "logs" / f"{container}.log"


def read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read()
    except FileNotFoundError:
        return b""


def tail(data: bytes, lines: int | None) -> bytes:
    """The last ``lines`` lines (a final line without newline counts), as the kubelet cuts."""
    if lines is None:
        return data
    if lines == 0:
        return b""
    return b"".join(_LINE.findall(data)[-lines:])


def missing_log(path: Path) -> ApiError:
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: the container's log {path} does not exist: is the "
        "emulator's --pod-logs-dir the kubelet's --workdir?",
        {},
    )


async def follow(
    path: Path,
    offset: int,
    budget: int | None,
    still_running: Callable[[], bool],
) -> AsyncIterator[bytes]:
    """Output written after ``offset`` until the container stops running (``follow=true``).

    The first chunk is empty so the response headers go out at once, as the kubelet's
    zero-byte write makes them do. The running check comes before each read, so what
    the process wrote before it ended is always sent before the stream ends.
    """
    yield b""
    while budget is None or budget > 0:
        running = still_running()
        chunk = read_from(path, offset)
        if budget is not None:
            chunk = chunk[:budget]
            budget -= len(chunk)
        if chunk:
            offset += len(chunk)
            yield chunk
        if not running:
            return
        await asyncio.sleep(FOLLOW_POLL)
