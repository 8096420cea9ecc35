"""Pod spec validation (``ValidatePodSpec`` of pkg/apis/core/validation), for Pods and templates.

A Pod spec reaches the API inside Pods, Jobs and Deployments, and each reports the
same errors under its own path (``spec`` or ``spec.template.spec``). What is modelled
is what a hand-written manifest or an operator's generated Pod can get wrong:
required names and images, container names as DNS labels (unique across init and
regular containers), env names, volumeMounts that name a declared volume, resource
names and quantities (requests never above limits), tolerations, nodeSelector labels,
the serviceAccountName and the restartPolicy. Go walks maps in random order; keys
are sorted here so the messages are stable.

Quantities are parsed twice, as on the real server: a string that is no quantity at
all fails decoding (400, :func:`quantity_decode_error`), a negative one fails validation.
Values are compared exactly (:class:`decimal.Decimal`), but shown as written: the real
server prints the canonical form (``1024Mi`` as ``1Gi``), which is not modelled.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from . import errors, objects, schedulinggates
from .errors import FieldError, GoLiteral

JsonDict = dict[str, Any]

QUANTITY_PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_QUANTITY = re.compile(QUANTITY_PATTERN)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")
QUANTITY_FORMAT_ERROR = f"quantities must match the regular expression '{QUANTITY_PATTERN}'"
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"
# Resources a container may ask for without a domain prefix (IsStandardContainerResourceName).
_STANDARD_CONTAINER = ("cpu", "memory", "ephemeral-storage")
_OVERCOMMIT_FORBIDDEN_PREFIX = "hugepages-"
_ENV_NAME_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters "
    "other than '='"
)


def as_dict(value: Any) -> JsonDict:
    """``value`` if it is an object, else an empty one: bad shapes are reported elsewhere."""
    return value if isinstance(value, dict) else {}


def parse_quantity(value: Any) -> Decimal:
    """``resource.ParseQuantity``: the value as a number, or ValueError with Go's message.

    JSON numbers are quantities too (``cpu: 1``), as the real decoder reads their text.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(QUANTITY_FORMAT_ERROR)
    text = value if isinstance(value, str) else repr(value)
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(QUANTITY_FORMAT_ERROR)
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise ValueError(QUANTITY_FORMAT_ERROR) from None
    if suffix in _BINARY:
        return amount * _BINARY[suffix]
    if suffix in _DECIMAL:
        return amount * _DECIMAL[suffix]
    if _EXPONENT.match(suffix):
        return amount.scaleb(int(suffix[1:]))
    raise ValueError(QUANTITY_SUFFIX_ERROR)


def _containers(spec: JsonDict) -> list[tuple[str, JsonDict]]:
    """Each container with its path below the spec (``initContainers`` first, as validation
    walks them, so a duplicate name is reported on the later one)."""
    found = []
    for kind in ("initContainers", "containers"):
        items = spec.get(kind)
        for index, container in enumerate(items if isinstance(items, list) else []):
            found.append((f"{kind}[{index}]", container if isinstance(container, dict) else {}))
    return found


def quantity_decode_error(spec: Any) -> str | None:
    """The decoding error of the first unparsable resource quantity in a Pod spec, if any."""
    if not isinstance(spec, dict):
        return None
    for _, container in _containers(spec):
        resources = container.get("resources")
        if not isinstance(resources, dict):
            continue
        for part in ("limits", "requests"):
            values = resources.get(part)
            for value in (values if isinstance(values, dict) else {}).values():
                try:
                    parse_quantity(value)
                except ValueError as exc:
                    return str(exc)
    return None


def _resource_name_errors(name: str, path: str) -> list[FieldError]:
    """``validateContainerResourceName``: a standard resource or a prefixed extended one."""
    found = [errors.invalid(path, name, msg) for msg in objects.qualified_name_messages(name)]
    if "/" not in name:
        if name not in _STANDARD_CONTAINER and not name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX):
            found.append(errors.invalid(path, name, "must be a standard resource for containers"))
    elif name.startswith("requests.") or name.split("/", 1)[0].endswith("kubernetes.io"):
        found.append(errors.invalid(path, name, "doesn't follow extended resource name standard"))
    return found


def _quantity_errors(name: str, value: Any, path: str) -> list[FieldError]:
    """``ValidateResourceQuantityValue``: never negative; whole numbers for extended resources."""
    amount = parse_quantity(value)  # decoding already refused what does not parse
    shown = str(value)
    if amount < 0:
        return [errors.invalid(path, shown, "must be greater than or equal to 0")]
    integer_only = name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX) or "/" in name
    if integer_only and amount != amount.to_integral_value():
        return [errors.invalid(path, shown, "must be an integer")]
    return []


def _resources_errors(resources: Any, path: str) -> list[FieldError]:
    """``ValidateResourceRequirements``: names, quantities, and requests never above limits."""
    if not isinstance(resources, dict):
        return []
    limits, requests = as_dict(resources.get("limits")), as_dict(resources.get("requests"))
    found: list[FieldError] = []
    for name in sorted(limits):
        where = f"{path}.limits[{name}]"
        found += _resource_name_errors(name, where) + _quantity_errors(name, limits[name], where)
    for name in sorted(requests):
        where = f"{path}.requests[{name}]"
        found += _resource_name_errors(name, where) + _quantity_errors(name, requests[name], where)
        if name not in limits:
            if name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX) or "/" in name:
                found.append(
                    errors.required(
                        f"{path}.limits", "Limit must be set for non overcommitable resources"
                    )
                )
            continue
        asked, limit = parse_quantity(requests[name]), parse_quantity(limits[name])
        overcommit = not (name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX) or "/" in name)
        if not overcommit and asked != limit:
            detail = f"must be equal to {name} limit of {limits[name]}"
            found.append(errors.invalid(f"{path}.requests", str(requests[name]), detail))
        elif asked > limit:
            detail = f"must be less than or equal to {name} limit of {limits[name]}"
            found.append(errors.invalid(f"{path}.requests", str(requests[name]), detail))
    return found


def _env_errors(env: Any, path: str) -> list[FieldError]:
    """``ValidateEnv`` with RelaxedEnvironmentVariableValidation (GA): any printable but '='."""
    found: list[FieldError] = []
    for index, var in enumerate(env if isinstance(env, list) else []):
        name = var.get("name") if isinstance(var, dict) else None
        where = f"{path}[{index}].name"
        if not name:
            found.append(errors.required(where))
        elif "=" in name or not all(" " <= c <= "~" for c in name):
            found.append(errors.invalid(where, name, _ENV_NAME_MSG))
    return found


def _mount_errors(mounts: Any, path: str, volumes: set[str]) -> list[FieldError]:
    """``ValidateVolumeMounts``: each mount names a declared volume, at a unique path."""
    found: list[FieldError] = []
    seen: set[str] = set()
    for index, mount in enumerate(mounts if isinstance(mounts, list) else []):
        mount = mount if isinstance(mount, dict) else {}
        where = f"{path}[{index}]"
        name, mount_path = mount.get("name") or "", mount.get("mountPath") or ""
        if not name:
            found.append(errors.required(f"{where}.name"))
        if name not in volumes:
            found.append(errors.value_not_found(f"{where}.name", name))
        if not mount_path:
            found.append(errors.required(f"{where}.mountPath"))
        elif mount_path in seen:
            found.append(errors.invalid(f"{where}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
    return found


def _container_errors(
    container: JsonDict, where: str, volumes: set[str], names: set[str]
) -> list[FieldError]:
    found: list[FieldError] = []
    name = container.get("name")
    if not name:
        found.append(errors.required(f"{where}.name"))
    elif not isinstance(name, str) or objects.dns_label_messages(name):
        found += [
            errors.invalid(f"{where}.name", name, msg)
            for msg in objects.dns_label_messages(str(name))
        ]
    elif name in names:
        found.append(errors.duplicate(f"{where}.name", name))
    names.add(str(name))
    if not container.get("image"):
        found.append(errors.required(f"{where}.image"))
    found += _env_errors(container.get("env"), f"{where}.env")
    found += _mount_errors(container.get("volumeMounts"), f"{where}.volumeMounts", volumes)
    found += _resources_errors(container.get("resources"), f"{where}.resources")
    return found


def _toleration_literal(toleration: JsonDict) -> GoLiteral:
    """A toleration as Go's ``%#v`` prints the internal struct (the pointer as nil or set)."""
    seconds = toleration.get("tolerationSeconds")
    pointer = "(*int64)(nil)" if seconds is None else "(*int64)(0xc000000000)"
    fields = ", ".join(
        f"{name}:{errors.go_quote(str(toleration.get(key) or ''))}"
        for name, key in (
            ("Key", "key"),
            ("Operator", "operator"),
            ("Value", "value"),
            ("Effect", "effect"),
        )
    )
    return GoLiteral(f"core.Toleration{{{fields}, TolerationSeconds:{pointer}}}")


def _toleration_errors(tolerations: Any, path: str) -> list[FieldError]:
    """``ValidateTolerations``: key, operator (Exists takes no value) and effect rules."""
    found: list[FieldError] = []
    for index, item in enumerate(tolerations if isinstance(tolerations, list) else []):
        toleration = item if isinstance(item, dict) else {}
        where = f"{path}[{index}]"
        key, operator = toleration.get("key") or "", toleration.get("operator") or ""
        value, effect = toleration.get("value") or "", toleration.get("effect") or ""
        if key:
            found += [
                errors.invalid(f"{where}.key", key, msg)
                for msg in objects.qualified_name_messages(key)
            ]
        elif operator != "Exists":
            found.append(
                errors.invalid(
                    f"{where}.operator",
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            detail = "effect must be 'NoExecute' when `tolerationSeconds` is set"
            found.append(errors.invalid(f"{where}.effect", effect, detail))
        if operator in ("Equal", ""):
            found += [
                errors.invalid(f"{where}.operator", value, msg)
                for msg in objects.label_value_messages(value)
            ]
        elif operator == "Exists":
            if value:
                found.append(
                    errors.invalid(
                        f"{where}.operator",
                        _toleration_literal(toleration),
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            found.append(errors.not_supported(f"{where}.operator", operator, ["Equal", "Exists"]))
        effects = ["NoExecute", "NoSchedule", "PreferNoSchedule"]
        if effect and effect not in effects:
            found.append(errors.not_supported(f"{where}.effect", effect, effects))
    return found


def _restart_policy_errors(spec: JsonDict, path: str, allowed: tuple[str, ...]) -> list[FieldError]:
    policy = spec.get("restartPolicy")
    if policy in allowed:
        return []
    where = f"{path}.restartPolicy"
    if policy is None:
        return [errors.required(where, "valid values: " + ", ".join(f'"{p}"' for p in allowed))]
    return [errors.not_supported(where, policy, list(allowed))]


def pod_spec_errors(spec: Any, path: str, allowed_restart: tuple[str, ...]) -> list[FieldError]:
    """``ValidatePodSpec``'s checks an operator or a manifest can trip over (see the module)."""
    if not isinstance(spec, dict):
        return [errors.required(path)]
    found: list[FieldError] = []
    if not spec.get("containers"):
        found.append(errors.required(f"{path}.containers"))
    volumes = {v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    names: set[str] = set()
    for where, container in _containers(spec):
        found += _container_errors(container, f"{path}.{where}", volumes, names)
    found += _restart_policy_errors(spec, path, allowed_restart)
    found += schedulinggates.gate_errors(spec, path)
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and account:
        found += [
            errors.invalid(f"{path}.serviceAccountName", account, msg)
            for msg in objects.dns_subdomain_messages(account)
        ]
    selector = spec.get("nodeSelector")
    if isinstance(selector, dict):
        found += objects.labels_errors(selector, f"{path}.nodeSelector")
    found += _toleration_errors(spec.get("tolerations"), f"{path}.tolerations")
    return found
