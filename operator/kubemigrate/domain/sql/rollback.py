"""Inferring the down migration from the up migration.

``kubemigrate generate`` proposes a ``.down.sql`` beside each new migration. A
wrong rollback is worse than none (it runs, in production, at a bad moment), so
only statements whose inverse follows from the statement alone are inverted;
everything that needs the previous state of the database (an old default, a
dropped table's rows, a replaced view, whether an IF NOT EXISTS object was there
already) is listed for a person to write instead.

A statement that changes only an object the file itself creates (a comment on a new
table, its rows, a default, a grant on a new function) needs no inverse: the
object's DROP undoes it (see :mod:`.made`). Nor does a query that provably changes
nothing; one calling a function that may is listed (see :mod:`.effects`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from pglast import ast, enums

from kubemigrate.domain.migrations import NOTHING_TO_UNDO

from .analysis import DATA_OBJECTS, analyse, guarded_statement
from .effects import set_config
from .made import Made, Unit, explained
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

    A down that runs outside a transaction (the up's directive, or DROP INDEX
    CONCURRENTLY) is written to be run again after it stopped midway, as the dirty
    database's advice asks: its DROPs say IF EXISTS.
    """
    parsed = parse_file(sql)
    text, uninvertible = _down(parsed.statements, guard="")
    if parsed.no_transaction_directive or (text and analyse(text).needs_no_transaction):
        text, uninvertible = _down(parsed.statements, guard="IF EXISTS ")
    if not text and not uninvertible:  # VACUUM, ANALYZE, REINDEX...: a deliberate no-op
        return InferredRollback(sql=f"{NOTHING_TO_UNDO}\n", uninvertible=())
    # DROP INDEX CONCURRENTLY beside transactional statements needs the directive,
    # as the up file did; the engine refuses such a file without it.
    if parsed.no_transaction_directive or (text and analyse(text).mixed):
        text = f"{NO_TRANSACTION_DIRECTIVE}\n{text}"
    return InferredRollback(sql=text, uninvertible=tuple(uninvertible))


def _down(statements: tuple[ParsedStatement, ...], *, guard: str) -> tuple[str, list[str]]:
    """The down's text and the up statements it could not invert; ``guard`` is put
    after DROP's object word (``IF EXISTS `` or nothing)."""
    settings: dict[str, str] = {}
    steps: list[tuple[dict[str, str], list[str]]] = []
    uninvertible: list[str] = []
    made = Made()
    for p in statements:
        made.path = settings.get("search_path")
        if _track_setting(settings, p):
            continue
        inverse = _invert(p, made, guard)
        made.note(p.node)
        if inverse.statements:
            steps.append((dict(settings), inverse.statements))
        if inverse.problems:
            uninvertible.append(f"line {p.line}: " + "; ".join(inverse.problems))

    down: list[str] = []
    current: dict[str, str] = {}
    for state, inverses in reversed(steps):
        down.extend(f"RESET {_setting(name)}" for name in sorted(current.keys() - state.keys()))
        down.extend(text for name, text in state.items() if current.get(name) != text)
        current = state
        down.extend(inverses)
    # and back to the session's own: a batch rollback runs the next down in this
    # session, which would otherwise drop its objects under this file's search_path
    down.extend(f"RESET {_setting(name)}" for name in sorted(current))
    return f"\n{BREAKPOINT}\n".join(f"{s};" for s in down), uninvertible


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


def _invert(p: ParsedStatement, made: Made, guard: str) -> _Inverse:
    """Older drizzle-kit wrapped CREATE TYPE and ADD CONSTRAINT (which have no IF NOT
    EXISTS) in a DO block that swallows duplicate_object: the same hazard."""
    inner = guarded_statement(p)
    if inner is None:
        return _invert_statement(p, made, guard)
    inverse = _invert_statement(inner, made, guard)
    if not inverse.statements:
        return inverse
    return _Inverse(problems=[f"{_summary(inner.text)} ({_GUARDED})"])


_GRANTED = "the privileges held before it are unknown; write its down by hand"
_NOT_PLAIN = (
    "its rows may reach other tables (a trigger, a rule, a default calling a function, a "
    "foreign key or inheritance from an older table, a partition of one): write its down "
    "by hand"
)


def _invert_statement(p: ParsedStatement, made: Made, guard: str) -> _Inverse:
    node, q = p.node, Quoter(p.quoted)
    done = _Inverse()

    def drop(word: str, name: str) -> _Inverse:
        return _Inverse([f"DROP {word} {guard}{name}"])

    def cannot(why: str, what: str | None = None) -> _Inverse:
        return _Inverse(problems=[f"{what or _summary(p.text)} ({why})"])

    replaced = "the definition it replaced is unknown"
    if _temporary(node) or _on_temporary(node, made):
        return done  # gone with the session that made it; a DROP would find another
    if isinstance(node, ast.IndexStmt):
        owner = made.relation(node.relation)
        if (not node.idxname or node.if_not_exists) and _undone(node, owner, made):
            return done  # its table's DROP takes it (an IF NOT EXISTS one was made or not)
    if getattr(node, "if_not_exists", False):
        return cannot(_IF_NOT_EXISTS)
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
        # outside a transaction, always: run again after a stop midway, it must pass
        exists = "IF EXISTS " if node.concurrent else guard
        return _Inverse([f"DROP INDEX {concurrently}{exists}{name}"])
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
        return _Inverse([_drop_function(node, q, guard)])
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
        return _invert_alter_table(node, q, made, guard)
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
        if made.type_(strings(node.typeName)) is not None:
            return done  # the type's DROP takes the value with it
        return cannot("PostgreSQL cannot remove a value from an enum")
    if isinstance(node, ast.CommentStmt):
        return done if _commented_made(node, made) else cannot("the previous comment is unknown")
    if isinstance(node, ast.GrantStmt | ast.GrantRoleStmt | ast.AlterOwnerStmt):
        if _privileges_undone(node, made):
            return done
        if isinstance(node, ast.AlterOwnerStmt):
            return cannot("the previous owner is unknown; write its down by hand")
        return cannot(_GRANTED)
    if isinstance(node, _ALTERED) and _undone(node, _altered(node, made), made):
        return done  # what it changes goes with the object's DROP
    if isinstance(node, ast.DropStmt):
        names = ", ".join(human(object_parts(o)) for o in node.objects or ())
        what = f"DROP {object_word(node.removeType)} {names}"
        if node.removeType in DATA_OBJECTS:
            return cannot("data cannot be restored", what)
        return cannot("its definition is not in this migration", what)
    if isinstance(node, ast.TruncateStmt):
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        if not cascade and all(_plain_table(r, made) for r in node.relations or ()):
            return done  # the file's own rows, in tables its down drops
        return cannot("data cannot be restored")
    if isinstance(node, ast.DropdbStmt | ast.DropOwnedStmt):
        return cannot("data cannot be restored")
    if isinstance(node, _DML):
        unit = None if made.is_temporary(node.relation) else made.relation(node.relation)
        if unit is not None and unit.kind == "table" and not unit.plain:
            return cannot(_NOT_PLAIN)
        if not _plain_table(node.relation, made) or _copy_elsewhere(node):
            return cannot("data changes are not inverted")
        found = made.side_effects(node)
        # rows in a table this file created go with its DROP, unless writing them
        # changed something else too
        return cannot(f"{'; '.join(found)}: write its down by hand") if found else done
    if isinstance(node, ast.SelectStmt):
        found = made.side_effects(node)
        return cannot(f"{'; '.join(found)}: write its down by hand") if found else done
    query = explained(node)
    if query is not None:  # EXPLAIN ANALYZE runs the statement: it is that statement's
        return _invert_statement(replace(p, node=query), made, guard)
    if isinstance(node, _NOTHING_TO_UNDO):
        return done
    if isinstance(node, ast.DoStmt):
        return cannot("procedural code is not inverted")
    return cannot(f"no inverse is known for {type(node).__name__}")


#: Statements that change one object's definition, undone by that object's DROP.
_ALTERED = (
    ast.AlterFunctionStmt
    | ast.AlterSeqStmt
    | ast.AlterDomainStmt
    | ast.AlterPolicyStmt
    | ast.RuleStmt
)

_RELATION_OBJECTS = frozenset(
    {_O.OBJECT_TABLE, _O.OBJECT_VIEW, _O.OBJECT_MATVIEW, _O.OBJECT_SEQUENCE, _O.OBJECT_INDEX}
    | {_O.OBJECT_FOREIGN_TABLE}
)
#: Objects that live on a table: (table parts ..., name).
_TABLE_PARTS = frozenset(
    {_O.OBJECT_TABCONSTRAINT, _O.OBJECT_TRIGGER, _O.OBJECT_POLICY, _O.OBJECT_RULE}
)
_FUNCTIONS = frozenset({_O.OBJECT_FUNCTION, _O.OBJECT_PROCEDURE, _O.OBJECT_ROUTINE})


def _undone(node: ast.Node, unit: Unit | None, made: Made) -> bool:
    """Whether ``unit``'s DROP undoes ``node`` (see :meth:`Made.independent`)."""
    return unit is not None and made.independent(node, unit)


def _altered(node: ast.Node, made: Made) -> Unit | None:
    """The object an ALTER FUNCTION/SEQUENCE/DOMAIN/POLICY or CREATE RULE changes,
    when this file created it."""
    if isinstance(node, ast.AlterFunctionStmt):
        return made.function(node.func)
    if isinstance(node, ast.AlterSeqStmt):
        unit = made.relation(node.sequence)
        return unit if unit is not None and unit.kind == "sequence" else None
    if isinstance(node, ast.AlterDomainStmt):
        return made.type_(strings(node.typeName))
    if isinstance(node, ast.AlterPolicyStmt):
        return made.relation(node.table)
    if isinstance(node, ast.RuleStmt) and not node.replace:
        return made.relation(node.relation)
    return None


def _on_temporary(node: ast.Node, made: Made) -> bool:
    """A statement on a temporary relation this file created: gone with the up's
    session, it needs nothing in the down, whose session has none (an inverse there
    would find a real table of the same name)."""
    if isinstance(node, ast.AlterTableStmt | ast.IndexStmt | ast.CreateTrigStmt | ast.RuleStmt):
        return made.is_temporary(node.relation)
    if isinstance(node, ast.CreatePolicyStmt | ast.AlterPolicyStmt):
        return made.is_temporary(node.table)
    if isinstance(node, ast.AlterSeqStmt):
        return made.is_temporary(node.sequence)
    if isinstance(node, ast.ViewStmt):
        return made.reads_temporary(node.query)
    if isinstance(node, ast.RenameStmt):
        return made.is_temporary(node.relation)
    if isinstance(node, ast.TruncateStmt):
        return all(made.is_temporary(r) for r in node.relations or ())
    if isinstance(node, ast.DropStmt) and node.removeType in _RELATION_OBJECTS:
        return all(made.is_temporary_name(object_parts(o)) for o in node.objects or ())
    if isinstance(node, ast.CommentStmt):
        parts = object_parts(node.object)
        if node.objtype in _RELATION_OBJECTS:
            return made.is_temporary_name(parts)
        if node.objtype == _O.OBJECT_COLUMN or node.objtype in _TABLE_PARTS:
            return made.is_temporary_name(parts[:-1])
    if isinstance(node, ast.GrantStmt) and node.objtype in {_O.OBJECT_TABLE, _O.OBJECT_SEQUENCE}:
        return node.targtype == enums.GrantTargetType.ACL_TARGET_OBJECT and all(
            isinstance(o, ast.RangeVar) and made.is_temporary(o) for o in node.objects or ()
        )
    return False


def _copy_elsewhere(node: ast.Node) -> bool:
    """A COPY that writes a file or runs a program (COPY TO, COPY FROM PROGRAM)."""
    return isinstance(node, ast.CopyStmt) and (not node.is_from or bool(node.is_program))


def _plain_table(rv: ast.RangeVar | None, made: Made) -> bool:
    """A table this file created whose rows touch nothing else (see ``Unit.plain``)."""
    if made.is_temporary(rv):
        return True  # rows gone with the session (a trigger on it: the file's too)
    unit = made.relation(rv)
    return unit is not None and unit.kind == "table" and unit.plain


def _commented_made(node: ast.CommentStmt, made: Made) -> bool:
    """A comment on an object this file created (a table, a column of one or added to
    another, a constraint, trigger, policy or rule on one, an index, a type, a
    function, a schema, an extension, a role): its DROP removes the comment."""
    kind, parts = node.objtype, object_parts(node.object)
    if kind in _RELATION_OBJECTS:
        return made.relation_named(parts) is not None
    if kind == _O.OBJECT_COLUMN:
        return made.relation_named(parts[:-1]) is not None or made.column_named(
            parts[:-1], parts[-1] if parts else ""
        )
    if kind in _TABLE_PARTS:
        return made.relation_named(parts[:-1]) is not None
    if kind in {_O.OBJECT_TYPE, _O.OBJECT_DOMAIN}:
        return made.type_(parts) is not None
    if kind in _FUNCTIONS or kind == _O.OBJECT_SCHEMA:
        return _object_made(kind, node.object, made)
    if kind == _O.OBJECT_EXTENSION:
        return bool(parts) and parts[0] in made.extensions
    if kind == _O.OBJECT_ROLE:
        return bool(parts) and parts[0] in made.roles
    return False


def _privileges_undone(
    node: ast.GrantStmt | ast.GrantRoleStmt | ast.AlterOwnerStmt, made: Made
) -> bool:
    """GRANT/REVOKE on objects this file created, ALTER ... OWNER TO of one, or a
    membership of a role it created: the DROP removes them. Not when it gives
    something to a role this file created: that role's DROP comes first in the down
    when it was created after the object, and PostgreSQL refuses to drop a role
    that holds privileges or owns objects."""
    if isinstance(node, ast.GrantRoleStmt):
        granted = [r.priv_name for r in node.granted_roles or () if isinstance(r, ast.AccessPriv)]
        return any(r in made.roles for r in granted) or any(
            made.owned_role(r) for r in node.grantee_roles or ()
        )
    if isinstance(node, ast.AlterOwnerStmt):
        if made.owned_role(node.newowner):
            return False
        return _object_made(node.objectType, node.object, made)
    if node.targtype != enums.GrantTargetType.ACL_TARGET_OBJECT or not node.objects:
        return False  # ON ALL TABLES IN SCHEMA ...: not only objects this file made
    if any(made.owned_role(r) for r in node.grantees or ()):
        return False
    return all(_object_made(node.objtype, o, made) for o in node.objects)


def _object_made(kind: enums.ObjectType | None, obj: object, made: Made) -> bool:
    if kind in _RELATION_OBJECTS:
        parts = object_parts(obj)
        return made.relation_named(parts) is not None or made.is_temporary_name(parts)
    if kind in _FUNCTIONS:
        return isinstance(obj, ast.ObjectWithArgs) and made.function(obj) is not None
    if kind in {_O.OBJECT_TYPE, _O.OBJECT_DOMAIN}:
        return made.type_(object_parts(obj)) is not None
    if kind == _O.OBJECT_SCHEMA:
        parts = object_parts(obj)
        return bool(parts) and parts[0] in made.schemas
    return False


def _drop_function(node: ast.CreateFunctionStmt, q: Quoter, guard: str) -> str:
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
    return f"DROP {word} {guard}{q.name(strings(node.funcname))}({', '.join(args)})"


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


#: Subcommands without an inverse of their own that the DROP of the relation this
#: file created undoes (an unnamed constraint and ADD COLUMN IF NOT EXISTS too).
_UNDONE_WITH_RELATION = frozenset(
    {
        _T.AT_ColumnDefault,
        _T.AT_AlterColumnType,
        _T.AT_SetLogged,
        _T.AT_SetUnLogged,
        _T.AT_SetRelOptions,
        _T.AT_ResetRelOptions,
        _T.AT_ReplaceRelOptions,
        _T.AT_SetOptions,
        _T.AT_ResetOptions,
        _T.AT_SetStatistics,
        _T.AT_SetStorage,
        _T.AT_SetCompression,
        _T.AT_SetAccessMethod,
        _T.AT_SetTableSpace,
        _T.AT_ClusterOn,
        _T.AT_DropCluster,
        _T.AT_ReplicaIdentity,
        _T.AT_EnableTrig,
        _T.AT_EnableAlwaysTrig,
        _T.AT_EnableReplicaTrig,
        _T.AT_DisableTrig,
        _T.AT_EnableTrigAll,
        _T.AT_DisableTrigAll,
        _T.AT_EnableTrigUser,
        _T.AT_DisableTrigUser,
        _T.AT_EnableRule,
        _T.AT_EnableAlwaysRule,
        _T.AT_EnableReplicaRule,
        _T.AT_DisableRule,
        _T.AT_ChangeOwner,
        _T.AT_AlterConstraint,
        _T.AT_AddIdentity,
        _T.AT_SetIdentity,
        _T.AT_DropIdentity,
        _T.AT_SetExpression,
        _T.AT_DropExpression,
        _T.AT_AddInherit,
        _T.AT_DropInherit,
        _T.AT_AddOf,
        _T.AT_DropOf,
        _T.AT_GenericOptions,
        _T.AT_AlterColumnGenericOptions,
    }
)
#: ... and those the DROP COLUMN of a column this file added to an older table undoes.
_UNDONE_WITH_COLUMN = frozenset(
    {
        _T.AT_ColumnDefault,
        _T.AT_AlterColumnType,
        _T.AT_SetOptions,
        _T.AT_ResetOptions,
        _T.AT_SetStatistics,
        _T.AT_SetStorage,
        _T.AT_SetCompression,
        _T.AT_AddIdentity,
        _T.AT_SetIdentity,
        _T.AT_DropIdentity,
        _T.AT_SetExpression,
        _T.AT_DropExpression,
        _T.AT_AlterColumnGenericOptions,
    }
)


def _invert_alter_table(node: ast.AlterTableStmt, q: Quoter, made: Made, guard: str) -> _Inverse:
    """Each subcommand inverted, in reverse order, in one ALTER statement.

    A toggle (row level security, NOT NULL) on a table or column this file created is
    reversed; on an older one it may only have re-asserted what was there, and its
    reverse would change it (a down turning row level security off), so it is listed.
    What the relation's (or an added column's) DROP undoes needs no inverse: a
    default, an unnamed constraint, a type, an owner, options ...
    """
    word = object_word(node.objtype)
    what = "ATTRIBUTE" if node.objtype == _O.OBJECT_TYPE else "COLUMN"
    only = node.objtype in {_O.OBJECT_TABLE, _O.OBJECT_FOREIGN_TABLE}
    head = f"ALTER {word} {_if_exists(node.missing_ok)}{q.relation(node.relation, only=only)}"
    table = f"ALTER {word} {human(relation_parts(node.relation))}"
    owner = made.relation(node.relation)
    subs: list[str] = []
    problems: list[str] = []

    def settled(cmd: ast.AlterTableCmd) -> bool:
        st, definition = cmd.subtype, cmd.def_
        if cmd.behavior == enums.DropBehavior.DROP_CASCADE or made.owned_role(cmd.newowner):
            return False  # it reaches further, or the role's DROP may come first
        if owner is not None:
            if st == _T.AT_AddColumn:
                undone = bool(cmd.missing_ok)
            elif st == _T.AT_AddConstraint:
                undone = isinstance(definition, ast.Constraint) and not (
                    definition.conname or definition.indexname
                )
            else:
                undone = st in _UNDONE_WITH_RELATION
            return undone and made.independent(cmd, owner)
        unit = made.column_unit(node.relation, cmd.name)
        return unit is not None and st in _UNDONE_WITH_COLUMN and made.independent(cmd, unit)

    for cmd in node.cmds or ():
        if not isinstance(cmd, ast.AlterTableCmd):  # pragma: no cover - grammar guarantees it
            continue
        st = cmd.subtype
        column = q.ident(cmd.name or "?")
        if settled(cmd):
            continue
        if st == _T.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            added = cmd.def_.colname or "?"
            if cmd.missing_ok:
                problems.append(f"{table} ADD {what} IF NOT EXISTS {added} ({_IF_NOT_EXISTS})")
            else:
                subs.append(f"DROP {what} {guard}{q.ident(added)}")
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
                subs.append(f"DROP CONSTRAINT {guard}{q.ident(cmd.def_.conname)}")
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
