"""Fixtures for the API server emulator's tests: one emulator process per module."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubemigrate.devcluster.apiserver import ApiServerProcess
from tests.devcluster.devcluster_http import CRD_PATH, Http

VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin"


@pytest.fixture(scope="module")
def apiserver() -> Iterator[ApiServerProcess]:
    with ApiServerProcess(startup_timeout=30.0) as server:
        yield server


@pytest.fixture(scope="module")
def api(apiserver: ApiServerProcess) -> Http:
    return Http(apiserver.url)


def kubectl_binary() -> str:
    candidate = VENV_BIN / "kubectl"
    if candidate.exists():
        return str(candidate)
    import sys

    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else (shutil.which("kubectl") or "kubectl")


@pytest.fixture(scope="module")
def kubectl(apiserver: ApiServerProcess) -> Any:
    binary = kubectl_binary()

    def run(
        *args: str, stdin: str | None = None, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=apiserver.env(),
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


@pytest.fixture(scope="module")
def crd(api: Http) -> dict[str, Any]:
    """The sample MigrationRun CRD, registered once per module."""
    import yaml

    body = yaml.safe_load(CRD_PATH.read_text())
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    assert reply.status in (201, 409), reply.body
    result: dict[str, Any] = body
    return result


@pytest.fixture
def namespace(api: Http) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    reply = api.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert reply.status == 201, reply.body
    return name
