"""A migration's SQL made ready to run: split into statements, its transaction mode
decided, and what cannot run safely refused, before a batch's first statement.

Every file of a batch goes through ``prepare`` before anything runs, so a syntax error
or a forbidden statement in the last file leaves the database untouched. Most files
need only drizzle's breakpoints and a syntax check; the parser's full analysis is kept
for the files that may hold a statement PostgreSQL refuses in a transaction block.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from kubemigrate.domain import planning
from kubemigrate.domain.errors import MigrationFailed, UsageError
from kubemigrate.domain.migrations import Step

if TYPE_CHECKING:
    from kubemigrate.domain.sql import AnalysedSql, IndexBuild, Statement

BREAKPOINT = re.compile(r"-->\s*statement-breakpoint[^\n]*")


@dataclass(frozen=True)
class PreparedStep:
    """A step with its statements parsed and its transaction mode decided."""

    step: Step
    statements: tuple[tuple[str, int], ...]
    """(statement text, character offset in the file) pairs."""
    transactional: bool
    unwrapped: tuple[tuple[str, int], ...] = ()
    """The ``BEGIN``/``COMMIT`` a file was wrapped in, which do not run (``_unwrapped``)."""
    index_builds: tuple[tuple[int, IndexBuild], ...] = ()
    """(1-based statement number, what it builds) of its CONCURRENTLY index builds,
    whose indexes are checked once the file has run (``AnalysedSql.index_builds``):
    known from the analysis ``prepare`` does anyway, so other files pay nothing."""
    first_change: int = 1
    """The number of its first statement that is no session SET or RESET: one failing
    there left nothing of the migration behind but what it left itself."""
    without_default_lock_timeout: frozenset[int] = frozenset()
    """The numbers of its statements that build, rebuild or drop an index CONCURRENTLY,
    run without kubemigrate's default lock timeout (``AnalysedSql``'s)."""


# Words that may start a statement PostgreSQL refuses in a transaction block, or one
# that controls the transaction itself. A file without any of them cannot need
# special handling, so it gets a syntax check only; a file with one (even in a
# comment or a plpgsql body) gets the full analysis. Looked up as a set of the
# file's lowercased words: a case-insensitive alternation of twenty words took four
# times as long over a thousand files, and this runs before a batch's first statement.
_NEEDS_PARSER = frozenset(
    ("concurrently", "vacuum", "database", "tablespace", "system", "begin", "commit",
     "rollback", "savepoint", "release", "abort", "end", "start", "prepare", "prepared",
     "subscription", "discard", "cluster", "reindex", "value", "stdin", "stdout")
)  # fmt: skip
_WORD = re.compile(r"[a-z_]+")
_DESTRUCTIVE_WORDS = frozenset(("drop", "truncate", "delete", "update", "alter"))
_CLIENT_COPY = re.compile(r"\b(?:FROM|TO)\s+(?:STDIN|STDOUT)\b", re.IGNORECASE)


def _needs_parser(sql: str) -> bool:
    lowered = sql.lower()
    return "kubemigrate:no-transaction" in lowered or not _NEEDS_PARSER.isdisjoint(
        _WORD.findall(lowered)
    )


def split_on_breakpoints(text: str) -> tuple[tuple[str, int], ...]:
    """drizzle's own splitting: the breakpoint comments, nothing else."""
    chunks: list[tuple[str, int]] = []
    start = 0
    for match in [*BREAKPOINT.finditer(text), None]:
        end = match.start() if match else len(text)
        chunk = text[start:end]
        stripped = chunk.strip()
        if stripped:
            chunks.append((stripped, start + chunk.index(stripped)))
        if match:
            start = match.end()
    return tuple(chunks)


def _psql_hint(sql: str, line: int) -> str | None:
    """What to do when the line the parser stopped at is psql's, not SQL: a backslash
    command (pg_dump's restrict and connect lines, an include) or a COPY data block."""
    lines = sql.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    before = "\n".join(lines[: line - 1]).lower()
    if text.startswith("\\"):
        return (
            f"{text.split()[0]} is a psql meta-command, not SQL: the server never sees it, "
            "and a migration is sent to the server; remove it (a pg_dump file's \\restrict "
            "and \\connect lines can go; an \\i include becomes its own migration)"
        )
    if _CLIENT_COPY.search(before[-2000:]):
        return (
            "this reads as the data of a COPY ... FROM stdin, which only psql can send: "
            "load the rows with INSERT ... VALUES (pg_dump --inserts writes them so)"
        )
    return None


_Checked = TypeVar("_Checked")


def _whole_or_pieces(sql: str, check: Callable[[str], _Checked]) -> list[tuple[int, _Checked]]:
    """``check`` of the file whole, or, when it does not parse whole and has breakpoints,
    of each piece between them with its offset, as drizzle's migrator sends it: a custom
    file's statements may lack the ``;`` that only the breakpoint stands for. A syntax
    error points into the whole file."""
    from kubemigrate.domain.sql import SqlSyntaxError

    try:
        return [(0, check(sql))]
    except SqlSyntaxError:
        chunks = split_on_breakpoints(sql)
        if len(chunks) < 2:
            raise
    found = []
    for text, offset in chunks:
        try:
            found.append((offset, check(text)))
        except SqlSyntaxError as exc:
            line = exc.line + sql.count("\n", 0, offset)
            raise SqlSyntaxError(exc.message, line=line, offset=exc.offset + offset) from None
    return found


def _spans(sql: str) -> tuple[tuple[str, int], ...]:
    """The file's statements and offsets, split by the parser (see ``_whole_or_pieces``)."""
    from kubemigrate.domain.sql import statement_spans

    return tuple(
        (text, start + offset)
        for start, spans in _whole_or_pieces(sql, statement_spans)
        for text, offset in spans
    )


def _analysed(sql: str, version: int) -> AnalysedSql:
    """The file analysed (see ``_whole_or_pieces``), each statement placed in the whole
    file."""
    from kubemigrate.domain import sql as sqlmod

    parts = _whole_or_pieces(sql, lambda t: sqlmod.analyse(t, server_version_num=version))
    if len(parts) == 1:
        return parts[0][1]

    def placed(statement: Statement, offset: int) -> Statement:
        line = statement.line + sql.count("\n", 0, offset)
        return dataclasses.replace(statement, offset=statement.offset + offset, line=line)

    return sqlmod.AnalysedSql(
        statements=tuple(placed(st, off) for off, a in parts for st in a.statements),
        no_transaction_directive=any(a.no_transaction_directive for _, a in parts),
        transaction_control=tuple(
            placed(st, off) for off, a in parts for st in a.transaction_control
        ),
    )


def destroys_data(steps: Sequence[Step]) -> tuple[str, ...]:
    """What a production migrate would destroy (DROP TABLE, DROP COLUMN, TRUNCATE, a
    DELETE without WHERE ...), said before it runs, in the plan, the log and the
    result: no rollback brings those rows back. A file that does not parse is left to
    ``prepare``, which refuses it."""
    from kubemigrate.domain import sql as sqlmod

    found: list[str] = []
    for step in steps:
        if _DESTRUCTIVE_WORDS.isdisjoint(_WORD.findall(step.sql.lower())):
            continue  # no word of such a statement: no tree to build (0.4 s per 1000)
        try:
            analysed = _analysed(step.sql, 170000)  # between breakpoints, as it runs
        except sqlmod.SqlSyntaxError:
            continue
        for statement in analysed.destructive:
            at = step.place(statement.offset)  # the file's line, as a failure's
            found.append(
                f"{step.name} line {at.line}{at.of} destroys data no rollback restores: "
                f"{statement.destructive}"
            )
    return tuple(found)


# CREATE INDEX CONCURRENTLY, with its index's name when the statement gives one
_CONCURRENT_INDEX = re.compile(
    r"(?is)^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b"
    r"(?:\s+(?:IF\s+NOT\s+EXISTS\s+)?(?!ON\b)(?P<name>\"[^\"]+\"|[\w.$]+))?"
)


def concurrent_index(statement: str) -> tuple[bool, str | None]:
    """Whether ``statement`` is a CREATE INDEX CONCURRENTLY, and the index name it gives
    (None: PostgreSQL chooses one). Such a statement that fails (duplicate keys, a lock
    timeout) may leave its index behind, INVALID, and the next migrate, after
    ``repair``, then fails on it with 42P07."""
    found = _CONCURRENT_INDEX.match(statement)
    return (found is not None, found["name"] if found else None)


def index_builds(sql: str) -> tuple[tuple[int, IndexBuild], ...]:
    """The CONCURRENTLY index builds of a migration's SQL, numbered as it runs them
    (``PreparedStep.index_builds``), for a file that is not being run: an applied
    one (``status``, ``verify``) or a dirty one (``repair``). A file without the word
    costs a substring search and no parse (a status with 1000 applied asks only when
    some index is INVALID); one that does not parse builds nothing that could be
    checked."""
    from kubemigrate.domain import sql as sqlmod

    if "concurrently" not in sql.lower():
        return ()
    try:
        return _unwrapped(_analysed(sql, 170000)).index_builds
    except sqlmod.SqlSyntaxError:
        return ()


def invalid_index_note(left: Sequence[str]) -> str:
    """The hint's note on the INVALID indexes a failed CREATE INDEX CONCURRENTLY left,
    as the database names them (none: it failed before making one, a missing column)."""
    if not left:
        return ""
    them = "it" if len(left) == 1 else "them"
    drops = "; ".join(f"DROP INDEX CONCURRENTLY {name}" for name in left)
    return (
        f"; the failed CREATE INDEX CONCURRENTLY left {', '.join(left)} behind, INVALID: "
        f"drop {them} ({drops}) before the next migrate"
    )


_BEGIN = ("BEGIN", "BEGIN TRANSACTION", "BEGIN WORK", "START TRANSACTION")
_COMMIT = ("COMMIT", "COMMIT TRANSACTION", "COMMIT WORK", "END", "END TRANSACTION", "END WORK")


def _unwrapped(analysed: AnalysedSql) -> AnalysedSql:
    """A file wrapped whole in a plain ``BEGIN; ... COMMIT;`` (golang-migrate leaves
    transactions to its files, so its users write them) asks for what kubemigrate does
    anyway, one transaction around the file: it runs without the two."""
    control, statements = analysed.transaction_control, analysed.statements
    if (
        len(control) != 2
        or analysed.no_transaction_directive
        or (control[0].offset, control[1].offset) != (statements[0].offset, statements[-1].offset)
    ):
        return analysed

    def said(statement: Statement) -> str:
        return " ".join(statement.text.upper().split())

    if said(control[0]) not in _BEGIN or said(control[1]) not in _COMMIT:
        return analysed
    inside = statements[1:-1]
    if not all(s.transactional for s in inside):
        return analysed  # CREATE INDEX CONCURRENTLY in it: the file fails under psql too
    return dataclasses.replace(analysed, statements=inside, transaction_control=())


def prepare(step: Step, server_version_num: int) -> PreparedStep:
    """Split a step's SQL and decide how it runs, refusing what cannot run safely."""
    from kubemigrate.domain import sql as sqlmod

    planning.refuse_unwritten(step)
    version = server_version_num or 170000
    try:
        if not _needs_parser(step.sql):
            chunks = split_on_breakpoints(step.sql)
            if all(";" not in text.rstrip().rstrip(";") for text, _ in chunks):
                _whole_or_pieces(step.sql, sqlmod.check_syntax)
                return PreparedStep(step=step, statements=chunks, transactional=True)
            # nothing to classify (no word of a statement that needs it): the parser's
            # boundaries are all it takes, and they cost a fraction of its tree
            return PreparedStep(step=step, statements=_spans(step.sql), transactional=True)
        analysed = _analysed(step.sql, version)
    except sqlmod.SqlSyntaxError as exc:
        at = step.place(exc.offset)
        raise MigrationFailed(
            f"{step.name} ({step.direction}): {exc.message} at line {at.line}{at.of} "
            "(SQLSTATE 42601); nothing was run.",
            hint=_psql_hint(step.sql, exc.line)
            or "fix the SQL; every file of the batch is parsed before anything runs",
            migration=step.name,
            sqlState="42601",
            position=f"line {at.line}",
            file=at.file or None,
        ) from None
    wrapper = analysed.transaction_control
    analysed = _unwrapped(analysed)
    if analysed.transaction_control:
        first = analysed.transaction_control[0]
        at = step.place(first.offset)
        raise UsageError(
            f"{step.name} ({step.direction}) line {at.line}{at.of}: "
            f"{first.text.split()[0].upper()} controls the transaction itself; nothing was run.",
            hint="remove BEGIN/COMMIT: kubemigrate runs each migration in its own transaction "
            "(add `-- kubemigrate:no-transaction` to run a file outside one)",
            migration=step.name,
            position=f"line {at.line}",
            file=at.file or None,
        )
    client_copy = next(
        (s for s in analysed.statements if s.kind == "CopyStmt" and _CLIENT_COPY.search(s.text)),
        None,
    )
    if client_copy is not None:
        at = step.place(client_copy.offset)
        raise UsageError(
            f"{step.name} line {at.line}{at.of}: COPY ... STDIN/STDOUT moves rows between the "
            "server and a client such as psql (pg_dump's data blocks are psql's); a migration "
            "has no client side to read or write them; nothing was run.",
            hint="load the rows with INSERT ... VALUES, or COPY from a file on the database "
            "server; a COPY TO STDOUT belongs in a script, not a migration",
            migration=step.name,
            position=f"line {at.line}",
            file=at.file or None,
        )
    if analysed.mixed and not analysed.no_transaction_directive:
        outside = next(s for s in analysed.statements if not s.transactional)
        at = step.place(outside.offset)
        raise UsageError(
            f"{step.name} mixes a statement that cannot run in a transaction (line "
            f"{at.line}{at.of}: {outside.text.splitlines()[0][:60]}) with statements that "
            "should; nothing was run.",
            hint="move it to a migration of its own, or add the line "
            "`-- kubemigrate:no-transaction` "
            "to run the whole file outside a transaction (a failure midway then leaves the "
            "database marked dirty)",
            migration=step.name,
            position=f"line {at.line}",
            file=at.file or None,
        )
    return PreparedStep(
        step=step,
        statements=tuple((s.text, s.offset) for s in analysed.statements),
        transactional=not analysed.needs_no_transaction,
        unwrapped=tuple((s.text, s.offset) for s in wrapper),
        index_builds=analysed.index_builds,
        first_change=next(
            (n for n, s in enumerate(analysed.statements, start=1) if not s.session), 1
        ),
        without_default_lock_timeout=analysed.without_default_lock_timeout,
    )
