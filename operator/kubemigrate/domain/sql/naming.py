"""Names in the syntax tree, for people (warnings) and for generated SQL.

Generated rollback SQL quotes an identifier when the migration quoted it, so a
drizzle file full of ``"users"`` gets a down file in the same style, and
otherwise only when PostgreSQL needs it; either way it names the same object.
"""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast, enums

# pglast.stream (its SQL printer) is imported where SQL is rendered: the engine's
# analysis before a batch needs names, not rendering, and pays for the import only
# when a file really needs it.

_WORDS: dict[enums.ObjectType, str] = {
    enums.ObjectType.OBJECT_MATVIEW: "MATERIALIZED VIEW",
    enums.ObjectType.OBJECT_FOREIGN_TABLE: "FOREIGN TABLE",
    enums.ObjectType.OBJECT_FDW: "FOREIGN DATA WRAPPER",
    enums.ObjectType.OBJECT_FOREIGN_SERVER: "SERVER",
    enums.ObjectType.OBJECT_ACCESS_METHOD: "ACCESS METHOD",
    enums.ObjectType.OBJECT_TABCONSTRAINT: "CONSTRAINT",
    enums.ObjectType.OBJECT_TSCONFIGURATION: "TEXT SEARCH CONFIGURATION",
    enums.ObjectType.OBJECT_TSDICTIONARY: "TEXT SEARCH DICTIONARY",
    enums.ObjectType.OBJECT_TSPARSER: "TEXT SEARCH PARSER",
    enums.ObjectType.OBJECT_TSTEMPLATE: "TEXT SEARCH TEMPLATE",
    enums.ObjectType.OBJECT_OPCLASS: "OPERATOR CLASS",
    enums.ObjectType.OBJECT_OPFAMILY: "OPERATOR FAMILY",
    enums.ObjectType.OBJECT_EVENT_TRIGGER: "EVENT TRIGGER",
    enums.ObjectType.OBJECT_STATISTIC_EXT: "STATISTICS",
}


def object_word(objtype: enums.ObjectType | None) -> str:
    """SQL keyword(s) for an object type: ``OBJECT_MATVIEW`` -> ``MATERIALIZED VIEW``."""
    if objtype is None:
        return "OBJECT"
    return _WORDS.get(objtype) or objtype.name.removeprefix("OBJECT_").replace("_", " ")


def strings(nodes: Iterable[object] | None) -> list[str]:
    """The values of a list of ``String`` nodes (a qualified name)."""
    return [n.sval for n in nodes or () if isinstance(n, ast.String) and n.sval is not None]


def relation_parts(rv: ast.RangeVar | None) -> list[str]:
    if rv is None:
        return []
    return [p for p in (rv.catalogname, rv.schemaname, rv.relname) if p]


def object_parts(obj: object) -> list[str]:
    """Name parts of one object in a DROP/COMMENT/RENAME list, whatever node holds it."""
    if isinstance(obj, tuple):
        return strings(obj)
    if isinstance(obj, ast.String):
        return [obj.sval] if obj.sval else []
    if isinstance(obj, ast.TypeName):
        return strings(obj.names)
    if isinstance(obj, ast.ObjectWithArgs):
        return strings(obj.objname)
    if isinstance(obj, ast.RangeVar):
        return relation_parts(obj)
    return []


def human(parts: Iterable[str]) -> str:
    """A name for a warning: unquoted, dotted (``public.users``)."""
    return ".".join(parts) or "?"


def render(node: ast.Node) -> str:
    """pglast's canonical SQL for a node (types, expressions)."""
    from pglast.stream import RawStream

    return str(RawStream()(node))


class Quoter:
    """Renders identifiers as the migration wrote them (see module docstring)."""

    def __init__(self, quoted: frozenset[str]) -> None:
        self._quoted = quoted

    def ident(self, name: str) -> str:
        if name in self._quoted:
            return '"' + name.replace('"', '""') + '"'
        from pglast.stream import maybe_double_quote_name

        return str(maybe_double_quote_name(name))

    def name(self, parts: Iterable[str]) -> str:
        return ".".join(self.ident(p) for p in parts)

    def relation(self, rv: ast.RangeVar | None, *, only: bool = False) -> str:
        """``[ONLY] schema.table``: ONLY kept because it limits what the inverse touches."""
        prefix = "ONLY " if only and rv is not None and rv.inh is False else ""
        return prefix + self.name(relation_parts(rv))
