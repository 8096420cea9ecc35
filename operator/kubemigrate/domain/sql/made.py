"""What a migration file creates, statement by statement, for the rollback inference.

An object the file creates (and whose down drops) takes with it, when dropped,
everything later statements did to it: its comments, privileges, defaults,
constraints, options, owner, and a table its rows. Those statements then need no
inverse of their own. The same holds, more strongly, for a temporary object: it is
gone with the session that made it, and an inverse run in the rollback's session
would find a real object of the same name.

Names are matched as the file writes them: ``docs`` and ``public.docs`` count as two,
and an unqualified name is remembered with the ``search_path`` setting in force, so
``docs`` under ``SET search_path TO app`` is not ``docs`` under the session's own.
When in doubt an object does not count as made: the statement is then listed for a
person rather than left out of the down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast, enums

from .effects import effects, tokens, walk
from .naming import object_parts, strings

_T = enums.AlterTableType
_O = enums.ObjectType

#: A name as the file writes it: (schema, name, the search_path setting in force when
#: the name is unqualified).
Key = tuple[str, str, str | None]


@dataclass
class Unit:
    """An object the file created and its down drops."""

    #: Which statement created it (its rank among the file's statements): anything
    #: created later is dropped earlier by the down, so a later statement that makes
    #: this one depend on such an object needs an inverse of its own.
    order: int
    kind: str
    #: For a table: rows written to it touch nothing else (no trigger or rule of its
    #: own, no default calling a function, no table attached or inheriting from it,
    #: no foreign key from an older table, not a partition of an older table).
    plain: bool = True


_RELATION_KINDS = {
    _O.OBJECT_TABLE: "table",
    _O.OBJECT_VIEW: "view",
    _O.OBJECT_MATVIEW: "matview",
    _O.OBJECT_SEQUENCE: "sequence",
    _O.OBJECT_INDEX: "index",
    _O.OBJECT_FOREIGN_TABLE: "table",
}


_DISCARDS_TEMP = frozenset({enums.DiscardMode.DISCARD_TEMP, enums.DiscardMode.DISCARD_ALL})


@dataclass
class Made:
    #: The ``search_path`` setting in force (the statement that set it), None for the
    #: session's own; kept current by the caller.
    path: str | None = None
    relations: dict[Key, Unit] = field(default_factory=dict)
    #: Columns added to tables the file did not create.
    columns: dict[tuple[Key, str], Unit] = field(default_factory=dict)
    types: dict[Key, Unit] = field(default_factory=dict)
    #: name -> identifying argument types -> unit
    functions: dict[Key, dict[tuple[str, ...], Unit]] = field(default_factory=dict)
    schemas: dict[str, Unit] = field(default_factory=dict)
    extensions: dict[str, Unit] = field(default_factory=dict)
    roles: dict[str, Unit] = field(default_factory=dict)
    #: Temporary relations (tables, views, sequences, indexes on them), by name.
    temporary: set[str] = field(default_factory=set)
    #: Every unit's name with its order, for :meth:`independent`.
    _names: list[tuple[int, str]] = field(default_factory=list)
    _order: int = 0

    # -- keys ------------------------------------------------------------------

    def key(self, parts: list[str]) -> Key | None:
        """The key of a (possibly qualified) name; None for what cannot be told apart
        from a system object (an unqualified ``pg_...`` name: pg_catalog comes first)
        or has a catalog part."""
        if len(parts) == 1:
            if parts[0].startswith("pg_"):
                return None
            return ("", parts[0], self.path)
        if len(parts) == 2:
            return (parts[0], parts[1], None)
        return None

    def _rel_key(self, rv: ast.RangeVar | None) -> Key | None:
        if rv is None or not rv.relname or rv.catalogname:
            return None
        return self.key([rv.schemaname, rv.relname] if rv.schemaname else [rv.relname])

    # -- questions ---------------------------------------------------------------

    def is_temporary(self, rv: ast.RangeVar | None) -> bool:
        """A temporary relation this file created (pg_temp comes first in the path)."""
        return (
            rv is not None and rv.schemaname in (None, "pg_temp") and rv.relname in self.temporary
        )

    def is_temporary_name(self, parts: list[str]) -> bool:
        return (
            len(parts) in (1, 2)
            and parts[:-1] in ([], ["pg_temp"])
            and (parts[-1] in self.temporary)
        )

    def reads_temporary(self, query: object) -> bool:
        """A view's query reading a temporary relation: PostgreSQL makes the view
        temporary ("will be a temporary view")."""
        return any(isinstance(n, ast.RangeVar) and self.is_temporary(n) for n in walk(query))

    def relation(self, rv: ast.RangeVar | None) -> Unit | None:
        key = self._rel_key(rv)
        return self.relations.get(key) if key is not None else None

    def relation_named(self, parts: list[str]) -> Unit | None:
        key = self.key(parts)
        return self.relations.get(key) if key is not None else None

    def table(self, rv: ast.RangeVar | None) -> bool:
        """A table (or other relation) this file created and its down drops."""
        return self.relation(rv) is not None

    def column(self, rv: ast.RangeVar | None, name: str | None) -> bool:
        return self.table(rv) or self.column_unit(rv, name) is not None

    def column_unit(self, rv: ast.RangeVar | None, name: str | None) -> Unit | None:
        key = self._rel_key(rv)
        return self.columns.get((key, name or "")) if key is not None else None

    def column_named(self, relation: list[str], name: str) -> bool:
        key = self.key(relation)
        return key is not None and (key, name) in self.columns

    def type_(self, parts: list[str]) -> Unit | None:
        key = self.key(parts)
        return self.types.get(key) if key is not None else None

    def function(self, obj: ast.ObjectWithArgs | None) -> Unit | None:
        """The function ``obj`` names when this file created it: with the same
        identifying argument types, or, without a list, the only one of its name."""
        if obj is None:
            return None
        key = self.key(strings(obj.objname))
        made = self.functions.get(key) if key is not None else None
        if not made:
            return None
        if obj.args_unspecified:
            # PostgreSQL refuses the name alone when several functions have it, so
            # the statement ran only if the one made here is the only one
            return next(iter(made.values())) if len(made) == 1 else None
        signature = _signature(obj.objargs)
        return made.get(signature) if signature is not None else None

    def owned_role(self, role: object) -> bool:
        return isinstance(role, ast.RoleSpec) and (role.rolename or "") in self.roles

    def sequence(self, name: str) -> bool:
        """A sequence this file created (or a temporary one), named as in ``nextval``'s
        argument: ``'s'`` or ``'app.s'`` (text, folded to lower case as regclass does)."""
        if '"' in name:
            return False
        parts = [p.lower() for p in name.split(".")]
        if len(parts) == 1 and parts[0] in self.temporary:
            return True
        unit = self.relation_named(parts)
        return unit is not None and unit.kind == "sequence"

    def independent(self, node: object, unit: Unit) -> bool:
        """Whether ``node`` names nothing this file created after ``unit``.

        The down drops objects in reverse order, so an object created after ``unit``
        is dropped before it: had a statement made ``unit`` depend on it (a default
        calling a later function, a column of a later type, a foreign key to a later
        table), that DROP would fail. Such a statement is then not left to
        ``unit``'s DROP. Names are compared loosely (any identifier or string in the
        statement), which can only err towards listing it.
        """
        later = {name for order, name in self._names if order > unit.order}
        return not (later & tokens(node))

    def side_effects(self, node: ast.Node) -> list[str]:
        return effects(node, own_sequence=self.sequence)

    # -- recording ---------------------------------------------------------------

    def _unit(self, kind: str, name: str) -> Unit:
        self._names.append((self._order, name.lower()))
        return Unit(self._order, kind)

    def note(self, node: ast.Node) -> None:
        """Record what ``node`` (a statement of the file, in order) created."""
        self._order += 1
        node = explained(node) or node
        if isinstance(node, ast.CreateStmt):
            self._note_table(node)
        elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
            kind = "matview" if node.objtype == _O.OBJECT_MATVIEW else "table"
            self._note_relation(node.into.rel, kind, not node.if_not_exists)
        elif isinstance(node, ast.ViewStmt):
            if self.reads_temporary(node.query) and node.view is not None and node.view.relname:
                self.temporary.add(node.view.relname)  # PostgreSQL makes it temporary too
            else:
                self._note_relation(node.view, "view", not node.replace)
        elif isinstance(node, ast.CreateSeqStmt):
            self._note_relation(node.sequence, "sequence", not node.if_not_exists)
        elif isinstance(node, ast.IndexStmt):
            self._note_index(node)
        elif isinstance(node, ast.CreateEnumStmt | ast.CreateRangeStmt):
            self._note_type(strings(node.typeName), "type")
        elif isinstance(node, ast.CompositeTypeStmt) and node.typevar is not None:
            self._note_type(object_parts(node.typevar), "type")
            self._note_relation(node.typevar, "type", True)
        elif isinstance(node, ast.DefineStmt) and node.kind == _O.OBJECT_TYPE:
            self._note_type(strings(node.defnames), "type")
        elif isinstance(node, ast.CreateDomainStmt):
            self._note_type(strings(node.domainname), "domain")
        elif isinstance(node, ast.CreateFunctionStmt) and not node.replace:
            self._note_function(node)
        elif isinstance(node, ast.CreateSchemaStmt):
            name = node.schemaname or (node.authrole.rolename if node.authrole else None)
            if name and not node.if_not_exists and not node.schemaElts:
                self.schemas[name] = self._unit("schema", name)
        elif isinstance(node, ast.CreateExtensionStmt):
            if node.extname and not node.if_not_exists:
                self.extensions[node.extname] = self._unit("extension", node.extname)
        elif isinstance(node, ast.CreateRoleStmt) and node.role:
            self.roles[node.role] = self._unit("role", node.role)
        elif isinstance(node, ast.AlterTableStmt):
            self._note_alter_table(node)
        elif isinstance(node, ast.CreateTrigStmt | ast.RuleStmt):
            self._not_plain(node.relation)  # rows written to it may be written elsewhere
        elif isinstance(node, ast.RenameStmt) and not node.missing_ok:
            self._note_rename(node)
        elif isinstance(node, ast.DropStmt) and node.removeType in _RELATION_KINDS:
            for obj in node.objects or ():  # a later statement naming it means another
                parts = object_parts(obj)
                if parts[:-1] in ([], ["pg_temp"]):
                    self.temporary.discard(parts[-1] if parts else "")
                key = self.key(parts)
                if key is not None:
                    self.relations.pop(key, None)
        elif isinstance(node, ast.DiscardStmt) and node.target in _DISCARDS_TEMP:
            self.temporary.clear()

    def _note_relation(self, rv: ast.RangeVar | None, kind: str, created: bool) -> None:
        if rv is None or not rv.relname or not created:
            return
        if rv.relpersistence == "t" or rv.schemaname == "pg_temp":
            self.temporary.add(rv.relname)
            return
        key = self._rel_key(rv)
        if key is not None:
            self.relations[key] = self._unit(kind, rv.relname)

    def _note_table(self, node: ast.CreateStmt) -> None:
        if node.if_not_exists or node.relation is None:
            return
        self._note_relation(node.relation, "table", True)
        unit = self.relation(node.relation)
        if unit is None:
            return
        parents = [p for p in node.inhRelations or () if isinstance(p, ast.RangeVar)]
        if node.partbound is not None and not all(self._plain(p) for p in parents):
            unit.plain = False  # the parent's row triggers fire on its rows
        for element in node.tableElts or ():
            if isinstance(element, ast.TableLikeClause):
                unit.plain = False  # defaults copied from another table
            elif isinstance(element, ast.ColumnDef) and self._acts(element):
                unit.plain = False

    def _note_index(self, node: ast.IndexStmt) -> None:
        if not node.idxname or node.if_not_exists:
            return  # covered by its table's DROP, or may predate the migration: no DROP
        if self.is_temporary(node.relation):
            self.temporary.add(node.idxname)
            return
        # An index lives in its table's schema, whatever the search_path.
        schema = node.relation.schemaname if node.relation is not None else None
        key = self.key([schema, node.idxname] if schema else [node.idxname])
        if key is not None:
            self.relations[key] = self._unit("index", node.idxname)

    def _note_type(self, parts: list[str], kind: str) -> None:
        key = self.key(parts)
        if key is not None and parts:
            self.types[key] = self._unit(kind, parts[-1])

    def _note_function(self, node: ast.CreateFunctionStmt) -> None:
        parts = strings(node.funcname)
        key = self.key(parts)
        identifying = {
            enums.FunctionParameterMode.FUNC_PARAM_IN,
            enums.FunctionParameterMode.FUNC_PARAM_INOUT,
            enums.FunctionParameterMode.FUNC_PARAM_VARIADIC,
            enums.FunctionParameterMode.FUNC_PARAM_DEFAULT,
        }
        signature = _signature(
            [
                p.argType
                for p in node.parameters or ()
                if isinstance(p, ast.FunctionParameter) and p.mode in identifying
            ]
        )
        if key is not None and signature is not None and parts:
            self.functions.setdefault(key, {})[signature] = self._unit("function", parts[-1])

    def _note_alter_table(self, node: ast.AlterTableStmt) -> None:
        made = self.relation(node.relation)
        older = made is None and not self.is_temporary(node.relation)
        for cmd in node.cmds or ():
            if not isinstance(cmd, ast.AlterTableCmd):  # pragma: no cover - grammar
                continue
            if older:
                self._note_references(cmd.def_)
            if cmd.subtype == _T.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                if made is not None:
                    if self._acts(cmd.def_):
                        made.plain = False
                elif older and not cmd.missing_ok and cmd.def_.colname:
                    key = self._rel_key(node.relation)
                    if key is not None:
                        name = cmd.def_.colname
                        self.columns[(key, name)] = self._unit("column", name)
            elif cmd.subtype == _T.AT_ColumnDefault and made is not None:
                if isinstance(cmd.def_, ast.Node) and self.side_effects(cmd.def_):
                    made.plain = False
            elif cmd.subtype == _T.AT_AttachPartition and isinstance(cmd.def_, ast.PartitionCmd):
                if made is not None:
                    made.plain = False  # its rows now include another table's
                self._not_plain(cmd.def_.name)  # its rows now reach the parent's triggers
            elif cmd.subtype == _T.AT_AddInherit and isinstance(cmd.def_, ast.RangeVar):
                self._not_plain(cmd.def_)  # a DELETE on the parent reaches the child

    def _note_references(self, node: object) -> None:
        """A foreign key to a table this file made, from one it did not, lets a
        DELETE or UPDATE there cascade to older rows."""
        for constraint in _constraints(node):
            if constraint.contype == enums.ConstrType.CONSTR_FOREIGN:
                self._not_plain(constraint.pktable)

    def _note_rename(self, node: ast.RenameStmt) -> None:
        new, rel = node.newname, node.relation
        if not new:  # pragma: no cover - grammar
            return
        if node.renameType in _RELATION_KINDS and rel is not None:
            if self.is_temporary(rel):
                self.temporary.add(new)
                return
            key = self._rel_key(rel)
            unit = self.relations.pop(key, None) if key is not None else None
            if unit is not None:
                new_key = self.key([rel.schemaname, new] if rel.schemaname else [new])
                if new_key is not None:
                    self.relations[new_key] = unit
                    self._names.append((unit.order, new.lower()))
        elif node.renameType == _O.OBJECT_COLUMN and rel is not None and node.subname:
            key = self._rel_key(rel)
            unit = self.columns.pop((key, node.subname), None) if key is not None else None
            if unit is not None and key is not None:
                self.columns[(key, new)] = unit
                self._names.append((unit.order, new.lower()))
        elif node.renameType in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN):
            parts = object_parts(node.object)
            key = self.key(parts)
            unit = self.types.pop(key, None) if key is not None else None
            new_key = self.key([*parts[:-1], new])
            if unit is not None and new_key is not None:
                self.types[new_key] = unit
                self._names.append((unit.order, new.lower()))

    def _not_plain(self, rv: ast.RangeVar | None) -> None:
        unit = self.relation(rv)
        if unit is not None:
            unit.plain = False

    def _plain(self, rv: ast.RangeVar) -> bool:
        unit = self.relation(rv)
        return unit is not None and unit.plain

    def _acts(self, column: ast.ColumnDef) -> bool:
        """A column whose default or generated value may change something else."""
        expressions = [column.raw_default, column.cooked_default]
        expressions += [c.raw_expr for c in _constraints(column)]
        return any(e is not None and self.side_effects(e) for e in expressions)


def explained(node: ast.Node) -> ast.Node | None:
    """The statement an ``EXPLAIN ANALYZE`` runs (a plain EXPLAIN runs nothing)."""
    if not isinstance(node, ast.ExplainStmt) or node.query is None:
        return None
    for option in node.options or ():
        if isinstance(option, ast.DefElem) and option.defname == "analyze":
            arg = option.arg
            off = isinstance(arg, ast.Boolean) and not arg.boolval
            off = off or (isinstance(arg, ast.String) and (arg.sval or "").lower() in _OFF)
            return None if off else node.query
    return None


_OFF = frozenset({"false", "off", "no", "0", "f", "n"})


def _constraints(node: object) -> list[ast.Constraint]:
    if isinstance(node, ast.Constraint):
        return [node]
    if isinstance(node, ast.ColumnDef):
        return [c for c in node.constraints or () if isinstance(c, ast.Constraint)]
    return []


def _signature(types: object) -> tuple[str, ...] | None:
    """Identifying argument types as names without ``pg_catalog`` (``integer`` and
    ``int4`` both ``int4``; typmods do not identify a function); None for a
    ``%TYPE`` argument, which names a column's type."""
    out: list[str] = []
    for typ in types if isinstance(types, tuple | list) else ():
        if not isinstance(typ, ast.TypeName) or typ.pct_type:
            return None
        names = strings(typ.names)
        if len(names) == 2 and names[0] == "pg_catalog":
            names = names[1:]
        out.append(".".join(names) + "[]" * len(typ.arrayBounds or ()))
    return tuple(out)
