"""What a statement does besides its obvious target, read from its syntax tree.

The rollback inference asks two questions a parser can answer only conservatively:

- does a query change anything? A ``SELECT`` changes nothing by itself, but the
  functions it calls may (``setval``, ``set_config``, ``pg_advisory_lock``, a
  user's function writing an audit row). Only calls of built-in functions known to
  change nothing count as harmless; any other function, a ``SELECT ... INTO`` (which
  creates a table) or a data-modifying ``WITH`` is an effect;
- is a ``SELECT`` only ``set_config(name, value, is_local)``, which is how pg_dump
  (and people copying it) set ``search_path``: it is then a setting, as ``SET`` is.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pglast import ast

from .naming import strings

#: Built-in functions that change nothing (read-only, no locks kept, no state): what
#: a query may call and still be a no-op. Names the parser itself writes for SQL
#: syntax (``EXTRACT``, ``POSITION``, ``AT TIME ZONE`` ...) are among them.
_HARMLESS = frozenset(
    """
    abs age array_agg array_append array_cat array_length array_lower array_position
    array_positions array_prepend array_remove array_replace array_to_json array_to_string
    array_upper avg bit_length bool_and bool_or btrim cardinality cbrt ceil ceiling char_length
    character_length chr clock_timestamp coalesce col_description concat concat_ws convert_from
    convert_to count cume_dist current_database current_schema current_schemas current_setting
    date_bin date_part date_trunc decode degrees dense_rank div encode every exp extract
    first_value floor format format_type gen_random_uuid generate_series generate_subscripts
    get_bit get_byte has_column_privilege has_database_privilege has_function_privilege
    has_schema_privilege has_sequence_privilege has_table_privilege has_type_privilege initcap
    isfinite json_agg json_array_elements json_array_elements_text json_array_length
    json_build_array json_build_object json_each json_each_text json_extract_path
    json_extract_path_text json_object json_object_agg json_object_keys json_populate_record
    json_strip_nulls json_typeof jsonb_agg jsonb_array_elements jsonb_array_elements_text
    jsonb_array_length jsonb_build_array jsonb_build_object jsonb_each jsonb_each_text
    jsonb_extract_path jsonb_extract_path_text jsonb_insert jsonb_object jsonb_object_agg
    jsonb_object_keys jsonb_path_exists jsonb_path_query jsonb_populate_record jsonb_pretty
    jsonb_set jsonb_strip_nulls jsonb_typeof justify_days justify_hours justify_interval lag
    last_value lead left length ln log log10 lower lpad ltrim make_date make_interval make_time
    make_timestamp make_timestamptz max md5 min mod normalize now nth_value ntile
    obj_description octet_length overlay percent_rank pg_collation_for pg_get_constraintdef
    pg_get_functiondef pg_get_indexdef pg_get_viewdef pg_has_role pg_relation_size
    pg_size_pretty pg_table_size pg_total_relation_size pg_typeof pi position power quote_ident
    quote_literal quote_nullable radians random rank regexp_count regexp_instr regexp_like
    regexp_match regexp_matches regexp_replace regexp_split_to_array regexp_split_to_table
    regexp_substr repeat replace reverse right round row_number row_to_json rpad rtrim sha224
    sha256 sha384 sha512 sign split_part sqrt starts_with statement_timestamp string_agg
    string_to_array strpos substr substring sum timeofday timezone to_char to_date to_hex
    to_json to_jsonb to_number to_regclass to_regnamespace to_regproc to_regprocedure
    to_regrole to_regtype to_timestamp transaction_timestamp translate trim_array trunc unistr
    unnest upper uuid_generate_v4 version
    """.split()  # noqa: SIM905 - a list of 200 words, read as one
)

#: Sequence functions, harmless on a sequence the migration itself creates (its DROP
#: takes the state they change with it).
_SEQUENCE_FUNCTIONS = frozenset({"nextval", "setval"})


def _children(node: ast.Node) -> Iterator[object]:
    slots: dict[str, object] = getattr(type(node), "__slots__", {})
    for attr in slots:
        yield getattr(node, attr, None)


def walk(value: object) -> Iterator[ast.Node]:
    """Every node under ``value`` (itself included), depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(_children(item))
        elif isinstance(item, tuple | list):
            stack.extend(item)


def tokens(value: object) -> set[str]:
    """Every name and string constant under ``value``, lower case: what it may refer
    to (a relation, a type, a function, ``nextval('seq')``'s sequence ...)."""
    found: set[str] = set()
    for node in walk(value):
        if isinstance(node, ast.String) and node.sval:
            found.add(node.sval.lower())
        elif isinstance(node, ast.RangeVar):
            found.update(p.lower() for p in (node.schemaname, node.relname) if p)
        elif isinstance(node, ast.RoleSpec) and node.rolename:
            found.add(node.rolename.lower())
    return found


_DATA_CHANGES = ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt


def effects(
    node: ast.Node, *, own_sequence: Callable[[str], bool] = lambda _name: False
) -> list[str]:
    """What evaluating ``node``'s expressions and subqueries may change, said for a
    person (``it calls setval()``, ``SELECT INTO creates a table``); empty when
    provably nothing.

    ``node`` itself may be a data change (its own target is the caller's business);
    one nested in it (a ``WITH`` that deletes) is an effect. ``own_sequence`` says
    whether ``nextval``/``setval`` on a sequence named by a string constant touch one
    the migration creates.
    """
    calls: list[str] = []
    found: list[str] = []
    for item in walk(node):
        if isinstance(item, ast.FuncCall):
            name = strings(item.funcname)
            if not _harmless_call(name, item.args, own_sequence):
                calls.append(".".join(name) + "()")
        elif isinstance(item, _DATA_CHANGES) and item is not node:
            found.append("its WITH changes data")
        elif isinstance(item, ast.SelectStmt) and item.intoClause is not None:
            found.append("SELECT INTO creates a table")
    if calls:
        found.append("it calls " + ", ".join(dict.fromkeys(calls)))
    return list(dict.fromkeys(found))


def _harmless_call(name: list[str], args: object, own_sequence: Callable[[str], bool]) -> bool:
    if len(name) == 2 and name[0] == "pg_catalog":
        name = name[1:]
    if len(name) != 1:
        return False  # a function of some other schema: a user's
    if name[0] in _HARMLESS:
        return True
    if name[0] in _SEQUENCE_FUNCTIONS and isinstance(args, tuple) and args:
        sequence = _string_constant(args[0])
        return sequence is not None and own_sequence(sequence)
    return False


def _string_constant(node: object) -> str | None:
    """``'x'`` or ``'x'::regclass`` (or any cast of a string constant)."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    return None


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
