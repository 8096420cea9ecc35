"""Where drizzle's migrator keeps its history, and how kubemigrate names that table.

drizzle-orm's ``migrate()`` writes ``drizzle.__drizzle_migrations`` unless it is given
``migrationsSchema`` / ``migrationsTable`` (drizzle-kit's ``migrations: { schema,
table }``), which teams set when several applications share a database or the role
may not create a schema (``public.__drizzle_migrations``). Either way the table has
one of two shapes, created by the migrator itself:

- drizzle-orm 0.x (and 1.0 before it upgrades a table): ``id serial PRIMARY KEY,
  hash text NOT NULL, created_at bigint``;
- drizzle-orm 1.0: the same plus ``name text, applied_at timestamptz`` (1.0 adds the
  two columns to a 0.x table the first time it runs).

``created_at`` is the migration's time (a 0.x journal entry's ``when``, a 1.0
folder's timestamp), not when it ran; ``hash`` the SHA-256 of the file as read.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from kubemigrate.domain.errors import UsageError

FLAG = "--drizzle-table"

DRIZZLE_SHAPES: tuple[dict[str, str], ...] = (
    {"id": "integer", "hash": "text", "created_at": "bigint"},
    {
        "id": "integer",
        "hash": "text",
        "created_at": "bigint",
        "name": "text",
        "applied_at": "timestamp with time zone",
    },
)
"""The columns (name: ``format_type``) of the tables drizzle-orm's migrators create,
exactly: a table of another shape is not looked at unless it is named."""

TABLE_NAME_PATTERN = r'^("([^"]|"")+"|[^."]+)\.("([^"]|"")+"|[^."]+)$'
"""What ``parse_table_name`` accepts, as a regular expression (the CRD's pattern for
``spec.drizzleTable``, which the API server checks)."""

_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")
_WORD = re.compile(r"\w+", re.ASCII)


@dataclass(frozen=True, order=True)
class TableName:
    """A schema-qualified table name, as PostgreSQL stores it (case kept)."""

    schema: str
    name: str

    def __str__(self) -> str:
        """As SQL writes it, quoted where it must be: a hint's ``SELECT created_at FROM
        ...`` can be pasted into psql."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def as_flag(self) -> str:
        """As ``--drizzle-table`` takes it on a shell's command line: as drizzle's config
        writes the names when that reads back the same (case kept), else quoted."""
        if _WORD.fullmatch(self.schema) and _WORD.fullmatch(self.name):
            return f"{self.schema}.{self.name}"
        return shlex.quote(str(self))


DRIZZLE_DEFAULT = TableName("drizzle", "__drizzle_migrations")


def quote_ident(name: str) -> str:
    if _PLAIN.fullmatch(name) and not _reserved(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _reserved(name: str) -> bool:
    from pglast.keywords import RESERVED_KEYWORDS  # only when a name is shown

    return name in RESERVED_KEYWORDS


def parse_table_name(text: str, *, flag: str = FLAG) -> TableName:
    """``SCHEMA.TABLE`` as drizzle's config names them (``migrationsSchema``,
    ``migrationsTable``): each part taken as written, case included (drizzle quotes
    them), or double-quoted as in SQL for a name holding a dot or a quote."""
    parts = _identifiers(text)
    if parts is None or len(parts) != 2 or not all(parts):
        raise UsageError(
            f"{flag} {text!r} is not SCHEMA.TABLE.",
            hint="give drizzle's migrationsSchema and migrationsTable joined by a dot, e.g. "
            "public.__drizzle_migrations (the schema is drizzle unless it was set)",
        )
    return TableName(parts[0], parts[1])


def _identifiers(text: str) -> list[str] | None:
    """The dot-separated parts of ``text``, a part in double quotes unquoted (``""``
    standing for one quote); None when a quote is left open or stray."""
    parts: list[str] = []
    i = 0
    while True:
        if text.startswith('"', i):
            end = i + 1
            word = ""
            while True:
                close = text.find('"', end)
                if close < 0:
                    return None
                word += text[end:close]
                if text.startswith('"', close + 1):  # "" is a quote in the name
                    word += '"'
                    end = close + 2
                    continue
                i = close + 1
                break
        else:
            dot = text.find(".", i)
            word = text[i:] if dot < 0 else text[i:dot]
            if '"' in word:
                return None
            i += len(word)
        parts.append(word)
        if i == len(text):
            return parts
        if text[i] != ".":
            return None
        i += 1


def shape_matches(columns: dict[str, str]) -> bool:
    """Whether ``columns`` (name: ``format_type``) are exactly one of drizzle's shapes."""
    return columns in DRIZZLE_SHAPES


@dataclass(frozen=True)
class DrizzleRows:
    """What a drizzle migrations table holds, as kubemigrate reads it."""

    hashes: frozenset[str]
    times: frozenset[int] = frozenset()
    """Its ``created_at`` values (none when the table has no such column)."""

    def records_any(self, hashes: Iterable[str], times: Iterable[int]) -> bool:
        """Whether a row records one of a folder's files: by the hash of its text, or
        by its time, which drizzle's migrator goes by (a file edited since it ran has
        another hash)."""
        return not (self.hashes.isdisjoint(hashes) and self.times.isdisjoint(times))


@dataclass(frozen=True)
class DrizzleHistory:
    """The table drizzle's history was found in, and its rows."""

    table: TableName
    rows: DrizzleRows
    named: bool = False
    """Named with ``--drizzle-table`` rather than found: the commands that read it
    again (``baseline`` after a refused ``migrate``) need the same flag."""


def ambiguous(tables: Iterable[TableName]) -> UsageError:
    """Two tables of drizzle's shape both record files of this folder: which one
    drizzle's migrator uses now is in its config, not in the database."""
    ordered = sorted(tables)
    names = [str(t) for t in ordered]
    return UsageError(
        f"drizzle's migrations could be recorded in any of {', '.join(names)}: each has "
        "drizzle's columns and records some of these migrations, and which one drizzle's "
        "migrator uses cannot be told from the database; nothing was run.",
        hint=f"name it with {FLAG} SCHEMA.TABLE (drizzle's migrationsSchema and "
        "migrationsTable, or drizzle-kit's migrations.schema and migrations.table), e.g. "
        f"{FLAG} {ordered[0].as_flag()}",
        tables=names,
    )


def named_but_missing(named: TableName, found: Iterable[TableName]) -> UsageError:
    """``--drizzle-table`` names a table that does not exist while others record this
    folder's files: a typo would otherwise run again everything drizzle ran."""
    ordered = sorted(found)
    names = [str(t) for t in ordered]
    return UsageError(
        f"{named} ({FLAG}) does not exist, but {', '.join(names)} "
        f"record{'s' if len(names) == 1 else ''} some of these migrations as drizzle's "
        "history; nothing was run.",
        hint=f"check the name against drizzle's config, or pass {FLAG} {ordered[0].as_flag()}",
        tables=names,
    )
