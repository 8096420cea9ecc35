"""What a MigrationRun may ask of its Job: the admin's limits, checked before any Job.

Whoever may create a MigrationRun gets a Pod its own RBAC never allowed; each limit
here is a way that Pod could otherwise be shaped by the run's author, and each refusal
must say which field, which limit and which setting.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from kubemigrate.controller import jobs, policy
from kubemigrate.controller.kube import Kube
from kubemigrate.controller.lifecycle import Lifecycle
from kubemigrate.controller.policy import image_allowed, normalize_image, service_account_allowed
from kubemigrate.controller.spec import InvalidSpec, parse_spec
from kubemigrate.observability.metrics import Metrics
from kubemigrate.settings import OperatorSettings
from tests.unit.controller.test_lost_jobs import Cluster, _pending


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in OperatorSettings.model_fields:
        monkeypatch.delenv(f"KUBEMIGRATE_{field.upper()}", raising=False)


def _spec(**fields: Any) -> Any:
    return parse_spec(
        {
            "database": {"secretRef": {"name": "db"}},
            "source": {"configMap": {"name": "m"}},
            **fields,
        }
    )


def _image(reference: str) -> dict[str, Any]:
    return {"image": {"reference": reference, "path": "/drizzle"}}


def _refusal(spec: Any, settings: OperatorSettings | None = None, namespace: str = "shop") -> str:
    with pytest.raises(InvalidSpec) as caught:
        policy.check(spec, settings or OperatorSettings(), namespace)
    assert caught.value.reason == "InvalidSpec"
    return caught.value.message


# -- image sources -------------------------------------------------------------------


def test_image_sources_are_refused_unless_the_admin_allows_some() -> None:
    message = _refusal(_spec(source=_image("registry.example.com/shop/migrations:1")))
    assert "spec.source.image.reference" in message
    assert "KUBEMIGRATE_ALLOWED_SOURCE_IMAGES" in message
    assert "operator.allowedSourceImages" in message
    assert "spec.source.configMap or spec.source.inline" in message


def test_an_image_outside_the_allowed_prefixes_is_refused_naming_them() -> None:
    settings = OperatorSettings(allowed_source_images=["registry.example.com/shop/"])
    message = _refusal(_spec(source=_image("docker.io/attacker/tools:1")), settings)
    assert message == (
        "refused by the operator's settings, which a cluster admin sets: "
        "spec.source.image.reference: docker.io/attacker/tools:1 is not under the allowed "
        "prefixes (registry.example.com/shop/) of the operator's "
        "KUBEMIGRATE_ALLOWED_SOURCE_IMAGES (Helm value operator.allowedSourceImages)"
    )


def test_an_image_under_an_allowed_prefix_passes() -> None:
    settings = OperatorSettings(allowed_source_images=["registry.example.com/shop/"])
    policy.check(_spec(source=_image("registry.example.com/shop/migrations:1")), settings, "shop")


def test_any_image_when_the_admin_says_so() -> None:
    settings = OperatorSettings(allowed_source_images=["*"])
    policy.check(_spec(source=_image("whatever/you:like")), settings, "shop")


@pytest.mark.parametrize(
    ("reference", "prefix", "allowed"),
    [
        ("registry.example.com/shop/migrations:1", "registry.example.com/shop", True),
        ("registry.example.com/shop:2", "registry.example.com/shop", True),
        ("registry.example.com/shop@sha256:" + "a" * 64, "registry.example.com/shop", True),
        ("registry.example.com/shopping/x:1", "registry.example.com/shop", False),
        ("registry.example.com/shop-evil/x:1", "registry.example.com/shop", False),
        ("registry.example.com/anything:1", "registry.example.com", True),
        ("registry.example.com.evil.io/shop/x:1", "registry.example.com", False),
        ("registry.example.com:5000/shop/x:1", "registry.example.com", False),
        ("registry.example.com:5000/shop/x:1", "registry.example.com:5000/shop/", True),
        ("REGISTRY.example.com/shop/x:1", "registry.example.com/shop/", True),
        ("registry.example.com/shop/x:1", "Registry.Example.com/shop/", True),
        # Docker Hub short names, as containerd and Docker read them
        ("postgres:16", "docker.io/library/postgres", True),
        ("postgres:16", "docker.io/library/", True),
        ("acme/migrations:1", "docker.io/acme/", True),
        ("index.docker.io/acme/migrations:1", "docker.io/acme/", True),
        ("acme/migrations:1", "docker.io/library/", False),
        ("docker.io/library/postgres-evil:1", "docker.io/library/postgres", False),
        # not image references: nothing to compare, so refused
        ("registry.example.com/shop/x:1 ; rm -rf /", "registry.example.com/shop/", False),
        ("registry.example.com/shop/../evil/x:1", "registry.example.com/shop/", False),
        ("registry.example.com/shop/UPPER:1", "registry.example.com/shop/", False),
        ("registry.example.com/shop/x\n:1", "registry.example.com/shop/", False),
        ("registry.example.com/shop/x:1\n", "registry.example.com/shop/", False),
    ],
)
def test_prefixes_match_whole_components(reference: str, prefix: str, allowed: bool) -> None:
    assert image_allowed(reference, [prefix]) is allowed


def test_references_read_in_full_form() -> None:
    assert normalize_image("postgres") == "docker.io/library/postgres"
    assert normalize_image("acme/app:1") == "docker.io/acme/app:1"
    assert normalize_image("localhost/app") == "localhost/app"
    assert normalize_image("Registry.io/app@sha256:" + "b" * 64) == (
        "registry.io/app@sha256:" + "b" * 64
    )
    assert normalize_image("not a reference") is None


def test_an_unreadable_reference_says_so() -> None:
    settings = OperatorSettings(allowed_source_images=["registry.example.com/"])
    message = _refusal(_spec(source=_image("registry.example.com/$(id)")), settings)
    assert "'registry.example.com/$(id)' is not an image reference" in message


# -- the ServiceAccount ----------------------------------------------------------------


def test_a_service_account_is_refused_by_default_naming_the_setting() -> None:
    message = _refusal(_spec(job={"serviceAccountName": "cloud-admin"}))
    assert "spec.job.serviceAccountName: cloud-admin is not allowed" in message
    assert "KUBEMIGRATE_ALLOWED_SERVICE_ACCOUNTS" in message
    assert "operator.allowedServiceAccounts" in message
    assert "allows none" in message


def test_the_namespace_s_default_service_account_is_always_allowed() -> None:
    policy.check(_spec(job={"serviceAccountName": "default"}), OperatorSettings(), "shop")


@pytest.mark.parametrize(
    ("name", "namespace", "allowed", "ok"),
    [
        ("migrator", "shop", ["migrator"], True),
        ("migrator", "billing", ["migrator"], True),
        ("migrator", "shop", ["shop/migrator"], True),
        ("migrator", "billing", ["shop/migrator"], False),
        ("cloud-admin", "shop", ["migrator", "shop/other"], False),
        ("cloud-admin", "shop", ["*"], True),
    ],
)
def test_service_accounts_by_name_or_namespace_and_name(
    name: str, namespace: str, allowed: list[str], ok: bool
) -> None:
    assert service_account_allowed(name, namespace, allowed) is ok
    settings = OperatorSettings(allowed_service_accounts=allowed)
    spec = _spec(job={"serviceAccountName": name})
    if ok:
        policy.check(spec, settings, namespace)
    else:
        assert f"allows only {', '.join(allowed)}" in _refusal(spec, settings, namespace)


# -- where the Pod runs, and with which pull secrets -----------------------------------


def test_tolerations_are_refused_by_default() -> None:
    spec = _spec(job={"tolerations": [{"operator": "Exists"}]})
    message = _refusal(spec)
    assert "spec.job.tolerations is not allowed" in message
    assert "KUBEMIGRATE_ALLOW_TOLERATIONS (Helm value operator.allowTolerations) is false" in (
        message
    )
    policy.check(spec, OperatorSettings(allow_tolerations=True), "shop")


def test_node_selector_and_pull_secrets_are_allowed_unless_turned_off() -> None:
    spec = _spec(job={"nodeSelector": {"pool": "batch"}, "imagePullSecrets": [{"name": "reg"}]})
    policy.check(spec, OperatorSettings(), "shop")
    message = _refusal(
        spec, OperatorSettings(allow_node_selector=False, allow_image_pull_secrets=False)
    )
    assert "spec.job.nodeSelector is not allowed" in message
    assert "KUBEMIGRATE_ALLOW_NODE_SELECTOR" in message
    assert "spec.job.imagePullSecrets is not allowed" in message
    assert "KUBEMIGRATE_ALLOW_IMAGE_PULL_SECRETS" in message


def test_empty_scheduling_fields_change_nothing_and_pass() -> None:
    settings = OperatorSettings(allow_node_selector=False, allow_image_pull_secrets=False)
    policy.check(
        _spec(job={"nodeSelector": {}, "tolerations": [], "imagePullSecrets": []}),
        settings,
        "shop",
    )


# -- how long and how often --------------------------------------------------------------


def test_deadline_and_retries_are_bounded() -> None:
    settings = OperatorSettings(job_max_active_deadline_seconds=7200, job_max_backoff_limit=3)
    policy.check(_spec(job={"activeDeadlineSeconds": 7200, "backoffLimit": 3}), settings, "s")
    message = _refusal(_spec(job={"activeDeadlineSeconds": 7201, "backoffLimit": 4}), settings)
    assert (
        "spec.job.activeDeadlineSeconds: 7201 is above the maximum of 7200 (the operator's "
        "KUBEMIGRATE_JOB_MAX_ACTIVE_DEADLINE_SECONDS (Helm value "
        "operator.jobMaxActiveDeadlineSeconds))"
    ) in message
    assert "spec.job.backoffLimit: 4 is above the maximum of 3" in message


def test_a_day_is_the_default_longest_deadline() -> None:
    policy.check(_spec(job={"activeDeadlineSeconds": 86400}), OperatorSettings(), "shop")
    assert "86401 is above the maximum of 86400" in _refusal(
        _spec(job={"activeDeadlineSeconds": 86401})
    )
    policy.check(
        _spec(job={"activeDeadlineSeconds": 10**9}),
        OperatorSettings(job_max_active_deadline_seconds=None),
        "shop",
    )


def test_every_refusal_at_once_with_the_fields_named() -> None:
    with pytest.raises(InvalidSpec) as caught:
        policy.check(
            _spec(
                source=_image("evil.example/x:1"),
                job={"serviceAccountName": "admin", "tolerations": [{"operator": "Exists"}]},
            ),
            OperatorSettings(),
            "shop",
        )
    assert caught.value.details["fields"] == [
        "spec.job.serviceAccountName",
        "spec.job.tolerations",
        "spec.source.image.reference",
    ]


def test_every_setting_a_refusal_names_is_a_setting() -> None:
    for field, (env, _) in policy.SETTINGS.items():
        assert field in OperatorSettings.model_fields
        assert env == f"KUBEMIGRATE_{field.upper()}"


# -- no Job is built, and the run fails saying why ---------------------------------------


def _stored(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubemigrate.io/v1alpha1",
        "kind": "MigrationRun",
        "metadata": {"name": "r", "namespace": "ns", "uid": "u1", "generation": 1},
        "spec": {"database": {"secretRef": {"name": "db"}}, **spec},
    }


def test_the_job_builder_refuses_too() -> None:
    run = _stored(source=_image("evil.example/x:1"))
    with pytest.raises(InvalidSpec, match="KUBEMIGRATE_ALLOWED_SOURCE_IMAGES"):
        jobs.build_job(run, OperatorSettings(), environment="development")


def _started(run: dict[str, Any], settings: OperatorSettings) -> Cluster:
    kube = Cluster(run)
    metrics = Metrics(registry=CollectorRegistry())
    Lifecycle(cast(Kube, kube), settings, metrics).start(copy.deepcopy(run))
    return kube


def test_a_refused_run_fails_as_invalid_spec_without_a_job() -> None:
    run = _pending()
    run["spec"]["job"] = {"serviceAccountName": "cloud-admin"}
    kube = _started(run, OperatorSettings())
    assert kube.created == []
    (patch,) = kube.patches
    assert patch["phase"] == "Failed"
    failed = next(c for c in patch["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == patch["error"]["reason"] == "InvalidSpec"
    assert "spec.job.serviceAccountName: cloud-admin is not allowed" in failed["message"]
    assert "KUBEMIGRATE_ALLOWED_SERVICE_ACCOUNTS" in failed["message"]


def test_a_run_the_settings_allow_gets_its_job() -> None:
    run = _pending()
    run["spec"]["job"] = {"serviceAccountName": "migrator"}
    kube = _started(run, OperatorSettings(allowed_service_accounts=["ns/migrator"]))
    assert kube.created == [jobs.job_name("r", "u1")]


def test_a_confirmation_under_tighter_settings_fails_instead_of_running() -> None:
    """The plan ran under the old settings; the confirmed Job would run under the new."""
    run = _pending()
    run["spec"].update(action="rollback", confirm="rollback-batch-1")
    run["spec"]["job"] = {"tolerations": [{"operator": "Exists"}]}
    run["status"] = {"phase": "AwaitingConfirmation", "confirmationPhrase": "rollback-batch-1"}
    kube = Cluster(run)
    metrics = Metrics(registry=CollectorRegistry())
    Lifecycle(cast(Kube, kube), OperatorSettings(), metrics).confirm(copy.deepcopy(run))
    assert kube.created == []
    assert [p["phase"] for p in kube.patches] == ["Failed"]
    assert kube.patches[0]["error"]["reason"] == "InvalidSpec"
    assert "spec.job.tolerations is not allowed" in kube.patches[0]["error"]["message"]
