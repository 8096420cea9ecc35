"""drizzle-kit 1.0's layout: one folder per migration, no journal.

::

    drizzle/
      20261129085527_initial_schema/     YYYYMMDDHHMMSS (UTC) + "_" + name
        migration.sql                    the up SQL, "--> statement-breakpoint" between statements
        snapshot.json                    drizzle-kit's schema snapshot (not read here)
        down.sql                         ours, optional: the rollback

drizzle-orm 1.0's migrator lists the subfolders that hold a ``migration.sql``, sorts
them by name and records each folder name in ``drizzle.__drizzle_migrations.name``.
The same order here; the key in ``__migration_tracking`` is the folder name plus
``.sql`` (``20261129085527_initial_schema.sql``), so ``--target``, ``repair
--accept-checksum`` and the other commands take the folder name as it is.
"""

from __future__ import annotations

import calendar
import os
import re
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from kubemigrate.domain.migrations import Migration, Written
from kubemigrate.engine.sources import Source, read_text

UP_FILE = "migration.sql"
DOWN_FILE = "down.sql"
_TIMESTAMP = re.compile(r"(\d{14})_")
"""drizzle-kit's folder prefix, ``YYYYMMDDHHMMSS_`` in UTC."""
_OLD_PREFIX = re.compile(r"\d{4}_")
"""drizzle-kit 0.x's ``NNNN_`` file prefix, which ``drizzle-kit up`` replaces."""


def migration_folders(directory: Path, subfolders: Iterable[str]) -> list[str]:
    """Those of ``directory``'s (visible) ``subfolders`` that hold a ``migration.sql``,
    in drizzle's order (by name)."""
    base = os.fspath(directory)
    return sorted(name for name in subfolders if os.path.isfile(os.path.join(base, name, UP_FILE)))


def folder_time(name: str) -> int | None:
    """The folder's timestamp prefix in epoch milliseconds, or None without one."""
    match = _TIMESTAMP.match(name)
    if match is None:
        return None
    try:
        parsed = time.strptime(match.group(1), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return calendar.timegm(parsed) * 1000


def folder_name(when_ms: int, name: str) -> str:
    """drizzle-kit's folder name for a migration made at ``when_ms``."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(when_ms // 1000)) + "_" + name


def load(
    directory: Path, folders: list[str], top_level_files: set[str], subfolders: Iterable[str]
) -> Source:
    base = os.fspath(directory)
    warnings = _stray_top_level_files(folders, top_level_files)
    migrations = []
    for name in folders:
        path = os.path.join(base, name)
        with os.scandir(path) as entries:
            files = {e.name for e in entries if e.is_file()}
        up = read_text(os.path.join(path, UP_FILE))
        down = read_text(os.path.join(path, DOWN_FILE)) if DOWN_FILE in files else None
        for extra in sorted(
            f for f in files if f.endswith(".sql") and f not in {UP_FILE, DOWN_FILE}
        ):
            warnings.append(
                f"{name}/{extra} is ignored: a migration folder holds {UP_FILE} "
                f"and, for the rollback, {DOWN_FILE}."
            )
        migrations.append(
            Migration(
                name=f"{name}.sql",
                up_sql=up,
                down_sql=down,
                # its folder's, whatever the folder's name (the default guesses from a
                # timestamp prefix, which a hand-named folder lacks)
                down_file=f"{name}/{DOWN_FILE}",
                up_written=Written(f"{name}/{UP_FILE}"),
            )
        )
    warnings += _odd_names(folders)
    warnings += _folders_without_migration(directory, sorted(set(subfolders) - set(folders)))
    return Source(directory=directory, migrations=tuple(migrations), warnings=tuple(warnings))


def _stray_top_level_files(folders: list[str], files: set[str]) -> list[str]:
    """Warnings for ``.sql`` files beside the folders, which drizzle's migrator ignores.

    The usual ones are ``NNNN_name.down.sql`` files that ``drizzle-kit up`` left behind
    when it moved ``NNNN_name.sql`` into ``<timestamp>_name/migration.sql``.
    """
    by_title: dict[str, list[str]] = {}
    for folder in folders:
        match = _TIMESTAMP.match(folder)
        by_title.setdefault(folder[match.end() :] if match else folder, []).append(folder)
    warnings = []
    for name in sorted(f for f in files if f.endswith(".sql")):
        stem = name.removesuffix(".sql").removesuffix(".down")
        title = stem[old.end() :] if (old := _OLD_PREFIX.match(stem)) else stem
        matches = by_title.get(title, [])
        kind = DOWN_FILE if name.endswith(".down.sql") else UP_FILE
        if len(matches) == 1:
            fix = f"move it to {matches[0]}/{kind}"
        else:
            fix = f"each migration is a <timestamp>_<name>/ folder holding {kind}"
        warnings.append(
            f"{name} is ignored (drizzle-kit 1.0's layout has no top-level migration files): {fix}."
        )
    return warnings


def _odd_names(folders: list[str]) -> list[str]:
    warnings = []
    for folder in folders:
        if folder_time(folder) is None:
            warnings.append(
                f"{folder}/ does not start with a YYYYMMDDHHMMSS_ timestamp: drizzle's own "
                "migrator cannot record it (kubemigrate orders it by name)."
            )
    stamps = Counter(folder[:14] for folder in folders if folder_time(folder) is not None)
    for stamp, count in sorted(stamps.items()):
        if count > 1:
            same = [f for f in folders if f.startswith(stamp)]
            warnings.append(
                f"{', '.join(same)} share the timestamp {stamp}; they run in name order. "
                "Give each its own second so that every tool orders them the same way."
            )
    return warnings


def _folders_without_migration(directory: Path, others: list[str]) -> list[str]:
    """Warnings for subfolders that hold SQL but no ``migration.sql`` (a typo, say)."""
    warnings = []
    for name in others:
        with os.scandir(directory / name) as entries:
            sql = sorted(e.name for e in entries if e.name.endswith(".sql") and e.is_file())
        if sql:
            warnings.append(f"{name}/ has no {UP_FILE} and is ignored (it holds {', '.join(sql)}).")
    return warnings
