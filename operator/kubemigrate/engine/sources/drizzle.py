"""drizzle-kit's layouts, told apart by what the directory holds.

drizzle-kit 0.x (here): ``NNNN_name.sql``, ``meta/_journal.json``, and our ``.down.sql``.
The journal, not the file names, gives the order, as in drizzle's own migrator.
A ConfigMap made with ``kubectl create configmap --from-file=drizzle/
--from-file=drizzle/meta/_journal.json`` is flat (kubectl keys each file by its base
name), so ``_journal.json`` is also accepted at the top of the directory.

drizzle-kit 1.0 (``drizzle_folders``): one ``<timestamp>_name/`` folder per
migration holding ``migration.sql``, and no journal.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from kubemigrate.domain.checksums import checksum
from kubemigrate.domain.errors import SourceError
from kubemigrate.domain.migrations import Migration, Unlisted
from kubemigrate.engine.sources import Source, drizzle_folders, others, read_text

JOURNAL_LOCATIONS = ("meta/_journal.json", "_journal.json")
_PREFIX = re.compile(r"(\d{1,9})_")
"""A migration number: the ``NNNN_`` that ``generate`` (and drizzle-kit's default
prefix) puts on a file name, or a hand-made folder's ``1_``, ``10_``; not the 14-digit
timestamp of drizzle-kit 1.0's names."""


def journal_path(directory: Path) -> Path | None:
    for location in JOURNAL_LOCATIONS:
        path = directory / location
        if path.is_file():
            return path
    return None


def read_journal(path: Path) -> dict[str, Any]:
    """The parsed journal, or a SourceError that says where it is malformed."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            hint="fix the file, or restore it from version control",
        ) from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SourceError(
            f'{path} has no "entries" list; it is not a drizzle-kit journal.',
            hint='expected {"version": "7", "dialect": "postgresql", "entries": [...]}',
        )
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("tag"), str) or not entry["tag"]:
            raise SourceError(
                f'{path}: entry {i} has no "tag" (the file name without .sql).',
                hint='each entry needs at least {"idx": N, "tag": "NNNN_name"}',
            )
    return dict(data)


def journal_tags(
    directory: Path, journal: Path, data: dict[str, Any], sql_files: set[str] | None = None
) -> list[str]:
    """The tags of a journal ``read_journal`` parsed, in order, or a SourceError for a
    journal the folder cannot be read by: a tag listed twice, or a file it lists
    missing. ``load`` and ``generate`` both ask, so ``generate`` never appends to a
    journal ``status`` and ``migrate`` refuse."""
    tags = [entry["tag"] for entry in data["entries"]]
    seen: set[str] = set()
    for tag in tags:
        if tag in seen:
            raise SourceError(f"{journal} lists {tag} twice.", hint="remove the duplicate entry")
        seen.add(tag)
    if sql_files is None:
        sql_files = _up_files(_listing(directory)[0])
    missing = [tag for tag in tags if f"{tag}.sql" not in sql_files]
    if missing:
        raise SourceError(
            f"{journal} lists {', '.join(missing)} but "
            f"{', '.join(t + '.sql' for t in missing)} is missing from {directory}.",
            hint="restore the file, or remove its entry from the journal if it was never applied",
        )
    return tags


def _listing(directory: Path) -> tuple[set[str], list[str]]:
    """One scan of ``directory``: the names of its regular files (or links to them, as
    in a ConfigMap volume) and of its visible subfolders (a ConfigMap volume's
    ``..data`` link is hidden). ``status`` reads a thousand-file folder on every call."""
    files: set[str] = set()
    subfolders: list[str] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file():
                files.add(entry.name)
            elif not entry.name.startswith(".") and entry.is_dir():
                subfolders.append(entry.name)
    return files, subfolders


def _up_files(names: Iterable[str]) -> set[str]:
    return {n for n in names if n.endswith(".sql") and not n.endswith(".down.sql")}


def up_file_names(directory: Path) -> set[str]:
    """The up files (``NAME.sql``, not ``NAME.down.sql``) at the top of ``directory``."""
    return _up_files(_listing(directory)[0])


def _name_order(sql_files: Iterable[str]) -> list[str]:
    """Numbered names by their number (``2_more`` before ``10_later``, as a hand-made
    folder means them), then the rest by name."""

    def key(tag: str) -> tuple[int, int, str]:
        match = _PREFIX.match(tag)
        return (0, int(match[1]), tag) if match else (1, 0, tag)

    return sorted((name.removesuffix(".sql") for name in sql_files), key=key)


def file_name_order(directory: Path) -> list[str]:
    """The tags in the order ``load`` uses when there is no journal.

    ``generate`` writes this order into the journal it creates, so the migrations
    keep their names (and so their applied rows and checksums) and their order.
    """
    return _name_order(_up_files(_listing(directory)[0]))


Layout = Literal["journal", "folders", "flat"]


def layout(directory: Path) -> Layout:
    """Which drizzle-kit layout ``directory`` has: ``folders`` (1.0), ``flat`` (1.0's
    folders made flat for a ConfigMap: ``<timestamp>_name.sql`` files, no journal) or
    ``journal`` (0.x).

    A folder with none of them (empty, or not there yet) counts as ``journal``, the
    layout ``generate`` starts.
    """
    if migration_folders(directory):
        return "folders"
    if directory.is_dir() and journal_path(directory) is None:
        tags = [name.removesuffix(".sql") for name in up_file_names(directory)]
        if tags and all(drizzle_folders.folder_time(tag) is not None for tag in tags):
            return "flat"
    return "journal"


def migration_folders(directory: Path) -> list[str]:
    """drizzle-kit 1.0's migration folders in ``directory``, or none (nor when it is
    not there yet); a journal beside them is an error."""
    return _migration_folders(directory, _listing(directory)[1]) if directory.is_dir() else []


def _migration_folders(directory: Path, subfolders: list[str]) -> list[str]:
    """Those of ``subfolders`` that are drizzle-kit 1.0 migrations.

    A journal beside them is an upgrade left half done, and drizzle's own 1.0
    migrator refuses a folder with a journal too.
    """
    folders = drizzle_folders.migration_folders(directory, subfolders)
    journal = journal_path(directory) if folders else None
    if journal is not None:
        shown = ", ".join(f"{name}/" for name in folders[:3])
        if len(folders) > 3:
            shown += f" and {len(folders) - 3} more"
        raise SourceError(
            f"{directory} has both {journal.relative_to(directory)} (drizzle-kit 0.x's layout) "
            f"and migration folders (drizzle-kit 1.0's layout): {shown}.",
            hint="finish the upgrade with `npx drizzle-kit up`, which moves the journal's "
            "migrations into folders and removes meta/; or remove the folders if they are strays",
        )
    return folders


def load(directory: Path) -> Source:
    files, subfolders = _listing(directory)
    folders = _migration_folders(directory, subfolders)
    if folders:
        return drizzle_folders.load(directory, folders, files, subfolders)
    journal = journal_path(directory)
    sql_files = _up_files(files)
    warnings: list[str] = []
    unlisted: tuple[Unlisted, ...] = ()
    if journal is None:
        tags = _name_order(sql_files)
        # <timestamp>_name.sql files are drizzle-kit 1.0's folders made flat (a ConfigMap
        # holds no folders): named as those are tracked, in the order drizzle runs them
        flattened = all(drizzle_folders.folder_time(tag) is not None for tag in tags)
        if tags and not flattened:
            warnings.append(
                f"{directory} has no meta/_journal.json; using the files' numbers for the "
                "order. Run `kubemigrate generate` to create the journal."
            )
    else:
        data = read_journal(journal)
        tags = journal_tags(directory, journal, data, sql_files)
        shaped, other = migration_shaped(sql_files - {f"{tag}.sql" for tag in tags})
        if shaped:
            unlisted = unlisted_files(directory, journal, data["entries"], shaped)
        warnings += [f"{name} is not in {journal.name} and is ignored." for name in other]
    migrations = []
    folder = os.fspath(directory)
    for tag in tags:
        up = read_text(os.path.join(folder, f"{tag}.sql"))
        down_name = f"{tag}.down.sql"
        down = read_text(os.path.join(folder, down_name)) if down_name in files else None
        # the file read, a flat drizzle-kit 1.0 layout's too (not its folder's down.sql)
        migrations.append(
            Migration(name=f"{tag}.sql", up_sql=up, down_sql=down, down_file=down_name)
        )
    if journal is None:
        _refuse_foreign(directory, sql_files, migrations)
    return Source(
        directory=directory,
        migrations=tuple(migrations),
        warnings=tuple(warnings),
        unlisted=unlisted,
    )


_SHAPED = re.compile(r"\d+_")


def migration_shaped(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """``names`` named as migrations are (``0004_x.sql``, ``20261129085527_x.sql``), and
    the others (``seed.sql``, a helper script kept beside them), in name order. A file
    of the first kind the journal does not list was meant to run, and `verify` fails
    on it; one of the second never was, and is only warned about."""
    ordered = sorted(names)
    return [n for n in ordered if _SHAPED.match(n)], [n for n in ordered if not _SHAPED.match(n)]


def unlisted_files(
    directory: Path, journal: Path, entries: list[dict[str, Any]], names: Iterable[str]
) -> tuple[Unlisted, ...]:
    """``names`` (up files the journal, whose ``entries`` are given, does not list), in
    number order, each with the entry that would list it: after the last, ``idx`` and
    ``when`` one past the highest (drizzle's migrator runs an entry whose ``when`` is
    after the last it ran), as ``generate`` writes one."""
    idx = max((_int(e.get("idx"), i) for i, e in enumerate(entries)), default=-1)
    when = max((_int(e.get("when"), 0) for e in entries), default=0)
    version = str(entries[-1].get("version", "7")) if entries else "7"
    found = []
    for n, tag in enumerate(_name_order(names), start=1):
        try:
            sql_checksum = checksum(read_text(directory / f"{tag}.sql"))
        except SourceError:
            sql_checksum = ""  # not UTF-8: the copy of no migration, and never run
        entry = {"idx": idx + n, "version": version, "when": when + n, "tag": tag}
        found.append(
            Unlisted(
                name=f"{tag}.sql",
                checksum=sql_checksum,
                journal=journal.relative_to(directory).as_posix(),
                entry=json.dumps({**entry, "breakpoints": True}),
            )
        )
    return tuple(found)


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def foreign_layout(directory: Path) -> tuple[str, str] | None:
    """The other tool whose migrations a folder without a drizzle journal holds, and a
    file that shows it (see ``others.foreign_layout``); None when there is none."""
    if not directory.is_dir() or journal_path(directory) is not None:
        return None
    names = _up_files(_listing(directory)[0])
    texts = {name: read_text(os.path.join(directory, name)) for name in names}
    return others.foreign_layout(names, texts)


def _refuse_foreign(directory: Path, names: Iterable[str], migrations: list[Migration]) -> None:
    """A folder of another tool's migrations, read as drizzle's because ``--format``
    was left at its default, would run them wrongly, and silently."""
    found = others.foreign_layout(names, {m.name: m.up_sql for m in migrations})
    if found is not None:
        tool, example = found
        raise SourceError(
            f"{directory} holds {tool} migrations ({example}), not drizzle-kit's: read as "
            "drizzle's (the default format) they would run wrongly.",
            hint=f"pass --format {tool}",
        )


def next_index(directory: Path) -> int:
    """The next NNNN prefix for ``generate``: past the journal's idx values and the files'.

    A journal edited by hand (or a folder with no journal) can have idx values that
    do not match the file names; the new file must still not reuse a prefix.
    """
    used = [
        int(match.group(1))
        for name in _listing(directory)[0]
        if name.endswith(".sql") and (match := _PREFIX.match(name))
    ]
    journal = journal_path(directory)
    if journal is not None:
        entries = read_journal(journal)["entries"]
        used += [int(e.get("idx", i)) for i, e in enumerate(entries)]
    return max(used, default=-1) + 1
