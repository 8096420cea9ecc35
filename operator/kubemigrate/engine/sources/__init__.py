"""Migration directory formats, each read into the same ``[Migration]``.

drizzle-kit's layout is the native one; other tools' layouts have their own
readers so teams can switch to kubemigrate without renaming files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kubemigrate.domain.errors import SourceError, UsageError
from kubemigrate.domain.migrations import Migration, Unlisted

FORMATS = ("drizzle", "golang-migrate", "flyway", "dbmate")


@dataclass(frozen=True)
class Source:
    """What a directory holds, plus anything odd worth a warning."""

    directory: Path
    migrations: tuple[Migration, ...]
    warnings: tuple[str, ...] = field(default=())
    fmt: str = "drizzle"
    """The layout read: the tool that migrated the database before, if another one did."""
    unlisted: tuple[Unlisted, ...] = field(default=())
    """Up files a drizzle journal does not list: never run; the runner says so, and how
    to list one (or that it is an applied migration's entry lost)."""


def read_text(path: str | os.PathLike[str]) -> str:
    """A migration file's text; undecodable bytes are an input error, not a crash.

    Takes a plain string path too: a thousand-file folder is read on every ``status``,
    and pathlib's per-file objects were a measurable part of it, as was a text-mode
    file's decoder set-up (so bytes are decoded here, and line endings translated as
    text mode would).
    """
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{os.path.basename(path)} is not valid UTF-8 (byte {exc.start}).",
            hint="save the file as UTF-8",
        ) from None
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror}.") from None
    # a byte-order mark (some Windows editors write one) is no SQL: sent as it is, the
    # server reads it as part of the first word (the checksum ignores it already)
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


_BOM = b"\xef\xbb\xbf"


def line_ending_forms(data: bytes) -> frozenset[bytes]:
    """``data`` as other checkouts of the same file hold it: CRLF or LF line endings (git's
    core.autocrlf converts them on checkout and back on commit), with or without a BOM,
    and with or without a line ending after the last line (an editor adds one, a
    conversion tool may leave a lone CR there). None of these changes a statement."""
    body = data.removeprefix(_BOM)
    lf = body.replace(b"\r\n", b"\n")
    flat = lf.replace(b"\r", b"\n")  # lone CRs too, as a checksum normalises them
    texts = {body, lf, flat, lf.replace(b"\n", b"\r\n"), flat.replace(b"\n", b"\r\n")}
    ended = set()
    for text in texts:
        bare = text.removesuffix(b"\n").removesuffix(b"\r")
        ended |= {text, bare, bare + b"\n", bare + b"\r\n"}
    return frozenset(ended | {_BOM + text for text in ended})


def raw_hashes(source: Source) -> dict[str, frozenset[str]]:
    """SHA-256 of each up file as drizzle's migrator may have hashed it, by migration
    name: the bytes it read (a checksum normalises CRLF and drops a BOM), from this
    checkout or from one with other line endings (see ``line_ending_forms``): a
    database migrated by drizzle from a Windows checkout, adopted from a Linux CI's, is
    no edit. Files are found in both drizzle-kit layouts (``NAME.sql``,
    ``NAME/migration.sql``); a file that is not there has none."""
    import hashlib

    from kubemigrate.engine.sources.drizzle_folders import UP_FILE

    found: dict[str, frozenset[str]] = {}
    for migration in source.migrations:
        stem = migration.name.removesuffix(".sql")
        for path in (source.directory / migration.name, source.directory / stem / UP_FILE):
            if path.is_file():
                forms = line_ending_forms(path.read_bytes())
                found[migration.name] = frozenset(hashlib.sha256(f).hexdigest() for f in forms)
                break
    return found


def drizzle_times(source: Source) -> frozenset[int]:
    """The ``created_at`` drizzle's migrator records for the files here, which it goes
    by: a 0.x journal entry's ``when``, a 1.0 folder's timestamp. A file edited after it
    ran keeps its time; that is how a history is told to be this folder's."""
    from kubemigrate.engine.sources import drizzle, drizzle_folders

    names = {m.name for m in source.migrations}
    times = {
        t
        for name in names
        if (t := drizzle_folders.folder_time(name.removesuffix(".sql"))) is not None
    }
    journal = drizzle.journal_path(source.directory)
    if journal is not None:
        try:
            entries = drizzle.read_journal(journal)["entries"]
        except SourceError:  # read when the folder was loaded; unreadable now: no times
            entries = []
        times |= {
            e["when"] for e in entries if f"{e['tag']}.sql" in names and type(e.get("when")) is int
        }
    return frozenset(times)


def require_directory(directory: Path) -> None:
    if not directory.exists():
        raise SourceError(
            f"Migration directory {directory} does not exist.",
            hint="pass --dir with the folder holding your migrations, or create the first "
            "one with `kubemigrate generate NAME`",
        )
    if not directory.is_dir():
        raise SourceError(f"{directory} is not a directory.", hint="pass --dir with a folder")


def load(directory: Path, fmt: str = "drizzle", *, allow_empty: bool = False) -> Source:
    """Read ``directory`` in format ``fmt``; an empty folder is an error unless allowed."""
    require_directory(directory)
    if fmt == "drizzle":
        from kubemigrate.engine.sources import drizzle

        source = drizzle.load(directory)
    elif fmt in FORMATS:
        from kubemigrate.engine.sources import others

        source = others.load(directory, fmt)
    else:
        raise UsageError(
            f"Unknown migration format {fmt!r}.", hint=f"use one of: {', '.join(FORMATS)}"
        )
    _refuse_links_out(directory, source.migrations)
    if not source.migrations:
        _refuse_unread(directory, fmt)
    if not source.migrations and not allow_empty:
        raise SourceError(
            f"No migrations found in {directory} (format {fmt}).",
            hint="check --dir and --format, or create one with `kubemigrate generate NAME`",
        )
    return source


def _refuse_links_out(directory: Path, migrations: Sequence[Migration]) -> None:
    """A migration file that is a link to a file outside the folder (a pull request's
    ``0002_x.sql -> ~/.git-credentials``): its text came back in a syntax error, and a
    down file's was stored in the tracking table as rollback SQL. Links within the folder
    stay (a ConfigMap volume's files are links into its ``..data``)."""
    with os.scandir(directory) as entries:  # one listing: a lstat per file was 10 ms a status
        links = {entry.name for entry in entries if entry.is_symlink()}
    root = os.path.realpath(directory)
    for migration in migrations:
        files = [migration.up_file]
        if migration.down_sql is not None:
            files.append(migration.down_written.file)
        for name in files:
            top, nested, _ = name.partition("/")  # drizzle-kit 1.0's <folder>/migration.sql
            if top not in links and not (nested and os.path.islink(directory / name)):
                continue
            path = os.path.join(directory, name)
            if os.path.commonpath([root, os.path.realpath(path)]) != root:
                raise SourceError(
                    f"{name} is a link to a file outside {directory}; nothing of it was used.",
                    hint="put the migration's SQL in the folder itself",
                )


def _refuse_unread(directory: Path, fmt: str) -> None:
    """SQL files none of which the format reads: another tool's layout, most likely. A
    status or verify would otherwise pass a CI gate on an empty reading."""
    sql = sorted(name for name in os.listdir(directory) if name.lower().endswith(".sql"))
    nested = directory / "db" / "migrations"  # a dbmate project's root, given as --dir
    if not sql and fmt != "dbmate" and nested.is_dir():
        inside = sorted(p.name for p in nested.glob("*.sql"))
        if inside:
            raise SourceError(
                f"{directory} holds no migrations, but {nested} holds {len(inside)} .sql "
                f"file(s), where dbmate keeps them ({inside[0]}).",
                hint="pass --format dbmate",
            )
    if not sql:
        return
    from kubemigrate.engine.sources import drizzle, others

    found: tuple[str, str] | None
    if fmt == "drizzle":
        found = drizzle.foreign_layout(directory)
        if found is None:
            return  # a journal that lists none of them: its warnings name each one
    elif drizzle.journal_path(directory) or drizzle.migration_folders(directory):
        found = ("drizzle", sql[0])
    else:
        readers = (f for f in ("flyway", "golang-migrate", "dbmate") if f != fmt)
        found = next(((f, name) for f in readers if (name := others.first_of(directory, f))), None)
    guess = f"; they look like {found[0]}'s ({found[1]})" if found else ""
    raise SourceError(
        f"{directory} holds {len(sql)} .sql file(s), but none in {fmt}'s layout{guess}.",
        hint=f"pass --format {found[0]}" if found else "check --dir and --format",
    )
