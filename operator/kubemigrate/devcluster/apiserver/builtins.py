"""Defaulting and validation of the built-in kinds our code writes (Namespace, Job, Pod, Secret).

Only what an operator can trip over is modelled: Job defaults (``backoffLimit: 6``,
selector and template labels, ``podReplacementPolicy`` by ``podFailurePolicy``),
Job/Pod required fields and ``restartPolicy`` rules, the immutability of a Job's
template and a Pod's spec, Namespace phase and labels, and a Secret's ``stringData``
folded into ``data`` the way the v1 -> internal conversion does it on every write.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from . import errors, kinds, objects
from .errors import FieldError
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


def pod_spec_errors(spec: Any, path: str, allowed_restart: tuple[str, ...]) -> list[FieldError]:
    if not isinstance(spec, dict):
        return [errors.required(path)]
    found: list[FieldError] = []
    containers = spec.get("containers")
    if not containers:
        found.append(errors.required(f"{path}.containers"))
    for kind in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(kind) or []):
            where = f"{path}.{kind}[{index}]"
            if not container.get("name"):
                found.append(errors.required(f"{where}.name"))
            if not container.get("image"):
                found.append(errors.required(f"{where}.image"))
    policy = spec.get("restartPolicy")
    if policy not in allowed_restart:
        if policy is None:
            found.append(
                errors.required(
                    f"{path}.restartPolicy",
                    "valid values: " + ", ".join(f'"{p}"' for p in allowed_restart),
                )
            )
        else:
            found.append(
                errors.not_supported(f"{path}.restartPolicy", policy, list(allowed_restart))
            )
    return found


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
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            template = spec.setdefault("template", {})
            template_meta = template.setdefault("metadata", {})
            template_meta["labels"] = {**(template_meta.get("labels") or {}), **generated}
        meta["labels"] = {
            **{k: v for k, v in generated.items() if "job-name" in k},
            **(meta.get("labels") or {}),
        }
        _job_spec_defaults(spec)
        # The real server answers a new Job with ``status: {}`` too: JobStatus is a
        # struct, not a pointer, so Go's omitempty cannot drop it.
        obj["status"] = {}
    elif key == ("", "pods"):
        _pod_spec_defaults(obj.setdefault("spec", {}))
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


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
        _job_spec_defaults(obj["spec"])
    elif key == ("", "pods") and isinstance(obj.get("spec"), dict):
        _pod_spec_defaults(obj["spec"])


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


def decode(rtype: ResourceType, obj: JsonDict) -> None:
    """What decoding a v1 body into the internal type does, on every create and update.

    For a Secret: each ``data`` value must be base64 (else 400, as the JSON decoder
    fails); ``stringData`` is folded into ``data`` (its values win) and is gone from
    what is stored and served (the internal type has no such field); ``type``
    defaults to ``Opaque``. A client that writes ``stringData`` and reads it back
    therefore sees only ``data``, as against a real cluster.
    """
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


def _secret_errors(obj: JsonDict) -> list[FieldError]:
    return [
        errors.invalid(f"data[{name}]", name, _CONFIG_KEY_MSG)
        for name in (obj.get("data") or {})
        if not _CONFIG_KEY.match(name)
    ]


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
    elif replacement is not None and replacement not in ("Failed", "TerminatingOrFailed"):
        found.append(
            errors.not_supported(
                "spec.podReplacementPolicy", replacement, ["Failed", "TerminatingOrFailed"]
            )
        )
    return found


def create_errors(rtype: ResourceType, obj: JsonDict) -> list[FieldError]:
    key = (rtype.group, rtype.plural)
    if key in kinds.KEYS:
        return kinds.create_errors(key, obj)
    if key == ("", "secrets"):
        return _secret_errors(obj)
    if key == ("batch", "jobs"):
        spec = obj.get("spec", {})
        found = pod_spec_errors(
            spec.get("template", {}).get("spec"), "spec.template.spec", ("OnFailure", "Never")
        )
        found += _job_spec_errors(spec)
        template_meta = (spec.get("template") or {}).get("metadata")
        if isinstance(template_meta, dict):
            found += objects.metadata_errors(template_meta, "spec.template.metadata")
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
        return pod_spec_errors(obj.get("spec"), "spec", ("Always", "OnFailure", "Never"))
    return []


_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def update_errors(rtype: ResourceType, old: JsonDict, new: JsonDict) -> list[FieldError]:
    key = (rtype.group, rtype.plural)
    if key in kinds.KEYS:
        return kinds.update_errors(key, old, new)
    if key == ("", "secrets"):
        found = _secret_errors(new)
        if old.get("type") != new.get("type"):
            found.append(errors.invalid("type", new.get("type"), "field is immutable"))
        return found
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
        for spec in (old_spec, new_spec):
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
