"""What apiextensions-apiserver checks of a CRD's schemas before it takes the CRD.

A CRD the real server refuses must be refused here, or a chart that installs on the
local cluster fails on a real one. The checks are ``validateCustomResourceDefinition
Validation``'s, in its order:

1. the structural rules (``ValidateStructural``): every property, array item and the
   root typed unless int-or-string or preserve-unknown-fields, the root an object,
   arrays with items, no types or defaults under anyOf/allOf/oneOf/not, metadata at the
   root restricted to name and generateName... sorted as the real server sorts them;
2. only if those pass, the defaults (``ValidateDefaults``): each must carry no field its
   schema would prune, pass its schema's value validations and then its CEL rules;
3. the per-node checks (``ValidateCustomResourceDefinitionOpenAPISchema``): unsupported
   keywords, list types and their map keys (which must be required or defaulted),
   the rules' message, reason and fieldPath...; and, only where the structural rules
   and the defaults passed and the node and everything under it passed these, each
   rule's compilation against the node's CEL type (:mod:`.celcheck`).

Where every version has the same schema, the v1 -> internal conversion moves it to
``spec.validation``, so that is where errors point; otherwise at each version's.
Not modelled: the CEL cost estimates, the status-subresource limits on root fields,
the structural completeness of properties named only under a logical junctor, and
the ratcheting that spares an update what its stored CRD already had.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from . import cel, celcheck, errors, validation
from .errors import FieldError, GoLiteral
from .store import json_copy

JsonDict = dict[str, Any]

_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_REASONS = ["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"]
_META_FIELDS = ("metadata", "kind", "apiVersion")
_ROOT, _ITEM, _FIELD = "root", "item", "field"


def crd_errors(crd: JsonDict) -> list[FieldError]:
    """The name rule, then every schema's errors."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    found: list[FieldError] = []
    name = (crd.get("metadata") or {}).get("name", "")
    if name != f"{names.get('plural', '')}.{spec.get('group', '')}":
        found.append(
            errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
        )
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    schemas = [(v.get("schema") or {}).get("openAPIV3Schema") for v in versions]
    if schemas and all(s == schemas[0] for s in schemas):
        targets = [("spec.validation.openAPIV3Schema", schemas[0])]
    else:
        targets = [(f"spec.versions[{i}].schema.openAPIV3Schema", s) for i, s in enumerate(schemas)]
    for path, schema in targets:
        if isinstance(schema, dict):
            found += schema_errors(schema, path)
    return found


def schema_errors(schema: JsonDict, path: str) -> list[FieldError]:
    """One openAPIV3Schema's errors, ``path`` naming it."""
    found: list[FieldError] = []
    if schema.get("nullable") is True:
        found.append(errors.forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    structural = sorted(_structural(schema, _ROOT, path), key=str)
    compile_rules = False
    if structural:
        found += structural
    else:
        defaults = _default_errors(schema, path, resource_root=True)
        found += defaults
        compile_rules = not defaults
    root_type = celcheck.decl_type(schema, resource_root=True) if compile_rules else None
    context = _Context(is_root=True, compile_rules=compile_rules)
    schema_found, rule_found = _node_errors(schema, path, context, root_type)
    return found + schema_found + rule_found


# --- 1. structural rules (apiserver/schema/validation.go) -------------------------------


def _structural(s: JsonDict, level: str, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    kind = s.get("type")
    items = s.get("items")
    if kind == "array" and not isinstance(items, dict):
        found.append(errors.required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        found += _structural(items, _ITEM, f"{path}.items")
    for name, prop in _properties(s).items():
        found += _structural(prop, _FIELD, f"{path}.properties[{name}]")
    if "additionalProperties" in s:
        if level == _ROOT:
            found.append(
                errors.forbidden(f"{path}.additionalProperties", "must not be used at the root")
            )
        if isinstance(s["additionalProperties"], dict):
            found += _structural(s["additionalProperties"], _FIELD, f"{path}.additionalProperties")
    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if int_or_string and preserve:
        found.append(
            errors.invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        found.append(
            errors.invalid(
                f"{path}.x-kubernetes-embedded-resource",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    found += _junctors(s, path)
    if embedded and kind != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        found.append(
            errors.invalid(f"{path}.type", kind, detail)
            if kind
            else errors.required(f"{path}.type", detail)
        )
    elif not kind and not int_or_string and not preserve:
        where = {
            _ROOT: "at the root",
            _ITEM: "for specified array items",
            _FIELD: "for specified object fields",
        }
        found.append(errors.required(f"{path}.type", f"must not be empty {where[level]}"))
    if embedded and "additionalProperties" in s:
        found.append(
            errors.forbidden(
                f"{path}.additionalProperties",
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if level == _ROOT and kind and kind != "object":
        found.append(errors.invalid(f"{path}.type", kind, "must be object at the root"))
    found += _meta_errors(s, level, path, embedded)
    if embedded and not preserve and not _properties(s):
        found.append(
            errors.required(
                f"{path}.properties",
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )
    return found


def _meta_errors(s: JsonDict, level: str, path: str, embedded: bool) -> list[FieldError]:
    """A resource's kind and apiVersion are strings and its metadata an object; at the
    root, metadata may only restrict name and generateName."""
    props = _properties(s)
    found: list[FieldError] = []
    if level == _ROOT or embedded:
        for name, wanted in (("kind", "string"), ("apiVersion", "string"), ("metadata", "object")):
            if name in props and props[name].get("type") != wanted:
                found.append(
                    errors.invalid(
                        f"{path}.properties[{name}].type",
                        props[name].get("type", ""),
                        f"must be {wanted}",
                    )
                )
    metadata = props.get("metadata")
    if level == _ROOT and metadata is not None:
        named = set(_properties(metadata))
        others = set(metadata) - {"type", "default", "properties"}
        if others or not named <= {"name", "generateName"}:
            found.append(
                errors.forbidden(
                    f"{path}.properties[metadata]",
                    "must not specify anything other than name and generateName, but "
                    "metadata is implicitly specified",
                )
            )
    return found


def _is_int_or_string_pattern(subs: Any) -> bool:
    return bool(subs == [{"type": "integer"}, {"type": "string"}])


def _junctors(s: JsonDict, path: str) -> list[FieldError]:
    """``validateValueValidation``: what a logical junctor may not say (the two
    int-or-string patterns excepted)."""
    found: list[FieldError] = []
    all_of = s.get("allOf") or []
    skip_first = bool(all_of) and isinstance(all_of[0], dict)
    skip_first = skip_first and _is_int_or_string_pattern(all_of[0].get("anyOf"))
    if not _is_int_or_string_pattern(s.get("anyOf")):
        for i, sub in enumerate(s.get("anyOf") or []):
            found += _nested(sub, f"{path}.anyOf[{i}]", skip_any_of=False)
    for i, sub in enumerate(all_of):
        found += _nested(sub, f"{path}.allOf[{i}]", skip_any_of=skip_first and i == 0)
    for i, sub in enumerate(s.get("oneOf") or []):
        found += _nested(sub, f"{path}.oneOf[{i}]", skip_any_of=False)
    if isinstance(s.get("not"), dict):
        found += _nested(s["not"], f"{path}.not", skip_any_of=False)
    return found


_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
)
_NESTED_FALSE = (
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
)


def _nested(v: Any, path: str, *, skip_any_of: bool) -> list[FieldError]:
    if not isinstance(v, dict):
        return []
    found: list[FieldError] = []
    if not skip_any_of:
        for i, sub in enumerate(v.get("anyOf") or []):
            found += _nested(sub, f"{path}.anyOf[{i}]", skip_any_of=False)
    for i, sub in enumerate(v.get("allOf") or []):
        found += _nested(sub, f"{path}.allOf[{i}]", skip_any_of=False)
    for i, sub in enumerate(v.get("oneOf") or []):
        found += _nested(sub, f"{path}.oneOf[{i}]", skip_any_of=False)
    if isinstance(v.get("not"), dict):
        found += _nested(v["not"], f"{path}.not", skip_any_of=False)
    if isinstance(v.get("items"), dict):
        found += _nested(v["items"], f"{path}.items", skip_any_of=False)
    for name, prop in _properties(v).items():
        found += _nested(prop, f"{path}.properties[{name}]", skip_any_of=False)
    for key, detail in _NESTED_FORBIDDEN:
        if v.get(key) not in (None, "", False):
            found.append(errors.forbidden(f"{path}.{key}", detail))
    for key in _NESTED_FALSE:
        if v.get(key) is True:
            found.append(errors.forbidden(f"{path}.{key}", "must be false to be structural"))
    if v.get("x-kubernetes-list-map-keys"):
        found.append(
            errors.forbidden(f"{path}.x-kubernetes-list-map-keys", "must be empty to be structural")
        )
    if v.get("x-kubernetes-list-type") is not None:
        found.append(
            errors.forbidden(f"{path}.x-kubernetes-list-type", "must be undefined to be structural")
        )
    if "metadata" in _properties(v):
        found.append(
            errors.forbidden(
                f"{path}.properties[metadata]", "must not be specified in a nested context"
            )
        )
    return found


# --- 2. defaults (apiserver/schema/defaulting/validation.go) -------------------------------


def _default_errors(s: JsonDict, path: str, *, resource_root: bool = False) -> list[FieldError]:
    """Each default against its own schema: pruned as it is, valid, its rules true.
    Not followed: additionalProperties (defaults are refused there) and a resource's
    apiVersion, kind and metadata (refused by the per-node checks)."""
    found: list[FieldError] = []
    if "default" in s and s["default"] is not None:
        found += _one_default(s, f"{path}.default")
    if isinstance(s.get("items"), dict):
        found += _default_errors(s["items"], f"{path}.items")
    embedded = resource_root or s.get("x-kubernetes-embedded-resource") is True
    for name, prop in _properties(s).items():
        if not (embedded and name in _META_FIELDS):
            found += _default_errors(prop, f"{path}.properties[{name}]")
    return found


def _one_default(s: JsonDict, path: str) -> list[FieldError]:
    default = s["default"]
    found: list[FieldError] = []
    pruned = validation.Admission()
    validation.prune_and_default(json_copy(default), s, "", pruned)
    if pruned.unknown_fields:
        found.append(errors.invalid(path, go_value(default), "must not have unknown fields"))
    value_errors = validation.validate(json_copy(default), s, "")
    if value_errors:
        return found + [_under(path, e) for e in value_errors]
    # the rules see the default as both self and oldSelf
    rule_errors = validation.rule_errors(json_copy(default), s, "", json_copy(default))
    return found + [_under(path, e) for e in rule_errors]


def _under(path: str, error: FieldError) -> FieldError:
    """An error found in a default, moved under the default's path (its message keeps
    the name relative to the default, as kube-openapi's does)."""
    inner = error.path
    if not inner:
        where = path
    elif inner.startswith(("[", ".")):
        where = path + inner
    else:
        where = f"{path}.{inner}"
    return replace(error, path=where)


def go_value(value: Any) -> GoLiteral:
    """A JSON value as Go's ``%#v`` prints an ``interface{}`` holding it."""
    if isinstance(value, dict):
        inner = ", ".join(
            f"{errors.go_quote(str(k))}:{go_value(v)}" for k, v in sorted(value.items())
        )
        return GoLiteral(f"map[string]interface {{}}{{{inner}}}")
    if isinstance(value, list):
        return GoLiteral(f"[]interface {{}}{{{', '.join(go_value(v) for v in value)}}}")
    if value is None:
        return GoLiteral("interface {}(nil)")
    if isinstance(value, str):
        return GoLiteral(errors.go_quote(value))
    if isinstance(value, bool):
        return GoLiteral("true" if value else "false")
    if isinstance(value, float) and value.is_integer():
        return GoLiteral(str(int(value)))
    return GoLiteral(str(value))


# --- 3. per-node checks and the rules' compilation (apis/apiextensions/validation) ---------


@dataclass(frozen=True)
class _Context:
    """What a node inherits: ``specStandardValidatorV3``'s state and whether rules compile."""

    is_root: bool = False
    compile_rules: bool = False
    defaults_refused: str | None = None  # why defaults are refused here, if they are
    inside_meta: bool = False
    uncorrelatable: str | None = None  # the path that makes oldSelf unusable here

    def child(self, **changes: Any) -> _Context:
        return replace(self, is_root=False, **changes)


def _node_errors(
    s: JsonDict, path: str, ctx: _Context, own_type: celcheck.CelType | None
) -> tuple[list[FieldError], list[FieldError]]:
    """The schema errors of a node and everything under it, and the rules' errors."""
    found = _standard(s, path, ctx)
    rules_found: list[FieldError] = []

    def visit(sub: JsonDict, sub_path: str, sub_ctx: _Context, key: str | None) -> None:
        sub_type = celcheck.child_type(own_type, key, sub) if key is not None else None
        sub_found, sub_rules = _node_errors(sub, sub_path, sub_ctx, sub_type)
        found.extend(sub_found)
        rules_found.extend(sub_rules)

    if s.get("uniqueItems") is True:
        found.append(
            errors.forbidden(
                f"{path}.uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    props = _properties(s)
    additional = s.get("additionalProperties")
    if "additionalProperties" in s:
        if props and (additional is False or isinstance(additional, dict)):
            found.append(
                errors.forbidden(
                    f"{path}.additionalProperties",
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        if isinstance(additional, dict):
            sub_ctx = ctx.child()
            if ctx.inside_meta:
                sub_ctx = sub_ctx.child(
                    defaults_refused="inside additionalProperties applying to object metadata"
                )
            visit(additional, f"{path}.additionalProperties", sub_ctx, "[]")
    for name, prop in props.items():
        sub_ctx = ctx.child()
        if s.get("x-kubernetes-map-type") == "atomic" and sub_ctx.uncorrelatable is None:
            sub_ctx = sub_ctx.child(uncorrelatable=path)
        if (ctx.is_root or s.get("x-kubernetes-embedded-resource") is True) and (
            name in _META_FIELDS
        ):
            sub_ctx = sub_ctx.child(inside_meta=True)
            if ctx.is_root:
                sub_ctx = sub_ctx.child(defaults_refused=f"in top-level {name}")
        visit(prop, f"{path}.properties[{name}]", sub_ctx, name)
    no_rules = replace(ctx.child(), compile_rules=False)
    if isinstance(s.get("not"), dict):
        visit(s["not"], f"{path}.not", no_rules, None)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(s.get(keyword) or []):
            if isinstance(sub, dict):
                visit(sub, f"{path}.{keyword}[{i}]", no_rules, None)
    items = s.get("items")
    if isinstance(items, dict):
        sub_ctx = ctx.child()
        if s.get("x-kubernetes-list-type") != "map" and sub_ctx.uncorrelatable is None:
            sub_ctx = sub_ctx.child(uncorrelatable=path)
        visit(items, f"{path}.items", sub_ctx, "[]")
    found += _extension_errors(s, path)
    found += _rule_text_errors(s, path)
    if not found and ctx.compile_rules:
        rules_found += _compile_errors(s, path, ctx, own_type)
    return found, rules_found


def _standard(s: JsonDict, path: str, ctx: _Context) -> list[FieldError]:
    """``specStandardValidatorV3.validate``: what OpenAPI v3 allows that CRDs do not."""
    found: list[FieldError] = []
    kind = s.get("type")
    if kind and kind not in _TYPES:
        found.append(errors.not_supported(f"{path}.type", kind, _TYPES))
    if "default" in s and ctx.defaults_refused is not None:
        found.append(errors.forbidden(f"{path}.default", f"must not be set {ctx.defaults_refused}"))
    unsupported = (
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    )
    for key, detail in unsupported:
        if s.get(key):
            found.append(errors.forbidden(f"{path}.{key}", detail))
    if kind == "null":
        found.append(
            errors.forbidden(
                f"{path}.type", "type cannot be set to null, use nullable as an alternative"
            )
        )
    if isinstance(s.get("items"), list):
        found.append(
            errors.forbidden(f"{path}.items", "items must be a schema object and not an array")
        )
    if ctx.inside_meta and s.get("x-kubernetes-embedded-resource") is True:
        found.append(
            errors.forbidden(
                f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta"
            )
        )
    return found


def _go_strings(values: list[Any]) -> GoLiteral:
    return GoLiteral(f"[]string{{{', '.join(errors.go_quote(str(v)) for v in values)}}}")


def _extension_errors(s: JsonDict, path: str) -> list[FieldError]:
    """The x-kubernetes-* extensions: preserve-unknown-fields, map and list types, and a
    map list's keys (item properties, scalar, required or defaulted, not nullable)."""
    found: list[FieldError] = []
    kind = s.get("type")
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        found.append(
            errors.invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"
            )
        )
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None and kind != "object":
        found.append(_typed(path, kind, "must be object if x-kubernetes-map-type is specified"))
    if map_type is not None and map_type not in ("atomic", "granular"):
        found.append(
            errors.not_supported(f"{path}.x-kubernetes-map-type", map_type, ["atomic", "granular"])
        )
    list_type = s.get("x-kubernetes-list-type")
    items = s.get("items")
    if list_type is not None and kind != "array":
        found.append(_typed(path, kind, "must be array if x-kubernetes-list-type is specified"))
    elif list_type == "set" and isinstance(items, dict):
        found += _set_item_errors(items, path)
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        found.append(
            errors.not_supported(
                f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]
            )
        )
    keys = list(s.get("x-kubernetes-list-map-keys") or [])
    if keys and list_type is None:
        found.append(
            errors.required(
                f"{path}.x-kubernetes-list-type",
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )
        )
    elif keys and list_type != "map":
        found.append(
            errors.invalid(
                f"{path}.x-kubernetes-list-type",
                list_type,
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )
        )
    if list_type == "map":
        found += _map_list_errors(s, path, keys)
    if isinstance(items, dict) and list_type in ("set", "map"):
        found += _map_set_errors(items, path, list_type, keys)
    return found


def _typed(path: str, kind: Any, detail: str) -> FieldError:
    if kind:
        return errors.invalid(f"{path}.type", kind, detail)
    return errors.required(f"{path}.type", detail)


def _set_item_errors(items: JsonDict, path: str) -> list[FieldError]:
    """A set's items must be atomic: arrays unless atomic, objects unless atomic."""
    detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
    item_list_type = items.get("x-kubernetes-list-type")
    shown = item_list_type if item_list_type is not None else "null"
    if items.get("type") == "array" and item_list_type not in (None, "atomic"):
        return [errors.invalid(f"{path}.items.x-kubernetes-list-type", shown, detail)]
    if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
        return [errors.invalid(f"{path}.items.x-kubernetes-map-type", shown, detail)]
    return []


def _map_list_errors(s: JsonDict, path: str, keys: list[Any]) -> list[FieldError]:
    found: list[FieldError] = []
    if not keys:
        found.append(
            errors.required(
                f"{path}.x-kubernetes-list-map-keys",
                "must not be empty if x-kubernetes-list-type is map",
            )
        )
    items = s.get("items")
    if items is None:
        found.append(
            errors.required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map")
        )
        return found
    if not isinstance(items, dict):
        return found
    if items.get("type") != "object":
        found.append(
            errors.invalid(
                f"{path}.items.type",
                items.get("type", ""),
                "must be object if parent array's x-kubernetes-list-type is map",
            )
        )
        return found
    props = _properties(items)
    seen: set[str] = set()
    for key in keys:
        if key in props:
            if props[key].get("type") in ("array", "object"):
                found.append(
                    errors.invalid(
                        f"{path}.items.properties[{key}].type",
                        "object",
                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                    )
                )
        else:
            found.append(
                errors.invalid(
                    f"{path}.x-kubernetes-list-map-keys",
                    _go_strings(keys),
                    "entries must all be names of item properties",
                )
            )
        if key in seen:
            found.append(
                errors.invalid(
                    f"{path}.x-kubernetes-list-map-keys",
                    _go_strings(keys),
                    "must not contain duplicate entries",
                )
            )
        seen.add(str(key))
    return found


def _map_set_errors(
    items: JsonDict, path: str, list_type: str, keys: list[Any]
) -> list[FieldError]:
    """``validateMapListKeysMapSet``: a map list's items can always be told apart."""
    found: list[FieldError] = []
    if items.get("nullable") is True:
        found.append(
            errors.forbidden(
                f"{path}.items.nullable",
                f"cannot be nullable when x-kubernetes-list-type is {list_type}",
            )
        )
    if list_type != "map":
        return found
    props = _properties(items)
    required = set(items.get("required") or [])
    for key in keys:
        prop = props.get(key)
        if prop is None:
            continue  # refused above: not an item property
        where = f"{path}.items.properties[{key}]"
        if key not in required and "default" not in prop:
            found.append(
                errors.required(
                    f"{where}.default",
                    "this property is in x-kubernetes-list-map-keys, so it must have a default "
                    "or be a required property",
                )
            )
        if prop.get("nullable") is True:
            found.append(
                errors.forbidden(
                    f"{where}.nullable",
                    "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                )
            )
    return found


def _rule_text_errors(s: JsonDict, path: str) -> list[FieldError]:
    """What a rule's fields must be before it is compiled."""
    found: list[FieldError] = []
    for i, spec in enumerate(s.get("x-kubernetes-validations") or []):
        where = f"{path}.x-kubernetes-validations[{i}]"
        spec = spec if isinstance(spec, dict) else {}
        rule, message = str(spec.get("rule") or ""), str(spec.get("message") or "")
        expression = str(spec.get("messageExpression") or "")
        if not rule.strip():
            found.append(errors.required(f"{where}.rule", "rule is not specified"))
        elif message and not message.strip():
            found.append(
                errors.invalid(
                    f"{where}.message", message, "message must be non-empty if specified"
                )
            )
        elif _has_newlines(message.strip()):
            found.append(
                errors.invalid(f"{where}.message", message, "message must not contain line breaks")
            )
        elif _has_newlines(rule.strip()) and not message.strip():
            found.append(
                errors.required(
                    f"{where}.message", "message must be specified if rule contains line breaks"
                )
            )
        if expression and not expression.strip():
            found.append(
                errors.required(
                    f"{where}.messageExpression", "messageExpression must be non-empty if specified"
                )
            )
        reason = spec.get("reason")
        if reason is not None and reason not in _REASONS:
            found.append(errors.not_supported(f"{where}.reason", reason, _REASONS))
        found += _field_path_errors(s, where, spec.get("fieldPath"))
    return found


def _has_newlines(text: str) -> bool:
    return "\n" in text or "\r" in text


def _field_path_errors(s: JsonDict, where: str, field_path: Any) -> list[FieldError]:
    if not field_path:
        return []
    text = str(field_path)
    if not text.strip():
        return [
            errors.invalid(f"{where}.fieldPath", text, "fieldPath must be non-empty if specified")
        ]
    if _has_newlines(text):
        return [
            errors.invalid(f"{where}.fieldPath", text, "fieldPath must not contain line breaks")
        ]
    if not _field_path_valid(s, text):
        return [errors.invalid(f"{where}.fieldPath", text, "fieldPath must be a valid path")]
    return []


def _field_path_valid(s: JsonDict, text: str) -> bool:
    """``cel.ValidFieldPath``, for the ``.a.b`` form: each step a declared property.
    Anything past a map, a list or preserved unknown fields is taken as valid."""
    if not text.startswith("."):
        return text.startswith("[")
    node = s
    for step in text[1:].split("."):
        bracket = step.find("[")
        name = step if bracket < 0 else step[:bracket]
        if (
            node.get("x-kubernetes-preserve-unknown-fields") is True
            or isinstance(node.get("additionalProperties"), dict)
            or node.get("type") == "array"
        ):
            return True
        props = _properties(node)
        if not name or name not in props:
            return False
        if bracket >= 0:
            return True
        node = props[name]
    return True


def _compile_errors(
    s: JsonDict, path: str, ctx: _Context, own_type: celcheck.CelType | None
) -> list[FieldError]:
    """Each rule (and message expression) compiled against the node's CEL type."""
    found: list[FieldError] = []
    for i, spec in enumerate(s.get("x-kubernetes-validations") or []):
        if not isinstance(spec, dict):
            continue
        where = f"{path}.x-kubernetes-validations[{i}]"
        rule = str(spec.get("rule") or "")
        parse = cel.compile_error(rule)
        problem = f"compilation failed: {parse}" if parse else None
        if problem is None and own_type is not None:
            problem = celcheck.problem(rule, own_type)
        if problem:
            found.append(errors.invalid(f"{where}.rule", go_rule(spec), problem))
        expression = spec.get("messageExpression")
        if expression and str(expression).strip():
            parse = cel.compile_error(str(expression))
            detail = f"messageExpression compilation failed: {parse}" if parse else None
            if detail is None and own_type is not None:
                detail = celcheck.problem(str(expression), own_type, message=True)
            if detail:
                found.append(errors.invalid(f"{where}.messageExpression", go_rule(spec), detail))
        if cel.is_transition_rule(rule) and ctx.uncorrelatable is not None:
            found.append(
                errors.invalid(
                    f"{where}.rule",
                    rule,
                    "oldSelf cannot be used on the uncorrelatable portion of the schema within "
                    f"{ctx.uncorrelatable}",
                )
            )
        elif not cel.is_transition_rule(rule) and spec.get("optionalOldSelf") is not None:
            found.append(
                errors.invalid(
                    f"{where}.optionalOldSelf",
                    bool(spec["optionalOldSelf"]),
                    "may not be set if oldSelf is not used in rule",
                )
            )
    return found


def go_rule(spec: JsonDict) -> GoLiteral:
    """An ``apiextensions.ValidationRule`` as Go's ``%#v`` prints it (a set pointer prints
    as an address: one fixed here, as any address will do)."""
    reason = "nil" if spec.get("reason") is None else "0xc000a3c1f0"
    optional = "nil" if spec.get("optionalOldSelf") is None else "0xc000a3c1f8"
    quoted = {k: errors.go_quote(str(spec.get(k) or "")) for k in ("rule", "message")}
    expression = errors.go_quote(str(spec.get("messageExpression") or ""))
    field_path = errors.go_quote(str(spec.get("fieldPath") or ""))
    return GoLiteral(
        f"apiextensions.ValidationRule{{Rule:{quoted['rule']}, Message:{quoted['message']}, "
        f"MessageExpression:{expression}, "
        f"Reason:(*apiextensions.FieldValueErrorReason)({reason}), FieldPath:{field_path}, "
        f"OptionalOldSelf:(*bool)({optional})}}"
    )


def _properties(s: JsonDict) -> dict[str, JsonDict]:
    props = s.get("properties")
    if not isinstance(props, dict):
        return {}
    return {str(k): v for k, v in props.items() if isinstance(v, dict)}
