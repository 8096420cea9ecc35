"""Field ownership for server-side apply: who set which field, and apply conflicts.

APPROXIMATED at the granularity :mod:`.patching` merges with: a field is a path of
map keys to a leaf (a scalar, an empty map, or a whole list: lists are atomic here,
where the real server tracks associative list items one by one). Two kinds of
manager own fields, as in ``metadata.managedFields``:

- an *applier* (operation Apply) owns what its last applied configuration set;
- an *updater* (operation Update: POST, PUT or a non-apply PATCH, named by
  ``fieldManager`` or else by the User-Agent's product) owns the fields its writes
  changed. An update never conflicts: it takes the fields it changes from whoever
  owned them.

An apply that would change a field another manager owns fails with 409 Conflict,
worded as the real server words it (``Apply failed with 1 conflict: conflict with
"kubectl-edit" using v1: .data.a``), unless ``force=true``, which takes the fields
over. Setting a field to the value it already has is no conflict (shared ownership).
Not modelled: ``managedFields`` is not served, status subresource writes are not
tracked, and ownership of list items.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, go_quote

JsonDict = dict[str, Any]
Path = tuple[str, ...]

_MISSING = object()
# Identity and server-owned fields: shared by everyone, never conflicting.
_IGNORED: frozenset[Path] = frozenset(
    {
        ("apiVersion",),
        ("kind",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "uid"),
        ("metadata", "resourceVersion"),
        ("metadata", "generation"),
        ("metadata", "creationTimestamp"),
        ("metadata", "deletionTimestamp"),
        ("metadata", "deletionGracePeriodSeconds"),
        ("metadata", "managedFields"),
        ("metadata", "selfLink"),
        ("metadata", "generateName"),
    }
)


@dataclass(frozen=True)
class Manager:
    """A managedFields entry's identity (its ``BuildManagerIdentifier``)."""

    name: str
    operation: str  # "Apply" or "Update"
    api_version: str = ""  # updaters only: appliers own fields whatever the version

    def describe(self) -> str:
        """``printManager``: ``"name"``, or ``"name" using v1`` for an updater."""
        text = go_quote(self.name)
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


@dataclass
class Ownership:
    """The managers of one object and the fields each owns."""

    fields: dict[Manager, set[Path]] = field(default_factory=dict)


def leaves(obj: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every field of an object: map-key paths to leaves (lists are leaves)."""
    if isinstance(obj, dict) and obj:
        found: dict[Path, Any] = {}
        for key, value in obj.items():
            found.update(leaves(value, (*prefix, str(key))))
        return found
    return {prefix: obj} if prefix else {}


def value_at(obj: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _owned(path: Path, status_subresource: bool) -> bool:
    if path[:2] in _IGNORED or path[:1] in _IGNORED:
        return False
    return not (status_subresource and path[:1] == ("status",))


def changed_fields(old: JsonDict | None, new: JsonDict, status_subresource: bool) -> set[Path]:
    """The fields a write set to a new value (all of them for a new object)."""
    return {
        path
        for path, value in leaves(new).items()
        if _owned(path, status_subresource) and (old is None or value_at(old, path) != value)
    }


def applied_fields(applied: JsonDict, status_subresource: bool) -> set[Path]:
    return {p for p in leaves(applied) if _owned(p, status_subresource)}


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def conflicts(
    ownership: Ownership, manager: Manager, live: JsonDict, applied: JsonDict, status_sub: bool
) -> list[tuple[Manager, Path]]:
    """(owner, field) pairs the apply would change that another manager owns."""
    found: list[tuple[Manager, Path]] = []
    wanted = leaves(applied)
    for path in sorted(applied_fields(applied, status_sub)):
        if value_at(live, path) == wanted[path]:
            continue  # same value: shared ownership, no conflict
        for owner, owned in ownership.fields.items():
            if owner == manager:
                continue
            hits = sorted(p for p in owned if _overlaps(p, path))
            found.extend((owner, path if len(path) >= len(p) else p) for p in hits[:1])
    return found


def conflict_error(found: list[tuple[Manager, Path]]) -> ApiError:
    """``NewConflictError``: one line for one conflict, else grouped by manager."""
    causes = [
        {
            "type": "FieldManagerConflict",
            "message": f"conflict with {owner.describe()}",
            "field": render(path),
        }
        for owner, path in found
    ]
    if len(found) == 1:
        owner, path = found[0]
        message = f"Apply failed with 1 conflict: conflict with {owner.describe()}: {render(path)}"
    else:
        by_owner: dict[str, list[str]] = {}
        for owner, path in found:
            by_owner.setdefault(owner.describe(), []).append(render(path))
        lines: list[str] = []
        for described in sorted(by_owner):
            lines.append(f"conflicts with {described}:")
            lines += [f"- {p}" for p in by_owner[described]]
        message = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def render(path: Path) -> str:
    return "".join(f".{key}" for key in path)


def take(ownership: Ownership, manager: Manager, paths: Iterable[Path]) -> None:
    """``manager`` now owns ``paths``, alone: whoever owned them before loses them."""
    taken = set(paths)
    for owner, owned in list(ownership.fields.items()):
        if owner == manager:
            continue
        owned -= {p for p in owned if any(_overlaps(p, t) for t in taken)}
        if not owned:
            del ownership.fields[owner]
    if taken:
        ownership.fields.setdefault(manager, set()).update(taken)


def applied_by(ownership: Ownership, manager: Manager, paths: set[Path]) -> None:
    """An applier owns exactly what it applied last (shared with whoever has the same)."""
    if paths:
        ownership.fields[manager] = set(paths)
    else:
        ownership.fields.pop(manager, None)


def user_agent_manager(user_agent: str) -> str:
    """The default field manager: the User-Agent up to its first '/' (prefixFromUserAgent)."""
    return user_agent.split("/", 1)[0][:128]


def released(ownership: Ownership, manager: Manager, now_applied: set[Path]) -> set[Path]:
    """Fields an applier set last time, omits now, and no other manager owns: to remove."""
    dropped = ownership.fields.get(manager, set()) - now_applied
    others = [owned for owner, owned in ownership.fields.items() if owner != manager]
    return {p for p in dropped if not any(p in owned for owned in others)}


__all__ = [
    "Manager",
    "Ownership",
    "applied_by",
    "changed_fields",
    "conflict_error",
    "conflicts",
    "released",
    "take",
    "user_agent_manager",
]
