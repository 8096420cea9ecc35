"""Shared fixtures: one throwaway PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from kubemigrate.devcluster import postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    server = postgres.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def database_url(pg_server: postgres.PostgresServer) -> Iterator[str]:
    name = f"t{os.getpid()}_{next(_counter)}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would give kubemigrate: our venv first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KUBEMIGRATE_", "NODE_ENV", "DATABASE_URL"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run_cli(
    *args: str,
    database_url: str | None = None,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``kubemigrate`` console script as a user would."""
    extra = dict(env or {})
    if database_url is not None:
        extra["DATABASE_URL"] = database_url
    return subprocess.run(
        [str(BIN / "kubemigrate"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(**extra),
        check=False,
    )
