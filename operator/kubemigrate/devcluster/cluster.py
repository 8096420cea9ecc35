"""The local cluster: API server emulator, kubelet stand-in, PostgreSQL and the operator.

Each part runs as its own process in its own session, with its log in the
cluster's work directory, so the cluster can outlive the command that started it
(``kubemigrate demo --keep``) and be stopped later from the state file it leaves.
Tests use the same class, so the demo and the e2e tests exercise one rig.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubemigrate.devcluster import postgres
from kubemigrate.devcluster.priority import release, run_in_background

STATE_FILE = "cluster.json"
POSTGRES_CGROUP = "kubemigrate-devcluster-postgres"


class ClusterError(RuntimeError):
    """A part of the local cluster did not start or stopped unexpectedly."""


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; raise naming ``what`` when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def bin_dir() -> Path:
    """The venv's bin (kubectl, kubemigrate) that every part must find first on PATH."""
    return Path(sys.executable).parent


def repo_file(*parts: str) -> Path:
    """A file of the source tree (crds/, examples/), found from the package or the cwd."""
    for root in (Path(__file__).resolve().parents[3], Path.cwd()):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise ClusterError(f"{'/'.join(parts)} not found: run from the kubemigrate source tree")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
            return bool(200 <= response.status < 300)
    except OSError:
        return False


@dataclass
class Part:
    """One process of the cluster."""

    name: str
    pid: int
    log: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    """Our own child, when we started it (not when loaded from the state file)."""

    def state(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "log": self.log}

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie child of ours is not alive
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            return done == 0
        except ChildProcessError:
            return True

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            wait_for(lambda: not self.alive(), timeout=grace, what=f"{self.name} to stop")
        except ClusterError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL, as a crashed node or OOM would: no clean-up runs."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        wait_for(lambda: not self.alive(), timeout=10, what=f"{self.name} to die")


@dataclass
class LocalCluster:
    workdir: Path
    parts: dict[str, Part] = field(default_factory=dict)
    database_url: str = ""
    postgres_base: str = ""
    metrics_port: int = 0
    health_port: int = 0
    loopback: str = "127.0.0.1"
    pg: postgres.PostgresServer | None = None
    operator_settings: dict[str, str] = field(default_factory=dict)
    """``KUBEMIGRATE_*`` settings (by field name) of every operator this cluster starts."""

    # -- paths and environment ----------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def env(self, **extra: str) -> dict[str, str]:
        """What kubectl and the operator need: the venv first on PATH, our KUBECONFIG."""
        env = dict(os.environ)
        env["PATH"] = f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}"
        env["KUBECONFIG"] = str(self.kubeconfig)
        env.update(extra)
        return env

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(bin_dir() / "kubectl"), *args],
            input=input_text,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def apply(self, manifest: str) -> str:
        return self.kubectl("apply", "-f", "-", input_text=manifest).stdout

    # -- starting ------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], *, env: dict[str, str] | None = None) -> Part:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env or self.env(),
                cwd=self.workdir,
                start_new_session=True,
            )
        part = Part(name=name, pid=process.pid, log=str(log), process=process)
        self.parts[name] = part
        self.save()
        return part

    def _log_has(self, name: str, text: str) -> bool:
        path = Path(self.parts[name].log)
        if not self.parts[name].alive():
            raise ClusterError(
                f"{name} exited during start-up:\n{path.read_text(errors='replace')[-3000:]}"
            )
        return path.exists() and text in path.read_text(errors="replace")

    def start_postgres(self) -> None:
        server = postgres.start()  # its own temp dir, which the unprivileged user can reach
        if server.postmaster_pid is not None:  # the database is the workload's, not the cluster's
            run_in_background(server.postmaster_pid, POSTGRES_CGROUP)
        self.pg = server
        self.postgres_base = str(server.base)
        self.database_url = server.create_database("app")
        self.save()

    def create_database(self, name: str) -> str:
        """A fresh database on the cluster's PostgreSQL; its URL."""
        if self.pg is None:
            raise ClusterError("the cluster's PostgreSQL is not running")
        return self.pg.create_database(name)

    def start_apiserver(self) -> None:
        self._spawn(
            "apiserver",
            [
                sys.executable,
                "-m",
                "kubemigrate.devcluster.apiserver",
                "--port",
                "0",
                "--kubeconfig",
                str(self.kubeconfig),
                "--pod-logs-dir",
                str(self.workdir / "kubelet"),  # the kubelet's --workdir (start_kubelet)
            ],
        )
        wait_for(
            lambda: self._log_has("apiserver", "READY "), timeout=30, what="the API server emulator"
        )

    def start_kubelet(self) -> None:
        self._spawn(
            "kubelet",
            [
                sys.executable,
                "-m",
                "kubemigrate.devcluster.kubelet",
                "--kubeconfig",
                str(self.kubeconfig),
                "--workdir",
                str(self.workdir / "kubelet"),
                "--backoff-base",
                "0.5",
            ],
        )
        wait_for(lambda: self._log_has("kubelet", "READY"), timeout=30, what="the kubelet stand-in")

    def start_operator(self, *, kubeconfig: Path | None = None, **settings: str) -> Part:
        """The operator, building Jobs that run plain ``kubemigrate``; ``settings`` (by
        field name) win over ``operator_settings``; ``kubeconfig`` (the cluster's when
        None) may reach the API server another way (a test's proxy).

        The kubelet stand-in resolves a container's command on its own PATH (our
        venv's bin first). An absolute host path would not do: the Job mounts an
        emptyDir at /tmp, so a venv under /tmp would be mapped into that volume.
        """
        if not self.metrics_port:
            self.metrics_port, self.health_port = postgres.free_port(), postgres.free_port()
        chosen = {**self.operator_settings, **settings}
        # the loopback of the family it listens on (kopf's health server takes one)
        self.loopback = "[::1]" if ":" in chosen.get("listen_address", "") else "127.0.0.1"
        env = self.env(
            KUBECONFIG=str(kubeconfig or self.kubeconfig),
            KUBEMIGRATE_METRICS_PORT=str(self.metrics_port),
            KUBEMIGRATE_HEALTH_PORT=str(self.health_port),
            **{f"KUBEMIGRATE_{k.upper()}": v for k, v in chosen.items()},
        )
        part = self._spawn("operator", [str(bin_dir() / "kubemigrate"), "operator"], env=env)
        wait_for(
            lambda: (
                self._log_has("operator", "")
                and _http_ok(f"http://{self.loopback}:{self.health_port}/healthz")
            ),
            timeout=60,
            what="the operator's health endpoint",
        )
        return part

    def apply_crds(self) -> None:
        self.kubectl("apply", "-f", str(repo_file("crds", "migrationruns.kubemigrate.io.yaml")))
        wait_for(
            lambda: self.kubectl("get", "mr", "-A", check=False).returncode == 0,
            timeout=30,
            what="the MigrationRun API to be served",
        )

    def start(self, *, operator: bool = True) -> LocalCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_postgres()
        self.start_apiserver()
        self.start_kubelet()
        self.apply_crds()
        if operator:
            self.start_operator()
        return self

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://{self.loopback}:{self.metrics_port}/metrics", timeout=5
        ) as r:
            return str(r.read().decode())

    # -- state and stopping ----------------------------------------------------

    def save(self) -> None:
        data = {
            "parts": {k: v.state() for k, v in self.parts.items()},
            "database_url": self.database_url,
            "postgres_base": self.postgres_base,
            "metrics_port": self.metrics_port,
            "health_port": self.health_port,
            "loopback": self.loopback,
        }
        path = self.workdir / STATE_FILE
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, workdir: Path) -> LocalCluster:
        data = json.loads((workdir / STATE_FILE).read_text())
        cluster = cls(workdir=workdir)
        cluster.parts = {k: Part(**v) for k, v in data["parts"].items()}
        cluster.database_url = data["database_url"]
        cluster.postgres_base = data["postgres_base"]
        cluster.metrics_port = data["metrics_port"]
        cluster.health_port = data["health_port"]
        cluster.loopback = data.get("loopback", cluster.loopback)
        return cluster

    def stop(self, *, remove: bool = True) -> None:
        for name in ("operator", "kubelet", "apiserver"):
            part = self.parts.get(name)
            if part is not None:
                part.stop()
        if self.postgres_base:
            server = postgres.PostgresServer(
                base=Path(self.postgres_base), port=0, password="", bindir=postgres.find_bindir()
            )
            server.destroy() if remove else server.stop()
            release(POSTGRES_CGROUP)
        if remove:
            shutil.rmtree(self.workdir, ignore_errors=True)
