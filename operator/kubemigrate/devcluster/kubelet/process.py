"""Run the kubelet stand-in as a child process, the way tests and ``kubemigrate demo`` use it.

Like the API server emulator it never shares the caller's event loop, and its child
processes (the containers) are its own: stopping it is a graceful node shutdown.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from kubemigrate.devcluster.subprocesses import terminate, wait_for_line

from .runtime import read_log


class KubeletError(RuntimeError):
    """The kubelet stand-in did not start, or died."""


class KubeletProcess:
    """Start ``python -m kubemigrate.devcluster.kubelet`` and wait until its watches are up.

    Usage::

        with ApiServerProcess() as apiserver, KubeletProcess(apiserver.kubeconfig) as kubelet:
            ...  # create Jobs; read a container's output with kubelet.logs(ns, pod)
    """

    def __init__(
        self,
        kubeconfig: Path,
        *,
        namespaces: tuple[str, ...] = (),
        workdir: Path | None = None,
        backoff_base: float = 10.0,
        max_grace: float = 2.0,
        retry_interval: float = 1.0,
        extra_path: tuple[Path, ...] = (),
        startup_timeout: float = 30.0,
        stop_timeout: float = 20.0,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = namespaces
        self.backoff_base = backoff_base
        self.max_grace = max_grace
        self.retry_interval = retry_interval
        self.extra_path = extra_path
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._workdir = workdir
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise KubeletError("not started")
        return self._workdir

    def log_text(self) -> str:
        """The kubelet's own log (not a container's: see :meth:`logs`)."""
        return self._log.read_text(errors="replace") if self._log and self._log.exists() else ""

    def logs(self, namespace: str, pod: str, container: str | None = None) -> str:
        """A container's output, what ``kubectl logs`` would print on a real cluster."""
        return read_log(self.workdir, namespace, pod, container)

    def start(self) -> None:
        if self._workdir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="kubemigrate-kubelet-")
            self._workdir = Path(self._tmpdir.name)
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._log = self._workdir / "kubelet.log"
        command = [
            sys.executable,
            "-m",
            "kubemigrate.devcluster.kubelet",
            "--kubeconfig",
            str(self.kubeconfig),
            "--workdir",
            str(self._workdir),
            "--backoff-base",
            str(self.backoff_base),
            "--max-grace",
            str(self.max_grace),
            "--retry-interval",
            str(self.retry_interval),
            "--log-level",
            "INFO",
        ]
        for namespace in self.namespaces:
            command += ["--namespace", namespace]
        env = dict(os.environ)
        # The containers' commands resolve on this PATH: our venv's bin first (kubemigrate).
        path = [str(p) for p in self.extra_path] + [str(Path(sys.executable).parent)]
        env["PATH"] = os.pathsep.join([*path, env.get("PATH", os.defpath)])
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._process is not None
        if wait_for_line(self._process, "READY", self.startup_timeout) is None:
            self.stop()
            raise KubeletError(f"the kubelet stand-in did not become ready:\n{self.log_text()}")

    def stop(self) -> None:
        """SIGTERM: a graceful node shutdown (running Pods stopped and marked Failed)."""
        process, self._process = self._process, None
        terminate(process, self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL, as if the node crashed: its containers keep running until a restart."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()

    def close(self) -> None:
        self.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
            self._workdir = None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def __enter__(self) -> KubeletProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
