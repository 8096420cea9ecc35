"""Other tools' layouts, so a team can adopt kubemigrate without renaming files.

- golang-migrate: ``{version}_{title}.up.sql`` / ``{version}_{title}.down.sql``
- Flyway: ``V{version}__{description}.sql`` with optional ``U{version}__{description}.sql``
- dbmate: ``{version}_{name}.sql`` holding ``-- migrate:up`` and ``-- migrate:down`` sections

golang-migrate and Flyway versions sort numerically (Flyway's dotted versions part by
part), dbmate's as text, as those tools do; two files of one version are refused, as
those tools refuse them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubemigrate.domain.checksums import checksum
from kubemigrate.domain.errors import SourceError
from kubemigrate.domain.migrations import NO_TRANSACTION_DIRECTIVE, Migration, Written
from kubemigrate.domain.versions import version_key
from kubemigrate.engine.sources import Source, read_text

_GOLANG = re.compile(r"^(?P<version>\d+)_(?P<title>.+)\.up\.sql$")
_FLYWAY = re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<title>.+)\.sql$")
# dbmate reads any file that starts with digits (its version) and ends .sql
_DBMATE = re.compile(r"^(?P<version>\d+)(?P<title>.*)\.sql$")
_DBMATE_UP = re.compile(r"^--\s*migrate:up\b.*$", re.MULTILINE)
_DBMATE_DOWN = re.compile(r"^--\s*migrate:down\b.*$", re.MULTILINE)
_NO_TRANSACTION = re.compile(r"\btransaction\s*:\s*false\b", re.IGNORECASE)
_FLYWAY_ANY = re.compile(r"^(?:[VU]\d+(?:[._]\d+)*|R)__.+\.sql$")


def foreign_layout(names: Iterable[str], texts: Mapping[str, str]) -> tuple[str, str] | None:
    """The other tool whose layout a folder without a drizzle journal follows, and a
    file that shows it; None when it looks like drizzle's.

    Read as drizzle's, such a folder runs: a dbmate file whole (its down section
    right after its up), Flyway's undo and repeatable scripts as migrations, every
    version in text order (10 before 2).
    """
    for name in sorted(names):
        if _GOLANG.match(name):
            return "golang-migrate", name
        if _FLYWAY_ANY.match(name):
            return "flyway", name
    for name, text in texts.items():
        if "migrate:up" in text and _DBMATE_UP.search(text):
            return "dbmate", name
    return None


def _in_order(found: list[tuple[Any, Migration]], fmt: str) -> list[Migration]:
    """The migrations by version; a version two files share is refused, as the tool
    itself refuses it (which of them ran first would depend on the directory listing)."""
    ordered = sorted(found, key=lambda item: item[0])
    for (key, first), (other, second) in itertools.pairwise(ordered):
        if key == other:
            raise SourceError(
                f"{first.up_file} and {second.up_file} have the same version, which {fmt} refuses.",
                hint="give one of them the next free version"
                + (
                    " (rollback SQL goes in U<version>__<description>.sql files)"
                    if fmt == "flyway"
                    else ""
                ),
            )
    return [m for _, m in ordered]


_GOLANG_DOWN = re.compile(r"^(?P<version>\d+)_(?P<title>.+)\.down\.sql$")


def _golang(directory: Path, used: set[str]) -> list[Migration]:
    """golang-migrate pairs an up and a down file by version, whatever their titles
    (``1_create_q.up.sql`` with ``1_create_table_q.down.sql``)."""
    downs: dict[Any, list[Path]] = {}
    for path in directory.glob("*.down.sql"):
        if match := _GOLANG_DOWN.match(path.name):
            downs.setdefault(version_key(match["version"]), []).append(path)
    found = []
    for path in directory.glob("*.up.sql"):
        match = _GOLANG.match(path.name)
        if not match:
            continue
        down = path.with_name(path.name.replace(".up.sql", ".down.sql"))
        paired = downs.get(version_key(match["version"]), [])
        if not down.is_file() and len(paired) == 1:  # another title, the same version
            down = paired[0]
        used.update((path.name, down.name))
        found.append(
            (
                version_key(match["version"]),
                Migration(
                    name=path.name,
                    up_sql=read_text(path),
                    down_sql=read_text(down) if down.is_file() else None,
                    down_file=down.name,
                ),
            )
        )
    return _in_order(found, "golang-migrate")


# Flyway replaces ${name} (and ${flyway:...}) in a script before it runs it
_FLYWAY_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][\w.:-]*\}")
_FLYWAY_CALLBACK = re.compile(r"^(?:before|after)[A-Z]\w*\.sql$")
# Flyway's script configuration, in a ``.sql.conf`` beside the script or in the script
_FLYWAY_NO_TRANSACTION = re.compile(
    r"^(?:--\s*flyway:)?\s*executeInTransaction\s*=\s*false\s*$", re.IGNORECASE | re.MULTILINE
)


def _visible(directory: Path, pattern: str) -> list[Path]:
    """Files below ``directory`` matching ``pattern``, hidden folders left out: a mounted
    ConfigMap holds its files twice, in ``..<timestamp>/`` and through ``..data``."""
    return sorted(
        p
        for p in directory.rglob(pattern)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def _flyway_paths(directory: Path, prefix: str) -> list[Path]:
    """Flyway scans its locations recursively: a V file in a subfolder is a migration."""
    return _visible(directory, f"{prefix}*.sql")


def _flyway_refusals(directory: Path) -> None:
    """What Flyway runs and kubemigrate cannot: left out, the schema would lack it while
    every command said all was well."""
    for path in _visible(directory, "*.sql"):
        if path.name.startswith("R__"):
            raise SourceError(
                f"{path.relative_to(directory)} is a Flyway repeatable migration, which "
                "kubemigrate does not run: what it creates would be missing.",
                hint="make it a versioned migration (V<next version>__"
                f"{path.name[3:]}), or move it out of the folder if it is not needed",
            )
        if _FLYWAY_CALLBACK.match(path.name):
            raise SourceError(
                f"{path.relative_to(directory)} is a Flyway callback, which kubemigrate does "
                "not run.",
                hint="run it yourself before or after `kubemigrate migrate`, or move it out "
                "of the folder",
            )


# flyway.conf's key, with a trailing comment allowed
_NO_REPLACEMENT = re.compile(
    r"^\s*flyway\.placeholderReplacement\s*=\s*false\s*(?:#.*)?$", re.IGNORECASE | re.MULTILINE
)


def _replaces_placeholders(directory: Path) -> bool:
    """Whether Flyway replaces ``${...}`` in these scripts: unless its configuration turns
    it off, in ``flyway.conf`` (``flyway.placeholderReplacement=false``) or ``flyway.toml``
    (``placeholderReplacement = false`` in its ``[flyway]`` table; an environment's
    setting is that environment's alone), in the folder or the one above it (a project
    root with its sql/ folder)."""
    import tomllib

    for folder in (directory, directory.resolve().parent):
        conf = folder / "flyway.conf"
        if conf.is_file() and _NO_REPLACEMENT.search(read_text(conf)):
            return False
        toml = folder / "flyway.toml"
        if toml.is_file():
            try:
                settings = tomllib.loads(read_text(toml)).get("flyway") or {}
            except tomllib.TOMLDecodeError:
                continue
            if settings.get("placeholderReplacement") is False:
                return False
    return True


def _flyway_text(path: Path, text: str, placeholders: bool = True) -> str:
    """The script ``text``, refused if it uses a placeholder Flyway would have replaced,
    with kubemigrate's directive when Flyway's configuration runs it outside a
    transaction."""
    placeholder = _FLYWAY_PLACEHOLDER.search(text) if placeholders else None
    if placeholder:
        line = text.count("\n", 0, placeholder.start()) + 1
        raise SourceError(
            f"{path.name} line {line} uses the Flyway placeholder {placeholder[0]}, which "
            "Flyway replaces before running the script and kubemigrate does not: it would "
            "reach the database as written.",
            hint="write the value into the script (kubemigrate has no placeholders); if "
            "Flyway ran it with placeholderReplacement=false, say so in a flyway.conf in the "
            "folder or beside it",
        )
    conf = path.with_name(path.name + ".conf")
    config = text + ("\n" + read_text(conf) if conf.is_file() else "")
    if _FLYWAY_NO_TRANSACTION.search(config) and NO_TRANSACTION_DIRECTIVE not in text:
        return f"{NO_TRANSACTION_DIRECTIVE}\n{text}"
    return text


def _flyway(directory: Path, used: set[str]) -> list[Migration]:
    _flyway_refusals(directory)
    placeholders = _replaces_placeholders(directory)
    # Flyway pairs an undo script with its migration by version alone
    undos: dict[tuple[int, ...], Path] = {}
    for path in _flyway_paths(directory, "U"):
        match = _FLYWAY.match("V" + path.name[1:])
        if match:
            key = version_key(match["version"])
            if key in undos:  # which one Flyway would run cannot be told
                raise SourceError(
                    f"{undos[key].relative_to(directory)} and {path.relative_to(directory)} "
                    "undo the same version, which Flyway refuses.",
                    hint="keep one undo script per version",
                )
            undos[key] = path
    found = []
    for path in _flyway_paths(directory, "V"):
        match = _FLYWAY.match(path.name)
        if not match:
            continue
        undo = undos.get(version_key(match["version"]), path.with_name(f"U{path.name[1:]}"))
        used.update((path.name, undo.name))
        script = read_text(path)
        up = _flyway_text(path, script, placeholders)
        undo_script = read_text(undo) if undo.is_file() else None
        down = None if undo_script is None else _flyway_text(undo, undo_script, placeholders)
        found.append(
            (
                version_key(match["version"]),
                Migration(
                    name=path.name,
                    up_sql=up,
                    down_sql=down,
                    # the script as written: a directive added for its configuration is ours
                    checksum=checksum(script),
                    down_file=str(undo.relative_to(directory)),
                    # positions count in the scripts, below a directive of ours
                    up_written=Written(
                        str(path.relative_to(directory)), added=len(up) - len(script)
                    ),
                    down_written=Written(
                        str(undo.relative_to(directory)),
                        added=len(down or "") - len(undo_script or ""),
                    ),
                ),
            )
        )
    return _in_order(found, "flyway")


def split_dbmate(name: str, text: str) -> tuple[str, Written, tuple[str, Written] | None]:
    """The up and down sections of a dbmate file, each with where it stands in the file;
    a section whose header says ``transaction:false`` gets kubemigrate's no-transaction
    directive, so it runs outside a transaction as under dbmate (a file mixing CREATE
    INDEX CONCURRENTLY with other statements was refused)."""
    up = _DBMATE_UP.search(text)
    if up is None:
        raise SourceError(
            f"{name} has no '-- migrate:up' line, so it is not a dbmate migration.",
            hint="start the file with '-- migrate:up' "
            "(and put the rollback after '-- migrate:down')",
        )
    before = _DBMATE_DOWN.search(text, 0, up.start())
    if before is not None:
        raise SourceError(
            f"{name} has its '-- migrate:down' section before '-- migrate:up', which dbmate "
            "refuses.",
            hint="put the up section first",
        )
    if _has_sql(text[: up.start()]):
        raise SourceError(
            f"{name} has SQL before its '-- migrate:up' line, which dbmate refuses (it "
            "would be left out).",
            hint="move it into the up section",
        )
    down = _DBMATE_DOWN.search(text, up.end())
    up_sql, up_written = _section(name, text, up, down.start() if down else len(text))
    return up_sql, up_written, _section(name, text, down, len(text)) if down else None


def _has_sql(text: str) -> bool:
    """Anything but blank lines and ``--`` comments."""
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


def _section(name: str, text: str, header: re.Match[str], end: int) -> tuple[str, Written]:
    """The section of ``text`` below ``header`` up to ``end``, stripped (as every earlier
    version read it: its checksum depends on it), and where it stands in the file ``name``:
    its first line below the header, without its indentation, after the directive added
    for a ``transaction:false`` header."""
    body = text[header.end() : end]
    first = header.end() + len(body) - len(body.lstrip())
    directive = f"{NO_TRANSACTION_DIRECTIVE}\n" if _NO_TRANSACTION.search(header[0]) else ""
    written = Written(
        name,
        line=text.count("\n", 0, first) + 1,
        column=first - text.rfind("\n", 0, first),
        added=len(directive),
    )
    return directive + body.strip() + "\n", written


def _dbmate(directory: Path, used: set[str]) -> list[Migration]:
    found = []
    for path in directory.glob("*.sql"):
        match = _DBMATE.match(path.name)
        if not match:
            continue
        used.add(path.name)
        up, up_written, down = split_dbmate(path.name, read_text(path))
        migration = Migration(
            name=path.name,
            up_sql=up,
            down_sql=down[0] if down else None,
            # the section as written: a directive added for transaction:false is ours
            # (one the author wrote in the section stays in, as it always counted)
            checksum=checksum(up[up_written.added :]),
            down_file=f"the '-- migrate:down' section of {path.name}",
            up_written=up_written,
            down_written=down[1] if down else Written(path.name),
        )
        found.append((match["version"], migration))
    _in_order(found, "dbmate")  # a version two files share is refused
    # dbmate runs its files in name order (10_b.sql before 1_a.sql), as it lists them
    return sorted((m for _, m in found), key=lambda m: m.name)


_READERS = {"golang-migrate": _golang, "flyway": _flyway, "dbmate": _dbmate}


def versions_run(
    names: Iterable[str], tool: str, versions: Iterable[str], below: str | None = None
) -> frozenset[str]:
    """The file names whose version ``tool``'s history lists as run: dbmate's and Flyway's
    every version (Flyway's ``1.0`` and ``1`` being one) and, with a Flyway baseline
    version ``below``, every one up to it; golang-migrate's its newest only, every
    version up to it having run."""
    pattern = {"golang-migrate": _GOLANG, "flyway": _FLYWAY, "dbmate": _DBMATE}[tool]
    listed = list(versions)
    keys = {version_key(v) for v in listed}

    def ran(version: str) -> bool:
        if tool == "dbmate":
            return version in listed
        if tool == "golang-migrate":
            return bool(listed) and int(version) <= int(listed[0])
        return version_key(version) in keys or (
            below is not None and version_key(version) <= version_key(below)
        )

    return frozenset(
        name for name in names if (match := pattern.match(name)) and ran(match["version"])
    )


def history_matches(
    names: Iterable[str], tool: str, versions: Iterable[str], below: str | None = None
) -> tuple[frozenset[str], int]:
    """``versions_run``, and how many files the history stands for: its versions, the
    files up to a Flyway baseline, golang-migrate's every file up to its newest version,
    which must be among them (golang-migrate itself says "no migration found for
    version" otherwise). Fewer matching files than that: a file edited, renamed or
    removed since it ran, or another application's history."""
    names, listed = list(names), list(versions)
    ran = versions_run(names, tool, listed, below)
    if tool == "dbmate":
        return ran, len(set(listed))
    pattern = _GOLANG if tool == "golang-migrate" else _FLYWAY
    found = {version_key(m["version"]) for name in ran if (m := pattern.match(name))}
    if tool == "golang-migrate":
        newest_found = bool(listed) and version_key(listed[0]) in found
        return ran, len(ran) + (0 if newest_found or not listed else 1)
    listed_keys = {version_key(v) for v in listed}
    return ran, len(listed_keys) + len(found - listed_keys)


def first_of(directory: Path, fmt: str) -> str | None:
    """A file of ``directory`` that ``fmt`` would read as a migration, if any."""
    try:
        found = _READERS[fmt](directory, set())
    except SourceError:
        return None
    return found[0].name if found else None


def load(directory: Path, fmt: str) -> Source:
    root = (
        directory / "db" / "migrations"
        if fmt == "dbmate" and (directory / "db" / "migrations").is_dir()
        else directory
    )
    used: set[str] = set()
    migrations = tuple(_READERS[fmt](root, used))
    if root != directory:  # where a person opens them: dbmate's db/migrations/
        below = root.relative_to(directory)
        migrations = tuple(
            replace(
                m,
                up_written=replace(m.up_written, file=f"{below}/{m.up_written.file}"),
                down_written=replace(m.down_written, file=f"{below}/{m.down_written.file}"),
            )
            for m in migrations
        )
    listed = _visible(root, "*.sql") if fmt == "flyway" else root.glob("*.sql")
    ignored = sorted(p.name for p in listed if p.name not in used)
    return Source(
        directory=directory,
        migrations=migrations,
        warnings=tuple(_ignored(name, fmt) for name in ignored),
        fmt=fmt,
    )


def _ignored(name: str, fmt: str) -> str:
    """Why a .sql file in the folder is not run: silence would look like success."""
    expected = {
        "golang-migrate": "NNNN_title.up.sql with NNNN_title.down.sql",
        "flyway": "V<version>__<description>.sql, with a capital V and two underscores",
        "dbmate": "<version>_<name>.sql",
    }[fmt]
    return f"{name} is ignored: its name does not follow {fmt}'s {expected}."
