"""kopf can list, watch, patch status and post events through the emulator."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

from kubemigrate.devcluster.apiserver import ApiServerProcess
from tests.devcluster.devcluster_http import Http, run_body, runs_path

OPERATOR = Path(__file__).parent / "kopf_operator.py"


def _wait(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


def test_kopf_handler_sets_status(
    apiserver: ApiServerProcess, api: Http, crd: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = f"kopf-{uuid.uuid4().hex[:6]}"
    api.post("/api/v1/namespaces", {"metadata": {"name": namespace}})
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    args = ["run", "--standalone", "--namespace", namespace, str(OPERATOR)]
    with KopfRunner(args, timeout=60) as runner:
        assert api.post(runs_path(namespace), run_body("k1")).status == 201

        def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = api.get(runs_path(namespace, "k1")).body
            return body if body.get("status", {}).get("phase") == "Succeeded" else None

        run = _wait(finished)

        def event_posted() -> bool:
            events = api.get(f"/api/v1/namespaces/{namespace}/events").body["items"]
            return any(
                e.get("reason") == "Seen" and e["involvedObject"]["name"] == "k1" for e in events
            )

        _wait(event_posted)
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None
    assert run["status"]["counts"] == {"applied": 1, "pending": 0}
    assert run["metadata"]["generation"] == 1  # kopf's status writes did not bump it
    assert "kopf.zalando.org/last-handled-configuration" in run["metadata"]["annotations"]
