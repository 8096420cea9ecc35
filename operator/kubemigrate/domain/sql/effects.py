"""What a statement does besides its obvious target, read from its syntax tree.

A ``SELECT`` of nothing but ``set_config(name, value, is_local)`` is how pg_dump (and
people copying it) set ``search_path``: it is then a setting, as ``SET`` is.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast

from .naming import strings


@dataclass(frozen=True)
class SetConfig:
    """``SELECT [pg_catalog.]set_config('name', 'value' | NULL, is_local)``."""

    #: The setting's name, lower case (PostgreSQL's names are case-insensitive).
    name: str
    #: None for a NULL value, which resets the setting, as ``RESET`` does.
    value: str | None


_SELECT_CLAUSES = (
    "distinctClause",
    "intoClause",
    "fromClause",
    "whereClause",
    "groupClause",
    "havingClause",
    "windowClause",
    "valuesLists",
    "sortClause",
    "limitOffset",
    "limitCount",
    "lockingClause",
    "withClause",
    "larg",
    "rarg",
)


def set_config(node: ast.Node) -> SetConfig | None:
    """The setting a ``SELECT set_config(...)`` statement makes, when that is all it
    does and its arguments are constants (a value computed from the database could
    differ when the down runs); None otherwise."""
    if not isinstance(node, ast.SelectStmt) or any(getattr(node, c) for c in _SELECT_CLAUSES):
        return None
    targets = node.targetList or ()
    if len(targets) != 1 or not isinstance(targets[0], ast.ResTarget):
        return None
    call = targets[0].val
    if not isinstance(call, ast.FuncCall) or strings(call.funcname) not in (
        ["set_config"],
        ["pg_catalog", "set_config"],
    ):
        return None
    args = call.args or ()
    if (
        len(args) != 3
        or call.agg_filter is not None
        or call.over is not None
        or not all(isinstance(a, ast.A_Const) for a in args)
    ):
        return None
    name, value, local = args
    if not isinstance(name.val, ast.String) or not name.val.sval:
        return None
    if not (local.isnull is False and isinstance(local.val, ast.Boolean | ast.String)):
        return None
    if value.isnull:
        return SetConfig(name.val.sval.lower(), None)
    if not isinstance(value.val, ast.String):
        return None
    return SetConfig(name.val.sval.lower(), value.val.sval or "")
