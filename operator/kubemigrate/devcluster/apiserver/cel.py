"""``x-kubernetes-validations``: CEL rules on custom resources, via cel-python.

Semantics follow the CRD docs: ``self`` is the value at the schema node holding the
rule; a rule mentioning ``oldSelf`` is a transition rule, evaluated only on update
and only where an old value exists; a failed rule reports ``message``, else the
evaluated ``messageExpression``, else ``failed rule: <rule>``, with the rule's
``reason`` (default FieldValueInvalid) and ``fieldPath`` appended to the path.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import celpy
import celpy.adapter

from . import errors
from .errors import FieldError

JsonDict = dict[str, Any]

_OLD_SELF = re.compile(r"\boldSelf\b")


@functools.lru_cache(maxsize=512)
def _program(rule: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def compile_error(rule: str) -> str | None:
    """The compile error of a rule, if any (used to reject bad CRDs up front)."""
    try:
        _program(rule)
    except Exception as exc:  # celpy raises several unrelated exception types
        return str(exc)
    return None


def is_transition_rule(rule: str) -> bool:
    return bool(_OLD_SELF.search(rule))


def type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string"


def _evaluate(rule: str, activation: dict[str, Any]) -> Any:
    """Evaluate a rule; a rule's result depends on nothing but its inputs, so it is
    remembered for the same rule and inputs (the same JSON text, key order included):
    most writes (status updates) leave the values the rules look at as they were."""
    try:
        key = json.dumps(activation)
    except (TypeError, ValueError):  # not plain JSON: evaluate it as it is
        return _evaluate_now(rule, activation)
    return _evaluate_json(rule, key)


@functools.lru_cache(maxsize=2048)
def _evaluate_json(rule: str, activation: str) -> Any:
    # Only results are cached: an evaluation error is raised afresh every time.
    return _evaluate_now(rule, json.loads(activation))


def _evaluate_now(rule: str, activation: dict[str, Any]) -> Any:
    return _program(rule).evaluate({k: celpy.adapter.json_to_cel(v) for k, v in activation.items()})


_MISSING_KEY = re.compile(r"^no such member in mapping: '(.*)'$")


def runtime_error_message(exc: Exception) -> str:
    """cel-go's wording of an evaluation error, for celpy's ``(message, type, args)``.

    The real server reports cel-go's message (``no such key: size``); celpy's own
    text names Python types, which no client of a real cluster ever sees.
    """
    args = exc.args
    message = str(args[0]) if args else str(exc)
    cause = args[1] if len(args) > 1 else None
    missing = _MISSING_KEY.match(message)
    if missing:
        return f"no such key: {missing.group(1)}"
    if cause is ZeroDivisionError:
        return "division by zero"
    if cause is IndexError:
        return "index out of bounds"
    if message.startswith("found no matching overload"):
        return "no such overload"
    if cause is ValueError:
        return "type conversion error"
    return message


def check_rules(
    rules: list[JsonDict], path: str, value: Any, old: Any, has_old: bool
) -> list[FieldError]:
    """Evaluate the rules of one schema node against its value."""
    found: list[FieldError] = []
    for spec in rules:
        rule = spec.get("rule", "")
        activation: dict[str, Any] = {"self": value}
        if is_transition_rule(rule):
            if not has_old:
                continue
            activation["oldSelf"] = old
        try:
            ok = _evaluate(rule, activation)
        except Exception as exc:  # an evaluation error fails the rule, like the real one
            # ``ruleErrorString``: the rule's message if it has one, else the rule
            said = (spec.get("message") or "").strip() or rule.strip()
            detail = f"{runtime_error_message(exc)} evaluating rule: {said}"
            found.append(errors.invalid(path, type_name(value), detail))
            continue
        if ok is True or (not isinstance(ok, bool) and bool(ok)):
            continue
        message = spec.get("message")
        if not message and spec.get("messageExpression"):
            try:
                message = str(_evaluate(spec["messageExpression"], activation))
            except Exception:  # the real server falls back to the rule text too
                message = None
        message = message or f"failed rule: {rule}"
        field_path = path + spec.get("fieldPath", "")
        reason = spec.get("reason", "FieldValueInvalid")
        if reason == "FieldValueForbidden":
            found.append(errors.forbidden(field_path, message))
        elif reason == "FieldValueRequired":
            found.append(errors.required(field_path, message))
        elif reason == "FieldValueDuplicate":
            found.append(FieldError(field_path, "Duplicate value", reason, message))
        else:
            found.append(errors.invalid(field_path, type_name(value), message))
    return found
