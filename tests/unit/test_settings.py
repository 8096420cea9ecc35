"""OperatorSettings: read from KUBEMIGRATE_* only when asked, every field documented."""

from __future__ import annotations

import os
import re

import pytest
from pydantic import ValidationError

from kubemigrate.settings import OperatorSettings, load_settings

ANY_IPV4 = "0.0.0.0"  # noqa: S104 - the setting's value under test, nothing binds here


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own KUBEMIGRATE_* variables must not leak into these tests."""
    for key in list(os.environ):
        if key.startswith("KUBEMIGRATE_"):
            monkeypatch.delenv(key)


def test_every_field_has_a_description() -> None:
    for name, field in OperatorSettings.model_fields.items():
        assert field.description, f"{name} has no docstring"
        assert len(field.description) > 20, f"{name}'s docstring says too little"


def test_defaults() -> None:
    settings = load_settings()
    assert settings.namespaces == ()
    assert settings.clusterwide
    assert settings.job_command == ("kubemigrate",)
    assert settings.job_image.startswith("ghcr.io/kubemigrate/kubemigrate:")
    assert settings.job_image_pull_policy == "IfNotPresent"
    assert settings.default_environment == "development"
    assert settings.metrics_port == 8080
    assert settings.health_port == 8081
    assert settings.listen_address == ANY_IPV4
    assert settings.standalone is True
    assert settings.job_backoff_limit == 3
    assert settings.job_active_deadline_seconds == 3600
    assert settings.job_ttl_seconds_after_finished is None
    assert settings.production_namespace_label == "kubemigrate.io/environment"


def test_what_a_run_may_ask_of_its_job_is_limited_by_default() -> None:
    """Secure where it breaks no common case: no image source, no ServiceAccount of the
    run's choosing, no tolerations; nodeSelector and pull secrets stay allowed."""
    settings = load_settings()
    assert settings.allowed_source_images == ()
    assert settings.allowed_service_accounts == ()
    assert settings.allow_node_selector is True
    assert settings.allow_tolerations is False
    assert settings.allow_image_pull_secrets is True
    assert settings.job_max_backoff_limit == 10
    assert settings.job_max_active_deadline_seconds == 86400


@pytest.mark.parametrize(
    "raw",
    [
        "registry.example.com/shop/, ghcr.io/acme ,,",
        '["registry.example.com/shop/", "ghcr.io/acme"]',
    ],
)
def test_allowed_images_from_a_comma_list_or_json(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("KUBEMIGRATE_ALLOWED_SOURCE_IMAGES", raw)
    assert load_settings().allowed_source_images == ("registry.example.com/shop/", "ghcr.io/acme")


def test_allowed_service_accounts_by_name_or_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_ALLOWED_SERVICE_ACCOUNTS", "migrator,shop/shop-migrator")
    assert load_settings().allowed_service_accounts == ("migrator", "shop/shop-migrator")


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        # a prefix without its registry's host would be read as Docker Hub's by the runtime
        ("KUBEMIGRATE_ALLOWED_SOURCE_IMAGES", "shop/", "starts with its registry's host"),
        ("KUBEMIGRATE_ALLOWED_SOURCE_IMAGES", "migrations", "not registry/repository prefixes"),
        ("KUBEMIGRATE_ALLOWED_SERVICE_ACCOUNTS", "Shop_Admin", "not ServiceAccount names"),
        ("KUBEMIGRATE_ALLOWED_SERVICE_ACCOUNTS", "a/b/c", "not ServiceAccount names"),
        ("KUBEMIGRATE_JOB_ACTIVE_DEADLINE_SECONDS", "90000", "raise the maximum"),
        ("KUBEMIGRATE_JOB_MAX_BACKOFF_LIMIT", "2", "job_backoff_limit (3) is above"),
    ],
)
def test_limits_that_cannot_be_meant_stop_the_operator_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=re.escape(words)):
        load_settings()


def test_no_maximum_deadline_or_no_default_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_JOB_MAX_ACTIVE_DEADLINE_SECONDS", "none")
    monkeypatch.setenv("KUBEMIGRATE_JOB_ACTIVE_DEADLINE_SECONDS", "90000")
    assert load_settings().job_max_active_deadline_seconds is None
    monkeypatch.setenv("KUBEMIGRATE_JOB_MAX_ACTIVE_DEADLINE_SECONDS", "86400")
    monkeypatch.setenv("KUBEMIGRATE_JOB_ACTIVE_DEADLINE_SECONDS", "none")
    assert load_settings().job_active_deadline_seconds is None  # a run that asks is bounded


def test_reads_the_environment_only_when_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    before = load_settings()
    monkeypatch.setenv("KUBEMIGRATE_METRICS_PORT", "9100")
    assert before.metrics_port == 8080
    assert load_settings().metrics_port == 9100


def test_namespaces_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_NAMESPACES", " shop, billing ,,shop")
    settings = load_settings()
    assert settings.namespaces == ("shop", "billing")
    assert not settings.clusterwide


def test_empty_namespaces_means_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_NAMESPACES", "")
    assert load_settings().clusterwide


def test_bad_namespace_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_NAMESPACES", "shop,Not_Valid")
    with pytest.raises(ValidationError, match="Not_Valid"):
        load_settings()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["python", "-m", "kubemigrate"]', ("python", "-m", "kubemigrate")),
        ("python -m kubemigrate", ("python", "-m", "kubemigrate")),
        ("'/opt/my tools/kubemigrate'", ("/opt/my tools/kubemigrate",)),
    ],
)
def test_job_command_from_json_or_shell_words(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("KUBEMIGRATE_JOB_COMMAND", raw)
    assert load_settings().job_command == expected


def test_job_command_cannot_be_empty() -> None:
    with pytest.raises(ValidationError, match="must name a program"):
        load_settings(job_command=[])


def test_none_unsets_an_optional_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_JOB_ACTIVE_DEADLINE_SECONDS", "none")
    monkeypatch.setenv("KUBEMIGRATE_JOB_TTL_SECONDS_AFTER_FINISHED", "600")
    settings = load_settings()
    assert settings.job_active_deadline_seconds is None
    assert settings.job_ttl_seconds_after_finished == 600


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KUBEMIGRATE_DEFAULT_ENVIRONMENT", "prod"),
        ("KUBEMIGRATE_JOB_IMAGE_PULL_POLICY", "Sometimes"),
        ("KUBEMIGRATE_JOB_BACKOFF_LIMIT", "11"),
        ("KUBEMIGRATE_METRICS_PORT", "0"),
        ("KUBEMIGRATE_HEALTH_PORT", "8080"),
        ("KUBEMIGRATE_PRODUCTION_NAMESPACE_LABEL", "not a label"),
        ("KUBEMIGRATE_PEERING_NAME", "Kube_Migrate"),
    ],
)
def test_invalid_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        load_settings()


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_JOB_IMAGE", "from-env:1")
    assert load_settings(job_image="explicit:2").job_image == "explicit:2"


def test_peering_for_several_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEMIGRATE_STANDALONE", "false")
    monkeypatch.setenv("KUBEMIGRATE_PEERING_NAME", "kubemigrate-prod")
    settings = load_settings()
    assert settings.standalone is False
    assert settings.peering_name == "kubemigrate-prod"


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.metrics_port = 1  # type: ignore[misc]


def test_job_resources_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().job_resources.as_dict() == {
        "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
        "limits": {"memory": "256Mi", "ephemeral-storage": "1Gi"},
    }
    monkeypatch.setenv(
        "KUBEMIGRATE_JOB_RESOURCES", '{"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}'
    )
    assert load_settings().job_resources.as_dict() == {
        "requests": {"cpu": "100m"},
        "limits": {"memory": "1Gi"},
    }


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"limits": {"memory": "0"}}', "limits.memory: 0 must be above zero (0 means no limit)"),
        ('{"requests": {"memory": "-1"}}', "requests.memory: -1 must be at least 0"),
        ('{"limits": {"memory": "lots"}}', "'lots' is not a quantity"),
        ('{"limits": {"memroy": "1Gi"}}', "limits.memroy: not a container resource"),
        (
            '{"requests": {"memory": "1Gi"}, "limits": {"memory": "64Mi"}}',
            "requests.memory is above limits.memory",
        ),
        ('{"limit": {"memory": "1Gi"}}', "limit"),
    ],
)
def test_job_resources_that_no_job_could_have_stop_the_operator(
    monkeypatch: pytest.MonkeyPatch, raw: str, words: str
) -> None:
    monkeypatch.setenv("KUBEMIGRATE_JOB_RESOURCES", raw)
    with pytest.raises(ValidationError, match=re.escape(words)):
        load_settings()


@pytest.mark.parametrize(("address", "host"), [(ANY_IPV4, ANY_IPV4), ("::", "[::]")])
def test_the_listen_address_is_either_family_s_any_address(
    monkeypatch: pytest.MonkeyPatch, address: str, host: str
) -> None:
    monkeypatch.setenv("KUBEMIGRATE_LISTEN_ADDRESS", address)
    assert load_settings().listen_host == host


@pytest.mark.parametrize("address", ["127.0.0.1", "[::]", "localhost", "::1"])
def test_a_listen_address_the_probes_could_not_reach_is_refused(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """A loopback address or a host name would leave the probes and scrapes unanswered:
    the pod would restart forever instead of saying why."""
    monkeypatch.setenv("KUBEMIGRATE_LISTEN_ADDRESS", address)
    with pytest.raises(ValidationError) as refused:
        load_settings()
    assert "listen_address" in str(refused.value)
    assert "'0.0.0.0' or '::'" in str(refused.value)
