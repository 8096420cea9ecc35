"""One local cluster (PostgreSQL, API server emulator, kubelet stand-in, operator) per module.

Tests talk to it only as a user would: the real kubectl, YAML, `kubectl wait`.
Each test works in a namespace of its own.
"""

from __future__ import annotations

import itertools
import json
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from kubemigrate.devcluster.cluster import LocalCluster

_names = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    workdir = Path(tempfile.mkdtemp(prefix="kubemigrate-e2e-"))
    # the image sources the tests use ("images" the kubelet stand-in never pulls)
    local = LocalCluster(
        workdir=workdir, operator_settings={"allowed_source_images": "registry.example/"}
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


class Namespace:
    """A fresh namespace with helpers for the objects a user would create in it."""

    def __init__(self, cluster: LocalCluster, name: str) -> None:
        self.cluster = cluster
        self.name = name

    def kubectl(
        self, *args: str, check: bool = True, input_text: str | None = None, timeout: float = 60
    ) -> Any:
        return self.cluster.kubectl(
            *args, "-n", self.name, check=check, input_text=input_text, timeout=timeout
        )

    def apply(self, manifest: str, *, check: bool = True) -> Any:
        return self.kubectl("apply", "-f", "-", input_text=manifest, check=check)

    def client_yaml(self, *args: str) -> str:
        return self.kubectl("create", *args, "--dry-run=client", "-o", "yaml").stdout  # type: ignore[no-any-return]

    def secret(self, name: str, url: str) -> None:
        self.apply(
            self.client_yaml("secret", "generic", name, f"--from-literal=DATABASE_URL={url}")
        )

    def configmap(self, name: str, directory: Path) -> None:
        # as the README and the operator's ConfigMapNotFound hint say: the journal only
        args = [f"--from-file={directory}/"]
        if (directory / "meta" / "_journal.json").is_file():
            args.append(f"--from-file={directory}/meta/_journal.json")
        self.apply(self.client_yaml("configmap", name, *args))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)  # type: ignore[no-any-return]

    def items(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"] + (["-l", selector] if selector else [])
        return json.loads(self.kubectl(*args).stdout)["items"]  # type: ignore[no-any-return]

    def wait_phase(self, run: str, phase: str, timeout: int = 90) -> dict[str, Any]:
        result = self.kubectl(
            "wait",
            f"mr/{run}",
            f"--for=jsonpath={{.status.phase}}={phase}",
            f"--timeout={timeout}s",
            check=False,
            timeout=timeout + 15,
        )
        body = self.get("mr", run)
        assert result.returncode == 0, (
            f"{run} never reached {phase}: {json.dumps(body.get('status'), indent=2)}"
        )
        return body

    def events(self, run: str) -> list[dict[str, Any]]:
        return [
            e for e in self.items("events") if (e.get("involvedObject") or {}).get("name") == run
        ]


@pytest.fixture
def namespace(cluster: LocalCluster) -> Namespace:
    name = f"e2e-{next(_names)}"
    cluster.apply(
        cluster.kubectl("create", "namespace", name, "--dry-run=client", "-o", "yaml").stdout
    )
    return Namespace(cluster, name)


@pytest.fixture
def database_url(cluster: LocalCluster, namespace: Namespace) -> str:
    return cluster.create_database(namespace.name.replace("-", "_"))


@pytest.fixture
def pg_password_url(cluster: LocalCluster, database_url: str) -> tuple[str, str]:
    """A URL whose password is distinctive, so a leak anywhere is found by grep."""
    password = f"e2e-pw-{secrets.token_hex(8)}"
    role = f"leaky_{secrets.token_hex(4)}"
    assert cluster.pg is not None
    with psycopg.connect(cluster.pg.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    database = database_url.rsplit("/", 1)[1]
    return f"postgresql://{role}:{password}@127.0.0.1:{cluster.pg.port}/{database}", password
