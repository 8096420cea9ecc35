"""Patch application by Content-Type: JSON merge, strategic merge, JSON patch, apply.

- ``application/merge-patch+json``: RFC 7386, exactly.
- ``application/json-patch+json``: RFC 6902, exactly (add/remove/replace/move/copy/test).
- ``application/strategic-merge-patch+json``: APPROXIMATED. Maps merge; lists whose
  field name has a known Kubernetes merge key (``containers``/``env``/``volumes`` by
  ``name``, ``ports`` by ``containerPort`` or, a Service's, by ``port``, ``conditions``
  by ``type``, ``ownerReferences`` by ``uid``...) merge by that key; ``finalizers``
  merge as a set; other lists replace. The ``$patch: delete|replace`` directive and
  ``$deleteFromPrimitiveList/<field>`` are honoured; ``$setElementOrder`` and
  ``$retainKeys`` are ignored. Custom resources refuse it with 415, as the real
  server does, because they have no Go struct tags to merge by.
- ``application/apply-patch+yaml`` (server-side apply): see :func:`apply_merge`, and
  :mod:`.ownership` for field managers and conflicts.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .store import json_copy

JsonDict = dict[str, Any]

# Field name -> merge key, for the built-in kinds we serve (from the Go struct tags).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
SET_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return json_copy(patch)
    result = json_copy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    """An approximation of Kubernetes' strategic merge patch (see the module docstring)."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: json_copy(v) for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        result = json_copy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$setElementOrder/") or key == "$retainKeys":
                continue
            if key.startswith("$deleteFromPrimitiveList/"):
                name = key.split("/", 1)[1]
                result[name] = [v for v in result.get(name) or [] if v not in value]
                continue
            if value is None:
                result.pop(key, None)
                continue
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        return result
    if isinstance(patch, list):
        current = target if isinstance(target, list) else []
        if field in SET_LISTS:
            merged_set = list(current)
            merged_set.extend(v for v in patch if v not in merged_set)
            return json_copy(merged_set)
        key = MERGE_KEYS.get(field)
        if field == "ports" and not any(
            isinstance(item, dict) and "containerPort" in item for item in patch
        ):
            key = "port"  # a Service's ports (ServicePort), not a container's
        if key and all(isinstance(item, dict) for item in patch):
            return _merge_by_key(current, patch, key)
        return json_copy(patch)
    return json_copy(patch)


def _merge_by_key(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    result = json_copy(current)
    for item in patch:
        if item.get("$patch") == "replace":
            return [{k: v for k, v in i.items() if k != "$patch"} for i in patch]
        index = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict)
                and item.get(key) is not None
                and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(json_copy(item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _patch_error(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _patch_error(message: str) -> ApiError:
    return ApiError(422, "Invalid", message, {})


def _resolve(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, dict):
            if part not in doc:
                raise _patch_error(f"doc is missing path: /{'/'.join(parts)}")
            doc = doc[part]
        elif isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError):
                raise _patch_error(f"doc is missing path: /{'/'.join(parts)}") from None
        else:
            raise _patch_error(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            index = int(last)
            if index > len(parent):
                raise _patch_error(f"add operation does not apply: index {index} out of range")
            parent.insert(index, value)
    else:
        raise _patch_error("add operation does not apply: parent is not a container")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            pass
    raise _patch_error(f"remove operation does not apply: doc is missing path: /{'/'.join(parts)}")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch."""
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations", {})
    doc = json_copy(target)
    for op in operations:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        if kind == "add":
            doc = _add(doc, parts, json_copy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _resolve(doc, parts)
            if parts:
                _remove(doc, parts)
            doc = _add(doc, parts, json_copy(op.get("value")))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = _remove(doc, source) if kind == "move" else json_copy(_resolve(doc, source))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _resolve(doc, parts) != op.get("value"):
                raise _patch_error(f"testing value /{'/'.join(parts)} failed: test failed")
        else:
            raise _patch_error(f"Unexpected kind: {kind}")
    return doc


def field_paths(obj: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Leaf paths of an applied configuration (what a field manager owns)."""
    if isinstance(obj, dict) and obj:
        paths: set[tuple[str, ...]] = set()
        for key, value in obj.items():
            paths |= field_paths(value, (*prefix, key))
        return paths
    return {prefix}


def _delete_path(obj: Any, path: tuple[str, ...]) -> None:
    for part in path[:-1]:
        if not isinstance(obj, dict) or part not in obj:
            return
        obj = obj[part]
    if isinstance(obj, dict):
        obj.pop(path[-1], None)


def apply_merge(
    live: JsonDict, applied: JsonDict, previously_owned: set[tuple[str, ...]]
) -> JsonDict:
    """Server-side apply, APPROXIMATED: merge the intent into the live object.

    Maps merge recursively; lists replace as a whole, except lists with a known merge
    key, which merge by it (like associative lists). ``previously_owned`` are the
    fields this manager applied last time, omits now and shares with no other manager:
    they are removed. Conflicts between managers are found before this is called
    (see :mod:`.ownership`).
    """
    result = json_copy(live)
    for path in previously_owned - field_paths(applied):
        if path and path[0] not in ("apiVersion", "kind"):
            _delete_path(result, path)
    merged = strategic_merge_patch(result, applied)
    assert isinstance(merged, dict)
    return merged
