"""The API server's refusals of what the operator creates, as a run's author reads them."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from kubemigrate.controller.translation import refusal_message, refused_as_is


def refusal(status: int, message: str) -> ApiException:
    error = ApiException(status=status, reason="refused")
    error.body = json.dumps({"kind": "Status", "message": message})
    return error


@pytest.mark.parametrize(
    ("status", "message", "final"),
    [
        (422, "Job.batch x is invalid", True),
        (400, "quantities must match", True),
        (403, 'jobs.batch is forbidden: User "sa" cannot create resource', True),
        (403, 'jobs.batch "x" is forbidden: exceeded quota: jobs, requested: count/jobs=1', True),
        (409, "already exists", False),
        (500, "etcdserver: request is too large", False),
    ],
)
def test_only_what_a_retry_would_meet_again_fails_the_run(
    status: int, message: str, final: bool
) -> None:
    """A quota's 403 too: kopf does not retry a 403, and the run sat in Running."""
    assert refused_as_is(refusal(status, message)) is final


def test_the_job_s_fields_are_named_as_spec_job_fields() -> None:
    error = refusal(
        422,
        'Job.batch "x" is invalid: spec.template.spec.containers[0].resources.requests: '
        'Invalid value: "1Gi": must be less than or equal to memory limit of 64Mi',
    )
    told = refusal_message(error, "Job x")
    assert told.startswith("the API server refused Job x (422): ")
    assert "spec.job.resources.requests: Invalid value" in told


def test_inline_sql_past_a_config_map_s_limit_says_where_to_put_it() -> None:
    error = refusal(422, 'ConfigMap "x-sql" is invalid: []: Too long: may not be more than')
    told = refusal_message(error, "ConfigMap x-sql (spec.source.inline's files)")
    assert "spec.source.configMap" in told
    assert "spec.source.image" in told
