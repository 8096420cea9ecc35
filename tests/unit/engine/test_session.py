"""What a blocked run is told about the run holding the lock: pg_stat_activity's name."""

from __future__ import annotations

import pytest

from kubemigrate.engine.session import application_name


def test_a_job_s_session_is_named_after_its_pod_which_names_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Kubernetes sets HOSTNAME to the pod's name: <job name>-<suffix>, the run's name in it
    monkeypatch.setenv("HOSTNAME", "shop-add-order-status-3f9a2c1b-x7k2p")
    name = application_name("migrate", "aab74d15-2c3e-4b7a-9f0e-0c2094a23361")
    assert name.startswith("kubemigrate migrate shop-add-order-status-3f9a2c1b-x7k2p:")
    assert len(name) <= 63  # PostgreSQL's limit; the run id is what gets cut
