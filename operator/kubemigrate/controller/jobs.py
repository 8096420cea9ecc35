"""Pure builders: a MigrationRun in, the Job (and inline ConfigMap) it needs out.

Nothing here talks to the API server, reads the environment or the clock: the same
run and settings always give the same dicts, which is what lets an operator that
restarted mid-run find and adopt its Job instead of creating a second one (the names
are deterministic) and what lets golden files pin the whole Job down
(tests/unit/controller/golden/). Plain dicts, not kubernetes-client models, so this
module imports neither kopf nor kubernetes and the handlers can pass the result
straight to any client.

The Job never gets the database URL from the operator: the pod reads it from the
run's Secret through ``secretKeyRef``, so the operator needs no access to Secrets.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from kubemigrate.controller import policy
from kubemigrate.controller.spec import (
    DRIZZLE_TABLE_ACTIONS,
    DRY_RUN_ACTIONS,
    JobOverrides,
    MigrationRunSpec,
    Repair,
    parse_spec,
)
from kubemigrate.domain.errors import ExitCode
from kubemigrate.domain.migrations import Action, Environment
from kubemigrate.domain.outcome import Outcome
from kubemigrate.domain.status import in_spec_terms
from kubemigrate.settings import OperatorSettings

JobMode = Literal["run", "plan"]

MIGRATIONS_DIR = "/migrations"
"""Where the migration files appear inside the Job's pod, whatever the source."""
TMP_DIR = "/tmp"  # noqa: S108 - an emptyDir of the pod's own, not the host's /tmp
RESULT_FILE = "/dev/termination-log"
"""The engine writes its JSON result here; Kubernetes puts it in the pod's status."""
DATABASE_URL_ENV = "DATABASE_URL"
SOURCE_DIR_ENV = "KUBEMIGRATE_SOURCE_DIR"

CONTAINER_NAME = "migrate"
INIT_CONTAINER_NAME = "fetch-migrations"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_RUN = "kubemigrate.io/run"
LABEL_RUN_UID = "kubemigrate.io/run-uid"
LABEL_MODE = "kubemigrate.io/mode"
LABEL_ACTION = "kubemigrate.io/action"
MANAGED_BY = "kubemigrate-operator"

_READ_ONLY_ACTIONS = frozenset({Action.STATUS, Action.VERIFY})
_MAX_NAME = 63
_HASH_LEN = 8
_PLAN_SUFFIX = "-plan"
_INLINE_SUFFIX = "-sql"


class _Run:
    """The parts of a MigrationRun body the builders read, checked once."""

    def __init__(self, run: Mapping[str, Any]) -> None:
        metadata = run.get("metadata") or {}
        missing = [k for k in ("name", "namespace", "uid") if not metadata.get(k)]
        if missing or not run.get("apiVersion") or not run.get("kind"):
            fields = [f"metadata.{k}" for k in missing]
            fields += [k for k in ("apiVersion", "kind") if not run.get(k)]
            raise ValueError(f"not a stored MigrationRun: missing {', '.join(fields)}")
        self.api_version: str = run["apiVersion"]
        self.kind: str = run["kind"]
        self.name: str = metadata["name"]
        self.namespace: str = metadata["namespace"]
        self.uid: str = metadata["uid"]
        self.spec: MigrationRunSpec = parse_spec(run.get("spec"))


def job_name(run_name: str, uid: str, *, mode: JobMode = "run") -> str:
    """The Job's name: ``<run name, shortened>-<hash of uid>[-plan]``, at most 63 chars.

    Deterministic, so a restarted operator looks up the Job it may already have
    created; keyed on the uid, so a run deleted and recreated under the same name gets
    a fresh Job instead of adopting its predecessor's. 63, not 253, because the name
    becomes the ``job-name`` label on its pods. The plan Job differs only by suffix.
    """
    digest = hashlib.sha256(uid.encode()).hexdigest()[:_HASH_LEN]
    room = _MAX_NAME - len(_PLAN_SUFFIX) - 1 - _HASH_LEN
    base = _dns_label(run_name, room) or "run"
    name = f"{base}-{digest}"
    return name + _PLAN_SUFFIX if mode == "plan" else name


def inline_configmap_name(run_name: str, uid: str) -> str:
    """The ConfigMap holding an inline source; shared by the run's plan and run Jobs."""
    return job_name(run_name, uid) + _INLINE_SUFFIX


def owner_reference(run: Mapping[str, Any]) -> dict[str, Any]:
    """Makes the run own an object: deleting the run garbage-collects it.

    ``controller: true`` marks the run as the one manager (kubectl and other
    controllers leave it alone); ``blockOwnerDeletion`` keeps a foreground delete of
    the run waiting until its Job and pods are gone.
    """
    parsed = _identity(run)
    return {
        "apiVersion": parsed["apiVersion"],
        "kind": parsed["kind"],
        "name": parsed["name"],
        "uid": parsed["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference marked ``controller: true``: the one object that manages it."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return next((ref for ref in refs if ref.get("controller") is True), None)


def not_owned(obj: Mapping[str, Any], owner_uid: str) -> str | None:
    """Why ``obj`` is not controlled by the object of uid ``owner_uid``, or None when it is.

    Names alone prove nothing: whoever may create Jobs, ConfigMaps or pods in the
    namespace may create one under the name the operator is about to use, or label a
    pod ``job-name=<a run's Job>``.
    """
    ref = controller_of(obj)
    if ref is None:
        return "it has no controller ownerReference"
    if ref.get("uid") != owner_uid:
        return f"its controller is {ref.get('kind')} {ref.get('name')} (uid {ref.get('uid')})"
    return None


def adoption_problem(existing: Mapping[str, Any], built: Mapping[str, Any]) -> str | None:
    """Why an object found under the name of one this run needs (``built``: a Job or an
    inline ConfigMap) is not the one the run would create, or None when it is.

    Its controller must be the run. A ConfigMap must also hold exactly the run's inline
    SQL and be immutable (else it could change after this check); a Job must run the same
    containers (images, commands, environment), volumes and ServiceAccount: the fields the
    API server leaves as they were written, whatever it defaults around them.
    """
    owner = str((controller_of(built) or {}).get("uid"))
    problem = not_owned(existing, owner)
    if problem is not None:
        return problem
    if built.get("kind") == "ConfigMap":
        if existing.get("data") != built.get("data") or existing.get("binaryData"):
            return "its data is not this run's spec.source.inline"
        if existing.get("immutable") is not True:
            return "it is not immutable, so its data could change after it was checked"
    elif _work(existing) != _work(built):
        return (
            "its pod template is not this run's Job's (containers, volumes or ServiceAccount): "
            "another's Job under its name, or one changed since it was made (an admission "
            "webhook that rewrites Jobs, such as a registry mirror or Kyverno's autogen "
            "rules, or an operator upgraded between its creation and now); create the run "
            "again once that is sorted out"
        )
    return None


def _work(job: Mapping[str, Any]) -> Any:
    """What a Job's pods run, with what and as whom, in a form the API server's defaults
    (a configMap volume's defaultMode, serviceAccount beside serviceAccountName) do not
    change."""
    pod = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}

    def containers(kind: str) -> list[Any]:
        return [
            (c.get("name"), c.get("image"), c.get("command"), c.get("args"), c.get("env"))
            for c in pod.get(kind) or ()
        ]

    def volume(v: Mapping[str, Any]) -> Any:
        sources = sorted(k for k in v if k != "name")
        return (v.get("name"), sources, (v.get("configMap") or {}).get("name"))

    return (
        containers("initContainers"),
        containers("containers"),
        [volume(v) for v in pod.get("volumes") or ()],
        pod.get("serviceAccountName") or "default",
    )


def labels(run_name: str, uid: str, *, mode: JobMode, action: str) -> dict[str, str]:
    """Labels on the Job and its pods: find a run's pods with ``kubemigrate.io/run-uid``.

    The run name label is cut to 63 characters (label values' limit), so it is for
    people; the uid label is exact.
    """
    return {
        LABEL_NAME: "kubemigrate",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_RUN: _label_value(run_name),
        LABEL_RUN_UID: uid,
        LABEL_MODE: mode,
        LABEL_ACTION: action,
    }


def engine_args(
    spec: MigrationRunSpec,
    *,
    environment: Environment,
    run_id: str,
    mode: JobMode = "run",
) -> list[str]:
    """The engine CLI's arguments (after the command) for a run.

    ``mode="plan"`` asks the engine, read-only, what a rollback or reset would undo:
    ``plan --for rollback --steps 2 ...``. It never carries ``--confirm`` or
    ``--dry-run``: a plan changes nothing either way.
    """
    # a reset's dry run is its plan: the engine's reset has no --dry-run
    previewed = mode == "plan" or (spec.dry_run and spec.action is Action.RESET)
    action = Action.PLAN if previewed else spec.action
    args = [
        action.value,
        "--dir",
        MIGRATIONS_DIR,
        "--format",
        spec.format,
        "--env",
        environment.value,
        "--json",
        "--log-format",
        "json",
        "--result-file",
        RESULT_FILE,
        "--run-id",
        run_id,
    ]
    if previewed:
        args += ["--for", spec.action.value]
    if spec.target is not None:
        args += ["--target", spec.target]
    if spec.steps is not None:
        args += ["--steps", str(spec.steps)]
    if mode == "run" and not previewed and spec.confirm is not None:
        # reset has no phrase (refused in production whatever it says); in staging the
        # confirmation is what the CLI's --force is, and reset takes no --confirm. A
        # rollback's confirmation also consents to undoing baselined migrations (--force).
        args += ["--force"] if action is Action.RESET else ["--confirm", spec.confirm, "--force"]
    if mode == "run" and spec.dry_run and action in DRY_RUN_ACTIONS:
        args.append("--dry-run")
    if action is Action.REPAIR and spec.repair is not None:
        args += _repair_args(spec.repair)
    if spec.drizzle_table is not None and action in DRIZZLE_TABLE_ACTIONS:
        args += ["--drizzle-table", spec.drizzle_table]
    if action in _READ_ONLY_ACTIONS:
        return args  # status and verify take no lock and run no migration SQL
    timeouts = spec.timeouts
    args += ["--lock-wait", str(timeouts.lock_wait_seconds)]
    if timeouts.lock_timeout_ms is not None:
        args += ["--lock-timeout", str(timeouts.lock_timeout_ms)]
    if timeouts.statement_timeout_seconds is not None:
        args += ["--statement-timeout", str(timeouts.statement_timeout_seconds)]
    return args


def _repair_args(repair: Repair) -> list[str]:
    """``spec.repair`` as the CLI's ``--accept-checksum X``... ``--accept-down X``...
    ``--accept-renames`` ``--force``, names in the spec's order."""
    args: list[str] = []
    for name in repair.accept_checksums or []:
        args += ["--accept-checksum", name]
    for name in repair.accept_downs or []:
        args += ["--accept-down", name]
    if repair.accept_renames:
        args.append("--accept-renames")
    if repair.force:
        args.append("--force")
    return args


def build_job(
    run: Mapping[str, Any],
    settings: OperatorSettings,
    *,
    environment: str,
    mode: JobMode = "run",
) -> dict[str, Any]:
    """The batch/v1 Job that runs the engine for ``run`` (or, with ``mode="plan"``, the
    read-only plan that comes before a production rollback or reset).

    ``environment`` is the one the run executes under, already resolved by the caller
    (``spec.effective_environment``): it needs the namespace's labels, which a pure
    builder cannot read. Raises ``spec.InvalidSpec`` for an invalid spec or one the
    settings refuse (``policy.check``) and ``ValueError`` for a body that is not a stored
    MigrationRun or a plan of an action that has none.
    """
    parsed = _Run(run)
    spec = parsed.spec
    policy.check(spec, settings, parsed.namespace)
    env = Environment(environment)
    if mode not in ("run", "plan"):
        raise ValueError(f"mode must be 'run' or 'plan', not {mode!r}")
    if mode == "plan" and spec.action not in (Action.ROLLBACK, Action.RESET):
        raise ValueError(f"a plan Job precedes rollback or reset, not {spec.action.value}")

    job_labels = labels(parsed.name, parsed.uid, mode=mode, action=spec.action.value)
    overrides = spec.job or JobOverrides()
    backoff = _first(overrides.backoff_limit, settings.job_backoff_limit)
    deadline = _first(overrides.active_deadline_seconds, settings.job_active_deadline_seconds)
    ttl = _first(overrides.ttl_seconds_after_finished, settings.job_ttl_seconds_after_finished)

    job_spec: dict[str, Any] = {
        "backoffLimit": backoff,
        "completions": 1,
        "parallelism": 1,
        "podReplacementPolicy": "Failed",
        "podFailurePolicy": pod_failure_policy(),
    }
    if deadline is not None:
        job_spec["activeDeadlineSeconds"] = deadline
    if ttl is not None:
        job_spec["ttlSecondsAfterFinished"] = ttl
    job_spec["template"] = {
        "metadata": {
            "labels": dict(job_labels),
            "annotations": {"kubectl.kubernetes.io/default-container": CONTAINER_NAME},
        },
        "spec": _pod_spec(parsed, settings, env, mode),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(parsed.name, parsed.uid, mode=mode),
            "namespace": parsed.namespace,
            "labels": job_labels,
            "ownerReferences": [owner_reference(run)],
        },
        "spec": job_spec,
    }


def pod_failure_policy() -> dict[str, Any]:
    """Fail at once on permanent errors, retry temporary ones, ignore disruptions.

    The engine exits 75 (EX_TEMPFAIL) when a retry can help (database unreachable,
    lock timeout): counted against backoffLimit. Any other non-zero exit (bad SQL,
    integrity, refused) would fail identically again, so the Job fails without
    burning retries. A pod evicted or preempted (DisruptionTarget) is not the run's
    fault and does not count.
    """
    temporary = int(ExitCode.TEMPORARY)
    return {
        "rules": [
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
            {"action": "Count", "onExitCodes": {"operator": "In", "values": [temporary]}},
            {
                "action": "FailJob",
                "onExitCodes": {"operator": "NotIn", "values": [0, temporary]},
            },
        ]
    }


def configmap_from_files(directory: str = "drizzle") -> tuple[str, str]:
    """The ``kubectl create configmap`` flags that put a drizzle-kit folder in a ConfigMap.

    ``--from-file=DIR/`` adds each file directly in DIR under its base name (no
    subfolders), so the journal is added by itself and lands under ``_journal.json``,
    which the engine reads at the top of a mounted folder. drizzle-kit's
    ``meta/NNNN_snapshot.json`` files stay out: the engine never reads them, and at some
    8 KB each they fill the ConfigMap's 1 MiB after a few dozen migrations.
    """
    return (f"--from-file={directory}/", f"--from-file={directory}/meta/_journal.json")


def build_inline_configmap(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ConfigMap an inline source is written to, or None for other sources.

    drizzle's layout, flattened the way ``kubectl create configmap`` with
    :func:`configmap_from_files` flattens it: ``<name>.sql``, ``<name>.down.sql`` and
    ``_journal.json`` (the order, which is the list's order) side by side. Immutable,
    like the spec it comes from; owned by the run, so it goes when the run goes.
    """
    parsed = _Run(run)
    inline = parsed.spec.source.inline
    if inline is None:
        return None
    data: dict[str, str] = {}
    for migration in inline:
        data[f"{migration.name}.sql"] = migration.up
        if migration.down is not None:
            data[f"{migration.name}.down.sql"] = migration.down
    data["_journal.json"] = drizzle_journal([m.name for m in inline])
    run_labels = labels(parsed.name, parsed.uid, mode="run", action=parsed.spec.action.value)
    del run_labels[LABEL_MODE]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": inline_configmap_name(parsed.name, parsed.uid),
            "namespace": parsed.namespace,
            "labels": run_labels,
            "ownerReferences": [owner_reference(run)],
        },
        "immutable": True,
        "data": data,
    }


def drizzle_journal(tags: list[str]) -> str:
    """drizzle-kit's ``meta/_journal.json`` for migrations in this order."""
    entries = [
        {"idx": idx, "version": "7", "when": 0, "tag": tag, "breakpoints": True}
        for idx, tag in enumerate(tags)
    ]
    journal = {"version": "7", "dialect": "postgresql", "entries": entries}
    return json.dumps(journal, indent=2) + "\n"


def _run_as(uid: int | None, *keys: str) -> dict[str, int]:
    """``keys`` set to ``uid``; none where the platform assigns the user (OpenShift)."""
    return {} if uid is None else dict.fromkeys(keys, uid)


def security_context(run_as: int | None) -> dict[str, Any]:
    """The "restricted" Pod Security Standard, for every container."""
    return {
        "runAsNonRoot": True,
        **_run_as(run_as, "runAsUser", "runAsGroup"),
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _pod_spec(
    run: _Run, settings: OperatorSettings, environment: Environment, mode: JobMode
) -> dict[str, Any]:
    spec = run.spec
    overrides = spec.job or JobOverrides()
    resources = policy.job_resources(overrides.resources, settings.job_resources)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": settings.job_image,
        "imagePullPolicy": settings.job_image_pull_policy,
        "command": [
            *settings.job_command,
            *engine_args(spec, environment=environment, run_id=run.uid, mode=mode),
        ],
        "env": [
            {
                "name": DATABASE_URL_ENV,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": spec.database.secret_ref.name,
                        "key": spec.database.secret_ref.key,
                    }
                },
            },
            {"name": "KUBEMIGRATE_RUN_NAME", "value": run.name},
            {"name": "KUBEMIGRATE_RUN_NAMESPACE", "value": run.namespace},
        ],
        "resources": _copy(resources),
        "securityContext": security_context(settings.job_run_as_user),
        "terminationMessagePath": RESULT_FILE,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "migrations", "mountPath": MIGRATIONS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": TMP_DIR},
        ],
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            **_run_as(settings.job_run_as_user, "runAsUser", "runAsGroup", "fsGroup"),
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    image = spec.source.image
    if image is not None:
        pod["initContainers"] = [
            _copy_container(
                image.reference, image.path, image.pull_policy, resources, settings.job_run_as_user
            )
        ]
    pod["containers"] = [container]
    # what the pod may write to the node's disk: its emptyDirs hold no more than the
    # containers' ephemeral-storage limit, which also bounds the pod's whole use of it
    size = (resources.get("limits") or {}).get("ephemeral-storage")
    empty_dir = {"sizeLimit": size} if size is not None else {}
    pod["volumes"] = [_migrations_volume(run, empty_dir), {"name": "tmp", "emptyDir": empty_dir}]
    pod.update(_scheduling(overrides))
    return pod


def _copy_container(
    reference: str,
    path: str,
    pull_policy: str | None,
    resources: Mapping[str, Any],
    run_as: int | None,
) -> dict[str, Any]:
    """The init container copying an image's migrations into the shared emptyDir.

    The path travels as an environment variable, never spliced into the shell text,
    so a path with quotes or ``$(...)`` is copied literally instead of executed. Links
    are copied as what they point at, here (``-L``): copied as links, one to
    ``/proc/self/environ`` was read by the engine's container, whose environment holds
    the database URL.
    """
    container: dict[str, Any] = {
        "name": INIT_CONTAINER_NAME,
        "image": reference,
        "command": ["sh", "-c", f'cp -RL "${SOURCE_DIR_ENV}"/. {MIGRATIONS_DIR}/'],
        "env": [{"name": SOURCE_DIR_ENV, "value": path}],
        "resources": _copy(resources),
        "securityContext": security_context(run_as),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "migrations", "mountPath": MIGRATIONS_DIR}],
    }
    if pull_policy is not None:
        container["imagePullPolicy"] = pull_policy
    return container


def source_terms(spec: Mapping[str, Any]) -> str:
    """Where a run's migrations come from, as its author wrote it in ``spec.source``."""
    source = spec.get("source") or {}
    if source.get("configMap"):
        return f"ConfigMap {source['configMap'].get('name')}"
    if source.get("image"):
        image = source["image"]
        return f"{image.get('path', MIGRATIONS_DIR)} of image {image.get('reference')}"
    return "spec.source.inline"


_MOUNTED = re.compile(r"(?<![\w.-])" + re.escape(MIGRATIONS_DIR) + r"(?:/([^\s:;,()]+))?(?![\w/])")


def in_run_terms(outcome: Outcome, spec: Mapping[str, Any]) -> Outcome:
    """A Job's result as the run's author reads it, translated once, where the
    lifecycle takes it in, so status, condition and Event all say the same.

    The engine names the folder and files by their path in the pod
    (``/migrations/meta/_journal.json``); the author knows the ConfigMap, image or
    inline list they came from (``meta/_journal.json in ConfigMap shop``). Its hints
    name CLI flags and commands; the author changes spec fields and creates runs
    (``status.in_spec_terms``).
    """
    where = source_terms(spec)

    def told(text: str) -> str:
        return _MOUNTED.sub(lambda m: f"{m[1]} in {where}" if m[1] else where, text)

    error = outcome.error and {
        key: (in_spec_terms(told(value)) if key in ("message", "hint") else told(value))
        if isinstance(value, str)
        else value
        for key, value in outcome.error.items()
    }
    warnings = tuple(in_spec_terms(told(w)) for w in outcome.warnings)
    return replace(outcome, error=error, warnings=warnings)


def _migrations_volume(run: _Run, empty_dir: Mapping[str, Any]) -> dict[str, Any]:
    source = run.spec.source
    if source.config_map is not None:
        return {"name": "migrations", "configMap": {"name": source.config_map.name}}
    if source.inline is not None:
        name = inline_configmap_name(run.name, run.uid)
        return {"name": "migrations", "configMap": {"name": name}}
    return {"name": "migrations", "emptyDir": _copy(empty_dir)}


def _scheduling(overrides: JobOverrides) -> dict[str, Any]:
    """serviceAccountName, nodeSelector, tolerations, imagePullSecrets from spec.job."""
    dumped = overrides.model_dump(
        by_alias=True,
        exclude_none=True,
        include={"service_account_name", "node_selector", "tolerations", "image_pull_secrets"},
    )
    return {key: _copy(value) for key, value in dumped.items()}


def _identity(run: Mapping[str, Any]) -> dict[str, str]:
    metadata = run.get("metadata") or {}
    values = {
        "apiVersion": run.get("apiVersion"),
        "kind": run.get("kind"),
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
    }
    missing = [key for key, value in values.items() if not value]
    if missing:
        raise ValueError(f"cannot own anything: the run has no {', '.join(missing)}")
    return {key: str(value) for key, value in values.items()}


def _first(*values: int | None) -> int | None:
    """The first value that is set (0 counts as set)."""
    return next((v for v in values if v is not None), None)


def _dns_label(text: str, limit: int) -> str:
    """``text`` as a DNS-1123 label fragment: lowercase alphanumerics and inner dashes."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower())[:limit]
    return cleaned.strip("-")


def _label_value(text: str) -> str:
    """``text`` cut to a valid label value (63 chars, alphanumeric at both ends)."""
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", text[:_MAX_NAME])


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data, so no two built objects share a mutable part."""
    return json.loads(json.dumps(value))
