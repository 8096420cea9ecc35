"""Running one Pod: its containers as local processes, its status written back like a kubelet.

Each container runs as ``command + args`` (the image is ignored: the command must
exist on this host), in its own session (process group) so that stopping it reaches
every child, in the background of the node's own processes (:mod:`..priority`),
with stdout and stderr going to one log file per container. Init
containers run one after the other, then the main containers together. Volumes and
the termination-message file are host paths (:mod:`.volumes`).

The work directory keeps one directory per Pod::

    pods/<namespace>_<pod>_<uid>/
        logs/<container>.log     what ``kubectl logs`` would show (read_log())
        volumes/<volume>/        configMap, secret, emptyDir contents
        termination/<container>  the terminationMessagePath file
        cwd/<container>/         the process's working directory and HOME
        pids/<container>.pid     "<pid> <start time>": lets a restarted kubelet
                                 kill what a killed one left running
        exits/<container>        "<exit code> <ns since the epoch>" of the last
                                 exit, as the kubelet saw it (finishedAt in the API
                                 has whole seconds; benchmarks need better)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..priority import WORKLOAD_NICE, run_in_background
from . import env as envmod
from . import volumes
from .client import ApiError, Client, resource_path
from .controller import format_time
from .podstatus import SHUTDOWN_MESSAGE, ContainerRecord, new_record, render

JsonDict = dict[str, Any]
log = logging.getLogger(__name__)

PODS_CGROUP = "kubemigrate-devcluster-pods"
MAX_MESSAGE = 4096
FALLBACK_LINES = 80
FALLBACK_BYTES = 2048
DEFAULT_TERMINATION_PATH = "/dev/termination-log"


@dataclass(frozen=True)
class RuntimeSettings:
    max_grace: float = 2.0
    """Cap on terminationGracePeriodSeconds between SIGTERM and SIGKILL (tests want it short)."""
    retry_interval: float = 1.0
    """How often a container waiting for a missing Secret/ConfigMap tries again."""
    crash_backoff: float = 10.0
    """First delay before restarting a container (restartPolicy OnFailure/Always); doubles."""
    node_name: str = "devcluster"
    pod_nice: int = WORKLOAD_NICE
    """Container processes run in the background of the node's own processes, as
    kube-reserved CPU keeps them on a real node (see :mod:`..priority`; this nice
    where cgroups cannot be written); 0 = at the kubelet's own priority."""


def now() -> str:
    return format_time(datetime.datetime.now(datetime.UTC))


def pod_dir(workdir: Path, namespace: str, name: str, uid: str) -> Path:
    return workdir / "pods" / f"{namespace}_{name}_{uid}"


def read_log(workdir: Path, namespace: str, pod: str, container: str | None = None) -> str:
    """A container's output (stdout and stderr interleaved), as ``kubectl logs`` would give it.

    The emulator has no pods/log hook, so logs live in the kubelet's work directory.
    Without ``container``, the Pod's only (or first) main container's log is read.
    """
    candidates = sorted((workdir / "pods").glob(f"{namespace}_{pod}_*"))
    if not candidates:
        raise FileNotFoundError(f'pods "{pod}" not found in namespace {namespace}')
    logs = candidates[-1] / "logs"
    if container is None:
        names = sorted(p.stem for p in logs.glob("*.log"))
        main_file = logs / ".main"
        container = (
            main_file.read_text().strip() if main_file.exists() else (names[0] if names else "")
        )
    path = logs / f"{container}.log"
    if not path.exists():
        raise FileNotFoundError(f'container "{container}" in pod "{pod}" has no log yet')
    return path.read_text(errors="replace")


def log_tail(path: Path) -> str:
    """The last 80 lines, at most 2048 bytes: ``FallbackToLogsOnError``'s message."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    lines = data.splitlines(keepends=True)[-FALLBACK_LINES:]
    return b"".join(lines)[-FALLBACK_BYTES:].decode(errors="replace")


def _start_time_of(pid: int) -> str | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 else None


def kill_leftovers(workdir: Path) -> int:
    """SIGKILL process groups a previous kubelet left behind (it was killed, not stopped).

    The recorded start time guards against a recycled pid. Returns how many were found.
    """
    found = 0
    for pid_file in (workdir / "pods").glob("*/pids/*.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid_text, started = pid_file.read_text().split()
            pid = int(pid_text)
            if _start_time_of(pid) == started:
                found += 1
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
    return found


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class PodWorker:
    """Runs one Pod to completion (or until stopped) and keeps its status current."""

    def __init__(
        self,
        client: Client,
        pod: JsonDict,
        workdir: Path,
        settings: RuntimeSettings,
        on_done: Callable[[PodWorker], Awaitable[None] | None] | None = None,
        cached: Callable[[str, str, str], JsonDict | None] | None = None,
    ) -> None:
        meta = pod["metadata"]
        self.client = client
        self._cached = cached  # (plural, namespace, name) -> a watched Secret/ConfigMap
        self.pod = pod
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.settings = settings
        self.dir = pod_dir(workdir, self.namespace, self.name, self.uid)
        self.record = new_record(pod)
        self.stopping = asyncio.Event()
        self.gone = False  # the Pod was deleted from the API: no more status writes
        self.deleting = False  # the API marked the Pod for deletion: remove it once stopped
        self._deletion_grace: int | None = None  # the API's deletionGracePeriodSeconds
        self._grace_changed = asyncio.Event()
        self._stop_reason: tuple[str, str, tuple[str, str] | None] | None = None
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._wanted = 0  # status versions asked for by publish() ...
        self._written = 0  # ... and written (or given up on)
        self._writer: asyncio.Task[None] | None = None
        self._last_status: JsonDict | None = None  # as last written
        self._volumes: dict[str, Path] = {}
        # Secrets and ConfigMaps read with the volumes, for the first container start.
        self._fetched: tuple[dict[str, JsonDict | None], dict[str, JsonDict | None]] | None = None
        self._on_done = on_done
        self.task: asyncio.Task[None] | None = None

    # --- control ---------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.create_task(self._main(), name=f"pod {self.namespace}/{self.name}")

    def stop(
        self,
        *,
        gone: bool = False,
        deleting: bool = False,
        grace: int | None = None,
        reason: str = "",
        message: str = "",
        disruption: tuple[str, str] | None = None,
    ) -> None:
        """Terminate the Pod's processes (SIGTERM, then SIGKILL after the grace period).

        ``grace`` is the API's ``deletionGracePeriodSeconds``: like the kubelet's
        ``calculateEffectiveGracePeriod``, a new one may only shorten a termination
        already under way (a second, shorter DELETE reaches a waiting SIGKILL too).
        """
        self.gone = self.gone or gone
        self.deleting = self.deleting or deleting
        if grace is not None and (self._deletion_grace is None or grace < self._deletion_grace):
            self._deletion_grace = grace
            self._grace_changed.set()
        if self._stop_reason is None:
            self._stop_reason = (reason, message, disruption)
        self.stopping.set()

    def shutdown(self) -> None:
        """The node is going down: the real kubelet's graceful node shutdown status."""
        self.stop(
            reason="Terminated",
            message=SHUTDOWN_MESSAGE,
            disruption=("TerminationByKubelet", SHUTDOWN_MESSAGE),
        )

    # --- status ---------------------------------------------------------------------------

    async def publish(self) -> None:
        """Have the Pod's current status written, by a background writer like the real
        kubelet's status manager: the Pod goes on meanwhile (a container starts without
        waiting for the API), and changes that come faster than the API answers are
        written together, as the latest status. The Pod's end waits for the writer.
        """
        self._wanted += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_statuses())

    async def _write_statuses(self) -> None:
        while self._written < self._wanted and not self.gone:
            asked = self._wanted
            await self._write_status()
            self._written = asked

    async def _write_status(self) -> None:
        status = render(self.record, now())
        if status == self._last_status:  # nothing the API would see changed
            return
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
            "status": status,
        }
        path = resource_path("v1", "pods", self.namespace, self.name) + "/status"
        try:
            await self.client.request("PUT", path, body=body)
            self._last_status = status
        except ApiError as exc:
            if exc.code in (404, 409):  # deleted, or deleted and recreated (uid differs)
                self.gone = True
            else:
                log.warning(
                    "cannot write the status of pod %s/%s: %s", self.namespace, self.name, exc
                )
        except (OSError, TimeoutError) as exc:
            log.warning("cannot write the status of pod %s/%s: %s", self.namespace, self.name, exc)

    async def _pause(self, seconds: float) -> bool:
        """Sleep, unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        return self.stopping.is_set()

    # --- the Pod's life -------------------------------------------------------------------

    async def _main(self) -> None:
        try:
            await self._lifecycle()
        except Exception:
            log.exception("pod %s/%s: unexpected failure in the kubelet", self.namespace, self.name)
            self.record.phase = "Failed"
            await self.publish()
        finally:
            await self._kill_all()
            if self._writer is not None:  # the last status reaches the API before the Pod ends
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._writer)
            if self._on_done is not None:
                result = self._on_done(self)
                if result is not None:
                    await result

    # File system work runs in worker threads (asyncio.to_thread), never on the event
    # loop: under load (PostgreSQL and dozens of containers writing) a create or mkdir
    # can block for many milliseconds, and on the loop that stalls every other Pod,
    # the Job controller and the watches with it.

    def _make_dirs(self, spec: JsonDict) -> None:
        for sub in ("logs", "volumes", "termination", "cwd", "pids", "exits"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        main_names = [c["name"] for c in spec.get("containers") or []]
        (self.dir / "logs" / ".main").write_text(
            (self.pod["metadata"].get("annotations") or {}).get(
                "kubectl.kubernetes.io/default-container", main_names[0] if main_names else ""
            )
        )

    def _mount(
        self,
        spec: JsonDict,
        secrets: dict[str, JsonDict | None],
        configmaps: dict[str, JsonDict | None],
    ) -> dict[str, Path]:
        """The Pod's directories, then its volumes: one trip to a worker thread, since
        each trip back waits its turn on a loop that is busy when many Pods start."""
        self._make_dirs(spec)
        return volumes.materialise(spec, self.dir / "volumes", secrets, configmaps)

    async def _lifecycle(self) -> None:
        spec = self.pod.get("spec") or {}
        self.record.start_time = now()
        await self.publish()
        if not await self._mount_volumes(spec):
            await self._finish()
            return
        for container, record in zip(
            spec.get("initContainers") or [], self.record.init, strict=True
        ):
            ok = await self._run_container(
                container, record, spec.get("restartPolicy", "Always"), init=True
            )
            if not ok:
                await self._finish()
                return
        for record in self.record.main:
            if record.state == "waiting" and record.reason == "PodInitializing":
                record.wait("ContainerCreating")
        await self.publish()
        await asyncio.gather(
            *(
                self._run_container(c, r, spec.get("restartPolicy", "Always"), init=False)
                for c, r in zip(spec.get("containers") or [], self.record.main, strict=True)
            )
        )
        await self._finish()

    async def _finish(self) -> None:
        record = self.record
        done = all(c.state == "terminated" for c in record.main)
        ok = (
            done
            and all(c.exit_code == 0 for c in record.main)
            and all(c.state == "terminated" and c.exit_code == 0 for c in record.init)
        )
        record.phase = "Succeeded" if ok else "Failed"
        if self._stop_reason is not None:
            reason, message, disruption = self._stop_reason
            record.reason, record.message = reason, message
            record.disruption = disruption
        await self.publish()

    async def _mount_volumes(self, spec: JsonDict) -> bool:
        secret_names, configmap_names = volumes.references(spec)
        # What the containers' env needs is read now too, in the same round trip; a
        # container's first start uses it (a retry reads again).
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            env_secrets, env_configmaps = envmod.references(container)
            secret_names, configmap_names = (
                secret_names | env_secrets,
                configmap_names | env_configmaps,
            )
        while True:
            secrets, configmaps = await asyncio.gather(
                self._fetch("secrets", secret_names), self._fetch("configmaps", configmap_names)
            )
            self._fetched = (secrets, configmaps)
            try:
                self._volumes = await asyncio.to_thread(self._mount, spec, secrets, configmaps)
                return True
            except envmod.ConfigError as exc:
                # Like FailedMount: the Pod stays in ContainerCreating and the kubelet retries.
                log.info("pod %s/%s: %s", self.namespace, self.name, exc)
            if await self._pause(self.settings.retry_interval):
                return False

    async def _fetch(self, plural: str, names: set[str]) -> dict[str, JsonDict | None]:
        """Secrets or ConfigMaps by name (None: not found): watched ones from the cache."""
        found: dict[str, JsonDict | None] = {}
        for name in names:
            found[name] = self._cached(plural, self.namespace, name) if self._cached else None
        missing = sorted(n for n, obj in found.items() if obj is None)
        objects = await asyncio.gather(
            *(self.client.find(resource_path("v1", plural, self.namespace, n)) for n in missing)
        )
        found.update(zip(missing, objects, strict=True))
        return found

    async def _prepare(
        self, container: JsonDict, record: ContainerRecord
    ) -> tuple[list[str], dict[str, str], Path]:
        """argv, environment and cwd for the container; ConfigError if it cannot start."""
        if self._fetched is not None:
            (secrets, configmaps), self._fetched = self._fetched, None
        else:
            secret_names, configmap_names = envmod.references(container)
            secrets, configmaps = await asyncio.gather(
                self._fetch("secrets", secret_names), self._fetch("configmaps", configmap_names)
            )
        variables = envmod.resolve(container, self.pod, secrets, configmaps)
        return await asyncio.to_thread(self._prepare_files, container, variables)

    def _prepare_files(
        self, container: JsonDict, variables: dict[str, str]
    ) -> tuple[list[str], dict[str, str], Path]:
        """The file system part of :meth:`_prepare` (in a worker thread)."""
        mapping = volumes.mounts(container, self._volumes)
        termination = self.dir / "termination" / container["name"]
        termination.write_bytes(b"")
        mapping[str(container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH)] = (
            termination
        )
        rewrite = volumes.PathRewriter(mapping)
        argv = [
            rewrite(envmod.expand(str(part), variables))
            for part in list(container.get("command") or []) + list(container.get("args") or [])
        ]
        cwd = self.dir / "cwd" / container["name"]
        cwd.mkdir(parents=True, exist_ok=True)
        working_dir = container.get("workingDir")
        if working_dir:
            host = rewrite.host_path(str(working_dir))
            if host is not None:
                cwd = Path(host)
        process_env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOSTNAME": self.name,
            "HOME": str(cwd),
        }
        for name in ("LANG", "LC_ALL", "TZ"):
            if name in os.environ:
                process_env[name] = os.environ[name]
        tmp = rewrite.host_path("/tmp")  # noqa: S108 - a container path, mapped to the Pod's own dir
        if tmp is not None:
            process_env["TMPDIR"] = tmp
        process_env.update({name: rewrite(value) for name, value in variables.items()})
        return argv, process_env, cwd

    async def _run_container(
        self, container: JsonDict, record: ContainerRecord, restart_policy: str, *, init: bool
    ) -> bool:
        """Run (and restart, per the policy) one container; True when it ended with 0."""
        failures = 0
        while True:
            code = await self._run_once(container, record)
            if code is None:
                return False
            restart = not self.stopping.is_set() and (
                (restart_policy == "OnFailure" and code != 0)
                or (restart_policy == "Always" and (code != 0 or not init))
            )
            if not restart:
                return code == 0
            failures += 1
            record.restart()
            await self.publish()
            delay = min(self.settings.crash_backoff * 2 ** (failures - 1), 300.0)
            if await self._pause(delay):
                return False

    async def _run_once(self, container: JsonDict, record: ContainerRecord) -> int | None:
        """One run of a container: its exit code, or None if it never started."""
        while True:
            if self.stopping.is_set():
                return None
            try:
                argv, process_env, cwd = await self._prepare(container, record)
                break
            except envmod.ConfigError as exc:
                if (record.reason, record.message) != ("CreateContainerConfigError", str(exc)):
                    record.wait("CreateContainerConfigError", str(exc))
                    await self.publish()
            if await self._pause(self.settings.retry_interval):
                return None
        name = container["name"]
        log_path = self.dir / "logs" / f"{name}.log"
        if not argv:
            record.run(now(), "")
            record.terminate(
                128,
                "StartError",
                "the devcluster kubelet needs the container's command: "
                "image entrypoints are unknown here",
                now(),
            )
            await self.publish()
            return 128
        try:
            # Opened here, next to the spawn (not in a worker thread): the log file's birth
            # is the container's start, as close as can be to the startedAt stamped below.
            with log_path.open("ab") as output:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=process_env,
                    start_new_session=True,
                )
        except OSError as exc:
            record.run(now(), "")
            reason = (
                "executable file not found in $PATH"
                if isinstance(exc, FileNotFoundError)
                else str(exc)
            )
            record.terminate(
                128,
                "StartError",
                "failed to create containerd task: failed to create shim task: "
                "OCI runtime create failed: runc create failed: unable to start container process: "
                f'exec: "{argv[0]}": {reason}: unknown',
                now(),
            )
            await self.publish()
            return 128
        started = now()
        if self.settings.pod_nice:
            run_in_background(process.pid, PODS_CGROUP, self.settings.pod_nice)
        self._processes[name] = process
        pid_file = self.dir / "pids" / f"{name}.pid"
        await asyncio.to_thread(
            pid_file.write_text, f"{process.pid} {_start_time_of(process.pid) or ''}"
        )
        record.run(started, f"devcluster://{process.pid}")
        if not any(r is record for r in self.record.init):
            self.record.phase = "Running"
        await self.publish()
        waiter = asyncio.create_task(process.wait())
        stopper = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            await self._terminate(process, waiter)
        stopper.cancel()
        returncode = await waiter
        exited_ns = time.time_ns()
        finished = now()
        # A container ends with its main process: whatever it left behind goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        self._processes.pop(name, None)
        code = _exit_code(returncode)
        message = await asyncio.to_thread(
            self._after_exit, container, code, exited_ns, pid_file, log_path
        )
        record.terminate(code, "Completed" if code == 0 else "Error", message, finished)
        await self.publish()
        return code

    def _after_exit(
        self, container: JsonDict, code: int, exited_ns: int, pid_file: Path, log_path: Path
    ) -> str:
        """Forget the pid, note the exit; the termination message (in a worker thread)."""
        pid_file.unlink(missing_ok=True)
        (self.dir / "exits" / container["name"]).write_text(f"{code} {exited_ns}\n")
        termination = self.dir / "termination" / container["name"]
        # the kubelet's tail.ReadAtMost: the last 4096 bytes (a message is cut at its
        # start, so what a container wrote last, its verdict, survives)
        message = (
            termination.read_bytes()[-MAX_MESSAGE:].decode(errors="replace")
            if termination.exists()
            else ""
        )
        if (
            not message
            and code != 0
            and container.get("terminationMessagePolicy") == "FallbackToLogsOnError"
        ):
            message = log_tail(log_path)
        return volumes.PathRewriter(volumes.mounts(container, self._volumes)).back(message)

    def _grace(self) -> float:
        """The seconds between SIGTERM and SIGKILL: the API's deletion grace period if it
        gave one, else the spec's, never under 1 (the kubelet's floor), then capped by
        this node's ``max_grace`` so that tests need not wait 30 s."""
        spec_grace = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        period = self._deletion_grace if self._deletion_grace is not None else spec_grace
        return float(min(max(float(period), 1.0), self.settings.max_grace))

    async def _terminate(
        self, process: asyncio.subprocess.Process, waiter: asyncio.Task[int]
    ) -> None:
        """SIGTERM to the process group, SIGKILL once the grace period (which a shorter
        one given meanwhile cuts) has passed."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            self._grace_changed.clear()
            remaining = started + self._grace() - loop.time()
            if remaining <= 0:
                break
            changed = asyncio.create_task(self._grace_changed.wait())
            done, _ = await asyncio.wait(
                {waiter, changed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            changed.cancel()
            if waiter in done:
                return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    async def _kill_all(self) -> None:
        for process in list(self._processes.values()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await process.wait()
