"""Inferring the down migration from the up migration.

``kubemigrate generate`` proposes a ``.down.sql`` beside each new migration. A
wrong rollback is worse than none (it runs, in production, at a bad moment), so
only statements whose inverse follows from the statement alone are inverted;
everything that needs the previous state of the database (an old default, a
dropped table's rows, a replaced view, whether an IF NOT EXISTS object was there
already) is listed for a person to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pglast import ast, enums

from kubemigrate.domain.migrations import NOTHING_TO_UNDO

from .analysis import DATA_OBJECTS, analyse, guarded_statement
from .effects import set_config
from .naming import Quoter, human, object_parts, object_word, relation_parts, render, strings
from .parsing import NO_TRANSACTION_DIRECTIVE, ParsedStatement, parse_file

#: drizzle-kit's statement separator; the down file uses it too.
BREAKPOINT = "--> statement-breakpoint"

_T = enums.AlterTableType
_O = enums.ObjectType

#: Statements that change no schema, so a rollback has nothing to undo.
_NOTHING_TO_UNDO = (
    ast.TransactionStmt
    | ast.VacuumStmt
    | ast.ReindexStmt
    | ast.ClusterStmt
    | ast.RefreshMatViewStmt
    | ast.LockStmt
    | ast.DiscardStmt
    | ast.LoadStmt
    | ast.CheckPointStmt
    | ast.VariableShowStmt
    | ast.ExplainStmt
)

_DML = ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt | ast.CopyStmt

_RENAMED_RELATIONS = frozenset(
    {_O.OBJECT_TABLE, _O.OBJECT_VIEW, _O.OBJECT_MATVIEW, _O.OBJECT_SEQUENCE, _O.OBJECT_INDEX}
    | {_O.OBJECT_FOREIGN_TABLE}
)

#: Subcommands whose inverse is another subcommand without arguments.
_TOGGLES = {
    _T.AT_EnableRowSecurity: "DISABLE ROW LEVEL SECURITY",
    _T.AT_DisableRowSecurity: "ENABLE ROW LEVEL SECURITY",
    _T.AT_ForceRowSecurity: "NO FORCE ROW LEVEL SECURITY",
    _T.AT_NoForceRowSecurity: "FORCE ROW LEVEL SECURITY",
}

# Scripts say IF NOT EXISTS because the object may predate the migration; dropping
# it on rollback would destroy what the migration never created (a table's rows).
_IF_NOT_EXISTS = (
    "IF NOT EXISTS: the object may have existed before this migration; write its down by hand"
)
_GUARDED = (
    "its DO block ignores errors: the object may have existed before this migration;"
    " write its down by hand"
)


@dataclass(frozen=True)
class InferredRollback:
    #: The down SQL: inverses in reverse order, each ending with ``;``, separated by
    #: drizzle's breakpoint line; empty when nothing could be inverted. It starts
    #: with the no-transaction directive line when the up file had it or when the
    #: down file mixes DROP INDEX CONCURRENTLY with transactional statements.
    sql: str
    #: One line per up statement (or part of one) that has no inverse, with why.
    uninvertible: tuple[str, ...]


@dataclass
class _Inverse:
    statements: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class _Made:
    """Tables and columns the file creates before a statement: a state a later
    statement sets on them was not there before the migration, so its reverse is
    safe; on anything older, whether it was set already is unknown."""

    tables: set[tuple[str, str]] = field(default_factory=set)
    columns: set[tuple[tuple[str, str], str]] = field(default_factory=set)

    def note(self, node: ast.Node) -> None:
        if isinstance(node, ast.CreateStmt) and node.relation is not None:
            table = _key(node.relation)
            self.tables.add(table)
            for column in node.tableElts or ():
                if isinstance(column, ast.ColumnDef) and column.colname:
                    self.columns.add((table, column.colname))
        elif isinstance(node, ast.AlterTableStmt) and node.relation is not None:
            for cmd in node.cmds or ():
                if (
                    isinstance(cmd, ast.AlterTableCmd)
                    and cmd.subtype == _T.AT_AddColumn
                    and isinstance(cmd.def_, ast.ColumnDef)
                    and cmd.def_.colname
                ):
                    self.columns.add((_key(node.relation), cmd.def_.colname))

    def table(self, relation: ast.RangeVar | None) -> bool:
        return relation is not None and _key(relation) in self.tables

    def column(self, relation: ast.RangeVar | None, name: str | None) -> bool:
        return self.table(relation) or (
            relation is not None and (_key(relation), name or "") in self.columns
        )


def _key(relation: ast.RangeVar) -> tuple[str, str]:
    """A table as the file names it: ``docs`` and ``public.docs`` count as two (the
    search_path decides), so a state set on ``b.docs`` after ``CREATE TABLE a.docs``
    is not taken for one this file made."""
    return relation.schemaname or "", relation.relname or ""


def infer_rollback(sql: str) -> InferredRollback:
    """Invert a migration file; raises :class:`SqlSyntaxError` if it does not parse.

    Settings are not inverted but replayed: each inverse runs under the settings
    (``search_path``, ``lock_timeout`` ...) its up statement ran under. A setting is
    a ``SET`` or a ``SELECT set_config(name, value, is_local)`` with constant
    arguments (pg_dump starts its files with ``SELECT
    pg_catalog.set_config('search_path', '', false)``). Replayed as written, each
    means in the down what it meant in the up: ``set_config(..., false)`` holds for
    the session, as ``SET`` does; ``set_config(..., true)``, like ``SET LOCAL``, to the
    end of the transaction, which in a migration run in one is the rest of the file
    (and of its down), and in one run outside a transaction is no further statement,
    in the up as in the down (which runs outside one too).
    """
    parsed = parse_file(sql)
    settings: dict[str, str] = {}
    steps: list[tuple[dict[str, str], list[str]]] = []
    uninvertible: list[str] = []
    made = _Made()
    for p in parsed.statements:
        if _track_setting(settings, p):
            continue
        inverse = _invert(p, made)
        made.note(p.node)
        if inverse.statements:
            steps.append((dict(settings), inverse.statements))
        if inverse.problems:
            uninvertible.append(f"line {p.line}: " + "; ".join(inverse.problems))

    down: list[str] = []
    current: dict[str, str] = {}
    for state, statements in reversed(steps):
        down.extend(f"RESET {_setting(name)}" for name in sorted(current.keys() - state.keys()))
        down.extend(text for name, text in state.items() if current.get(name) != text)
        current = state
        down.extend(statements)
    # and back to the session's own: a batch rollback runs the next down in this
    # session, which would otherwise drop its objects under this file's search_path
    down.extend(f"RESET {_setting(name)}" for name in sorted(current))
    text = f"\n{BREAKPOINT}\n".join(f"{s};" for s in down)
    if not text and not uninvertible:  # VACUUM, ANALYZE, REINDEX...: a deliberate no-op
        return InferredRollback(sql=f"{NOTHING_TO_UNDO}\n", uninvertible=())
    # DROP INDEX CONCURRENTLY beside transactional statements needs the directive,
    # as the up file did; the engine refuses such a file without it.
    if parsed.no_transaction_directive or (text and analyse(text).mixed):
        text = f"{NO_TRANSACTION_DIRECTIVE}\n{text}"
    return InferredRollback(sql=text, uninvertible=tuple(uninvertible))


def _track_setting(settings: dict[str, str], p: ParsedStatement) -> bool:
    """Record the setting ``p`` makes (its text, replayed by the down); False when
    ``p`` is not a setting."""
    node = p.node
    if isinstance(node, ast.VariableSetStmt):
        name = (node.name or "").lower()
        if node.kind == enums.VariableSetKind.VAR_RESET_ALL:
            settings.clear()
        elif node.kind == enums.VariableSetKind.VAR_RESET and name:
            settings.pop(name, None)
        elif node.kind != enums.VariableSetKind.VAR_SET_MULTI and name:
            settings[name] = p.text
        return True
    config = set_config(node)
    if config is None:
        return False
    if config.value is None:  # set_config(name, NULL, ...) resets it
        settings.pop(config.name, None)
    else:
        settings[config.name] = p.text
    return True


_PLAIN_SETTING = re.compile(r"[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)*")


def _setting(name: str) -> str:
    """A setting's name for RESET: set_config takes any text, RESET an identifier."""
    if _PLAIN_SETTING.fullmatch(name):
        return name
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _summary(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _if_exists(flag: bool | None) -> str:
    return "IF EXISTS " if flag else ""


def _temporary(node: ast.Node) -> bool:
    """CREATE TEMP TABLE / VIEW / SEQUENCE (and CREATE TEMP TABLE AS): relpersistence t."""
    relation = (
        getattr(node, "relation", None)
        or getattr(node, "view", None)
        or getattr(node, "sequence", None)
        or getattr(getattr(node, "into", None), "rel", None)
    )
    return isinstance(relation, ast.RangeVar) and relation.relpersistence == "t"


def _invert(p: ParsedStatement, made: _Made) -> _Inverse:
    """Older drizzle-kit wrapped CREATE TYPE and ADD CONSTRAINT (which have no IF NOT
    EXISTS) in a DO block that swallows duplicate_object: the same hazard."""
    inner = guarded_statement(p)
    if inner is None:
        return _invert_statement(p, made)
    inverse = _invert_statement(inner, made)
    if not inverse.statements:
        return inverse
    return _Inverse(problems=[f"{_summary(inner.text)} ({_GUARDED})"])


def _invert_statement(p: ParsedStatement, made: _Made) -> _Inverse:
    node, q = p.node, Quoter(p.quoted)
    done = _Inverse()

    def drop(word: str, name: str) -> _Inverse:
        return _Inverse([f"DROP {word} {name}"])

    def cannot(why: str, what: str | None = None) -> _Inverse:
        return _Inverse(problems=[f"{what or _summary(p.text)} ({why})"])

    if getattr(node, "if_not_exists", False):
        return cannot(_IF_NOT_EXISTS)
    replaced = "the definition it replaced is unknown"
    if _temporary(node):
        return done  # gone with the session that made it; a DROP would find another
    if isinstance(node, ast.CreateStmt):
        return drop("TABLE", q.relation(node.relation))
    if isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        return drop(object_word(node.objtype), q.relation(node.into.rel))
    if isinstance(node, ast.IndexStmt):
        if not node.idxname:
            return cannot("it has no name to drop it by: name the index")
        # An index lives in its table's schema, whatever the search_path.
        schema = node.relation.schemaname if node.relation is not None else None
        name = q.name([schema, node.idxname] if schema else [node.idxname])
        concurrently = "CONCURRENTLY " if node.concurrent else ""
        return _Inverse([f"DROP INDEX {concurrently}{name}"])
    if isinstance(node, ast.CreateEnumStmt | ast.CreateRangeStmt):
        return drop("TYPE", q.name(strings(node.typeName)))
    if isinstance(node, ast.CompositeTypeStmt):
        return drop("TYPE", q.relation(node.typevar))
    if isinstance(node, ast.DefineStmt) and node.kind in {_O.OBJECT_TYPE, _O.OBJECT_COLLATION}:
        return drop(object_word(node.kind), q.name(strings(node.defnames)))
    if isinstance(node, ast.CreateDomainStmt):
        return drop("DOMAIN", q.name(strings(node.domainname)))
    if isinstance(node, ast.ViewStmt):
        if node.replace:
            return cannot(replaced)
        return drop("VIEW", q.relation(node.view))
    if isinstance(node, ast.CreateSeqStmt):
        return drop("SEQUENCE", q.relation(node.sequence))
    if isinstance(node, ast.CreateSchemaStmt):
        if node.schemaElts:
            return cannot("objects created inside CREATE SCHEMA are not inverted")
        schema = node.schemaname or (node.authrole.rolename if node.authrole else None)
        return drop("SCHEMA", q.ident(schema or "?"))
    if isinstance(node, ast.CreateExtensionStmt):
        return drop("EXTENSION", q.ident(node.extname or "?"))
    if isinstance(node, ast.CreateFunctionStmt):
        if node.replace:
            return cannot(replaced)
        return _Inverse([_drop_function(node, q)])
    if isinstance(node, ast.CreateTrigStmt):
        if node.replace:
            return cannot(replaced)
        trigger = q.ident(node.trigname or "?")
        return drop("TRIGGER", f"{trigger} ON {q.relation(node.relation)}")
    if isinstance(node, ast.CreatePolicyStmt):
        policy = q.ident(node.policy_name or "?")
        return drop("POLICY", f"{policy} ON {q.relation(node.table)}")
    if isinstance(node, ast.CreateRoleStmt):
        return drop("ROLE", q.ident(node.role or "?"))
    if isinstance(node, ast.AlterTableStmt):
        return _invert_alter_table(node, q, made)
    if isinstance(node, ast.RenameStmt):
        if node.missing_ok:  # the up may have renamed nothing; the down would rename a twin
            return cannot("IF EXISTS: it may have renamed nothing; write its down by hand")
        renamed = _invert_rename(node, q)
        return _Inverse([renamed]) if renamed else cannot("no inverse is known for this rename")
    if isinstance(node, ast.AlterEnumStmt):
        typ = q.name(strings(node.typeName))
        if node.oldVal is not None and node.newVal is not None:
            old, new = _literal(node.oldVal), _literal(node.newVal)
            return _Inverse([f"ALTER TYPE {typ} RENAME VALUE {new} TO {old}"])
        return cannot("PostgreSQL cannot remove a value from an enum")
    if isinstance(node, ast.CommentStmt):
        return cannot("the previous comment is unknown")
    if isinstance(node, ast.DropStmt):
        names = ", ".join(human(object_parts(o)) for o in node.objects or ())
        what = f"DROP {object_word(node.removeType)} {names}"
        if node.removeType in DATA_OBJECTS:
            return cannot("data cannot be restored", what)
        return cannot("its definition is not in this migration", what)
    if isinstance(node, ast.TruncateStmt | ast.DropdbStmt | ast.DropOwnedStmt):
        return cannot("data cannot be restored")
    if isinstance(node, _DML):
        return cannot("data changes are not inverted")
    if isinstance(node, _NOTHING_TO_UNDO):
        return done
    if isinstance(node, ast.DoStmt):
        return cannot("procedural code is not inverted")
    return cannot(f"no inverse is known for {type(node).__name__}")


def _drop_function(node: ast.CreateFunctionStmt, q: Quoter) -> str:
    """DROP FUNCTION/PROCEDURE with the argument types that identify it (no OUT/TABLE)."""
    identifying = {
        enums.FunctionParameterMode.FUNC_PARAM_IN,
        enums.FunctionParameterMode.FUNC_PARAM_INOUT,
        enums.FunctionParameterMode.FUNC_PARAM_VARIADIC,
        enums.FunctionParameterMode.FUNC_PARAM_DEFAULT,
    }
    args = [
        render(param.argType)
        for param in node.parameters or ()
        if isinstance(param, ast.FunctionParameter)
        and param.mode in identifying
        and param.argType is not None
    ]
    word = "PROCEDURE" if node.is_procedure else "FUNCTION"
    return f"DROP {word} {q.name(strings(node.funcname))}({', '.join(args)})"


# A setting a statement may only re-assert: its reverse would undo what was there.
_MAY_HAVE_BEEN = {
    _T.AT_EnableRowSecurity: "row level security may have been on already: its reverse "
    "would turn it off, and every row would be visible",
    _T.AT_ForceRowSecurity: "row level security may have been forced already",
    _T.AT_DisableRowSecurity: "row level security may have been off already: its reverse "
    "would turn it on, and block every role without a policy",
    _T.AT_NoForceRowSecurity: "row level security may not have been forced",
    _T.AT_SetNotNull: "the column may have been NOT NULL already",
    _T.AT_DropNotNull: "the column may have been nullable already",
}


_SAID = {
    _T.AT_EnableRowSecurity: "ENABLE ROW LEVEL SECURITY",
    _T.AT_ForceRowSecurity: "FORCE ROW LEVEL SECURITY",
    _T.AT_DisableRowSecurity: "DISABLE ROW LEVEL SECURITY",
    _T.AT_NoForceRowSecurity: "NO FORCE ROW LEVEL SECURITY",
    _T.AT_SetNotNull: "ALTER {what} {column} SET NOT NULL",
    _T.AT_DropNotNull: "ALTER {what} {column} DROP NOT NULL",
}


def _invert_alter_table(node: ast.AlterTableStmt, q: Quoter, made: _Made) -> _Inverse:
    """Each subcommand inverted, in reverse order, in one ALTER statement.

    A toggle (row level security, NOT NULL) on a table or column this file created is
    reversed; on an older one it may only have re-asserted what was there, and its
    reverse would change it (a down turning row level security off), so it is listed.
    """
    word = object_word(node.objtype)
    what = "ATTRIBUTE" if node.objtype == _O.OBJECT_TYPE else "COLUMN"
    only = node.objtype in {_O.OBJECT_TABLE, _O.OBJECT_FOREIGN_TABLE}
    head = f"ALTER {word} {_if_exists(node.missing_ok)}{q.relation(node.relation, only=only)}"
    table = f"ALTER {word} {human(relation_parts(node.relation))}"
    subs: list[str] = []
    problems: list[str] = []
    for cmd in node.cmds or ():
        if not isinstance(cmd, ast.AlterTableCmd):  # pragma: no cover - grammar guarantees it
            continue
        st = cmd.subtype
        column = q.ident(cmd.name or "?")
        if st == _T.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            added = cmd.def_.colname or "?"
            if cmd.missing_ok:
                problems.append(f"{table} ADD {what} IF NOT EXISTS {added} ({_IF_NOT_EXISTS})")
            else:
                subs.append(f"DROP {what} {q.ident(added)}")
        elif st in _MAY_HAVE_BEEN and not (
            made.table(node.relation) if st in _TOGGLES else made.column(node.relation, cmd.name)
        ):
            said = _SAID[st].format(what=what, column=cmd.name)
            problems.append(f"{table} {said} ({_MAY_HAVE_BEEN[st]}; write its down by hand)")
        elif st == _T.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            if (
                cmd.def_.contype == enums.ConstrType.CONSTR_PRIMARY
                and not made.table(node.relation)
                and not all(made.column(node.relation, k) for k in strings(cmd.def_.keys))
            ):
                problems.append(
                    f"{table} ADD PRIMARY KEY (its columns are NOT NULL now, and dropping the "
                    "constraint leaves them so: write DROP NOT NULL for those that were nullable)"
                )
            if cmd.def_.indexname:  # the constraint takes the index over: it goes with it
                problems.append(
                    f"{table} ADD CONSTRAINT ... USING INDEX {cmd.def_.indexname} (dropping "
                    "the constraint drops the index it took over: recreate the index by hand)"
                )
            elif cmd.def_.conname:
                subs.append(f"DROP CONSTRAINT {q.ident(cmd.def_.conname)}")
            else:
                problems.append(f"{table} ADD CONSTRAINT (it has no name: name the constraint)")
        elif st == _T.AT_SetNotNull:
            subs.append(f"ALTER {what} {column} DROP NOT NULL")
        elif st == _T.AT_DropNotNull:
            subs.append(f"ALTER {what} {column} SET NOT NULL")
        elif st in _TOGGLES:
            subs.append(_TOGGLES[st])
        elif st == _T.AT_AttachPartition and isinstance(cmd.def_, ast.PartitionCmd):
            if node.objtype == _O.OBJECT_INDEX:  # PostgreSQL cannot detach an index
                problems.append(f"{table} ATTACH PARTITION (an index cannot be detached)")
            else:
                subs.append(f"DETACH PARTITION {q.relation(cmd.def_.name)}")
        elif st == _T.AT_ValidateConstraint:
            continue  # validating changes no definition
        elif st == _T.AT_DropColumn:
            problems.append(f"{table} DROP {what} {cmd.name} (data cannot be restored)")
        elif st == _T.AT_AlterColumnType:
            problems.append(f"{table} ALTER {what} {cmd.name} TYPE (the previous type is unknown)")
        elif st == _T.AT_ColumnDefault:
            action = "SET DEFAULT" if cmd.def_ is not None else "DROP DEFAULT"
            problems.append(
                f"{table} ALTER COLUMN {cmd.name} {action} (the previous default is unknown)"
            )
        elif st == _T.AT_DropConstraint:
            problems.append(f"{table} DROP CONSTRAINT {cmd.name} (its definition is unknown)")
        else:
            name = st.name if st is not None else "?"
            problems.append(f"{table} {name.removeprefix('AT_')} (no inverse is known)")
    statements = [f"{head} {', '.join(reversed(subs))}"] if subs else []
    return _Inverse(statements, problems)


def _invert_rename(node: ast.RenameStmt, q: Quoter) -> str | None:
    """``ALTER ... RENAME`` back; None for renames this does not know."""
    kind, rel, new = node.renameType, node.relation, node.newname
    exists = _if_exists(node.missing_ok)
    if new is None:  # pragma: no cover - grammar guarantees it
        return None
    if kind in _RENAMED_RELATIONS and rel is not None and rel.relname:
        renamed = q.name([p for p in (rel.schemaname, new) if p])
        return f"ALTER {object_word(kind)} {exists}{renamed} RENAME TO {q.ident(rel.relname)}"
    if kind in {_O.OBJECT_COLUMN, _O.OBJECT_TABCONSTRAINT} and rel is not None and node.subname:
        what = "COLUMN" if kind == _O.OBJECT_COLUMN else "CONSTRAINT"
        owner = object_word(node.relationType) if kind == _O.OBJECT_COLUMN else "TABLE"
        target = q.relation(rel, only=True)
        old = q.ident(node.subname)
        return f"ALTER {owner} {exists}{target} RENAME {what} {q.ident(new)} TO {old}"
    if kind in {_O.OBJECT_TRIGGER, _O.OBJECT_POLICY} and rel is not None and node.subname:
        return (
            f"ALTER {object_word(kind)} {q.ident(new)} ON {q.relation(rel)}"
            f" RENAME TO {q.ident(node.subname)}"
        )
    if kind == _O.OBJECT_SCHEMA and node.subname:
        return f"ALTER SCHEMA {q.ident(new)} RENAME TO {q.ident(node.subname)}"
    if kind in {_O.OBJECT_TYPE, _O.OBJECT_DOMAIN}:
        parts = object_parts(node.object)
        if parts:
            renamed = q.name([*parts[:-1], new])
            return f"ALTER {object_word(kind)} {renamed} RENAME TO {q.ident(parts[-1])}"
    return None
