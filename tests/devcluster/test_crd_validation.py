"""A CRD is refused for what apiextensions-apiserver refuses it for (see crdschema.py).

Expected answers from apiextensions-apiserver: ValidateStructural's wording, sorted;
ValidateDefaults' (a default's kube-openapi errors named relative to the default);
validateMapListKeysMapSet's; cel-go's checker issues behind ``compilation failed:``
with the rule printed as Go prints an ``apiextensions.ValidationRule``. A CRD whose
versions share one schema has it moved to ``spec.validation`` by the v1 conversion,
so errors point there; differing schemas are named by version.
"""

from __future__ import annotations

from typing import Any

from tests.devcluster.devcluster_http import Http

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
ROOT = "spec.validation.openAPIV3Schema"
SPEC = f"{ROOT}.properties[spec]"


def crd(plural: str, spec: dict[str, Any], *more_versions: dict[str, Any]) -> dict[str, Any]:
    def version(name: str, spec_schema: dict[str, Any], storage: bool) -> dict[str, Any]:
        root = {"type": "object", "properties": {"spec": spec_schema}}
        return {
            "name": name,
            "served": True,
            "storage": storage,
            "schema": {"openAPIV3Schema": root},
        }

    versions = [version("v1", spec, True)]
    versions += [version(f"v{i + 2}", s, False) for i, s in enumerate(more_versions)]
    return {
        "metadata": {"name": f"{plural}.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": plural.capitalize()[:-1]},
            "versions": versions,
        },
    }


def refused(api: Http, body: dict[str, Any]) -> list[str]:
    reply = api.post(CRDS, body)
    assert reply.status == 422, reply.body
    name = body["metadata"]["name"]
    assert reply.body["message"].startswith(
        f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: '
    )
    assert reply.body["details"] == {
        "name": name,
        "group": "apiextensions.k8s.io",
        "kind": "CustomResourceDefinition",
        "causes": reply.body["details"]["causes"],
    }
    return [f"{c['field']}: {c['message']}" for c in reply.body["details"]["causes"]]


def accepted(api: Http, body: dict[str, Any]) -> None:
    reply = api.post(CRDS, body)
    assert reply.status == 201, reply.body


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def rule(text: str, **more: Any) -> list[dict[str, Any]]:
    return [{"rule": text, **more}]


def go_rule(text: str) -> str:
    return (
        f'apiextensions.ValidationRule{{Rule:{text!r}, Message:"", MessageExpression:"", '
        'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", '
        "OptionalOldSelf:(*bool)(nil)}"
    ).replace("'", '"')


# --- structural schemas --------------------------------------------------------------------


def test_a_property_without_a_type_is_not_structural(api: Http) -> None:
    spec = obj(loose={"properties": {"a": {"type": "string"}}}, size={"type": "integer"})
    spec["properties"]["list"] = {"type": "array", "items": {"description": "no type"}}
    assert refused(api, crd("untypeds", spec)) == [
        f"{SPEC}.properties[list].items.type: Required value: "
        "must not be empty for specified array items",
        f"{SPEC}.properties[loose].type: Required value: "
        "must not be empty for specified object fields",
    ]
    # int-or-string and preserved unknown fields need none
    spec = obj(
        port={"x-kubernetes-int-or-string": True},
        free={"x-kubernetes-preserve-unknown-fields": True},
    )
    accepted(api, crd("loosetypes", spec))


def test_versions_with_different_schemas_are_named_by_version(api: Http) -> None:
    body = crd("twoschemas", obj(a={"type": "string"}), obj(b={"description": "untyped"}))
    assert refused(api, body) == [
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[b].type: "
        "Required value: must not be empty for specified object fields"
    ]


# --- defaults --------------------------------------------------------------------------------


def test_a_default_of_the_wrong_type_is_refused(api: Http) -> None:
    spec = obj(size={"type": "integer", "default": "big", "maximum": 10})
    assert refused(api, crd("wrongdefaults", spec)) == [
        f'{SPEC}.properties[size].default: Invalid value: "string": '
        'in body must be of type integer: "string"'
    ]


def test_a_default_is_held_to_its_schema_and_rules(api: Http) -> None:
    spec = obj(
        size={"type": "integer", "default": 20, "maximum": 10},
        limits={
            "type": "object",
            "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
            "default": {"min": 5, "max": 1, "extra": True},
            "x-kubernetes-validations": rule("self.min <= self.max"),
        },
    )
    assert refused(api, crd("baddefaults", spec)) == [
        f"{SPEC}.properties[size].default: Invalid value: 20: "
        "in body should be less than or equal to 10",
        f"{SPEC}.properties[limits].default: Invalid value: "
        'map[string]interface {}{"extra":true, "max":1, "min":5}: must not have unknown fields',
        f'{SPEC}.properties[limits].default: Invalid value: "object": '
        "failed rule: self.min <= self.max",
    ]


def test_defaults_are_checked_only_once_the_schema_is_structural(api: Http) -> None:
    spec = obj(size={"type": "integer", "default": "big"}, loose={"description": "untyped"})
    assert refused(api, crd("stageddefaults", spec)) == [
        f"{SPEC}.properties[loose].type: Required value: "
        "must not be empty for specified object fields"
    ]


# --- list-map keys ---------------------------------------------------------------------------


def map_list(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["k"],
        "items": item,
    }


def test_a_map_key_must_be_required_or_defaulted(api: Http) -> None:
    spec = obj(entries=map_list(obj(k={"type": "string"})))
    assert refused(api, crd("mapkeys", spec)) == [
        f"{SPEC}.properties[entries].items.properties[k].default: Required value: "
        "this property is in x-kubernetes-list-map-keys, so it must have a default or be "
        "a required property"
    ]
    required = {**obj(k={"type": "string"}), "required": ["k"]}
    accepted(api, crd("requiredmapkeys", obj(entries=map_list(required))))
    accepted(
        api, crd("defaultmapkeys", obj(entries=map_list(obj(k={"type": "string", "default": "a"}))))
    )


def test_a_map_key_must_name_an_item_property(api: Http) -> None:
    spec = obj(entries=map_list(obj(name={"type": "string"})))
    assert refused(api, crd("unknownmapkeys", spec)) == [
        f'{SPEC}.properties[entries].x-kubernetes-list-map-keys: Invalid value: []string{{"k"}}: '
        "entries must all be names of item properties"
    ]


# --- CEL rules against the schema ------------------------------------------------------------


def test_a_rule_naming_an_undeclared_field_does_not_compile(api: Http) -> None:
    text = "!has(self.sise) || self.sise <= 10"
    spec = {**obj(size={"type": "integer"}), "x-kubernetes-validations": rule(text)}
    assert refused(api, crd("typos", spec)) == [
        f"{SPEC}.x-kubernetes-validations[0].rule: Invalid value: {go_rule(text)}: "
        "compilation failed: ERROR: <input>:1:5: undefined field 'sise'\n"
        " | !has(self.sise) || self.sise <= 10\n"
        " | ....^\n"
        "ERROR: <input>:1:24: undefined field 'sise'\n"
        " | !has(self.sise) || self.sise <= 10\n"
        " | .......................^"
    ]


def test_operators_between_mismatched_types_do_not_compile(api: Http) -> None:
    text = "self.size > 'big'"
    spec = {**obj(size={"type": "integer"}), "x-kubernetes-validations": rule(text)}
    [cause] = refused(api, crd("mismatches", spec))
    assert cause.endswith(
        "compilation failed: ERROR: <input>:1:11: found no matching overload for '_>_' "
        "applied to '(int, string)'\n | self.size > 'big'\n | ..........^"
    )


def test_a_macro_variable_has_the_fields_of_an_item(api: Http) -> None:
    items = {"type": "array", "items": obj(name={"type": "string"})}
    good = {**obj(items=items), "x-kubernetes-validations": rule("self.items.all(i, has(i.name))")}
    accepted(api, crd("macrovars", good))
    text = "self.items.exists(i, i.nmae == 'a')"
    bad = {**obj(items=items), "x-kubernetes-validations": rule(text)}
    [cause] = refused(api, crd("macrotypos", bad))
    assert "ERROR: <input>:1:23: undefined field 'nmae'" in cause


def test_preserved_unknown_fields_are_not_visible_to_rules_but_map_keys_are(api: Http) -> None:
    spec = obj(
        labels={"type": "object", "additionalProperties": {"type": "string"}},
        free={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    )
    mapped = {**spec, "x-kubernetes-validations": rule("self.labels.team == 'a'")}
    accepted(api, crd("mapfields", mapped))
    free = {**spec, "x-kubernetes-validations": rule("!has(self.free.x)")}
    [cause] = refused(api, crd("freefields", free))
    assert "undefined field 'x'" in cause


def test_a_transition_rule_is_checked_on_old_self_too(api: Http) -> None:
    text = "self.size == oldSelf.szie"
    spec = {**obj(size={"type": "integer"}), "x-kubernetes-validations": rule(text)}
    [cause] = refused(api, crd("oldtypos", spec))
    assert "ERROR: <input>:1:21: undefined field 'szie'" in cause


def test_kubectl_shows_the_refusal(kubectl: Any) -> None:
    manifest = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations: [{rule: "self.nope == 'x'"}]
            properties:
              size: {type: integer, maximum: 10}
"""
    result = kubectl("apply", "-f", "-", stdin=manifest, check=False)
    assert result.returncode != 0
    assert (
        'The CustomResourceDefinition "gadgets.example.com" is invalid: '
        f"{SPEC}.x-kubernetes-validations[0].rule: Invalid value: "
    ) in result.stderr
    assert "undefined field 'nope'" in result.stderr
    assert kubectl("get", "crd", "gadgets.example.com", check=False).returncode != 0
