"""Custom resources are validated against the CRD's schema and CEL rules."""

from __future__ import annotations

from typing import Any

from kubemigrate.devcluster.apiserver import validation
from tests.devcluster.devcluster_http import Http, run_body, runs_path


def _create(api: Http, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post(runs_path(namespace), body)
    assert reply.status == 422, reply.body
    result: dict[str, Any] = reply.body
    return result


NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


def test_enum_message_matches_the_real_server(api: Http, namespace: str, crd: object) -> None:
    status = _create(api, namespace, run_body("x", action="foo"))
    assert status["reason"] == "Invalid"
    # An unsupported value blocks the CRD's CEL rules, which the answer says last
    assert status["message"] == (
        'MigrationRun.kubemigrate.io "x" is invalid: [spec.action: Unsupported value: "foo": '
        'supported values: "migrate", "rollback", '
        f'<nil>: Invalid value: "null": {NOT_CHECKED}]'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "foo": supported values: "migrate", "rollback"',
            "field": "spec.action",
        },
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "null": {NOT_CHECKED}',
            "field": "<nil>",
        },
    ]
    assert status["details"]["kind"] == "MigrationRun"
    assert status["details"]["group"] == "kubemigrate.io"


def test_several_errors_are_bracketed(api: Http, namespace: str, crd: object) -> None:
    status = _create(api, namespace, run_body("x", steps=0, target="BAD!"))
    message = status["message"]
    assert message.startswith('MigrationRun.kubemigrate.io "x" is invalid: [')
    assert (
        "spec.steps: Invalid value: 0: spec.steps in body should be greater than or equal to 1"
        in message
    )
    assert (
        "spec.target: Invalid value: \"BAD!\": spec.target in body should match '^[0-9a-z_]+$'"
        in message
    )


def test_types_required_and_lengths(api: Http, namespace: str, crd: object) -> None:
    body = run_body("x", steps="three", target="a" * 21)
    del body["spec"]["database"]
    message = _create(api, namespace, body)["message"]
    assert (
        'spec.steps: Invalid value: "string": spec.steps in body must be of type integer: "string"'
        in message
    )
    assert "spec.database: Required value" in message
    assert "spec.target: Too long: may not be more than 20 bytes" in message


def test_defaults_and_nullable(api: Http, namespace: str, crd: object) -> None:
    reply = api.post(runs_path(namespace), run_body("d", dryRun=None))
    assert reply.status == 201, reply.body
    spec = reply.body["spec"]
    assert spec["action"] == "migrate"
    assert spec["database"]["secretRef"]["key"] == "url"
    assert spec["dryRun"] is None  # nullable: kept
    assert spec["source"] == {"configMap": {"name": "m"}}


def test_cel_rule_exactly_one_source(api: Http, namespace: str, crd: object) -> None:
    body = run_body("x")
    body["spec"]["source"] = {"configMap": {"name": "m"}, "image": {"ref": "i"}}
    status = _create(api, namespace, body)
    assert status["message"] == (
        'MigrationRun.kubemigrate.io "x" is invalid: spec.source: Invalid value: "object": '
        "exactly one of configMap, image or inline must be set"
    )
    body["spec"]["source"] = {}
    assert _create(api, namespace, body)["details"]["causes"][0]["field"] == "spec.source"


def test_transition_rule_makes_action_immutable(api: Http, namespace: str, crd: object) -> None:
    assert api.post(runs_path(namespace), run_body("t")).status == 201
    reply = api.patch(runs_path(namespace, "t"), {"spec": {"action": "rollback"}})
    assert reply.status == 422
    assert reply.body["message"] == (
        'MigrationRun.kubemigrate.io "t" is invalid: spec: Invalid value: "object": '
        "action is immutable"
    )
    assert api.patch(runs_path(namespace, "t"), {"spec": {"steps": 2}}).status == 200


def test_message_expression_and_reason() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {
                        "rule": "self.n < 3",
                        "messageExpression": "'n is ' + string(self.n)",
                        "reason": "FieldValueForbidden",
                        "fieldPath": ".n",
                    },
                ],
                "properties": {"n": {"type": "integer"}},
            }
        },
    }
    _, admission = validation.admit({"spec": {"n": 5}}, schema, None)
    assert [str(e) for e in admission.errors] == ["spec.n: Forbidden: n is 5"]


def test_preserve_unknown_fields_and_pruning() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "kept": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
                },
            },
        },
    }
    admitted, admission = validation.admit(
        {"spec": {"kept": {"any": 1}, "closed": {"a": "x", "b": "y"}, "extra": 1}}, schema, None
    )
    assert admitted["spec"] == {"kept": {"any": 1}, "closed": {"a": "x"}}
    assert sorted(admission.unknown_fields) == ["spec.closed.b", "spec.extra"]


def test_cel_runtime_errors_are_worded_like_cel_go() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "x-kubernetes-validations": [{"rule": "self.size > 1"}],
            }
        },
    }
    _, admission = validation.admit({"spec": {"n": 5}}, schema, None)
    assert [str(e) for e in admission.errors] == [
        'spec: Invalid value: "object": no such key: size evaluating rule: self.size > 1'
    ]


def test_date_time_format_is_checked() -> None:
    schema = {
        "type": "object",
        "properties": {
            "status": {
                "type": "object",
                "properties": {"at": {"type": "string", "format": "date-time"}},
            }
        },
    }
    _, bad = validation.admit({"status": {"at": "yesterday"}}, schema, None)
    _, good = validation.admit({"status": {"at": "2024-05-01T10:00:00Z"}}, schema, None)
    _, fraction = validation.admit({"status": {"at": "2024-05-01T10:00:00.5+02:00"}}, schema, None)
    assert [str(e) for e in bad.errors] == [
        'status.at: Invalid value: "yesterday": status.at in body must be of type date-time: '
        '"yesterday"'
    ]
    assert good.errors == fraction.errors == []


def test_a_rule_that_cannot_be_evaluated_is_named_by_its_message() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "x-kubernetes-validations": [
                    {"rule": "self.size > 1", "message": "size must be above 1"}
                ],
            }
        },
    }
    _, admission = validation.admit({"spec": {"n": 5}}, schema, None)
    assert [str(e) for e in admission.errors] == [
        'spec: Invalid value: "object": no such key: size evaluating rule: size must be above 1'
    ]
