"""``kubemigrate operator`` refuses to start on bad settings or no cluster access with one
clear message and exit 2, instead of a traceback or kopf's retry-a-minute loop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def test_replicas_get_priorities_of_their_own_so_one_of_them_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kopf pauses every peer of the highest priority when there are several: replicas
    at one shared priority would all stand by and no run would ever be handled."""
    import kopf
    from prometheus_client import CollectorRegistry

    from kubemigrate.controller import handlers
    from kubemigrate.observability.metrics import Metrics
    from kubemigrate.settings import load_settings

    class NoResync:
        def __init__(self, *args: object) -> None:
            pass

        def start(self) -> None:
            pass

    monkeypatch.setattr(handlers, "Resync", NoResync)
    monkeypatch.setenv("KUBEMIGRATE_STANDALONE", "false")
    priorities = set()
    for _ in range(3):
        settings = kopf.OperatorSettings()
        metrics = Metrics(registry=CollectorRegistry())
        memo = kopf.Memo(settings=load_settings(), metrics=metrics, api=None)
        configure: Any = handlers.configure  # kopf's decorator types it as its own
        configure(settings=settings, memo=memo)
        assert settings.peering.standalone is False
        priorities.add(settings.peering.priority)
    assert len(priorities) == 3
    assert min(priorities) > 0  # above kopf's default, which a stray peer would have


def test_the_api_server_sends_only_the_jobs_and_pods_the_operator_made() -> None:
    """kopf's ``labels=`` filters in the client: every Job of the cluster crossed the
    wire to be dropped by the operator."""
    import kopf

    from kubemigrate.controller import handlers
    from kubemigrate.controller.jobs import LABEL_MANAGED_BY, MANAGED_BY

    settings = kopf.OperatorSettings()
    handlers.watch_only_ours(settings)
    ours = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
    for group, plural, kind in (("batch", "jobs", "Job"), ("", "pods", "Pod")):
        resource = kopf.Resource(group, "v1", plural, kind=kind, namespaced=True)
        assert list(settings.watching.label_selectors.collect(resource)) == [ours]
    runs = kopf.Resource("kubemigrate.io", "v1alpha1", "migrationruns", namespaced=True)
    assert list(settings.watching.label_selectors.collect(runs)) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="changing to the image's UID needs root")
def test_an_image_uid_without_a_passwd_entry_can_name_itself_to_kopf() -> None:
    """The image runs as 65532, which has no passwd entry: kopf's name for the process
    (asked even when standalone) came from getpass.getuser(), and the operator crashed
    at start with ``KeyError: 'getpwuid(): uid not found: 65532'``."""
    ask_kopf = (
        "from kubemigrate.controller.main import name_among_peers\n"
        "name_among_peers()\n"
        "from kopf._core.engines.peering import detect_own_id\n"
        "print(detect_own_id(manual=False))\n"
    )
    setpriv = ["setpriv", "--reuid", "65532", "--regid", "65532", "--clear-groups"]
    result = subprocess.run(
        [*setpriv, sys.executable, "-c", ask_kopf],
        env={"PATH": os.environ["PATH"]},  # no USER or LOGNAME for getpass to read either
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    name, _, pid = result.stdout.strip().partition("/")
    assert name  # the host's (the pod's) name
    assert pid.isdigit()  # and the process id
