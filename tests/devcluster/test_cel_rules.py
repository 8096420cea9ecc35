"""When CEL rules run: after every other check, over the whole object, and not at all
once an error makes evaluating them unsafe.

Expected answers from apiextensions-apiserver's customResourceStrategy.Validate: a
NotSupported, Required, TooLong, TooMany or TypeInvalid error anywhere in the object
(``hasBlockingErr``) stops every rule and adds one cause saying so; other errors (a
pattern, a minimum) leave the rules to run, and their verdicts come with them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.devcluster.devcluster_http import Http

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
NOT_CHECKED = (
    'Invalid value: "null": some validation rules were not checked because the object '
    "was invalid; correct the existing errors to complete validation"
)
SIZE_RULE = "size must be under 10"


def widget_crd() -> dict[str, Any]:
    limits = {
        "type": "object",
        "properties": {
            "size": {"type": "integer"},
            "unit": {"type": "string", "pattern": "^[a-z]+$"},
        },
        "x-kubernetes-validations": [{"rule": "self.size < 10", "message": SIZE_RULE}],
    }
    spec = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "limits": limits,
        },
    }
    return {
        "metadata": {"name": "celwidgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "celwidgets", "kind": "CelWidget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def widgets(api: Http) -> None:
    reply = api.post(CRDS, widget_crd())
    assert reply.status == 201, reply.body


def _refused(api: Http, namespace: str, spec: dict[str, Any]) -> list[tuple[str, str]]:
    body = {"apiVersion": "example.com/v1", "kind": "CelWidget", "metadata": {"name": "w"}}
    reply = api.post(
        f"/apis/example.com/v1/namespaces/{namespace}/celwidgets", {**body, "spec": spec}
    )
    assert reply.status == 422, reply.body
    return [(c["field"], c["message"]) for c in reply.body["details"]["causes"]]


def test_a_pattern_error_leaves_the_rules_to_run(api: Http, namespace: str, widgets: None) -> None:
    # even the rule of the very object whose field breaks the pattern
    causes = _refused(api, namespace, {"name": "ok", "limits": {"size": 20, "unit": "KB"}})
    assert causes == [
        (
            "spec.limits.unit",
            "Invalid value: \"KB\": spec.limits.unit in body should match '^[a-z]+$'",
        ),
        ("spec.limits", f'Invalid value: "object": {SIZE_RULE}'),
    ]


def test_an_enum_error_elsewhere_stops_every_rule(api: Http, namespace: str, widgets: None) -> None:
    causes = _refused(api, namespace, {"name": "ok", "mode": "c", "limits": {"size": 20}})
    assert causes == [
        ("spec.mode", 'Unsupported value: "c": supported values: "a", "b"'),
        ("<nil>", NOT_CHECKED),
    ]


def test_a_missing_required_field_stops_the_rules_and_says_so(
    api: Http, namespace: str, widgets: None
) -> None:
    causes = _refused(api, namespace, {"limits": {"size": 3}})
    assert causes == [("spec.name", "Required value"), ("<nil>", NOT_CHECKED)]


def test_the_notice_is_the_last_line_kubectl_prints(
    api: Http, namespace: str, widgets: None, kubectl: Any
) -> None:
    manifest = (
        "apiVersion: example.com/v1\nkind: CelWidget\n"
        f"metadata: {{name: k, namespace: {namespace}}}\n"
        "spec: {name: ok, mode: c, limits: {size: 20}}\n"
    )
    result = kubectl("apply", "-f", "-", stdin=manifest, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().endswith(
        '* <nil>: Invalid value: "null": some validation rules were not checked because the '
        "object was invalid; correct the existing errors to complete validation"
    ), result.stderr
    assert SIZE_RULE not in result.stderr
