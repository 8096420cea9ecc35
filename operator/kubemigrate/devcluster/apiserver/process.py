"""Run the emulator as a child process: the way tests and ``kubemigrate demo`` use it.

It must never share the caller's event loop: a test that blocks on ``subprocess.run``
(kubectl) would stall a server living in its own loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from kubemigrate.devcluster.subprocesses import terminate, wait_for_line

from .watchcache import WatchCacheSettings


class ApiServerError(RuntimeError):
    """The emulator did not start, or died."""


class ApiServerProcess:
    """Start ``python -m kubemigrate.devcluster.apiserver`` and wait until it serves.

    Usage::

        with ApiServerProcess() as apiserver:
            env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig)}
            subprocess.run(["kubectl", "get", "ns"], env=env, check=True)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig: Path | None = None,
        pod_logs_dir: Path | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        watch_cache: WatchCacheSettings | None = None,
    ) -> None:
        """``pod_logs_dir``: the kubelet stand-in's workdir, so ``pods/<name>/log`` works.

        The kubelet writes container output there; without it no Pod has logs.
        ``watch_cache``: smaller windows or more frequent bookmarks than the real
        server's, for a test that must meet them.
        """
        self.host = host
        self.pod_logs_dir = pod_logs_dir
        self.watch_cache = watch_cache
        self.port = port
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._kubeconfig = kubeconfig
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self.url = ""
        self.exit_code: int | None = None  # set once the process has been stopped

    @property
    def kubeconfig(self) -> Path:
        if self._kubeconfig is None:
            raise ApiServerError("not started")
        return self._kubeconfig

    def env(self) -> dict[str, str]:
        """The current environment with KUBECONFIG pointing at this server."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log and self._log.exists() else ""

    def start(self) -> None:
        self._tmpdir = tempfile.TemporaryDirectory(prefix="kubemigrate-apiserver-")
        workdir = Path(self._tmpdir.name)
        if self._kubeconfig is None:
            self._kubeconfig = workdir / "kubeconfig"
        self._log = workdir / "apiserver.log"
        command = [
            sys.executable,
            "-m",
            "kubemigrate.devcluster.apiserver",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--kubeconfig",
            str(self._kubeconfig),
        ]
        if self.pod_logs_dir is not None:
            command += ["--pod-logs-dir", str(self.pod_logs_dir)]
        if self.watch_cache is not None:
            command += [
                "--watch-cache-size",
                str(self.watch_cache.lower_bound),
                "--watch-cache-fresh-seconds",
                str(self.watch_cache.fresh_seconds),
                "--watch-bookmark-seconds",
                str(self.watch_cache.bookmark_seconds),
            ]
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)
        self.url = self._wait_ready()

    def _wait_ready(self) -> str:
        assert self._process is not None
        line = wait_for_line(self._process, "READY ", self.startup_timeout)
        if line is None:
            self.stop()
            raise ApiServerError(
                f"the API server emulator did not become ready:\n{self.log_text()}"
            )
        return line.split(" ", 1)[1]

    def stop(self) -> None:
        process, self._process = self._process, None
        terminate(process, self.stop_timeout)
        if process is not None:
            self.exit_code = process.returncode

    def close(self) -> None:
        self.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> ApiServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
