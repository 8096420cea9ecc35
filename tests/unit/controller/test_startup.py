"""``kubemigrate operator`` refuses to start on bad settings or no cluster access with one
clear message and exit 2, instead of a traceback or kopf's retry-a-minute loop."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_bad_settings_are_named_by_their_variables(tmp_path: Path) -> None:
    result = run_cli(
        "operator",
        timeout=60,
        env={
            "KUBEMIGRATE_METRICS_PORT": "abc",
            "KUBEMIGRATE_DEFAULT_ENVIRONMENT": "prod",
            "KUBECONFIG": str(tmp_path / "none"),
        },
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: Invalid operator settings:" in result.stderr
    assert "KUBEMIGRATE_METRICS_PORT: Input should be a valid integer" in result.stderr
    assert "KUBEMIGRATE_DEFAULT_ENVIRONMENT: Input should be 'development'" in result.stderr


def test_no_cluster_access_fails_at_once(tmp_path: Path) -> None:
    result = run_cli(
        "operator",
        timeout=60,
        env={"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: No Kubernetes configuration" in result.stderr
    assert "hint: set KUBECONFIG" in result.stderr
