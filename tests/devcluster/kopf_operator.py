"""A tiny kopf operator used by test_kopf.py: it records a phase in the status."""

from typing import Any

import kopf


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # The kubernetes client reads KUBECONFIG once, at import; kopf's own reader reads it now.
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: object) -> None:
    settings.posting.enabled = True
    settings.watching.server_timeout = 30


@kopf.on.create("kubemigrate.io", "v1alpha1", "migrationruns")
def created(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: object) -> None:
    patch.status["phase"] = "Succeeded"
    patch.status["counts"] = {"applied": 1, "pending": 0}
    kopf.info(body, reason="Seen", message=f"action {spec.get('action')}")
