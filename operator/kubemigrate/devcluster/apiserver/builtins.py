"""Defaulting and validation of the built-in kinds our code writes (Namespace, Job, Pod, Secret).

Only what an operator can trip over is modelled: Job defaults (``backoffLimit: 6``,
the generated selector and template labels, the template's labels on a Job with none,
``podReplacementPolicy`` by ``podFailurePolicy``), the Pod spec (:mod:`.podspec`), a
Job's selector rules and ``podFailurePolicy`` rules, the immutability of a Job's
template and a Pod's spec, Namespace phase and labels, a Secret's ``stringData``
folded into ``data`` the way the v1 -> internal conversion does it on every write,
the 1 MiB limit on ConfigMap and Secret data and their ``immutable: true``, and a
core/v1 Event's namespace rule.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from typing import Any

from . import errors, kinds, objects, podspec, qos, schedulinggates, selectors
from .errors import FieldError, GoLiteral
from .podspec import pod_spec_errors
from .resources import ResourceType
from .store import json_copy

JsonDict = dict[str, Any]


def default_pod_spec(spec: JsonDict, restart_policy: str) -> None:
    spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        latest = image.endswith(":latest") or not tagged
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("resources", {})


def _generate_selector(spec: JsonDict, generated: dict[str, str]) -> None:
    """The Job strategy's ``generateSelector``: what the client set is kept, only what is
    missing is added, so a selector or template label of the client's own making reaches
    validation (:func:`_generated_selector_errors`) and is refused there."""
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID, generated[CONTROLLER_UID])
    template = spec.setdefault("template", {})
    template_meta = template.setdefault("metadata", {})
    labels = template_meta.get("labels")
    template_meta["labels"] = {**generated, **(labels if isinstance(labels, dict) else {})}


def _labels_from_template(job: JsonDict) -> None:
    """``SetDefaults_Job``: a Job with no labels of its own gets its template's.

    On create that is after ``generateSelector`` (defaulting shares the template's map,
    which the strategy then fills, and every read defaults again), so such a Job shows
    ``job-name`` and ``controller-uid`` (both spellings) too; a Job with labels of its
    own keeps just those, and is found by them, never by ``job-name``.
    """
    meta = job["metadata"]
    template_meta = ((job.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels = template_meta.get("labels")
    if not meta.get("labels") and isinstance(labels, dict) and labels:
        meta["labels"] = dict(labels)


def _job_spec_defaults(spec: JsonDict) -> None:
    """SetDefaults_Job and the template's SetDefaults_PodSpec (every decode)."""
    if "backoffLimitPerIndex" not in spec:
        spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    # SetDefaults_Job: a pod failure policy judges failed Pods only, so by default
    # a replacement waits until the old Pod has fully failed.
    failure_policy = spec.get("podFailurePolicy")
    spec.setdefault("podReplacementPolicy", "Failed" if failure_policy else "TerminatingOrFailed")
    if isinstance(failure_policy, dict):
        for rule in failure_policy.get("rules") or []:
            for pattern in (rule or {}).get("onPodConditions") or []:
                if isinstance(pattern, dict) and not pattern.get("status"):
                    pattern["status"] = "True"
    template_spec = (spec.get("template") or {}).get("spec")
    if isinstance(template_spec, dict):
        default_pod_spec(template_spec, restart_policy="")
        if template_spec.get("restartPolicy") == "":
            del template_spec["restartPolicy"]


def _pod_spec_defaults(spec: JsonDict) -> None:
    default_pod_spec(spec, restart_policy="Always")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)


def default(rtype: ResourceType, obj: JsonDict) -> None:
    """Apply the real defaults for a kind on create (in place)."""
    key = (rtype.group, rtype.plural)
    meta = obj["metadata"]
    if key in kinds.KEYS:
        kinds.default(key, obj, created=True)
    elif key == ("", "namespaces"):
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif key == ("batch", "jobs"):
        spec = obj.setdefault("spec", {})
        uid = meta["uid"]
        generated = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": uid,
            "job-name": meta["name"],
        }
        if not spec.get("manualSelector"):
            _generate_selector(spec, generated)
        _labels_from_template(obj)
        _job_spec_defaults(spec)
        # The real server answers a new Job with ``status: {}`` too: JobStatus is a
        # struct, not a pointer, so Go's omitempty cannot drop it.
        obj["status"] = {}
    elif key == ("", "pods"):
        spec = obj.setdefault("spec", {})
        _pod_spec_defaults(spec)
        qos.default_requests(spec)
        obj["status"] = {"phase": "Pending", "qosClass": qos.pod_qos(spec)}
        schedulinggates.apply_gated_condition(obj)


CONTROLLER_UID = "batch.kubernetes.io/controller-uid"


def go_string_map(value: Any) -> GoLiteral:
    """A ``map[string]string`` as Go's ``%#v`` prints it (keys sorted, as fmt sorts them)."""
    items = value.items() if isinstance(value, dict) else []
    inner = ", ".join(f"{errors.go_quote(k)}:{errors.go_quote(str(v))}" for k, v in sorted(items))
    return GoLiteral(f"map[string]string{{{inner}}}")


def _go_selector(selector: JsonDict) -> GoLiteral:
    """A ``metav1.LabelSelector`` as Go's ``%#v`` prints it (expressions only as a count)."""
    labels = selector.get("matchLabels")
    shown = go_string_map(labels) if labels is not None else "map[string]string(nil)"
    expressions = selector.get("matchExpressions")
    listed = (
        "[]v1.LabelSelectorRequirement(nil)"
        if not expressions
        else f"[]v1.LabelSelectorRequirement{{...{len(expressions)} items}}"
    )
    return GoLiteral(f"v1.LabelSelector{{MatchLabels:{shown}, MatchExpressions:{listed}}}")


def _has_label(labels: JsonDict, key: str, expected: str) -> list[FieldError]:
    """``ValidateHasLabel`` on a Job's template labels."""
    where = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        return [errors.required(where, expected)]
    if labels[key] != expected:
        return [errors.invalid(where, go_string_map(labels), f"must be '{expected}'")]
    return []


def _generated_selector_errors(obj: JsonDict) -> list[FieldError]:
    """``validateGeneratedSelector`` (create): without ``manualSelector``, the selector and
    the template labels must be exactly the generated ones, or the Job could adopt Pods
    that are not its own."""
    spec, meta = obj.get("spec") or {}, obj["metadata"]
    selector = spec.get("selector")
    if spec.get("manualSelector") or not isinstance(selector, dict):
        return []
    uid, name = meta["uid"], meta["name"]
    template_meta = (spec.get("template") or {}).get("metadata") or {}
    labels = template_meta.get("labels") or {}
    expected = {"controller-uid": uid, "job-name": name, CONTROLLER_UID: uid}
    expected["batch.kubernetes.io/job-name"] = name
    found: list[FieldError] = []
    for key, value in expected.items():
        found += _has_label(labels, key, value)
    if not selectors.selector_from_match(selector)({"metadata": {"labels": expected}}):
        found.append(
            errors.invalid("spec.selector", _go_selector(selector), "`selector` not auto-generated")
        )
    return found


def _selector_errors(spec: JsonDict) -> list[FieldError]:
    """``ValidateJobSpec``: a selector is required and must match the template's labels."""
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [errors.required("spec.selector")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if selectors.selector_from_match(selector)({"metadata": {"labels": labels}}):
        return []
    return [
        errors.invalid(
            "spec.template.metadata.labels",
            go_string_map(labels),
            "`selector` does not match template `labels`",
        )
    ]


def default_update(rtype: ResourceType, obj: JsonDict) -> None:
    """The scheme defaults every decode applies, so an update gets them too (in place).

    A write that drops a defaulted field gets it back, as on the real server, where
    ``remove /spec/backoffLimit`` on a Job changes nothing. Only what ``SetDefaults_*``
    does is repeated here; what ``PrepareForCreate`` does (a Job's selector, a new
    object's status) happens on create alone.
    """
    key = (rtype.group, rtype.plural)
    if key in kinds.KEYS:
        kinds.default(key, obj, created=False)
    elif key == ("", "namespaces"):
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"][
            "name"
        ]
        if not (obj.get("status") or {}).get("phase"):
            obj.setdefault("status", {})["phase"] = "Active"
    elif key == ("batch", "jobs") and isinstance(obj.get("spec"), dict):
        _labels_from_template(obj)
        _job_spec_defaults(obj["spec"])
    elif key == ("", "pods") and isinstance(obj.get("spec"), dict):
        _pod_spec_defaults(obj["spec"])
        qos.default_requests(obj["spec"])


_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)


def _base64_error(text: str) -> int | None:
    """Where Go's ``base64.StdEncoding`` would stop on ``text`` (None if it decodes).

    Like Go, CR and LF are skipped. The index is exact for a character outside the
    alphabet (the usual mistake: plain text in ``data``) and for a short last
    quantum (its start); for misplaced padding it is approximated by the length.
    """
    stripped = text.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(stripped, validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    for index, char in enumerate(text):
        if char not in alphabet and char not in "\r\n":
            return index
    if "=" not in stripped and len(stripped) % 4:
        return len(stripped) - len(stripped) % 4
    return len(text)


def _pod_spec_of(rtype: ResourceType, obj: JsonDict) -> Any:
    """The Pod spec a kind carries (its own, or its template's), None for other kinds."""
    key = (rtype.group, rtype.plural)
    spec = podspec.as_dict(obj.get("spec"))
    if key == ("", "pods"):
        return spec
    if key in (("batch", "jobs"), kinds.DEPLOYMENTS):
        template = spec.get("template")
        return podspec.as_dict(template).get("spec")
    return None


def _decode_quantities(rtype: ResourceType, obj: JsonDict) -> None:
    """A resource quantity that is no quantity fails JSON decoding: 400, not 422."""
    problem = podspec.quantity_decode_error(_pod_spec_of(rtype, obj))
    if problem is not None:
        raise errors.bad_request(
            f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
            f"{problem}"
        )


def decode(rtype: ResourceType, obj: JsonDict) -> None:
    """What decoding a v1 body into the internal type does, on every create and update.

    For a Secret: each ``data`` value must be base64 (else 400, as the JSON decoder
    fails); ``stringData`` is folded into ``data`` (its values win) and is gone from
    what is stored and served (the internal type has no such field); ``type``
    defaults to ``Opaque``. A client that writes ``stringData`` and reads it back
    therefore sees only ``data``, as against a real cluster.
    """
    _decode_quantities(rtype, obj)
    if (rtype.group, rtype.plural) != ("", "secrets"):
        return
    data = obj.get("data")
    if isinstance(data, dict):
        for value in data.values():
            if not isinstance(value, str):
                continue
            where = _base64_error(value)
            if where is not None:
                raise errors.bad_request(
                    'Secret in version "v1" cannot be handled as a Secret: '
                    f"illegal base64 data at input byte {where}"
                )
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        merged = dict(data) if isinstance(data, dict) else {}
        for name, text in string_data.items():
            merged[name] = base64.b64encode(str(text).encode()).decode()
        obj["data"] = merged
    if not obj.get("type"):
        obj["type"] = "Opaque"


MAX_SECRET_SIZE = 1 << 20  # core.MaxSecretSize: a Secret's or ConfigMap's data, 1 MiB


def _decoded_size(value: Any) -> int:
    """The byte length of a base64 value as stored (decoding already refused bad base64)."""
    try:
        return len(base64.b64decode(str(value).replace("\r", "").replace("\n", "")))
    except (binascii.Error, ValueError):
        return len(str(value))


def _secret_errors(obj: JsonDict) -> list[FieldError]:
    data = podspec.as_dict(obj.get("data"))
    found = [
        errors.invalid(f"data[{name}]", name, _CONFIG_KEY_MSG)
        for name in data
        if not _CONFIG_KEY.match(name)
    ]
    if sum(_decoded_size(v) for v in data.values()) > MAX_SECRET_SIZE:
        found.append(errors.too_long("data", MAX_SECRET_SIZE))
    return found


def _configmap_errors(obj: JsonDict) -> list[FieldError]:
    """``ValidateConfigMap``'s size limit: data and binaryData together, reported against
    the whole object (the empty path, which Go prints as ``[]``)."""
    data = podspec.as_dict(obj.get("data"))
    binary = podspec.as_dict(obj.get("binaryData"))
    size = sum(len(str(v).encode()) for v in data.values())
    size += sum(_decoded_size(v) for v in binary.values())
    return [errors.too_long("[]", MAX_SECRET_SIZE)] if size > MAX_SECRET_SIZE else []


def _immutable_errors(old: JsonDict, new: JsonDict, fields: tuple[str, ...]) -> list[FieldError]:
    """``immutable: true`` on a Secret or ConfigMap freezes its data and itself for good."""
    if old.get("immutable") is not True:
        return []
    why = "field is immutable when `immutable` is set"
    found = [] if new.get("immutable") is True else [errors.forbidden("immutable", why)]
    found += [errors.forbidden(name, why) for name in fields if old.get(name) != new.get(name)]
    return found


_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"]
_EXIT_OPERATORS = ["In", "NotIn"]
MAX_EXIT_CODE_VALUES = 255


def _container_names(spec: JsonDict) -> set[str]:
    template_spec = (spec.get("template") or {}).get("spec") or {}
    return {
        str(c.get("name"))
        for kind in ("initContainers", "containers")
        for c in template_spec.get(kind) or []
        if isinstance(c, dict)
    }


def _go_int32s(values: Any) -> GoLiteral:
    """A ``[]int32`` as Go's ``%#v`` prints it."""
    if values is None:
        return GoLiteral("[]int32(nil)")
    return GoLiteral("[]int32{" + ", ".join(str(v) for v in values) + "}")


def _exit_values_errors(values: Any, operator: Any, path: str) -> list[FieldError]:
    """``validatePodFailurePolicyRuleOnExitCodes``' values: some, unique, sorted, and no
    0 for ``In`` (0 is success, which a failure policy never sees)."""
    if not isinstance(values, list) or not values:
        return [errors.invalid(path, _go_int32s(values), "at least one value is required")]
    if len(values) > MAX_EXIT_CODE_VALUES:
        return [errors.too_many(path, len(values), MAX_EXIT_CODE_VALUES)]
    found: list[FieldError] = []
    for index, value in enumerate(values):
        if operator == "In" and value == 0:
            detail = "must not be 0 for the In operator"
            found.append(errors.invalid(f"{path}[{index}]", value, detail))
        if value in values[:index]:
            found.append(errors.duplicate(f"{path}[{index}]", value))
    if any(a > b for a, b in itertools.pairwise(values)):
        found.append(errors.invalid(path, _go_int32s(values), "must be ordered"))
    return found


def _exit_codes_errors(on_exit: JsonDict, path: str, containers: set[str]) -> list[FieldError]:
    found: list[FieldError] = []
    operator = on_exit.get("operator")
    if not operator:
        found.append(errors.required(f"{path}.operator"))
    elif operator not in _EXIT_OPERATORS:
        found.append(errors.not_supported(f"{path}.operator", operator, _EXIT_OPERATORS))
    name = on_exit.get("containerName")
    if name is not None and name not in containers:
        found.append(
            errors.invalid(
                f"{path}.containerName",
                name,
                "must be one of the container or initContainer names in the pod template",
            )
        )
    return found + _exit_values_errors(on_exit.get("values"), operator, f"{path}.values")


def _failure_rule_errors(rule: JsonDict, path: str, containers: set[str]) -> list[FieldError]:
    """``validatePodFailurePolicyRule``: a known action and exactly one of the two matchers."""
    found: list[FieldError] = []
    action = rule.get("action")
    if not action:
        listed = ", ".join(f'"{a}"' for a in _ACTIONS)
        found.append(errors.required(f"{path}.action", f"valid values: {listed}"))
    elif action not in _ACTIONS:
        found.append(errors.not_supported(f"{path}.action", action, _ACTIONS))
    on_exit, on_conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
    if isinstance(on_exit, dict):
        found += _exit_codes_errors(on_exit, f"{path}.onExitCodes", containers)
    if on_exit is not None and on_conditions:
        detail = "specifying both OnExitCodes and OnPodConditions is not supported"
        found.append(errors.invalid(path, GoLiteral("batch.PodFailurePolicyRule{...}"), detail))
    elif on_exit is None and not on_conditions:
        detail = "specifying one of OnExitCodes and OnPodConditions is required"
        found.append(errors.invalid(path, GoLiteral("batch.PodFailurePolicyRule{...}"), detail))
    return found


def _failure_policy_errors(policy: JsonDict, containers: set[str]) -> list[FieldError]:
    found: list[FieldError] = []
    for index, rule in enumerate(policy.get("rules") or []):
        if isinstance(rule, dict):
            path = f"spec.podFailurePolicy.rules[{index}]"
            found += _failure_rule_errors(rule, path, containers)
    return found


def _job_spec_errors(spec: JsonDict) -> list[FieldError]:
    """ValidateJobSpec's checks that depend on podFailurePolicy (create and update)."""
    found: list[FieldError] = []
    failure_policy = spec.get("podFailurePolicy")
    replacement = spec.get("podReplacementPolicy")
    if failure_policy is not None:
        restart = (spec.get("template") or {}).get("spec", {}).get("restartPolicy")
        if restart == "OnFailure":  # other values already fail as unsupported
            found.append(
                errors.invalid(
                    "spec.template.spec.restartPolicy",
                    restart,
                    'only "Never" is supported when podFailurePolicy is specified',
                )
            )
        if replacement is not None and replacement != "Failed":
            found.append(errors.not_supported("spec.podReplacementPolicy", replacement, ["Failed"]))
        if isinstance(failure_policy, dict):
            found += _failure_policy_errors(failure_policy, _container_names(spec))
    elif replacement is not None and replacement not in ("Failed", "TerminatingOrFailed"):
        found.append(
            errors.not_supported(
                "spec.podReplacementPolicy", replacement, ["Failed", "TerminatingOrFailed"]
            )
        )
    return found


EVENTS = ("", "events")
_EVENT_LEGACY_NAMESPACES = ("", "default")  # old clients wrote events there
_EVENT_SYSTEM_NAMESPACES = ("default", "kube-system")


def _event_errors(event: JsonDict) -> list[FieldError]:
    """``legacyValidateEvent``'s namespace rule: a core/v1 Event lives in the namespace of
    the object it is about (or, for a cluster-scoped object, in "default")."""
    namespace = event["metadata"].get("namespace", "")
    involved = podspec.as_dict(event.get("involvedObject")).get("namespace") or ""
    if event.get("eventTime"):
        allowed = bool(involved) or namespace in _EVENT_SYSTEM_NAMESPACES
    elif involved:
        allowed = namespace == involved
    else:
        allowed = namespace in _EVENT_LEGACY_NAMESPACES
    if allowed:
        return []
    return [errors.invalid("involvedObject.namespace", involved, "does not match event.namespace")]


def create_errors(rtype: ResourceType, obj: JsonDict) -> list[FieldError]:
    key = (rtype.group, rtype.plural)
    if key == EVENTS:
        return _event_errors(obj)
    if key in kinds.KEYS:
        return kinds.create_errors(key, obj)
    if key == ("", "secrets"):
        return _secret_errors(obj)
    if key == ("", "configmaps"):
        return _configmap_errors(obj)
    if key == ("batch", "jobs"):
        spec = obj.get("spec", {})
        found = _generated_selector_errors(obj) + _selector_errors(spec)
        found += pod_spec_errors(
            spec.get("template", {}).get("spec"), "spec.template.spec", ("OnFailure", "Never")
        )
        found += _job_spec_errors(spec)
        template_meta = (spec.get("template") or {}).get("metadata")
        if isinstance(template_meta, dict):
            # ValidatePodTemplateSpec: labels and annotations at spec.template.<field>
            found += objects.metadata_errors(template_meta, "spec.template")
        for name in (
            "backoffLimit",
            "completions",
            "parallelism",
            "activeDeadlineSeconds",
            "ttlSecondsAfterFinished",
        ):
            value = spec.get(name)
            if isinstance(value, int) and value < (1 if name == "activeDeadlineSeconds" else 0):
                bound = (
                    "greater than 0"
                    if name == "activeDeadlineSeconds"
                    else "greater than or equal to 0"
                )
                found.append(errors.invalid(f"spec.{name}", value, f"must be {bound}"))
        return found
    if key == ("", "pods"):
        found = pod_spec_errors(obj.get("spec"), "spec", ("Always", "OnFailure", "Never"))
        return found + schedulinggates.create_errors(podspec.as_dict(obj.get("spec")))
    return []


_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def update_errors(rtype: ResourceType, old: JsonDict, new: JsonDict) -> list[FieldError]:
    key = (rtype.group, rtype.plural)
    if key == EVENTS:
        return _event_errors(new)
    if key in kinds.KEYS:
        return kinds.update_errors(key, old, new)
    if key == ("", "secrets"):
        found = _secret_errors(new) + _immutable_errors(old, new, ("data",))
        if old.get("type") != new.get("type"):
            found.append(errors.invalid("type", new.get("type"), "field is immutable"))
        return found
    if key == ("", "configmaps"):
        return _configmap_errors(new) + _immutable_errors(old, new, ("data", "binaryData"))
    if key == ("batch", "jobs"):
        old_spec, new_spec = old.get("spec", {}), new.get("spec", {})
        found = _job_spec_errors(new_spec)  # the real server validates the whole spec again
        for name in ("template", "selector", "completionMode", "podFailurePolicy"):
            if old_spec.get(name) != new_spec.get(name):
                found.append(
                    errors.invalid(f"spec.{name}", new_spec.get(name), "field is immutable")
                )
        return found
    if key == ("", "pods"):
        old_spec = json_copy(old.get("spec", {}))
        new_spec = json_copy(new.get("spec", {}))
        gates = schedulinggates.update_errors(old_spec, new_spec)
        if gates:
            return gates
        for spec in (old_spec, new_spec):
            spec.pop("schedulingGates", None)  # checked above: only removals
            for name in _POD_MUTABLE:
                spec.pop(name, None)
            for container in spec.get("containers") or []:
                container.pop("image", None)
        if old_spec != new_spec:
            return [
                errors.forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                    "`spec.tolerations` "
                    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                    "(allow it to be set to 1 if it was previously negative)",
                )
            ]
    return []
