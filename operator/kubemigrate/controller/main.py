"""``kubemigrate operator``: settings, logs, metrics, then kopf."""

from __future__ import annotations

import os

import kopf

from kubemigrate.observability.logging import configure as configure_logging
from kubemigrate.observability.logging import route_stdlib
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import load_settings


def run_operator(*, log_format: str | None = None) -> None:
    settings = load_settings()
    level = "debug" if os.environ.get("KUBEMIGRATE_DEBUG") else "info"
    configure_logging(log_format or "json", level=level)
    route_stdlib(level)
    metrics = Metrics()
    server = metrics.serve(settings.metrics_port)
    from kubemigrate.controller import handlers  # noqa: F401 - registers the handlers

    try:
        kopf.run(
            standalone=settings.standalone,
            # kopf makes peering mandatory whenever a name is given
            peering_name=None if settings.standalone else settings.peering_name,
            namespaces=settings.namespaces,
            clusterwide=not settings.namespaces,
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
            memo=kopf.Memo(settings=settings, metrics=metrics),
        )
    finally:
        server()
