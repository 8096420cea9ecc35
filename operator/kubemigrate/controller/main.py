"""``kubemigrate operator``: settings, logs, metrics, then kopf."""

from __future__ import annotations

import getpass
import os
import socket

import kopf
from kubernetes.client import ApiClient
from kubernetes.config import ConfigException
from pydantic import ValidationError

from kubemigrate.controller.kube import load_client
from kubemigrate.domain.errors import UsageError
from kubemigrate.observability.logging import configure as configure_logging
from kubemigrate.observability.logging import route_stdlib
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import OperatorSettings, load_settings


def checked_settings() -> OperatorSettings:
    """The settings, or one clear error naming each bad variable (not a traceback)."""
    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"KUBEMIGRATE_{'_'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise UsageError(
            f"Invalid operator settings: {problems}.",
            hint="fix those KUBEMIGRATE_* environment variables (the Helm chart's values "
            "set them; operator/kubemigrate/settings.py documents each)",
        ) from None


def cluster_client() -> ApiClient:
    """The client the handlers use, made before kopf starts: without cluster access the
    start fails at once, not in kopf's startup retry loop (a retry a minute, forever)."""
    try:
        return load_client()
    except ConfigException as exc:
        raise UsageError(
            f"No Kubernetes configuration: not running in a pod, and no usable kubeconfig ({exc}).",
            hint="set KUBECONFIG (or ~/.kube/config) to the cluster's, or run the operator "
            "in the cluster (helm install kubemigrate helm/kubemigrate)",
        ) from None


def name_among_peers() -> None:
    """Give kopf a name for this process where it cannot make one.

    kopf names an operator among its peers (and it asks even when standalone) after its
    user, unless ``POD_ID`` is set; ``getpass.getuser()`` raises in a container whose UID
    has no passwd entry, as the image's 65532 has none, and the operator crashed at
    start. The chart sets ``POD_ID`` to the pod's name; a manifest of one's own may not.
    The host's name (the pod's, in a pod) and the process id name it as well."""
    if "POD_ID" in os.environ:
        return
    try:
        getpass.getuser()
    except (KeyError, OSError):
        os.environ["POD_ID"] = f"{socket.gethostname()}/{os.getpid()}"


def run_operator(*, log_format: str | None = None) -> None:
    settings = checked_settings()
    name_among_peers()
    api = cluster_client()
    level = "debug" if os.environ.get("KUBEMIGRATE_DEBUG") else "info"
    configure_logging(log_format or "json", level=level)
    route_stdlib(level)
    metrics = Metrics()
    server = metrics.serve(settings.metrics_port, settings.listen_address)
    from kubemigrate.controller import handlers  # noqa: F401 - registers the handlers

    try:
        kopf.run(
            standalone=settings.standalone,
            # kopf makes peering mandatory whenever a name is given
            peering_name=None if settings.standalone else settings.peering_name,
            namespaces=settings.namespaces,
            clusterwide=not settings.namespaces,
            liveness_endpoint=f"http://{settings.listen_host}:{settings.health_port}/healthz",
            memo=kopf.Memo(settings=settings, metrics=metrics, api=api),
        )
    finally:
        server()
