"""Defaulting and validation of the built-in kinds our code writes (Namespace, Job, Pod).

Only what an operator can trip over is modelled: Job defaults (``backoffLimit: 6``,
selector and template labels), Job/Pod required fields and ``restartPolicy`` rules,
the immutability of a Job's template and a Pod's spec, Namespace phase and labels.
"""

from __future__ import annotations

import copy
from typing import Any

from . import errors
from .errors import FieldError
from .resources import ResourceType

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


def default(rtype: ResourceType, obj: JsonDict) -> None:
    """Apply the real defaults for a kind on create (in place)."""
    key = (rtype.group, rtype.plural)
    meta = obj["metadata"]
    if key == ("", "namespaces"):
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif key == ("batch", "jobs"):
        spec = obj.setdefault("spec", {})
        if "backoffLimitPerIndex" not in spec:
            spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
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
        template_spec = spec.get("template", {}).get("spec")
        if isinstance(template_spec, dict):
            default_pod_spec(template_spec, restart_policy="")
            if template_spec.get("restartPolicy") == "":
                del template_spec["restartPolicy"]
        obj["status"] = {}
    elif key == ("", "pods"):
        spec = obj.setdefault("spec", {})
        default_pod_spec(spec, restart_policy="Always")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def create_errors(rtype: ResourceType, obj: JsonDict) -> list[FieldError]:
    key = (rtype.group, rtype.plural)
    if key == ("batch", "jobs"):
        spec = obj.get("spec", {})
        found = pod_spec_errors(
            spec.get("template", {}).get("spec"), "spec.template.spec", ("OnFailure", "Never")
        )
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
    if key == ("batch", "jobs"):
        found = []
        old_spec, new_spec = old.get("spec", {}), new.get("spec", {})
        for name in ("template", "selector", "completionMode"):
            if old_spec.get(name) != new_spec.get(name):
                found.append(
                    errors.invalid(f"spec.{name}", new_spec.get(name), "field is immutable")
                )
        return found
    if key == ("", "pods"):
        old_spec = copy.deepcopy(old.get("spec", {}))
        new_spec = copy.deepcopy(new.get("spec", {}))
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
