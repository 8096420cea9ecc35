"""Admission of custom resources against their CRD's structural ``openAPIV3Schema``.

The order is the real one: prune unknown fields (reported as warnings, or a 400 under
``fieldValidation=Strict``), drop nulls that are not ``nullable``, apply ``default``s,
validate values, then evaluate the CEL rules. Messages are the apiextensions
wording (``spec.steps in body should be greater than or equal to 1``...).

The CEL rules run as ``customResourceStrategy.Validate`` runs them: over the whole
object, once every other check is done, and not at all if any error so far is one
that makes rule evaluation unsafe (a required field missing, a wrong type, a value
not in its enum, too long, too many: ``hasBlockingErr``). Then the rules' place in
the answer is taken by one cause saying that some were not checked. Other errors
(a pattern, a minimum) do not stop them: a client sees every rule's verdict with them.

Formats checked: ``int-or-string``, ``date`` and ``date-time``. Not modelled: the
other ``format``s, ratcheting of unchanged invalid values, CEL cost limits,
``x-kubernetes-list-map-keys`` beyond uniqueness.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from . import cel, errors
from .errors import FieldError
from .store import json_copy

JsonDict = dict[str, Any]

_MISSING = object()
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass
class Admission:
    errors: list[FieldError] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def in_body(path: str) -> str:
    """kube-openapi's ``<name> in body``: the name is empty at the validated root."""
    return f"{path} in body" if path else "in body"


def prune_and_default(value: Any, schema: JsonDict, path: str, result: Admission) -> Any:
    """Drop unknown fields and non-nullable nulls, fill in defaults (in place; returns value)."""
    if isinstance(value, dict):
        props: JsonDict = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        embedded = schema.get("x-kubernetes-embedded-resource", False)
        for key in list(value):
            child_path = _join(path, key)
            if key in props:
                child_schema = props[key]
            elif isinstance(additional, dict):
                child_schema = additional
            elif (embedded and key in ("apiVersion", "kind", "metadata")) or (
                preserve or additional is True
            ):
                continue
            else:
                result.unknown_fields.append(child_path)
                del value[key]
                continue
            if value[key] is None and not child_schema.get("nullable", False):
                del value[key]
                continue
            value[key] = prune_and_default(value[key], child_schema, child_path, result)
        for key, child_schema in props.items():
            if key not in value and "default" in child_schema:
                value[key] = prune_and_default(
                    json_copy(child_schema["default"]), child_schema, _join(path, key), result
                )
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            value[index] = prune_and_default(item, schema["items"], f"{path}[{index}]", result)
    return value


def _type_ok(value: Any, schema: JsonDict) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    wanted = schema.get("type")
    if not wanted:
        return True
    if value is None:
        return bool(schema.get("nullable"))
    if isinstance(value, bool) and wanted in ("integer", "number"):
        return False
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(wanted, (object,)))


def _number_errors(path: str, value: float, schema: JsonDict) -> list[FieldError]:
    found: list[FieldError] = []
    if "minimum" in schema:
        bound = schema["minimum"]
        if schema.get("exclusiveMinimum") and value <= bound:
            found.append(
                errors.invalid(path, value, f"{in_body(path)} should be greater than {bound}")
            )
        elif value < bound:
            found.append(
                errors.invalid(
                    path, value, f"{in_body(path)} should be greater than or equal to {bound}"
                )
            )
    if "maximum" in schema:
        bound = schema["maximum"]
        if schema.get("exclusiveMaximum") and value >= bound:
            found.append(
                errors.invalid(path, value, f"{in_body(path)} should be less than {bound}")
            )
        elif value > bound:
            found.append(
                errors.invalid(
                    path, value, f"{in_body(path)} should be less than or equal to {bound}"
                )
            )
    if "multipleOf" in schema and value % schema["multipleOf"]:
        found.append(
            errors.invalid(
                path, value, f"{in_body(path)} should be a multiple of {schema['multipleOf']}"
            )
        )
    return found


_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_TIME = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")


def is_date(text: str) -> bool:
    """strfmt's ``IsDate``: Go's ``time.Parse("2006-01-02")``, so a real calendar day."""
    match = _DATE.match(text)
    if not match:
        return False
    try:
        datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def is_date_time(text: str) -> bool:
    """strfmt's ``IsDateTime``: RFC 3339 (``2024-05-01T10:00:00Z``, offsets, fractions)."""
    parts = text.lower().split("t")
    if len(text) < 4 or len(parts) < 2 or not is_date(parts[0]):
        return False
    match = _TIME.match(parts[1])
    if not match:
        return False
    hours, minutes, seconds = match.group(1), match.group(2), match.group(3)
    return hours <= "23" and minutes <= "59" and seconds <= "59"


_FORMATS = {"date": is_date, "date-time": is_date_time}


def _format_errors(path: str, value: str, schema: JsonDict) -> list[FieldError]:
    """kube-openapi's format validator, as ``InvalidType`` words it (value shown twice)."""
    name = schema.get("format")
    check = _FORMATS.get(name) if isinstance(name, str) else None
    if check is None or check(value):
        return []
    detail = f"{in_body(path)} must be of type {name}: {errors.go_quote(value)}"
    return [errors.type_invalid(path, value, detail)]


def _string_errors(path: str, value: str, schema: JsonDict) -> list[FieldError]:
    found: list[FieldError] = _format_errors(path, value, schema)
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(errors.too_long(path, schema["maxLength"]))
    if "minLength" in schema and len(value) < schema["minLength"]:
        found.append(
            errors.invalid(
                path, value, f"{in_body(path)} should be at least {schema['minLength']} chars long"
            )
        )
    if "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(
            errors.invalid(path, value, f"{in_body(path)} should match '{schema['pattern']}'")
        )
    return found


def _array_errors(path: str, value: list[Any], schema: JsonDict) -> list[FieldError]:
    found: list[FieldError] = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        found.append(errors.too_many(path, len(value), schema["maxItems"]))
    if "minItems" in schema and len(value) < schema["minItems"]:
        found.append(
            errors.invalid(
                path, len(value), f"{in_body(path)} should have at least {schema['minItems']} items"
            )
        )
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set" or schema.get("uniqueItems"):
        for index, item in enumerate(value):
            if item in value[:index]:
                found.append(
                    FieldError(
                        f"{path}[{index}]", "Duplicate value", "FieldValueDuplicate", "", item, True
                    )
                )
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for index, item in enumerate(value):
            ident = [item.get(k) for k in keys] if isinstance(item, dict) else item
            if ident in seen:
                found.append(
                    FieldError(
                        f"{path}[{index}]", "Duplicate value", "FieldValueDuplicate", "", item, True
                    )
                )
            seen.append(ident)
    return found


def validate(value: Any, schema: JsonDict, path: str) -> list[FieldError]:
    """Value validations of a (pruned, defaulted) value: kube-openapi's part, no CEL."""
    if not _type_ok(value, schema):
        actual = cel.type_name(value)
        return [
            errors.type_invalid(
                path,
                actual,
                f'{in_body(path)} must be of type {schema.get("type")}: "{actual}"',
            )
        ]
    found: list[FieldError] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(errors.not_supported(path, value, schema["enum"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        found += _number_errors(path, value, schema)
    elif isinstance(value, str):
        found += _string_errors(path, value, schema)
    elif isinstance(value, list):
        found += _array_errors(path, value, schema)
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                found += validate(item, items, f"{path}[{index}]")
    elif isinstance(value, dict):
        for name in schema.get("required") or []:
            if name not in value:
                found.append(errors.required(_join(path, name)))
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            child_schema = props.get(key) or (additional if isinstance(additional, dict) else None)
            if child_schema is not None and not (path == "" and key == "metadata"):
                found += validate(child, child_schema, _join(path, key))
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            found.append(errors.too_many(path, len(value), schema["maxProperties"]))
    for keyword in ("allOf", "anyOf", "oneOf"):
        subs = schema.get(keyword) or []
        if not subs:
            continue
        matched = [
            not validate(value, {**s, "type": s.get("type", schema.get("type"))}, path)
            for s in subs
        ]
        if (keyword == "allOf" and not all(matched)) or (keyword == "anyOf" and not any(matched)):
            found.append(
                errors.invalid(path, cel.type_name(value), f"{in_body(path)} must match {keyword}")
            )
        if keyword == "oneOf" and sum(matched) != 1:
            found.append(
                errors.invalid(
                    path,
                    cel.type_name(value),
                    f"{in_body(path)} must validate one and only one schema (oneOf)",
                )
            )
    return found


def has_rules(schema: Any) -> bool:
    """Whether a schema holds any CEL rule (``hasXValidations``): without one the real
    server builds no CEL validator, so nothing is ever said about rules not checked."""
    if not isinstance(schema, dict):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    children = [*(schema.get("properties") or {}).values(), *(schema.get("allOf") or [])]
    children += [schema.get("items"), schema.get("additionalProperties")]
    return any(has_rules(child) for child in children)


def rule_errors(value: Any, schema: JsonDict, path: str, old: Any = _MISSING) -> list[FieldError]:
    """The CEL rules of a schema and everything under it, node first, as the CEL
    validator walks a value; ``old`` is the stored value at the same place, if any
    (items of a list are correlated only in a map-type list, by their keys)."""
    if value is None:  # rules validate non-null values only
        return []
    found: list[FieldError] = []
    rules = schema.get("x-kubernetes-validations") or []
    if rules:
        has_old = old is not _MISSING and old is not None
        found += cel.check_rules(rules, path, value, old if has_old else None, has_old)
    for sub in schema.get("allOf") or []:
        if isinstance(sub, dict):
            found += rule_errors(value, sub, path, old)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        olds = _correlated_items(value, old, schema)
        for index, item in enumerate(value):
            found += rule_errors(item, schema["items"], f"{path}[{index}]", olds[index])
    elif isinstance(value, dict):
        props: JsonDict = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        old_map = old if isinstance(old, dict) else {}
        for key, child in value.items():
            child_schema = props.get(key) or (additional if isinstance(additional, dict) else None)
            if child_schema is not None and not (path == "" and key == "metadata"):
                child_old = old_map.get(key, _MISSING)
                found += rule_errors(child, child_schema, _join(path, key), child_old)
    return found


def _correlated_items(value: list[Any], old: Any, schema: JsonDict) -> list[Any]:
    """Each item's old self: the old item with the same keys in a map-type list, else none."""
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if schema.get("x-kubernetes-list-type") != "map" or not keys or not isinstance(old, list):
        return [_MISSING] * len(value)

    def ident(item: Any) -> Any:
        return [item.get(k) for k in keys] if isinstance(item, dict) else _MISSING

    by_key = [(ident(item), item) for item in old]
    return [next((o for k, o in by_key if k == ident(item)), _MISSING) for item in value]


# ``hasBlockingErr``: after one of these, evaluating a rule could fail for the error's
# reason rather than the rule's, so the real server evaluates none.
_BLOCKING = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
RULES_NOT_CHECKED = FieldError(
    "<nil>",
    "Invalid value",
    "FieldValueInvalid",
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation",
    "null",
    True,
)
"""The cause the real server gives instead of the rules' verdicts: ``field.Invalid(nil,
nil, ...)``, whose path prints as ``<nil>`` and whose value as ``"null"``."""


def admit(
    obj: JsonDict,
    schema: JsonDict | None,
    old: JsonDict | None,
    earlier: list[FieldError] | None = None,
) -> tuple[JsonDict, Admission]:
    """Prune, default and validate a custom resource; returns the admitted copy.

    ``earlier`` are the errors already found in the same request (ObjectMeta's): they
    count as much as the schema's in deciding whether the CEL rules run.
    """
    result = Admission()
    admitted = json_copy(obj)
    if not schema:
        return admitted, result
    root = dict(schema)
    # apiVersion/kind/metadata are the server's business, never pruned or validated here.
    root["properties"] = {
        **(schema.get("properties") or {}),
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    }
    prune_and_default(admitted, root, "", result)
    result.errors = validate(admitted, root, "")
    if has_rules(schema):
        so_far = [*(earlier or []), *result.errors]
        if any(e.cause_reason in _BLOCKING for e in so_far):
            result.errors.append(RULES_NOT_CHECKED)
        else:
            result.errors += rule_errors(admitted, root, "", _MISSING if old is None else old)
    return admitted, result
