"""``kubemigrate generate``: the next migration file, its inferred down file, its journal entry.

In a drizzle-kit 1.0 folder (one ``<timestamp>_name/`` per migration, no journal) it
writes the next folder instead: ``migration.sql`` and ``down.sql``, no snapshot.

The down file is written from the up SQL where every statement has a safe
inverse; whatever cannot be inverted is listed at the top of the down file and in
the command's output, so nobody learns it during an incident.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubemigrate.domain.errors import SourceError, UsageError
from kubemigrate.domain.migrations import Migration
from kubemigrate.domain.planning import (
    GENERATE_TEMPLATE,
    UNFINISHED_DOWN,
    has_statement,
    unlisted_warnings,
)
from kubemigrate.engine.sources import drizzle, drizzle_folders, read_text

if TYPE_CHECKING:
    from kubemigrate.domain.sql import Statement

TEMPLATE = GENERATE_TEMPLATE


@dataclass(frozen=True)
class Generated:
    up: Path
    down: Path
    journal: Path | None
    """None in a drizzle-kit 1.0 folder, which has no journal."""
    uninvertible: tuple[str, ...]
    existing: tuple[str, ...] = ()
    """Tags of the files already in a folder that had no journal, now listed in it."""
    warnings: tuple[str, ...] = ()
    """Files of the folder its journal does not list, which never run: the new file's
    number went past them, and someone may have meant them to run."""

    def text(self) -> str:
        out = [f"📝 Created {self.up}", f"📝 Created {self.down}"]
        if self.existing:
            count = len(self.existing)
            out.append(
                f"📝 Created {self.journal} from the {count} existing migration "
                f"file{'s' if count != 1 else ''}, in the order of their numbers"
            )
        elif self.journal is not None:
            out.append(f"📝 Updated {self.journal}")
        if self.uninvertible:
            out.append("⚠️  Not inverted automatically (write these in the down file by hand):")
            out += [f"  - {line}" for line in self.uninvertible]
        out += [f"⚠️  {warning}" for warning in self.warnings]
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "up": str(self.up),
            "down": str(self.down),
            "journal": str(self.journal) if self.journal is not None else None,
            "uninvertible": list(self.uninvertible),
            "existing": list(self.existing),
            "warnings": list(self.warnings),
        }


#: Latin letters that are not a letter plus accents, so NFKD leaves them whole and
#: the ASCII encoding would drop them (``Ünïcødé`` became ``unicde``).
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "ẞ": "SS",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ħ": "h",
        "Ħ": "H",
        "ı": "i",
        "ŧ": "t",
        "Ŧ": "T",
        "ŋ": "ng",
        "Ŋ": "NG",
        "ĸ": "k",
        "ſ": "s",
        "ƒ": "f",
    }
)


def slug(name: str) -> str:
    """``Ünïcødé naïve café`` -> ``unicode_naive_cafe``: accents dropped, not the
    letters; Latin letters that are no letter plus accent spelled in ASCII (``ø`` o,
    ``æ`` ae, ``ß`` ss, ``ł`` l, ``þ`` th ...). Other scripts have no ASCII spelling
    here: their letters are dropped, and a name of nothing else is refused."""
    latin = unicodedata.normalize("NFKD", name.translate(_LETTERS))
    ascii_name = latin.encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "_", ascii_name.strip().lower()).strip("_")
    if not cleaned:
        raise UsageError(
            f"{name!r} cannot name a migration: file names keep ASCII letters and digits only "
            "(Latin letters lose their accents; other scripts have no ASCII spelling here).",
            hint="name it in ASCII letters and digits, e.g. add_orders",
        )
    return cleaned[:60]


def _read_up(sql_file: Path | None) -> str:
    if sql_file is None:
        return TEMPLATE
    if str(sql_file) == "-":
        text = sys.stdin.read()
    elif not sql_file.exists():
        raise UsageError(f"--sql {sql_file}: no such file.")
    elif sql_file.is_dir():
        raise UsageError(f"--sql {sql_file} is a directory; give the SQL file.")
    else:
        text = read_text(sql_file)
    if not has_statement(text.replace("--> statement-breakpoint", "").replace(";", " ")):
        where = "standard input" if str(sql_file) == "-" else str(sql_file)
        raise UsageError(
            f"--sql {sql_file}: {where} holds no SQL statement, so the migration would do "
            "nothing (and its empty down would block every rollback of its batch).",
            hint="pass the SQL, or leave out --sql to get a file to fill in",
        )
    return text


class UnparsedSql(UsageError):
    """Up SQL that does not parse: no down can be inferred from it."""


class MixedSql(UsageError):
    """Up SQL that ``migrate`` refuses for mixing statements that cannot run in a
    transaction with ones that can (see ``_refuse_mixed``)."""


def infer_down(up: str) -> tuple[str, tuple[str, ...]]:
    """The down file inferred from ``up``, and the statements it could not invert (listed
    in a note at its top, which makes a rollback refuse it until a person has written
    them); ``UnparsedSql`` or ``MixedSql`` for SQL generate refuses. ``generate`` and
    ``generate-downs`` both write it."""
    from kubemigrate.domain.sql import SqlSyntaxError
    from kubemigrate.domain.sql.rollback import infer_rollback

    try:
        _refuse_mixed(up)
        inferred = infer_rollback(up)
    except SqlSyntaxError as exc:
        raise UnparsedSql(
            f"The up SQL does not parse: {exc.message} at line {exc.line}.",
            hint="fix the SQL and run generate again",
        ) from None
    header = ""
    if inferred.uninvertible:
        header = UNFINISHED_DOWN + "\n"
        header += "".join(f"--   {line}\n" for line in inferred.uninvertible)
        header += "\n"
    body = inferred.sql.strip()
    return header + (body + "\n" if body else ""), inferred.uninvertible


def _refuse_mixed(up: str) -> None:
    """Refuse, before anything is written, an up file ``migrate`` would refuse for
    mixing statements that cannot run in a transaction with ones that can.

    Written anyway, with a warning, it would sit in the folder with its journal entry
    and fail the next ``migrate`` (in CI, in a Job), and splitting it then means
    undoing the entry by hand; refused, the fix is in the SQL a person still holds,
    and generate runs again as for SQL that does not parse.
    """
    from kubemigrate.domain.sql import NO_TRANSACTION_DIRECTIVE, analyse

    analysed = analyse(up)
    if not analysed.mixed or analysed.no_transaction_directive:
        return

    def said(statements: list[Statement]) -> str:
        shown = [f"line {s.line}: {_first_line(s.text)}" for s in statements[:3]]
        more = len(statements) - len(shown)
        return "; ".join(shown) + (f" and {more} more" if more > 0 else "")

    outside = [s for s in analysed.statements if not s.transactional]
    inside = [s for s in analysed.statements if s.transactional]
    raise MixedSql(
        f"The up SQL mixes statements that cannot run inside a transaction ({said(outside)}) "
        f"with statements that run inside one ({said(inside)}): `kubemigrate migrate` "
        "refuses such a file, so nothing was written.",
        hint="split it into two migrations (generate one with the statements that cannot run "
        "in a transaction, another with the rest), or, if running the others outside a "
        f"transaction too is fine, add the line `{NO_TRANSACTION_DIRECTIVE}` to the SQL "
        "(a failure midway then leaves the database marked dirty until a person checks it) "
        "and run generate again",
    )


def _first_line(text: str, limit: int = 60) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _entry(idx: int, tag: str, when: int) -> dict[str, Any]:
    return {"idx": idx, "version": "7", "when": when, "tag": tag, "breakpoints": True}


def _journal_of_files(tags: list[str], now: int) -> dict[str, Any]:
    """A journal for a folder that had none, listing its files as ``load`` ordered them.

    Without it the new journal would list only the new file, and every file
    already applied would read as missing. ``when`` rises through the entries,
    ending before ``now``, because drizzle's own migrator compares it to decide
    what is pending.
    """
    start = now - len(tags)
    entries = [_entry(i, tag, start + i) for i, tag in enumerate(tags)]
    return {"version": "7", "dialect": "postgresql", "entries": entries}


_Down = tuple[str, tuple[str, ...]]
"""The down file's text and the statements it could not invert."""


def _down_text(up: str) -> _Down:
    if up == TEMPLATE:
        return "-- Write the SQL that undoes the up migration here\n", ()
    return infer_down(up)


def _generate_folder(directory: Path, name: str, up: str, down: _Down, now: int) -> Generated:
    """The next ``<timestamp>_name/`` folder of a drizzle-kit 1.0 layout.

    No ``snapshot.json`` is written: it is drizzle-kit's own format, and drizzle-kit 1.0
    (``generate``, ``check``) and drizzle-orm's migrator accept a folder without one, as
    for a ``--custom`` one whose SQL drizzle-kit does not model.
    """
    folder = directory / _next_tag(drizzle.migration_folders(directory), name, now)
    if folder.exists():
        raise SourceError(f"{folder} already exists.", hint="wait a second and run generate again")
    folder.mkdir()
    return _write(folder / drizzle_folders.UP_FILE, folder / drizzle_folders.DOWN_FILE, up, down)


def _generate_flat(directory: Path, name: str, up: str, down: _Down, now: int) -> Generated:
    """The next ``<timestamp>_name.sql`` (and ``.down.sql``) of a drizzle-kit 1.0 folder
    made flat for a ConfigMap. Numbered ``0000_name.sql`` with a new journal, it turned
    the folder into drizzle-kit 0.x's layout, which its ConfigMap then needed the journal
    of too."""
    tags = [n.removesuffix(".sql") for n in drizzle.up_file_names(directory)]
    tag = _next_tag(tags, name, now)
    up_path = directory / f"{tag}.sql"
    if up_path.exists():
        raise SourceError(f"{up_path} already exists.", hint="wait a second and run generate again")
    return _write(up_path, directory / f"{tag}.down.sql", up, down)


def _next_tag(tags: list[str], name: str, now: int) -> str:
    """drizzle-kit 1.0's name for the next migration: now in UTC, but at least a second
    after the newest of ``tags``, so the new one sorts last."""
    times = [t for tag in tags if (t := drizzle_folders.folder_time(tag)) is not None]
    return drizzle_folders.folder_name(max([now, *(t + 1000 for t in times)]), name)


def _write(up_path: Path, down_path: Path, up: str, down: _Down) -> Generated:
    down_text, uninvertible = down
    _refuse_taken(up_path, down_path)
    _write_new(up_path, up if up.endswith("\n") else up + "\n")
    try:
        _write_new(down_path, down_text)
    except BaseException:  # the pair or nothing
        up_path.unlink(missing_ok=True)
        raise
    return Generated(up=up_path, down=down_path, journal=None, uninvertible=uninvertible)


def _refuse_taken(*paths: Path) -> None:
    """Before anything is written: a name already taken, by a file or a link (dangling
    too), is refused with nothing written."""
    for path in paths:
        if os.path.lexists(path):
            raise SourceError(
                f"{path} already exists (a file, or a link); nothing was written.",
                hint="move it out of the way, then run generate again",
            )


def _write_new(path: Path, text: str) -> None:
    """A new file, never through a link: a dangling ``0001_x.down.sql -> /elsewhere`` in
    the folder (a pull request's) had generate create the file it pointed to."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    except FileExistsError:
        raise SourceError(
            f"{path} already exists (a file, or a link); nothing was written.",
            hint="move it out of the way, then run generate again",
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


@contextmanager
def _all_or_nothing(journal: Path, text: str) -> Iterator[list[Path]]:
    """The journal's new text written aside first, then the files the body writes (each
    it appends to the list), then the journal put in place: a failure or an interrupt
    on the way leaves none of them. A link where the journal goes is replaced, not
    written through, and a ``meta`` folder that is a link is refused."""
    folder = journal.parent
    if folder.is_symlink():
        raise SourceError(
            f"{folder} is a link; generate writes only inside the migrations folder, "
            "nothing was written.",
            hint=f"make {folder.name} a folder of its own",
        )
    folder.mkdir(parents=True, exist_ok=True)
    fd, aside = tempfile.mkstemp(dir=folder, prefix=f".{journal.name}.", suffix=".kubemigrate")
    written: list[Path] = []
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        yield written
        os.replace(aside, journal)
    except BaseException:
        for path in (*written, Path(aside)):
            path.unlink(missing_ok=True)
        raise


def generate_migration(directory: Path, name: str, sql_file: Path | None = None) -> Generated:
    tag_name = slug(name)
    up = _read_up(sql_file)
    down = _down_text(up)  # what the SQL makes generate refuse, refused before any write
    now = int(time.time() * 1000)
    found = drizzle.layout(directory)
    if found == "folders":
        return _generate_folder(directory, tag_name, up, down, now)
    if directory.exists() and not directory.is_dir():
        raise SourceError(f"{directory} is not a directory.", hint="pass --dir with a folder")
    # before the flat layout's: dbmate's files have timestamps for names too
    foreign = drizzle.foreign_layout(directory)
    if found == "flat" and foreign is None:
        return _generate_flat(directory, tag_name, up, down, now)
    if foreign is not None:
        tool, example = foreign
        raise SourceError(
            f"{directory} holds {tool} migrations ({example}): generate writes drizzle-kit's "
            "layout, and its journal would make kubemigrate read the folder as drizzle's "
            "(undo scripts and all as migrations); nothing was written.",
            hint=f"write the next migration in {tool}'s layout (kubemigrate reads it with "
            f"--format {tool})",
        )
    directory.mkdir(parents=True, exist_ok=True)
    with _exclusive(directory):
        return _generate_numbered(directory, tag_name, up, down, now)


@contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """One ``generate`` at a time in a folder: two at once (a script adding several
    migrations in parallel) both took the same next number, and the journal kept only
    one of them. The lock is on the folder itself, so no lock file is left in it."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _generate_numbered(directory: Path, tag_name: str, up: str, down: _Down, now: int) -> Generated:
    """The next ``NNNN_name.sql`` with its down file and journal entry (drizzle-kit 0.x)."""
    existing: list[str] = []
    journal_path = drizzle.journal_path(directory)
    if journal_path is not None:
        journal = drizzle.read_journal(journal_path)
        drizzle.journal_tags(directory, journal_path, journal)  # what status would refuse
    else:
        journal_path = directory / "meta" / "_journal.json"
        existing = drizzle.file_name_order(directory) if directory.is_dir() else []
        journal = _journal_of_files(existing, now)
    index = drizzle.next_index(directory) if directory.is_dir() else 0
    tag = f"{index:04d}_{tag_name}"
    up_path, down_path = directory / f"{tag}.sql", directory / f"{tag}.down.sql"
    if up_path.exists():
        raise SourceError(
            f"{up_path} already exists.",
            hint="the journal and the files disagree; check meta/_journal.json",
        )
    down_text, uninvertible = down
    _refuse_taken(up_path, down_path)
    # idx counts entries (as drizzle-kit's does); the file's number only has to be new
    entries = journal["entries"]
    idx = max((int(e.get("idx", i)) for i, e in enumerate(entries)), default=-1) + 1
    entries.append(_entry(idx, tag, now))
    with _all_or_nothing(journal_path, json.dumps(journal, indent=2) + "\n") as written:
        _write_new(up_path, up if up.endswith("\n") else up + "\n")
        written.append(up_path)
        _write_new(down_path, down_text)
        written.append(down_path)
    return Generated(
        up=up_path,
        down=down_path,
        journal=journal_path,
        uninvertible=uninvertible,
        existing=tuple(existing),
        warnings=_unlisted(directory, journal_path, entries),
    )


def _unlisted(directory: Path, journal: Path, entries: list[dict[str, Any]]) -> tuple[str, ...]:
    """What to do about the folder's up files its journal does not list (a hand-made
    file never added to it), as migrate says it: generate numbered past them, and
    without a word they were forgotten."""
    tags = [str(e.get("tag")) for e in entries]
    names, _ = drizzle.migration_shaped(
        drizzle.up_file_names(directory) - {f"{t}.sql" for t in tags}
    )
    if not names:
        return ()
    unlisted = drizzle.unlisted_files(directory, journal, entries, names)
    listed = tuple(
        Migration(name=f"{t}.sql", up_sql=read_text(directory / f"{t}.sql"))
        for t in tags
        if (directory / f"{t}.sql").is_file()
    )
    return unlisted_warnings(unlisted, listed)
