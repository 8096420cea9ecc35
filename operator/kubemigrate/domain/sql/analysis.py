"""What a migration file's statements will do, decided before anything runs.

The engine needs two answers per file before it opens a transaction: can the
file run inside one (PostgreSQL refuses some statements there with SQLSTATE
25001, and a file that mixes both kinds can be neither atomic nor run as is),
and does it destroy data (a production run warns, or asks, first). Both come
from the syntax tree, never from matching text, so a ``DROP TABLE`` inside a
string or a comment is not one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pglast import ast, enums

from .naming import human, object_parts, object_word, relation_parts, render
from .parsing import NO_TRANSACTION_DIRECTIVE, ParsedStatement, parse_file, statement_spans

#: Where dropping the object loses rows or state that no migration can recreate.
DATA_OBJECTS = frozenset(
    {
        enums.ObjectType.OBJECT_TABLE,
        enums.ObjectType.OBJECT_MATVIEW,
        enums.ObjectType.OBJECT_SEQUENCE,
        enums.ObjectType.OBJECT_SCHEMA,
    }
)

_WHOLE_DATABASE_REINDEX = frozenset(
    {
        enums.ReindexObjectType.REINDEX_OBJECT_SCHEMA,
        enums.ReindexObjectType.REINDEX_OBJECT_SYSTEM,
        enums.ReindexObjectType.REINDEX_OBJECT_DATABASE,
    }
)

_PREPARED = frozenset(
    {
        enums.TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
        enums.TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED,
    }
)

_REFRESHING = frozenset(
    {
        enums.AlterSubscriptionType.ALTER_SUBSCRIPTION_SET_PUBLICATION,
        enums.AlterSubscriptionType.ALTER_SUBSCRIPTION_ADD_PUBLICATION,
        enums.AlterSubscriptionType.ALTER_SUBSCRIPTION_DROP_PUBLICATION,
    }
)

# drizzle-kit (before 0.2x) wrapped statements that may already have been applied
# in ``DO $$ BEGIN <stmt>; EXCEPTION WHEN duplicate_object THEN null; END $$``.
_GUARDED_BLOCK = re.compile(
    r"\A\s*BEGIN\s+(?P<body>.*?);?\s*EXCEPTION\s+WHEN\s+\w+(?:\s+OR\s+\w+)*\s+THEN\s+"
    r"null\s*;\s*END\s*;?\s*\Z",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class IndexBuild:
    """The indexes a CONCURRENTLY statement builds or rebuilds, as the statement names
    them. Such a build that fails leaves its index behind, INVALID (unused by queries,
    a UNIQUE one enforcing nothing, still written to), and a later ``IF NOT EXISTS``
    or ``REINDEX TABLE`` skips it with a notice: the statement succeeds and the index
    stays INVALID. So the engine asks the catalog about these once the statement has
    run, rather than take its success for a valid index."""

    kind: str
    """``table``: the indexes of ``relation`` (CREATE INDEX, which names the one it
    builds in ``index`` unless PostgreSQL picks its name; REINDEX TABLE); ``index``:
    the index ``relation`` (REINDEX INDEX) and the ``_ccnew``/``_ccold`` copies its
    failed rebuilds leave; ``schema``: the schema ``relation`` names (REINDEX SCHEMA);
    ``database``: every schema but the system's (REINDEX DATABASE)."""
    relation: tuple[str, ...] = ()
    """The name as written, in parts (``("app", "users")``), as the parser read them."""
    index: str | None = None
    """The index's own name (in its table's schema): CREATE INDEX's, or REINDEX
    INDEX's last part."""

    @property
    def relation_sql(self) -> str:
        """``relation`` quoted as SQL writes a name, for ``to_regclass``: resolved by the
        server as the statement's was (the search_path for an unqualified name)."""
        return ".".join('"' + part.replace('"', '""') + '"' for part in self.relation)


@dataclass(frozen=True)
class Statement:
    """One statement of a migration file, as the engine executes and reports it."""

    #: The statement as written in the file, without its ``;`` or the comments and
    #: blank lines around it: what the engine sends when it runs statements one by one.
    text: str
    #: Index into the file's text (a ``str`` index, not a UTF-8 byte offset).
    offset: int
    line: int
    #: pglast node name, e.g. ``"CreateStmt"``.
    kind: str
    #: False when PostgreSQL refuses it inside a transaction block (SQLSTATE 25001).
    transactional: bool
    #: What it destroys, for a production warning (``"DROP TABLE users"``), or None.
    destructive: str | None
    #: A session's SET or RESET (not SET LOCAL): it takes effect inside a transaction or
    #: outside one, so it makes a file neither kind (``SET lock_timeout`` before a
    #: CREATE INDEX CONCURRENTLY is what squawk's require-lock-timeout asks for).
    session: bool = False
    #: The indexes it builds CONCURRENTLY (CREATE INDEX, REINDEX), or None.
    index_build: IndexBuild | None = None
    #: An index built, rebuilt or dropped CONCURRENTLY: it waits for other transactions
    #: (every older snapshot in the database) without blocking the application's reads
    #: and writes, so a lock timeout there protects nobody and leaves it half done.
    concurrent_index: bool = False
    #: It may set the session's lock_timeout: SET or RESET it (SET LOCAL included),
    #: RESET ALL, DISCARD ALL, ``set_config('lock_timeout', ...)``.
    sets_lock_timeout: bool = False


@dataclass(frozen=True)
class AnalysedSql:
    statements: tuple[Statement, ...]
    #: The file has a ``-- kubemigrate:no-transaction`` comment line.
    no_transaction_directive: bool
    #: BEGIN/COMMIT/SAVEPOINT...: the engine owns transactions and refuses these.
    transaction_control: tuple[Statement, ...]

    @property
    def needs_no_transaction(self) -> bool:
        return self.no_transaction_directive or any(not s.transactional for s in self.statements)

    @property
    def mixed(self) -> bool:
        """Both kinds present: not atomic either way, so it needs the directive."""
        kinds = {s.transactional for s in self.statements if not s.session}
        return len(kinds) == 2

    @property
    def destructive(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.destructive)

    @property
    def without_default_lock_timeout(self) -> frozenset[int]:
        """The 1-based numbers of the statements that are ``concurrent_index``, to run
        without the lock timeout kubemigrate sets by default: none when the file may
        set one itself (whoever chose a lock timeout for the build gets it)."""
        if any(s.sets_lock_timeout for s in self.statements):
            return frozenset()
        return frozenset(n for n, s in enumerate(self.statements, start=1) if s.concurrent_index)

    @property
    def index_builds(self) -> tuple[tuple[int, IndexBuild], ...]:
        """(1-based statement number, what it builds) of each CONCURRENTLY index build."""
        return tuple(
            (number, s.index_build)
            for number, s in enumerate(self.statements, start=1)
            if s.index_build is not None
        )


def analyse(sql: str, *, server_version_num: int = 170000) -> AnalysedSql:
    """Split and classify a file; raises :class:`SqlSyntaxError` if it does not parse.

    ``server_version_num`` matters because PostgreSQL 12 lifted the rule that
    ``ALTER TYPE ... ADD VALUE`` must run outside a transaction.
    """
    if len(sql) > _LARGE:
        return _analyse_large(sql, server_version_num)
    parsed = parse_file(sql)
    created: set[tuple[str, ...]] = set()
    statements = tuple(_statement(p, server_version_num, created) for p in parsed.statements)
    control = tuple(s for s in statements if s.kind == "TransactionStmt")
    return AnalysedSql(statements, parsed.no_transaction_directive, control)


# Past this size a file is analysed statement by statement, and a row-loading
# statement by its first word: pglast's tree of a 12 MB INSERT took 0.9 GB.
_LARGE = 1 << 20
_LOADS_ROWS = re.compile(r"(?i)\s*(INSERT|COPY)\b")
_DIRECTIVE_LINE = re.compile(rf"(?m)(?:^|(?<=\s)){re.escape(NO_TRANSACTION_DIRECTIVE)}[ \t\r]*$")


def _analyse_large(sql: str, version: int) -> AnalysedSql:
    """A large file: each statement parsed on its own, except an INSERT or COPY, whose
    first word says all the engine asks of it (it runs in a transaction, destroys
    nothing) while its tree would take some 80 times the text's size."""
    statements: list[Statement] = []
    created: set[tuple[str, ...]] = set()
    line, last = 1, 0
    for text, offset in statement_spans(sql):
        line += sql.count("\n", last, offset)
        last = offset
        loads = _LOADS_ROWS.match(text)
        if loads and len(text) > _LARGE // 16:
            kind = "InsertStmt" if loads[1].upper() == "INSERT" else "CopyStmt"
            statements.append(Statement(text, offset, line, kind, True, None))
            continue
        for parsed in parse_file(text).statements:
            placed = ParsedStatement(
                parsed.text,
                parsed.offset + offset,
                line + parsed.line - 1,
                parsed.node,
                parsed.quoted,
            )
            statements.append(_statement(placed, version, created))
    control = tuple(s for s in statements if s.kind == "TransactionStmt")
    return AnalysedSql(tuple(statements), bool(_DIRECTIVE_LINE.search(sql)), control)


def split_statements(sql: str) -> list[Statement]:
    """The file's statements in order (classified for a current server)."""
    return list(analyse(sql).statements)


def guarded_statement(p: ParsedStatement) -> ParsedStatement | None:
    """The statement inside drizzle's ``DO ... EXCEPTION WHEN ... THEN null`` guard."""
    node = p.node
    if not isinstance(node, ast.DoStmt):
        return None
    body = None
    for arg in node.args or ():
        if isinstance(arg, ast.DefElem):
            if arg.defname == "language" and isinstance(arg.arg, ast.String):
                if (arg.arg.sval or "").lower() != "plpgsql":
                    return None
            elif arg.defname == "as" and isinstance(arg.arg, ast.String):
                body = arg.arg.sval
    match = _GUARDED_BLOCK.match(body or "")
    if match is None:
        return None
    try:
        inner = parse_file(match["body"]).statements
    except ValueError:
        return None  # PL/pgSQL that is not a plain SQL statement
    if len(inner) != 1:
        return None
    return ParsedStatement(inner[0].text, p.offset, p.line, inner[0].node, inner[0].quoted)


def _statement(p: ParsedStatement, version: int, created: set[tuple[str, ...]]) -> Statement:
    """``created`` holds the tables the file's earlier statements created (added to
    here): they hold only the file's own rows, so dropping or rewriting them loses
    nothing that was there before, and a warning about them would teach people to
    skip the warnings."""
    node = (guarded_statement(p) or p).node
    destructive = _destructive(node, created)
    if isinstance(node, ast.CreateStmt):
        created.add(tuple(relation_parts(node.relation)))
    elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        created.add(tuple(relation_parts(node.into.rel)))
    return Statement(
        text=p.text,
        offset=p.offset,
        line=p.line,
        kind=type(p.node).__name__,
        transactional=_transactional(p.node, version),
        destructive=destructive,
        session=isinstance(p.node, ast.VariableSetStmt) and not p.node.is_local,
        index_build=(build := _index_build(p.node)),
        # DROP ... CONCURRENTLY is DROP INDEX's alone
        concurrent_index=build is not None
        or (isinstance(p.node, ast.DropStmt) and bool(p.node.concurrent)),
        sets_lock_timeout=_sets_lock_timeout(p.node, p.text),
    )


_SET_CONFIG_LOCK_TIMEOUT = re.compile(r"set_config\s*\(\s*'lock_timeout'", re.IGNORECASE)


def _sets_lock_timeout(node: ast.Node, text: str) -> bool:
    """See ``Statement.sets_lock_timeout``."""
    if isinstance(node, ast.VariableSetStmt):
        return node.kind == enums.VariableSetKind.VAR_RESET_ALL or node.name == "lock_timeout"
    if isinstance(node, ast.DiscardStmt):
        return node.target == enums.DiscardMode.DISCARD_ALL
    return bool(_SET_CONFIG_LOCK_TIMEOUT.search(text))


def _index_build(node: ast.Node) -> IndexBuild | None:
    """What a CREATE INDEX CONCURRENTLY or REINDEX ... CONCURRENTLY builds (see
    ``IndexBuild``); None for any other statement, a build inside a transaction
    included (it either makes a valid index or leaves nothing)."""
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        # a catalog name is the current database's or an error: the name is the rest
        table = tuple(relation_parts(node.relation))[-2:]
        return IndexBuild("table", table, node.idxname or None)
    if not isinstance(node, ast.ReindexStmt) or not _option(
        node.params, "concurrently", default=False
    ):
        return None
    kind = node.kind
    if kind == enums.ReindexObjectType.REINDEX_OBJECT_INDEX:
        index = tuple(relation_parts(node.relation))[-2:]
        return IndexBuild("index", index, index[-1] if index else None)
    if kind == enums.ReindexObjectType.REINDEX_OBJECT_TABLE:
        return IndexBuild("table", tuple(relation_parts(node.relation))[-2:])
    if kind == enums.ReindexObjectType.REINDEX_OBJECT_SCHEMA and node.name:
        return IndexBuild("schema", (node.name,))
    return IndexBuild("database")


def _option(options: Iterable[object] | None, name: str, default: bool) -> bool:
    """A boolean ``WITH (name = ...)`` option the way PostgreSQL's defGetBoolean reads it."""
    for opt in options or ():
        if isinstance(opt, ast.DefElem) and opt.defname == name:
            arg = opt.arg
            if arg is None:
                return True
            if isinstance(arg, ast.Boolean):
                return bool(arg.boolval)
            if isinstance(arg, ast.Integer):
                return arg.ival != 0
            if isinstance(arg, ast.String):
                return (arg.sval or "").lower() in {"true", "on", "yes", "1", "t", "y"}
            return True
    return default


def _has(options: Iterable[object] | None, name: str) -> bool:
    return any(isinstance(o, ast.DefElem) and o.defname == name for o in options or ())


def _transactional(node: ast.Node, version: int) -> bool:
    """Mirrors PostgreSQL's PreventInTransactionBlock calls (checked against 15)."""
    if isinstance(node, ast.IndexStmt | ast.DropStmt):
        return not node.concurrent
    if isinstance(node, ast.ReindexStmt):
        return node.kind not in _WHOLE_DATABASE_REINDEX and not _option(
            node.params, "concurrently", default=False
        )
    if isinstance(node, ast.VacuumStmt):
        return not node.is_vacuumcmd  # ANALYZE alone is fine
    if isinstance(
        node,
        ast.CreatedbStmt
        | ast.DropdbStmt
        | ast.AlterSystemStmt
        | ast.CreateTableSpaceStmt
        | ast.DropTableSpaceStmt
        # Refused whenever the subscription still has a replication slot, which
        # is the default; assuming so costs atomicity, not a failed run.
        | ast.DropSubscriptionStmt,
    ):
        return False
    if isinstance(node, ast.AlterDatabaseStmt):
        return not _has(node.options, "tablespace")
    if isinstance(node, ast.ClusterStmt):
        return node.relation is not None  # bare CLUSTER reclusters every table
    if isinstance(node, ast.DiscardStmt):
        return node.target != enums.DiscardMode.DISCARD_ALL
    if isinstance(node, ast.TransactionStmt):
        return node.kind not in _PREPARED
    if isinstance(node, ast.AlterEnumStmt):
        return node.oldVal is not None or version >= 120000
    if isinstance(node, ast.AlterTableStmt):
        return not any(
            isinstance(cmd, ast.AlterTableCmd)
            and isinstance(cmd.def_, ast.PartitionCmd)
            and cmd.subtype == enums.AlterTableType.AT_DetachPartition
            and cmd.def_.concurrent
            for cmd in node.cmds or ()
        )
    if isinstance(node, ast.CreateSubscriptionStmt):
        connect = _option(node.options, "connect", default=True)
        return not _option(node.options, "create_slot", default=connect)
    if isinstance(node, ast.AlterSubscriptionStmt):
        if node.kind == enums.AlterSubscriptionType.ALTER_SUBSCRIPTION_REFRESH:
            return False
        if node.kind in _REFRESHING:
            return not _option(node.options, "refresh", default=True)
    return True


def _destructive(node: ast.Node, created: set[tuple[str, ...]]) -> str | None:
    """What ``node`` destroys, leaving out tables in ``created`` (matched by the name as
    written: ``users`` and ``public.users`` may be one table or two, so they differ here
    and the warning stays)."""

    def older(rv: ast.RangeVar | None) -> bool:
        return tuple(relation_parts(rv)) not in created

    if isinstance(node, ast.DropStmt):
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        if node.removeType not in DATA_OBJECTS and not cascade:
            return None  # views, indexes, functions ...: no rows are lost
        objects = list(node.objects or ())
        if node.removeType == enums.ObjectType.OBJECT_TABLE and not cascade:
            objects = [o for o in objects if tuple(object_parts(o)) not in created]
            if not objects:
                return None
        names = ", ".join(human(object_parts(o)) for o in objects)
        return f"DROP {object_word(node.removeType)} {names}" + (" CASCADE" if cascade else "")
    if isinstance(node, ast.DropdbStmt):
        return f"DROP DATABASE {node.dbname}"
    if isinstance(node, ast.DropOwnedStmt):
        roles = ", ".join(
            r.rolename or "?" for r in node.roles or () if isinstance(r, ast.RoleSpec)
        )
        return f"DROP OWNED BY {roles}"
    if isinstance(node, ast.TruncateStmt):
        relations = [r for r in node.relations or () if older(r)]
        if not relations:
            return None
        return f"TRUNCATE {', '.join(human(object_parts(r)) for r in relations)}"
    if isinstance(node, ast.DeleteStmt) and node.whereClause is None and older(node.relation):
        return f"DELETE FROM {human(relation_parts(node.relation))} without WHERE"
    if isinstance(node, ast.UpdateStmt) and node.whereClause is None and older(node.relation):
        return f"UPDATE {human(relation_parts(node.relation))} without WHERE"
    if isinstance(node, ast.AlterTableStmt) and older(node.relation):
        table = human(relation_parts(node.relation))
        what = "ATTRIBUTE" if node.objtype == enums.ObjectType.OBJECT_TYPE else "COLUMN"
        found: list[str] = []
        for cmd in node.cmds or ():
            if not isinstance(cmd, ast.AlterTableCmd):
                continue
            if cmd.subtype == enums.AlterTableType.AT_DropColumn:
                found.append(f"DROP {what} {table}.{cmd.name}")
            elif cmd.subtype == enums.AlterTableType.AT_AlterColumnType:
                typ = cmd.def_.typeName if isinstance(cmd.def_, ast.ColumnDef) else None
                suffix = f" TYPE {render(typ)}" if typ is not None else " TYPE"
                found.append(f"ALTER {what} {table}.{cmd.name}{suffix}")
        return "; ".join(found) or None
    return None
