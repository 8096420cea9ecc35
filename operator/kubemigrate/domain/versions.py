"""Migration versions as the tools that number files read them, so ``--target`` takes
the version people know a migration by (dbmate's timestamp, Flyway's ``1.10``,
drizzle's ``0003``) as well as its file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubemigrate.domain.errors import UsageError

# Flyway's V<version>__ (dots or underscores between parts); everyone else's leading
# number, up to the first _ or .
_FLYWAY = re.compile(r"^[VU](?P<version>\d+(?:[._]\d+)*)__")
_NUMBERED = re.compile(r"^(?P<version>\d+)(?=[_.]|$)")
_VERSION = re.compile(r"^[VvUu]?(?P<version>\d+(?:[._]\d+)*)$")


def version_key(version: str) -> tuple[int, ...]:
    """``1.10`` as (1, 10); trailing zero parts dropped, so ``1``, ``1.0`` and ``01`` are one
    version, as Flyway reads them."""
    parts = [int(part) for part in re.split(r"[._]", version)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def file_version(name: str) -> tuple[int, ...] | None:
    """The version a migration's file name starts with, or None."""
    match = _FLYWAY.match(name) or _NUMBERED.match(name)
    return version_key(match["version"]) if match else None


def title(name: str) -> str:
    """What a migration's file name says it does: the name without its version, the
    separator after it and its extension (``0003_add_x.sql``, ``20240101120000_add_x.sql``,
    ``V3__add_x.sql`` and ``3_add_x.up.sql`` are all ``add_x``); "" when it says nothing."""
    stem = name.removesuffix(".sql").removesuffix(".up")
    match = _FLYWAY.match(stem) or _NUMBERED.match(stem)
    return stem[match.end() :].lstrip("_.") if match else stem


def named(target: str, names: Iterable[str]) -> list[str]:
    """The names ``target`` stands for: a file name (with or without ``.sql`` or
    ``.up.sql``), else every file of that version (more than one is the caller's
    ambiguity to report)."""
    listed = list(names)
    exact = [n for n in listed if target in (n, n.removesuffix(".sql"), n.removesuffix(".up.sql"))]
    if exact:
        return exact[:1]
    match = _VERSION.match(target.strip())
    if match is None:
        return []
    wanted = version_key(match["version"])
    return [n for n in listed if file_version(n) == wanted]


def the_one(
    target: str, names: Iterable[str], *, said: str, what: str = "migrations"
) -> str | None:
    """The one name ``target`` stands for (see ``named``), or None; a version that names
    several is refused: which one was meant cannot be told."""
    found = named(target, names)
    if len(found) > 1:
        raise UsageError(
            f"{said} names {len(found)} {what}: {', '.join(found)}.",
            hint="give the file name of the one you mean",
        )
    return found[0] if found else None
