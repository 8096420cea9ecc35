"""Splitting a migration file into statements with PostgreSQL's own parser.

A hand-written splitter gets dollar-quoted function bodies, strings holding ``;``
and nested comments wrong sooner or later, and a wrong split runs half a statement
against production; so the file goes through libpg_query (via pglast), the
parser the server itself uses. pglast reports locations as ``str`` indexes (it
converts libpg_query's UTF-8 byte offsets), so offsets here index the text the
caller passed in, non-ASCII text included.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast, parser

from kubemigrate.domain.migrations import NO_TRANSACTION_DIRECTIVE as NO_TRANSACTION_DIRECTIVE

_COMMENT_TOKENS = frozenset({"SQL_COMMENT", "C_COMMENT"})


class SqlSyntaxError(ValueError):
    """The file does not parse; ``line``/``offset`` point into the file's text."""

    def __init__(self, message: str, *, line: int, offset: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line
        self.offset = offset


@dataclass(frozen=True)
class ParsedStatement:
    """One statement with its syntax tree, for the analysis and rollback modules."""

    text: str
    offset: int
    line: int
    node: ast.Node
    #: Identifiers written in double quotes, so generated SQL can quote them alike.
    quoted: frozenset[str]


@dataclass(frozen=True)
class ParsedFile:
    statements: tuple[ParsedStatement, ...]
    no_transaction_directive: bool


def line_of(text: str, offset: int) -> int:
    """1-based line number of ``offset`` (CRLF counts once: only LF is counted)."""
    return text.count("\n", 0, offset) + 1


def _syntax_error(sql: str, exc: parser.ParseError) -> SqlSyntaxError:
    message = str(exc.args[0]) if exc.args else str(exc)
    location = exc.args[1] if len(exc.args) > 1 else None
    offset = location if isinstance(location, int) else len(sql)
    return SqlSyntaxError(message, line=line_of(sql, offset), offset=offset)


def check_syntax(sql: str) -> None:
    """Raise :class:`SqlSyntaxError` if ``sql`` does not parse; nothing else.

    The parse stays inside libpg_query, which is many times cheaper than building
    pglast's Python tree: cheap enough to check every pending file before the first
    statement of a batch runs. Asked for the statements' boundaries only, it returns
    a few offsets rather than the whole tree as JSON: half the time, and half the
    memory on a large file (an 8 MB one took 0.4 GB as JSON).
    """
    _slices(sql)


def statement_spans(sql: str) -> list[tuple[str, int]]:
    """The statements of ``sql`` (without their ``;`` and surrounding comments) with
    their offsets; raises :class:`SqlSyntaxError`. Only offsets come back from the
    parser, not a tree: a 20 MB backfill peaked at 17 times its size as one."""
    return [(sql[span], span.start) for span in _slices(sql)]


def _slices(sql: str) -> tuple[slice, ...]:
    source = " " + sql[1:] if sql.startswith("\ufeff") else sql
    try:
        return tuple(parser.split(source, with_parser=True, only_slices=True))
    except parser.ParseError as exc:
        raise _syntax_error(sql, exc) from exc


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _ascii(source: str) -> str:
    """``source`` with every non-ASCII character as ``x``, for the scanner.

    pglast's scan turns each token's byte offset into a character offset by measuring
    the text before it: quadratic once the file holds one non-ASCII character (a 250 kB
    backfill with accents scanned for 9 s, 12 MB never finished). The server's scanner
    reads any non-ASCII character as a letter, as it reads ``x``, so the tokens and
    their character offsets are the same; their text is taken from the real source.
    """
    return source if source.isascii() else _NON_ASCII.sub("x", source)


# A dollar-quote tag with a non-ASCII character: two such ($é$, $ñ$) read alike in the
# stand-in, which could end a body early and scan its text as statements and comments.
_NON_ASCII_TAG = re.compile(r"\$[^$\s]*[^\x00-\x7f][^$\s]*\$")


def _scan(source: str) -> Sequence[Any]:
    """The scanner's tokens, read from the ASCII stand-in; from the text itself when the
    stand-in does not scan (two non-ASCII dollar-quote tags, ``$é$`` and ``$ñ$``, both
    read ``$x$``): slower, but never a refusal of a valid file."""
    if _NON_ASCII_TAG.search(source):
        return parser.scan(source)
    try:
        return parser.scan(_ascii(source))
    except parser.ParseError:
        return parser.scan(source)


def parse_file(sql: str) -> ParsedFile:
    """Parse ``sql`` into statements; raises :class:`SqlSyntaxError`.

    A leading byte-order mark becomes a space for the parser's sake, so every
    offset still indexes the caller's text.
    """
    source = " " + sql[1:] if sql.startswith("\ufeff") else sql
    try:
        raw = parser.parse_sql(source)
        tokens = _scan(source)
    except parser.ParseError as exc:
        raise _syntax_error(sql, exc) from exc

    directive = any(
        tok.name == "SQL_COMMENT"
        and source[tok.start : tok.end + 1].strip() == NO_TRANSACTION_DIRECTIVE
        for tok in tokens
    )

    statements: list[ParsedStatement] = []
    ti = 0
    line = 1
    last = 0
    for rawstmt in raw:
        node = rawstmt.stmt
        start = rawstmt.stmt_location or 0
        length = rawstmt.stmt_len or 0
        end = start + length if length else len(source)
        if node is None:  # pragma: no cover - libpg_query always sets it
            continue
        # The parser's span runs up to the ';' and so can end in comments and
        # blank lines; the statement ends with its last real token instead.
        while ti < len(tokens) and tokens[ti].start < start:
            ti += 1
        text_end = start
        quoted: set[str] = set()
        while ti < len(tokens) and tokens[ti].start < end:
            tok = tokens[ti]
            ti += 1
            if tok.name in _COMMENT_TOKENS:
                continue
            text_end = tok.end + 1
            if tok.name == "IDENT" and source[tok.start] == '"':
                quoted.add(source[tok.start + 1 : tok.end].replace('""', '"'))
        line += source.count("\n", last, start)
        last = start
        statements.append(
            ParsedStatement(
                text=source[start:text_end],
                offset=start,
                line=line,
                node=node,
                quoted=frozenset(quoted),
            )
        )
    return ParsedFile(tuple(statements), directive)
