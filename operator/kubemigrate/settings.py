"""The operator's settings: typed, documented, read from ``KUBEMIGRATE_*`` variables.

Nothing is read at import time: ``load_settings()`` reads the environment when the
operator starts, so tests (and the Job's engine, which never needs these) build
settings explicitly and no module-level state can go stale. Every field carries a
docstring, which pydantic turns into its description; a unit test keeps it so.

The MigrationRun spec's ``job`` overrides win over the ``job_*`` defaults here, within
the limits the ``allowed_*``, ``allow_*`` and ``job_max_*`` fields set (whoever may
create a MigrationRun gets a Pod its own RBAC never allowed: these say how much of that
Pod they shape); the namespace label named by ``production_namespace_label`` wins over
both the spec's ``environment`` and ``default_environment`` when it is stricter.

The Helm chart's ``values.schema.json`` repeats these fields' limits (ranges, enums,
patterns) so that ``helm install`` refuses what start-up would; change one here and
``tests/unit/test_helm_schema.py`` fails until the schema says the same.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib import metadata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kubemigrate.quantities import parse_quantity

EnvironmentName = Literal["development", "staging", "production"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REGISTRY_HOST = re.compile(r"^(localhost|[^/]*[.:][^/]*)(/|$)")
_SERVICE_ACCOUNT = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?"
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
ANY = "*"
"""In ``allowed_source_images`` or ``allowed_service_accounts``: anything goes."""
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
DEFAULT_JOB_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
    "limits": {"memory": "256Mi", "ephemeral-storage": "1Gi"},
}
"""Enough for the engine (Python + psycopg); no CPU limit, so start-up is not throttled.
Ephemeral storage bounds what the pod writes to the node's disk: its logs and its
emptyDirs (/tmp, and an image source's copied files), whose sizeLimit is this limit."""


class JobResources(BaseModel):
    """Requests and limits of a Job's containers, by resource name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: dict[str, str | int] = Field(default_factory=dict)
    limits: dict[str, str | int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> JobResources:
        problems = []
        for part in ("requests", "limits"):
            for name, value in getattr(self, part).items():
                if name not in _CONTAINER_RESOURCES and "/" not in name:
                    problems.append(f"{part}.{name}: not a container resource")
                    continue
                try:
                    amount = parse_quantity(value)
                except ValueError as exc:
                    problems.append(f"{part}.{name}: {exc}")
                    continue
                if amount < 0 or (part == "limits" and amount == 0):
                    what = "above zero (0 means no limit)" if part == "limits" else "at least 0"
                    problems.append(f"{part}.{name}: {value} must be {what}")
        for name in self.requests.keys() & self.limits.keys():
            try:
                above = parse_quantity(self.requests[name]) > parse_quantity(self.limits[name])
            except ValueError:
                continue
            if above:
                problems.append(f"requests.{name} is above limits.{name}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def as_dict(self) -> dict[str, dict[str, str | int]]:
        """The ``resources`` of a container, a fresh copy each time."""
        return {"requests": dict(self.requests), "limits": dict(self.limits)}


def _default_image() -> str:
    """The image matching the installed package, so operator and Job agree on the CLI."""
    try:
        version = metadata.version("kubemigrate")
    except metadata.PackageNotFoundError:
        version = "latest"
    return f"ghcr.io/kubemigrate/kubemigrate:{version}"


class OperatorSettings(BaseSettings):
    """How the operator runs and how it builds Jobs.

    Frozen: handlers receive one instance at startup and cannot change it under
    each other's feet.
    """

    model_config = SettingsConfigDict(
        env_prefix="KUBEMIGRATE_",
        env_ignore_empty=True,
        env_parse_none_str="none",
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )

    namespaces: Annotated[tuple[str, ...], NoDecode] = ()
    """Namespaces whose MigrationRuns the operator handles, comma-separated
    (``KUBEMIGRATE_NAMESPACES=shop,billing``); empty means every namespace, which needs
    cluster-wide RBAC."""

    job_image: str = Field(default_factory=_default_image)
    """The image the Job runs: this project's image, whose entrypoint has the engine
    CLI. Defaults to the image tagged with the installed package's version."""

    job_image_pull_policy: PullPolicy = "IfNotPresent"
    """Pull policy for ``job_image``."""

    job_command: Annotated[tuple[str, ...], NoDecode] = ("kubemigrate",)
    """The command that starts the engine CLI in ``job_image``, before the action and
    flags; a JSON list or a shell-style string (``KUBEMIGRATE_JOB_COMMAND='python -m
    kubemigrate'``)."""

    default_environment: EnvironmentName = "development"
    """The environment of a run whose spec and namespace say nothing. Set it to
    ``production`` in clusters where an unlabelled namespace should get production's
    confirmations and refusals."""

    production_namespace_label: str = "kubemigrate.io/environment"
    """The namespace label whose value (development, staging, production) overrides a
    run's environment when stricter, so a team cannot opt out of production's rules by
    editing its own MigrationRun."""

    metrics_port: int = Field(default=8080, ge=1, le=65535)
    """Port serving Prometheus metrics at ``/metrics``."""

    health_port: int = Field(default=8081, ge=1, le=65535)
    """Port serving kopf's liveness endpoint at ``/healthz``."""

    listen_address: Literal["0.0.0.0", "::"] = "0.0.0.0"  # noqa: S104 - reached on its pod IP
    """The address ``/metrics`` and ``/healthz`` listen on: ``0.0.0.0`` (every IPv4
    address) where pods' first IP is IPv4, ``::`` where it is IPv6 (an IPv6-only
    cluster, or a dual-stack one listing IPv6 first): the kubelet probes, and
    Prometheus scrapes, that address, and a pod listening on the other family
    never answers. Nothing else: a pod's own IP is not known before it starts, and
    a loopback address would fail every probe."""

    standalone: bool = True
    """Run without kopf peering. Correct only with exactly one replica: with more,
    set this to false so the replicas elect one active handler through the peering
    object named by ``peering_name`` (the others stand by)."""

    peering_name: str = "kubemigrate"
    """The kopf peering object used when ``standalone`` is false; it must exist
    (a ClusterKopfPeering when watching every namespace, else a KopfPeering in each
    watched namespace)."""

    job_backoff_limit: int = Field(default=3, ge=0, le=10)
    """Retries of a Job after temporary failures (exit code 75: database unreachable,
    lock timeout) when the run does not set ``spec.job.backoffLimit``. Permanent
    failures fail the Job at once, whatever this says."""

    job_active_deadline_seconds: int | None = Field(default=3600, ge=1)
    """Wall-clock limit of a Job, retries included, when the run does not set one;
    ``none`` for no limit. The engine's own lock and statement timeouts fire first in
    normal operation; this catches hangs."""

    job_ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    """Seconds after which Kubernetes deletes a finished Job, when the run does not set
    one; ``none`` (the default) keeps it, with its pod's logs, until the MigrationRun is
    deleted, which garbage-collects it."""

    job_run_as_user: int | None = Field(default=65532, ge=1, le=2147483647)
    """The uid, gid and fsGroup of a Job's pod: 65532, the image's own non-root user.
    ``none`` leaves them to the platform, for one that assigns its own, as OpenShift's
    restricted-v2 SCC does (it refuses a pod asking for a uid outside the namespace's
    range). The pod still says runAsNonRoot, so an image source whose user is root
    fails to start rather than run as root; its files must be readable by the
    assigned user."""

    # -- what a MigrationRun may ask of its Job ------------------------------------
    #
    # The Job controller, not the run's author, creates the Job's Pod: the author's
    # RBAC on Pods is never checked (Pod Security admission is). A run that breaks one
    # of these fails with reason InvalidSpec, naming the field, the limit and the setting.

    allowed_source_images: Annotated[tuple[str, ...], NoDecode] = ()
    """Images ``spec.source.image.reference`` may name, as registry/repository prefixes,
    comma-separated or a JSON list (``registry.example.com/shop/,ghcr.io/acme``); ``*``
    allows any image. Empty (the default) refuses image sources: the image runs as an
    init container in the run's namespace, so whoever may create a MigrationRun could
    run any code there. Each prefix starts with its registry's host (``docker.io/library/``
    for Docker Hub's official images) and matches whole path components:
    ``registry.example.com/shop`` allows ``registry.example.com/shop/migrations:1`` and
    ``registry.example.com/shop:2``, not ``registry.example.com/shopping``. References
    are compared in full form (``postgres`` is ``docker.io/library/postgres``)."""

    allowed_service_accounts: Annotated[tuple[str, ...], NoDecode] = ()
    """ServiceAccounts ``spec.job.serviceAccountName`` may name: ``name`` (in any
    namespace) or ``namespace/name``, comma-separated or a JSON list; ``*`` allows any.
    Empty (the default): a run's Job uses its namespace's ``default`` ServiceAccount.
    Workload identity (GKE, EKS IRSA) hands a ServiceAccount's cloud credentials to every
    container of the Pod, an image source's init container included."""

    allow_node_selector: bool = True
    """Whether a run may set ``spec.job.nodeSelector``. It only chooses among the nodes the
    Pod could run on anyway (taints still keep it off others), so it is allowed unless
    turned off."""

    allow_tolerations: bool = False
    """Whether a run may set ``spec.job.tolerations``. Off by default: a toleration (one
    with ``operator: Exists`` and no key tolerates every taint) lets the Pod onto nodes a
    taint keeps for others: dedicated pools, control-plane nodes."""

    allow_image_pull_secrets: bool = True
    """Whether a run may set ``spec.job.imagePullSecrets`` (Secrets of its own namespace,
    used by the kubelet, never shown to the Pod): needed when ``job_image`` or a source
    image is in a private registry, so allowed unless turned off."""

    job_resources: JobResources = JobResources.model_validate(DEFAULT_JOB_RESOURCES)
    """Requests and limits of the Job's containers, as JSON (``{"requests": {"cpu":
    "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"}, "limits": {"memory": "256Mi",
    "ephemeral-storage": "1Gi"}}``, the default). A run's ``spec.job.resources`` changes
    the values it names and keeps the others: it may raise or lower any, never remove a
    limit named here (nor set it to 0, which is none). A default request above a limit
    the run lowers comes down with it, a default limit below a request it raises goes up.
    The ephemeral-storage limit is also each emptyDir's sizeLimit."""

    job_max_backoff_limit: int = Field(default=10, ge=0, le=10)
    """The highest ``spec.job.backoffLimit`` a run may ask for (the API allows 10)."""

    job_max_active_deadline_seconds: int | None = Field(default=86400, ge=1)
    """The highest ``spec.job.activeDeadlineSeconds`` a run may ask for (a day by default);
    ``none`` for no maximum. ``job_active_deadline_seconds``, the deadline of a run that
    asks for none, may not be above it; set to ``none``, it leaves such runs unbounded."""

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: Any) -> Any:
        """Accept ``a,b`` from the environment as well as a list from code."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_source_images", "allowed_service_accounts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """A JSON list or a comma-separated string from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(str(part).strip() for part in json.loads(text) if str(part).strip())
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("allowed_source_images")
    @classmethod
    def _check_image_prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in value if p != ANY and (not _REGISTRY_HOST.match(p) or p != p.strip())]
        if bad:
            raise ValueError(
                f"not registry/repository prefixes: {', '.join(bad)} (each starts with its "
                "registry's host, e.g. docker.io/library/ or registry.example.com/shop/; "
                "* allows any image)"
            )
        return tuple(dict.fromkeys(value))

    @field_validator("allowed_service_accounts")
    @classmethod
    def _check_service_accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in value if n != ANY and not _SERVICE_ACCOUNT.match(n)]
        if bad:
            raise ValueError(
                f"not ServiceAccount names: {', '.join(bad)} (name or namespace/name; * allows any)"
            )
        return tuple(dict.fromkeys(value))

    @field_validator("namespaces")
    @classmethod
    def _check_namespaces(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [ns for ns in value if len(ns) > 63 or not _DNS_LABEL.match(ns)]
        if bad:
            raise ValueError(f"not valid namespace names: {', '.join(bad)}")
        return tuple(dict.fromkeys(value))

    @field_validator("job_command", mode="before")
    @classmethod
    def _parse_command(cls, value: Any) -> Any:
        """Accept a JSON list or a shell-style string from the environment."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else shlex.split(text)
        return value

    @field_validator("job_command")
    @classmethod
    def _check_command(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(value):
            raise ValueError("must name a program (and no empty arguments)")
        return value

    @field_validator("production_namespace_label")
    @classmethod
    def _check_label_key(cls, value: str) -> str:
        if not _LABEL_KEY.match(value):
            raise ValueError(f"{value!r} is not a valid Kubernetes label key")
        return value

    @field_validator("peering_name")
    @classmethod
    def _check_peering_name(cls, value: str) -> str:
        if len(value) > 63 or not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not a valid object name")
        return value

    @property
    def listen_host(self) -> str:
        """``listen_address`` as a URL writes it (an IPv6 one in brackets)."""
        return f"[{self.listen_address}]" if ":" in self.listen_address else self.listen_address

    @model_validator(mode="after")
    def _check_ports(self) -> OperatorSettings:
        if self.metrics_port == self.health_port:
            raise ValueError("metrics_port and health_port must differ")
        return self

    @model_validator(mode="after")
    def _defaults_within_maximums(self) -> OperatorSettings:
        """A default a run could not ask for itself is a mistake, said at start-up."""
        if self.job_backoff_limit > self.job_max_backoff_limit:
            raise ValueError(
                f"job_backoff_limit ({self.job_backoff_limit}) is above "
                f"job_max_backoff_limit ({self.job_max_backoff_limit})"
            )
        deadline, most = self.job_active_deadline_seconds, self.job_max_active_deadline_seconds
        if most is not None and deadline is not None and deadline > most:
            raise ValueError(
                f"job_active_deadline_seconds ({deadline}) is above "
                f"job_max_active_deadline_seconds ({most}): raise the maximum (or set it "
                "to none), or lower the default"
            )
        return self

    @property
    def clusterwide(self) -> bool:
        """True when every namespace is watched (no ``namespaces`` given)."""
        return not self.namespaces


def load_settings(**overrides: Any) -> OperatorSettings:
    """Read the settings from ``KUBEMIGRATE_*`` variables; ``overrides`` win over them.

    Raises pydantic's ``ValidationError`` naming the offending variable's field.
    """
    return OperatorSettings(**overrides)
