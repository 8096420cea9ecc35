"""A container's environment, resolved the way the kubelet resolves it (pure).

The caller fetches the Secrets and ConfigMaps the container refers to
(:func:`references`) and passes them in, ``None`` for the missing ones; resolution
itself does no I/O, so it is unit-testable and the error messages can be compared
with the real kubelet's word for word:

- ``envFrom`` first (with ``prefix``), then ``env`` (a later name wins);
- ``$(VAR)`` in a value expands to a variable defined earlier, ``$$`` escapes;
- ``valueFrom.secretKeyRef`` / ``configMapKeyRef`` honour ``optional``; a missing
  object or key that is not optional is a :class:`ConfigError`: the container cannot
  start (``CreateContainerConfigError``), exactly as on a node;
- Secret ``data`` is base64-decoded; ``stringData`` is read too, because the real API
  server folds it into ``data`` on write and a client may rely on that;
- ``fieldRef`` supports the downward-API fields a Job's Pod can use.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]
Objects = Mapping[str, JsonDict | None]  # name -> object, None when it does not exist

_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ConfigError(Exception):
    """The container's configuration cannot be resolved: it stays waiting."""


def references(container: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The names of the Secrets and ConfigMaps a container's environment reads."""
    secrets: set[str] = set()
    configmaps: set[str] = set()
    for source in container.get("envFrom") or []:
        if source.get("secretRef"):
            secrets.add(source["secretRef"].get("name", ""))
        if source.get("configMapRef"):
            configmaps.add(source["configMapRef"].get("name", ""))
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        if value_from.get("secretKeyRef"):
            secrets.add(value_from["secretKeyRef"].get("name", ""))
        if value_from.get("configMapKeyRef"):
            configmaps.add(value_from["configMapKeyRef"].get("name", ""))
    return secrets, configmaps


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's values, decoded (``stringData`` over ``data``, as the API server merges)."""
    values: dict[str, bytes] = {}
    for key, encoded in (secret.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            values[key] = str(encoded).encode()
    for key, text in (secret.get("stringData") or {}).items():
        values[key] = str(text).encode()
    return values


def configmap_data(configmap: Mapping[str, Any]) -> dict[str, bytes]:
    values = {key: str(text).encode() for key, text in (configmap.get("data") or {}).items()}
    for key, encoded in (configmap.get("binaryData") or {}).items():
        values[key] = base64.b64decode(str(encoded))
    return values


def expand(text: str, defined: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: unknown references stay as they are."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return defined.get(name, match.group(0))

    return _VAR_REF.sub(replace, text)


def _field_ref(path: str, pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIP": status.get("hostIP", ""),
    }
    if path in simple:
        return str(simple[path])
    found = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if found:
        return str((meta.get(found.group(1)) or {}).get(found.group(2), ""))
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r} in the devcluster kubelet")


def _key_ref(
    ref: Mapping[str, Any], objects: Objects, kind: str, namespace: str, secret: bool
) -> str | None:
    name = ref.get("name", "")
    key = ref.get("key", "")
    optional = bool(ref.get("optional"))
    obj = objects.get(name)
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    data = secret_data(obj) if secret else configmap_data(obj)
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key].decode(errors="replace")


def resolve(
    container: Mapping[str, Any], pod: Mapping[str, Any], secrets: Objects, configmaps: Objects
) -> dict[str, str]:
    """The container's environment variables, in definition order.

    Raises :class:`ConfigError` with the kubelet's message when it cannot start.
    """
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    result: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if source.get("secretRef"):
            ref, kind, objects, is_secret = source["secretRef"], "Secret", secrets, True
        elif source.get("configMapRef"):
            ref, kind, objects, is_secret = source["configMapRef"], "ConfigMap", configmaps, False
        else:
            continue
        obj = objects.get(ref.get("name", ""))
        if obj is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
        data = secret_data(obj) if is_secret else configmap_data(obj)
        for key, raw in data.items():
            name = prefix + key
            if _ENV_NAME.match(name):  # invalid names are skipped (with an event, on a node)
                result[name] = raw.decode(errors="replace")
    for var in container.get("env") or []:
        name = var.get("name", "")
        value_from = var.get("valueFrom")
        if not value_from:
            result[name] = expand(str(var.get("value", "")), result)
            continue
        value: str | None
        if value_from.get("secretKeyRef"):
            value = _key_ref(value_from["secretKeyRef"], secrets, "Secret", namespace, True)
        elif value_from.get("configMapKeyRef"):
            value = _key_ref(
                value_from["configMapKeyRef"], configmaps, "ConfigMap", namespace, False
            )
        elif value_from.get("fieldRef"):
            value = _field_ref(str(value_from["fieldRef"].get("fieldPath", "")), pod)
        else:
            raise ConfigError(
                f"unsupported valueFrom for {name} in the devcluster kubelet: {sorted(value_from)}"
            )
        if value is not None:
            result[name] = value
    return result
