"""MigrationRun.spec as typed, validated models.

The API server validates a MigrationRun against the CRD (crds/) before the operator
sees it; the operator validates again here because a CRD can be older than the
operator, installed without its CEL rules (clusters before 1.25), or bypassed by an
emulator. The models mirror the CRD field for field, with the same defaults, enums,
bounds and cross-field rules; ``tests/unit/controller/test_spec.py`` fails when they
drift apart. ``parse_spec`` turns pydantic's errors into one ``InvalidSpec`` whose
message names each offending field as ``spec.a.b``, for the run's condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from kubemigrate.domain.errors import UsageError
from kubemigrate.domain.histories import TABLE_NAME_PATTERN
from kubemigrate.domain.migrations import Action, Environment

Format = Literal["drizzle", "golang-migrate", "flyway", "dbmate"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
Quantity = int | Annotated[str, Field(pattern=QUANTITY)]
MigrationName = Annotated[str, Field(min_length=1, max_length=255)]
#: A list of migration names; unique, as the CRD's ``x-kubernetes-list-type: set`` says.
MigrationNames = Annotated[list[MigrationName], Field(max_length=100)]

#: Actions that accept ``target`` / ``steps`` / ``confirm`` / ``repair`` (the CRD's CEL rules
#: say the same).
TARGET_ACTIONS = frozenset({Action.MIGRATE, Action.ROLLBACK, Action.BASELINE, Action.PLAN})
STEPS_ACTIONS = frozenset({Action.ROLLBACK})
CONFIRM_ACTIONS = frozenset({Action.ROLLBACK, Action.RESET})
REPAIR_ACTIONS = frozenset({Action.REPAIR})
#: The actions that read drizzle's own migrations table (``--drizzle-table``): a first
#: migrate (refused until baseline), a baseline, a plan of a migrate.
DRIZZLE_TABLE_ACTIONS = frozenset({Action.MIGRATE, Action.BASELINE, Action.PLAN})
#: The actions spec.dryRun previews (the engine's --dry-run; a reset's plan). A repair
#: has no preview, and status, verify and plan change nothing anyway.
DRY_RUN_ACTIONS = frozenset({Action.MIGRATE, Action.ROLLBACK, Action.BASELINE, Action.RESET})


class InvalidSpec(UsageError):
    """The run's spec breaks the API's rules. Permanent: a retry sees the same spec, and
    the spec is immutable, so the run fails and the user creates a corrected one."""

    reason = "InvalidSpec"


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )


class SecretRef(_Model):
    name: ObjectName
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")] = (
        "DATABASE_URL"
    )


class Database(_Model):
    secret_ref: SecretRef


class ConfigMapSource(_Model):
    name: ObjectName


class ImageSource(_Model):
    reference: Annotated[str, Field(min_length=1, max_length=1024)]
    path: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^/")] = "/migrations"
    pull_policy: PullPolicy | None = None


class InlineMigration(_Model):
    name: Annotated[str, Field(min_length=6, max_length=200, pattern=r"^[0-9]{4}_[a-zA-Z0-9_-]+$")]
    up: Annotated[str, Field(min_length=1, max_length=65536)]
    down: Annotated[str, Field(max_length=65536)] | None = None


class Source(_Model):
    config_map: ConfigMapSource | None = None
    image: ImageSource | None = None
    inline: Annotated[list[InlineMigration], Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        chosen = [s for s in (self.config_map, self.image, self.inline) if s is not None]
        if len(chosen) != 1:
            raise ValueError(
                "exactly one of source.configMap, source.image or source.inline must be set"
            )
        if self.inline is not None:
            names = [m.name for m in self.inline]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"source.inline has duplicate names: {', '.join(duplicates)}")
        return self


class Timeouts(_Model):
    lock_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    lock_timeout_ms: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    statement_timeout_seconds: Annotated[int, Field(ge=0, le=2147483)] | None = None


class ResourceRequirements(_Model):
    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class Toleration(_Model):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class LocalObjectReference(_Model):
    name: ObjectName


class JobOverrides(_Model):
    resources: ResourceRequirements | None = None
    service_account_name: ObjectName | None = None
    node_selector: dict[str, str] | None = None
    tolerations: Annotated[list[Toleration], Field(max_length=50)] | None = None
    image_pull_secrets: Annotated[list[LocalObjectReference], Field(max_length=20)] | None = None
    backoff_limit: Annotated[int, Field(ge=0, le=10)] | None = None
    active_deadline_seconds: Annotated[int, Field(ge=1)] | None = None
    ttl_seconds_after_finished: Annotated[int, Field(ge=0)] | None = None


class Repair(_Model):
    """What a repair accepts besides clearing a dirty mark: the CLI's ``--accept-*``, and
    its ``--force`` (a mark cleared although its migration's index is INVALID)."""

    accept_checksums: MigrationNames | None = None
    accept_downs: MigrationNames | None = None
    accept_renames: bool = False
    force: bool = False

    @field_validator("accept_checksums", "accept_downs")
    @classmethod
    def _unique(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate names: {', '.join(duplicates)}")
        return names


class MigrationRunSpec(_Model):
    """MigrationRun.spec; see the CRD's descriptions for what each field means."""

    action: Action = Action.MIGRATE
    database: Database
    source: Source
    format: Format = "drizzle"
    target: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    steps: Annotated[int, Field(ge=1, le=1000)] | None = None
    environment: Environment | None = None
    confirm: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    dry_run: bool = False
    timeouts: Timeouts = Timeouts()
    job: JobOverrides | None = None
    repair: Repair | None = None
    drizzle_table: Annotated[str, Field(max_length=200, pattern=TABLE_NAME_PATTERN)] | None = None

    @model_validator(mode="after")
    def _fields_fit_action(self) -> MigrationRunSpec:
        """The CRD's CEL rules, for API servers that did not run them."""
        if self.steps is not None and self.action not in STEPS_ACTIONS:
            raise ValueError("spec.steps is only allowed with action rollback")
        if self.confirm is not None and self.action not in CONFIRM_ACTIONS:
            raise ValueError("spec.confirm is only allowed with action rollback or reset")
        if self.target is not None and self.action not in TARGET_ACTIONS:
            raise ValueError(
                "spec.target is only allowed with action migrate, rollback, baseline or plan"
            )
        if self.repair is not None and self.action not in REPAIR_ACTIONS:
            raise ValueError("spec.repair is only allowed with action repair")
        if self.drizzle_table is not None and self.action not in DRIZZLE_TABLE_ACTIONS:
            raise ValueError(
                "spec.drizzleTable is only allowed with action migrate, baseline or plan"
            )
        if self.dry_run and self.action is Action.REPAIR:
            raise ValueError(
                "spec.dryRun: a repair has no dry run; what it records is what spec.repair names"
            )
        if self.steps is not None and self.target is not None:
            raise ValueError("spec.steps and spec.target: set one, not both")
        if self.source.inline is not None and self.format != "drizzle":
            raise ValueError("spec.format: inline sources are written in drizzle's layout")
        return self


def parse_spec(raw: Mapping[str, Any] | None) -> MigrationRunSpec:
    """Validate a MigrationRun's ``spec`` as the API server should have.

    Raises ``InvalidSpec`` with every problem on one line each, prefixed by its
    field path (``spec.timeouts.lockWaitSeconds: ...``), and the paths in
    ``details["fields"]``.
    """
    try:
        return MigrationRunSpec.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors(include_url=False)]
        fields = sorted({path for path, _ in problems})
        message = "; ".join(
            f"{path}: {text}" if path != "spec" else text for path, text in problems
        )
        raise InvalidSpec(
            f"invalid MigrationRun: {message}",
            hint="the spec cannot be edited; delete this run and create a corrected one",
            fields=fields,
        ) from None


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """One pydantic error as (``spec.a.b[0].c``, message), dropping pydantic's jargon."""
    path = "spec"
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    text = str(error["msg"]).removeprefix("Value error, ")
    return path, text


_STRICTNESS = (Environment.DEVELOPMENT, Environment.STAGING, Environment.PRODUCTION)
_LABEL_ALIASES = {
    "dev": Environment.DEVELOPMENT,
    "development": Environment.DEVELOPMENT,
    "stage": Environment.STAGING,
    "staging": Environment.STAGING,
    "prod": Environment.PRODUCTION,
    "production": Environment.PRODUCTION,
}


def effective_environment(
    spec_environment: str | None,
    namespace_label: str | None,
    default: str,
) -> Environment:
    """The environment a run executes under: the stricter of its own and its namespace's.

    The run's own is ``spec.environment``, else the operator's ``default``. A namespace
    label can only make it stricter, so a team cannot escape production's rules by
    editing its MigrationRun. A label value that is not a known environment counts as
    production: a typo must fail safe, not open.
    """
    own = Environment(spec_environment) if spec_environment else Environment(default)
    if namespace_label is None:
        return own
    label = _LABEL_ALIASES.get(namespace_label.strip().lower(), Environment.PRODUCTION)
    return max(own, label, key=_STRICTNESS.index)
