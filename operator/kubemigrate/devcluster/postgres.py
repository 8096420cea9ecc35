"""A throwaway PostgreSQL server started from this machine's server binaries.

Tests, benchmarks and the demo each start their own server in a temporary
directory and never touch a shared one. PostgreSQL refuses to run as root, so
when we are root the server runs as an unprivileged user (``nobody``) with its
data and socket directories handed over to that user.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

UNPRIVILEGED_USER = "nobody"


def find_bindir() -> Path:
    """The newest installed server's bin directory (``initdb`` and ``pg_ctl`` live there)."""
    override = os.environ.get("KUBEMIGRATE_PG_BINDIR")
    if override:
        return Path(override)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "No PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH); "
        "install the postgresql package or set KUBEMIGRATE_PG_BINDIR."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One running server; ``url(db)`` gives a libpq URL with the superuser password."""

    base: Path
    port: int
    password: str
    bindir: Path
    user: str = "postgres"

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def logfile(self) -> Path:
        return self.base / "postgres.log"

    @property
    def postmaster_pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        pw = quote(self.password if password is None else password, safe="")
        return f"postgresql://{self.user}:{pw}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.datadir.exists():
            _run_as_owner(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                check=False,
            )

    def start_again(self) -> None:
        """Start a stopped server on its data (after ``stop``, a crash: recovery runs)."""
        _run_as_owner(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def start(
    base: Path | None = None,
    *,
    port: int | None = None,
    durable: bool = False,
    settings: dict[str, str] | None = None,
) -> PostgresServer:
    """initdb + start a server listening on 127.0.0.1 with password (SCRAM) auth.

    ``durable=False`` turns fsync off: tests need a real server, not a durable one.
    """
    bindir = find_bindir()
    base = Path(tempfile.mkdtemp(prefix="kubemigrate-pg-")) if base is None else base
    base.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    server = PostgresServer(base=base, port=port or free_port(), password=password, bindir=bindir)
    if os.geteuid() == 0:
        shutil.chown(base, UNPRIVILEGED_USER)
        shutil.chown(pwfile, UNPRIVILEGED_USER)
    _run_as_owner(
        [
            str(bindir / "initdb"),
            "-D",
            str(server.datadir),
            "-U",
            "postgres",
            "--pwfile",
            str(pwfile),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
    )
    pwfile.unlink()
    options = {
        "listen_addresses": "127.0.0.1",
        "port": str(server.port),
        "unix_socket_directories": str(base),
        "max_connections": "200",
        "fsync": "on" if durable else "off",
        "synchronous_commit": "on" if durable else "off",
        "full_page_writes": "on" if durable else "off",
        "log_min_messages": "warning",
        "timezone": "UTC",
    }
    options.update(settings or {})
    with (server.datadir / "postgresql.auto.conf").open("a") as conf:
        for key, value in options.items():
            conf.write(f"{key} = '{value}'\n")
    _run_as_owner(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(server.datadir),
            "-l",
            str(server.logfile),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    return server


@contextlib.contextmanager
def running(*, durable: bool = False) -> Iterator[PostgresServer]:
    """A server for the duration of a ``with`` block, removed afterwards."""
    server = start(durable=durable)
    try:
        yield server
    finally:
        server.destroy()


def _run_as_owner(cmd: list[str], *, check: bool = True) -> None:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", UNPRIVILEGED_USER, "--", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
        )
