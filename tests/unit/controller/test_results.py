"""What a failed Job's pods say about whether the database was touched."""

from __future__ import annotations

from typing import Any

from kubemigrate.controller.results import never_started


def pod(*container_states: dict[str, Any]) -> dict[str, Any]:
    return {"status": {"containerStatuses": [{"state": s} for s in container_states]}}


def test_a_pod_that_only_waited_never_touched_the_database() -> None:
    """A Job past its deadline while its pod waited (no node, a missing Secret key)
    said "what it changed is unknown"; its pods show nothing ever ran."""
    assert never_started([pod({"waiting": {"reason": "CreateContainerConfigError"}})])
    assert never_started([{"status": {"phase": "Pending"}}])


def test_a_pod_that_ran_or_no_pod_at_all_proves_nothing() -> None:
    assert not never_started([pod({"running": {}})])
    assert not never_started([pod({"terminated": {"exitCode": 1}})])
    assert not never_started([pod({"waiting": {}}), pod({"terminated": {"exitCode": 143}})])
    assert not never_started([])  # deleted at the deadline: it may have run
