"""Object metadata as the apiserver manages it.

uid and creationTimestamp are set once on create; resourceVersion is stamped by the
store on every write; generation starts at 1 and is bumped only when something other
than metadata (and status, for kinds with a status subresource) changes, compared
after defaulting (:func:`bump_generation`); generateName
gets five random characters from the real alphabet; the server-owned fields a client
sends (uid, creationTimestamp, deletionTimestamp...) are ignored on create and carried
over from the stored object on update.
"""

from __future__ import annotations

import datetime
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from . import errors
from .errors import FieldError
from .resources import ResourceType
from .store import json_copy

JsonDict = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
    "'-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_MAX_GENERATED_BASE = 63 - 5
"""``SimpleNameGenerator``: a generateName longer than this is cut before the five
random characters, so the generated name fits any kind's rule on length."""
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Fields only the server may set; dropped from client bodies on create.
_SERVER_OWNED = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)


def now() -> str:
    """RFC 3339 with second precision, as metav1.Time serialises."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    base = prefix[:_MAX_GENERATED_BASE]
    return base + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def dns_label_messages(value: str) -> list[str]:
    """``validation.IsDNS1123Label`` (container names, a Namespace's name)."""
    found = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _LABEL.fullmatch(value):
        found.append("must not contain dots" if _SUBDOMAIN.fullmatch(value) else _LABEL_MSG)
    return found


def dns1035_label_messages(value: str) -> list[str]:
    """``validation.IsDNS1035Label`` (a Service's name: it becomes a DNS name)."""
    found = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _DNS1035.fullmatch(value):
        found.append(_DNS1035_MSG)
    return found


def path_segment_messages(value: str, prefix: bool = False) -> list[str]:
    """``path.ValidatePathSegmentName`` (RBAC objects: ``system:controller:x`` is fine)."""
    if not prefix and value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def dns_subdomain_messages(value: str) -> list[str]:
    """``validation.IsDNS1123Subdomain`` (most names, a Pod's serviceAccountName)."""
    found = ["must be no more than 253 characters"] if len(value) > 253 else []
    if not _SUBDOMAIN.fullmatch(value):
        found.append(_SUBDOMAIN_MSG)
    return found


def _mask_trailing_dash(name: str) -> str:
    """``maskTrailingDash``: a generateName may end in ``-`` (the random part follows)."""
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


_RBAC = "rbac.authorization.k8s.io"
_NAME_RULES: dict[tuple[str, str], Callable[[str, bool], list[str]]] = {
    # NameIsDNSLabel / NameIsDNS1035Label / ValidatePathSegmentName; every other kind
    # (ConfigMaps, Secrets, Pods, Jobs, Deployments, custom resources...) NameIsDNSSubdomain
    ("", "namespaces"): lambda name, _: dns_label_messages(name),
    # ValidateEventCreate: an Event created through core/v1 gets no ObjectMeta
    # validation, for old clients' sake (client-go's recorder names them
    # "<object>.<hex>", kubemigrate's generateName is "<run>."); events.k8s.io/v1 does
    ("", "events"): lambda name, _: [],
    ("", "services"): lambda name, _: dns1035_label_messages(name),
    (_RBAC, "roles"): path_segment_messages,
    (_RBAC, "clusterroles"): path_segment_messages,
    (_RBAC, "rolebindings"): path_segment_messages,
    (_RBAC, "clusterrolebindings"): path_segment_messages,
}


def name_messages(rtype: ResourceType, name: str, prefix: bool = False) -> list[str]:
    """What the kind's ``ValidateNameFunc`` says of a name (or of a generateName)."""
    rule = _NAME_RULES.get((rtype.group, rtype.plural))
    if rule is path_segment_messages:
        return path_segment_messages(name, prefix)
    masked = _mask_trailing_dash(name) if prefix else name
    return rule(masked, prefix) if rule is not None else dns_subdomain_messages(masked)


def name_errors(rtype: ResourceType, meta: JsonDict) -> list[FieldError]:
    """``ValidateObjectMetaAccessor``'s name checks on create: the generateName as a
    prefix, then the (generated) name, each message its own cause."""
    found: list[FieldError] = []
    generate = meta.get("generateName")
    if isinstance(generate, str) and generate:
        found += [
            errors.invalid("metadata.generateName", generate, msg)
            for msg in name_messages(rtype, generate, prefix=True)
        ]
    name = meta.get("name")
    if not name:
        return [*found, errors.required("metadata.name", "name or generateName is required")]
    return found + [
        errors.invalid("metadata.name", name, msg) for msg in name_messages(rtype, name)
    ]


_QUALIFIED_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED = re.compile(f"^{_QUALIFIED_FMT}$")
_LABEL_VALUE_FMT = f"({_QUALIFIED_FMT})?"
_LABEL_VALUE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_QUALIFIED_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    f"validation is '{_QUALIFIED_FMT}')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE_FMT}')"
)
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)  # 256 KiB, keys and values together
LABEL_VALUE_MAX = 63


def qualified_name_messages(value: str) -> list[str]:
    """``validation.IsQualifiedName``: ``[prefix/]name``, the rule for label keys."""
    found: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            found.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                found.append("prefix part must be no more than 253 characters")
            if not _SUBDOMAIN.fullmatch(prefix):
                found.append("prefix part " + _SUBDOMAIN_MSG)
    else:
        return [
            "a qualified name "
            + _QUALIFIED_MSG
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        found.append("name part must be non-empty")
    elif len(name) > 63:
        found.append("name part must be no more than 63 characters")
    if not _QUALIFIED.fullmatch(name):
        found.append("name part " + _QUALIFIED_MSG)
    return found


def label_value_messages(value: str) -> list[str]:
    """``validation.IsValidLabelValue``."""
    found: list[str] = []
    if len(value) > LABEL_VALUE_MAX:
        found.append(f"must be no more than {LABEL_VALUE_MAX} characters")
    if not _LABEL_VALUE.fullmatch(value):
        found.append(_LABEL_VALUE_MSG)
    return found


def labels_errors(labels: JsonDict, path: str) -> list[FieldError]:
    """``ValidateLabels``: each key a qualified name, each value a label value.

    Go walks the map in random order; keys are sorted here, so messages are stable.
    """
    found: list[FieldError] = []
    for key in sorted(labels):
        found += [errors.invalid(path, key, msg) for msg in qualified_name_messages(key)]
        value = labels[key]
        if isinstance(value, str):
            found += [errors.invalid(path, value, msg) for msg in label_value_messages(value)]
    return found


def annotations_errors(annotations: JsonDict, path: str) -> list[FieldError]:
    """``ValidateAnnotations``: keys are qualified names (any case); 256 KiB in all."""
    found: list[FieldError] = []
    for key in sorted(annotations):
        found += [errors.invalid(path, key, msg) for msg in qualified_name_messages(key.lower())]
    size = sum(
        len(k.encode()) + len(v.encode()) for k, v in annotations.items() if isinstance(v, str)
    )
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        found.append(errors.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return found


def metadata_errors(meta: JsonDict, path: str = "metadata") -> list[FieldError]:
    """What the real ObjectMeta validation checks of labels and annotations."""
    found: list[FieldError] = []
    for field_name in ("labels", "annotations"):
        where = f"{path}.{field_name}"
        value = meta.get(field_name)
        if value is None:
            continue
        if not isinstance(value, dict):
            found.append(errors.invalid(where, value, "must be a map of strings"))
            continue
        for key, item in value.items():
            if not isinstance(item, str):
                found.append(errors.invalid(where, item, f"value of {key!r} must be a string"))
        if field_name == "labels":
            found += labels_errors(value, where)
        else:
            found += annotations_errors(value, where)
    return found


def _owner_reference_errors(ref: Any, path: str) -> list[FieldError]:
    """``validateOwnerReference``: the errors name the list, not the item (no index)."""
    ref = ref if isinstance(ref, dict) else {}
    api_version = str(ref.get("apiVersion") or "")
    found: list[FieldError] = []
    if not api_version.rsplit("/", 1)[-1]:
        found.append(errors.invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
    for key in ("kind", "name", "uid"):
        if not ref.get(key):
            detail = f"{key} must not be empty"
            found.append(errors.invalid(f"{path}.{key}", str(ref.get(key) or ""), detail))
    return found


def owner_references_errors(meta: JsonDict) -> list[FieldError]:
    """``ValidateOwnerReferences``: each reference complete, at most one controller.

    Garbage collection keys on the owner's uid: a reference without one could never be
    resolved, so the real server refuses it rather than store a dangling owner.
    """
    refs, path = meta.get("ownerReferences"), "metadata.ownerReferences"
    if not isinstance(refs, list):
        return []
    found: list[FieldError] = []
    controller = ""
    for ref in refs:
        found += _owner_reference_errors(ref, path)
        if isinstance(ref, dict) and ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if controller:
                detail = (
                    'Only one reference can have Controller set to true. Found "true" in '
                    f"references for {controller} and {current}"
                )
                found.append(errors.invalid(path, refs, detail))
            else:
                controller = current
    return found


def prepare_create(rtype: ResourceType, body: JsonDict, namespace: str | None) -> JsonDict:
    """Fill server-owned metadata on a new object (resourceVersion comes from the store)."""
    obj = json_copy(body)
    obj["apiVersion"] = rtype.api_version
    obj["kind"] = rtype.kind
    meta = obj.setdefault("metadata", {})
    for key in _SERVER_OWNED:
        meta.pop(key, None)
    if rtype.namespaced:
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generated_name(meta["generateName"])
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now()
    if rtype.has_generation:
        meta["generation"] = 1
    if rtype.status_subresource:
        obj.pop("status", None)
    drop_empty(meta)
    return obj


def _content(rtype: ResourceType, obj: JsonDict) -> JsonDict:
    """What counts for generation: all but metadata (and status behind a subresource)."""
    skip = {"metadata", "apiVersion", "kind"}
    if rtype.status_subresource:
        skip.add("status")
    return {k: v for k, v in obj.items() if k not in skip}


def prepare_update(
    rtype: ResourceType, old: JsonDict, new: JsonDict, subresource: str | None
) -> JsonDict:
    """Merge a client's full new state with what the server owns on the stored object."""
    if subresource == "status":
        obj = json_copy(old)
        if "status" in new:
            obj["status"] = json_copy(new["status"])
        else:
            obj.pop("status", None)
        return obj
    obj = json_copy(new)
    obj["apiVersion"] = rtype.api_version
    obj["kind"] = rtype.kind
    meta = obj.setdefault("metadata", {})
    old_meta = old["metadata"]
    for key in (
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if rtype.status_subresource:
        if "status" in old:
            obj["status"] = json_copy(old["status"])
        else:
            obj.pop("status", None)
    drop_empty(meta)
    return obj


_OMIT_EMPTY: dict[str, Any] = {"labels": {}, "annotations": {}, "finalizers": []}
_OMIT_EMPTY.update(ownerReferences=[], managedFields=[])


def drop_empty(meta: JsonDict) -> None:
    """ObjectMeta's ``omitempty``: an empty (or null) map or list is not stored or served,
    a custom resource's metadata included (the server decodes it into ObjectMeta), so
    ``finalizers: []`` reads back as no ``finalizers`` at all (in place)."""
    for key, empty in _OMIT_EMPTY.items():
        if key in meta and (meta[key] is None or meta[key] == empty):
            del meta[key]
    if meta.get("generateName") in (None, ""):
        meta.pop("generateName", None)


def bump_generation(rtype: ResourceType, old: JsonDict, new: JsonDict) -> None:
    """Bump ``metadata.generation`` if the spec changed (in place).

    Called once the new state is defaulted and admitted, as the real server compares
    after decoding (defaulting) and admission: a write that drops a defaulted field,
    which defaulting puts back, changes nothing and bumps nothing.
    """
    if rtype.has_generation and _content(rtype, new) != _content(rtype, old):
        new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1


def mark_deleting(meta: JsonDict) -> None:
    """``markAsDeleting`` (in place): a zero grace period, deletionTimestamp now unless
    one is set already (and not later), and, when deletion starts, a generation bump
    on objects that track one, so a controller comparing ``observedGeneration`` sees
    that something changed. Marking a marked object again changes nothing."""
    stamp = now()
    current = meta.get("deletionTimestamp")
    if not current and int(meta.get("generation") or 0) > 0:
        meta["generation"] = int(meta["generation"]) + 1
    if not current or current > stamp:
        meta["deletionTimestamp"] = stamp
    meta["deletionGracePeriodSeconds"] = 0


def finalizer_errors(old: JsonDict, new: JsonDict) -> list[FieldError]:
    """No finalizer may be added once deletion has started."""
    if not old["metadata"].get("deletionTimestamp"):
        return []
    before = set(old["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
    if added:
        listed = ", ".join(f'"{f}"' for f in added)
        return [
            errors.forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers []string{{{listed}}}",
            )
        ]
    return []
