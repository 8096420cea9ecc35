"""The static check a CEL rule gets when its CRD is written, as cel-go's checker makes it.

apiextensions-apiserver compiles every ``x-kubernetes-validations`` rule against the
CEL type of the schema node it sits on (``model.SchemaDeclType``) and refuses the CRD
on any issue: ``undefined field 'nope'`` for a field the schema does not declare
(``has(self.nope)`` too), ``undeclared reference to 'x'``, ``found no matching overload
for '_>_' applied to '(int, string)'``. cel-python only parses: a misspelt field made a
rule that never fired here, in a CRD the real server refuses.

The types are the schema's: an object has its declared properties and no others
(``x-kubernetes-preserve-unknown-fields`` adds none: ``SchemaDeclType`` ignores it, so
unknown fields are not accessible in CEL), an ``additionalProperties`` object is a map
whose keys any field selection may name, int-or-string is dyn, and a resource root
has apiVersion, kind, metadata.name and metadata.generateName whatever it declares.
A comprehension macro's variable ranges over a list's items (a map's keys).

Only what cel-go would certainly refuse is reported: operators between primitive types
that have no overload, fields of a known object, selection on a primitive. Whatever is
not known statically (dyn values, functions outside the core ones) passes, so a rule
the real checker takes is never refused here. Issues read as cel-go's
``Errors.ToDisplayString``: ``ERROR: <input>:line:column: message``, the source line and
a caret under the place, in source order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import lark
from celpy import celparser

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class CelType:
    """A CEL type: ``kind`` is int, uint, double, string, bool, bytes, null, timestamp,
    duration, list (``elem``), map (``key``, ``elem``), object (``fields``), type, dyn,
    or error (a type the checker already complained about: nothing more is said of it)."""

    kind: str
    elem: CelType | None = None
    key: CelType | None = None
    fields: Mapping[str, CelType] = field(default_factory=dict)

    def name(self) -> str | None:
        """cel-go's ``FormatCELType``, or None for an object (named by its schema path)."""
        if self.kind in _PRIMITIVES or self.kind in ("dyn", "type"):
            return self.kind
        simple = {
            "null": "null_type",
            "timestamp": "google.protobuf.Timestamp",
            "duration": "google.protobuf.Duration",
        }
        if self.kind in simple:
            return simple[self.kind]
        if self.kind == "list" and self.elem is not None:
            inner = self.elem.name()
            return f"list({inner})" if inner else None
        if self.kind == "map" and self.key is not None and self.elem is not None:
            key, value = self.key.name(), self.elem.name()
            return f"map({key}, {value})" if key and value else None
        return None


_PRIMITIVES = ("int", "uint", "double", "string", "bool", "bytes")
_NUMERIC = ("int", "uint", "double")
DYN = CelType("dyn")
ERROR = CelType("error")
BOOL = CelType("bool")
INT = CelType("int")
STRING = CelType("string")


def _list(elem: CelType) -> CelType:
    return CelType("list", elem=elem)


# --- the schema's types -------------------------------------------------------------

# ``cel.Escape``: a property is reachable in CEL under an escaped name, or not at all.
_RESERVED = frozenset(
    {
        *("true", "false", "null", "in", "as", "break", "const", "continue", "else"),
        *("for", "function", "if", "import", "let", "loop", "package", "namespace"),
        *("return", "var", "void", "while"),
    }
)
_ESCAPED = re.compile(r"__|[-./]|[^a-zA-Z0-9_]")
_ESCAPES = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


def escape(name: str) -> str | None:
    if not name or name[0].isdigit():
        return None
    if name in _RESERVED:
        return f"__{name}__"
    unsupported = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unsupported
        found = _ESCAPES.get(match.group(0))
        if found is None:
            unsupported = True
            return ""
        return found

    escaped = _ESCAPED.sub(replace, name)
    return None if unsupported else escaped


_OBJECT_META = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
    },
}


def decl_type(schema: JsonDict, resource_root: bool = False) -> CelType | None:
    """``model.SchemaDeclType``: None for a schema CEL cannot see (no type, no items)."""
    if schema.get("x-kubernetes-int-or-string"):
        return DYN
    if resource_root or schema.get("x-kubernetes-embedded-resource"):
        # ``WithTypeAndObjectMeta``: what every resource root shows, whatever it declares
        schema = {**schema, "properties": {**(schema.get("properties") or {}), **_OBJECT_META}}
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        elem = decl_type(items) if isinstance(items, dict) else None
        return _list(elem) if elem is not None else None
    if kind == "object":
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            value = decl_type(additional)
            return CelType("map", key=STRING, elem=value) if value is not None else None
        fields: dict[str, CelType] = {}
        for name, prop in (schema.get("properties") or {}).items():
            escaped = escape(name)
            typed = decl_type(prop) if isinstance(prop, dict) else None
            if escaped is not None and typed is not None:
                fields[escaped] = typed
        return CelType("object", fields=fields)
    if kind == "string":
        formats = {"byte": "bytes", "duration": "duration", "date": "timestamp"}
        formats["date-time"] = "timestamp"
        return CelType(formats.get(str(schema.get("format")), "string"))
    return {"boolean": BOOL, "number": CelType("double"), "integer": INT}.get(str(kind))


def child_type(parent: CelType | None, key: str, schema: JsonDict) -> CelType | None:
    """A child node's type as seen from its parent's (a property's, or ``[]`` for a list's
    items or a map's values), falling back to the child schema's own."""
    if parent is not None:
        if key == "[]" and parent.kind in ("list", "map"):
            return parent.elem
        escaped = escape(key)
        if parent.kind == "object" and escaped is not None and escaped in parent.fields:
            return parent.fields[escaped]
    return decl_type(schema, bool(schema.get("x-kubernetes-embedded-resource")))


# --- checking ------------------------------------------------------------------------

_PARSER = celparser.CELParser()
_TYPE_NAMES = frozenset(
    ["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"]
)
_MACROS = frozenset({"all", "exists", "exists_one", "existsOne", "map", "filter"})
_GLOBAL_RESULTS = {
    "size": INT,
    "int": INT,
    "uint": CelType("uint"),
    "double": CelType("double"),
    "string": STRING,
    "bool": BOOL,
    "bytes": CelType("bytes"),
    "timestamp": CelType("timestamp"),
    "duration": CelType("duration"),
    "matches": BOOL,
    "type": CelType("type"),
}
_METHOD_RESULTS = {
    "size": INT,
    "contains": BOOL,
    "startsWith": BOOL,
    "endsWith": BOOL,
    "matches": BOOL,
    "lowerAscii": STRING,
    "upperAscii": STRING,
    "trim": STRING,
    "indexOf": INT,
    "lastIndexOf": INT,
    "split": _list(STRING),
}
_RELATIONS = {
    "relation_lt": ("<", "_<_"),
    "relation_le": ("<=", "_<=_"),
    "relation_gt": (">", "_>_"),
    "relation_ge": (">=", "_>=_"),
    "relation_eq": ("==", "_==_"),
    "relation_ne": ("!=", "_!=_"),
    "relation_in": ("in", "@in"),
    "addition_add": ("+", "_+_"),
    "addition_sub": ("-", "_-_"),
    "multiplication_mul": ("*", "_*_"),
    "multiplication_div": ("/", "_/_"),
    "multiplication_mod": ("%", "_%_"),
}


def _has_overload(function: str, left: str, right: str) -> bool:
    """Whether cel-go's standard declarations take these two primitive types (numeric
    comparisons across types included, as Kubernetes' environment enables them; an
    equality between two numeric types is never reported, to stay on the safe side)."""
    if function in ("_<_", "_<=_", "_>_", "_>=_"):
        return left == right or (left in _NUMERIC and right in _NUMERIC)
    if function in ("_==_", "_!=_"):
        return left == right or (left in _NUMERIC and right in _NUMERIC)
    if function == "_+_":
        return left == right and left != "bool"
    if function in ("_-_", "_*_", "_/_"):
        return left == right and left in _NUMERIC
    if function == "_%_":
        return left == right and left in ("int", "uint")
    if function in ("_&&_", "_||_"):
        return left == right == "bool"
    return True


def _trees(node: lark.Tree[Any]) -> list[lark.Tree[Any]]:
    return [child for child in node.children if isinstance(child, lark.Tree)]


def _tokens(node: lark.Tree[Any]) -> list[lark.Token]:
    return [child for child in node.children if isinstance(child, lark.Token)]


def _simple_ident(node: lark.Tree[Any]) -> str | None:
    """The name if this expression is nothing but an identifier (a macro's variable)."""
    while node.data != "ident":
        kids = _trees(node)
        if len(kids) != 1 or node.data not in (
            "expr",
            "conditionalor",
            "conditionaland",
            "relation",
            "addition",
            "multiplication",
            "unary",
            "member",
            "primary",
        ):
            return None
        node = kids[0]
    return str(_tokens(node)[0])


def _select_of(node: lark.Tree[Any]) -> lark.Tree[Any] | None:
    """The field selection an expression is, if it is one (``has()``'s argument)."""
    while node.data != "member_dot":
        kids = _trees(node)
        if len(kids) != 1 or node.data in ("paren_expr", "ident", "literal"):
            return None
        node = kids[0]
    return node


def _join(types: list[CelType]) -> CelType:
    return types[0] if types and all(t == types[0] for t in types) else DYN


class _Checker:
    def __init__(self, text: str) -> None:
        self.text = text
        self.issues: list[tuple[int, str]] = []

    def error(self, offset: int, message: str) -> CelType:
        self.issues.append((offset, message))
        return ERROR

    def find(self, token: str, start: int) -> int:
        found = self.text.find(token, start)
        return found if found >= 0 else start

    def visit(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        handler = getattr(self, f"_{node.data}", None)
        if handler is not None:
            result: CelType = handler(node, env)
            return result
        for kid in _trees(node):
            self.visit(kid, env)
        return DYN

    def _single(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        kids = _trees(node)
        return self.visit(kids[0], env) if len(kids) == 1 else self._operator(node, env)

    _member = _primary = _paren_expr = _single

    def _expr(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        kids = _trees(node)
        if len(kids) == 1:
            return self.visit(kids[0], env)
        self.visit(kids[0], env)
        return _join([self.visit(kids[1], env), self.visit(kids[2], env)])

    def _conditionalor(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        return self._logical(node, env, "||", "_||_")

    def _conditionaland(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        return self._logical(node, env, "&&", "_&&_")

    def _logical(
        self, node: lark.Tree[Any], env: Mapping[str, CelType], token: str, function: str
    ) -> CelType:
        kids = _trees(node)
        if len(kids) == 1:
            return self.visit(kids[0], env)
        left, right = self.visit(kids[0], env), self.visit(kids[1], env)
        offset = self.find(token, kids[0].meta.end_pos)
        return ERROR if self._binary(function, left, right, offset) is ERROR else BOOL

    _relation = _addition = _multiplication = _single

    def _operator(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        """``relation: relation_gt addition`` and the like: the operator node holds the
        left operand, the parent the right one."""
        operator, right_node = _trees(node)
        (left_node,) = _trees(operator)
        token, function = _RELATIONS[operator.data]
        left, right = self.visit(left_node, env), self.visit(right_node, env)
        result = self._binary(function, left, right, self.find(token, left_node.meta.end_pos))
        if operator.data.startswith("relation_"):
            return BOOL if result is not ERROR else ERROR
        return result

    def _binary(self, function: str, left: CelType, right: CelType, offset: int) -> CelType:
        if left.kind in _PRIMITIVES and right.kind in _PRIMITIVES:
            if not _has_overload(function, left.kind, right.kind):
                return self.error(
                    offset,
                    f"found no matching overload for '{function}' applied to "
                    f"'({left.kind}, {right.kind})'",
                )
            return left
        return DYN

    def _unary(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        kids = _trees(node)
        if len(kids) == 1:
            return self.visit(kids[0], env)
        operator, operand_node = kids
        operand = self.visit(operand_node, env)
        function, allowed = (
            ("!_", ("bool",)) if operator.data == "unary_not" else ("-_", ("int", "double"))
        )
        if operand.kind in _PRIMITIVES and operand.kind not in allowed:
            return self.error(
                operator.meta.start_pos,
                f"found no matching overload for '{function}' applied to '({operand.kind})'",
            )
        return operand

    def _member_dot(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        (operand_node,) = _trees(node)
        operand = self.visit(operand_node, env)
        name = str(_tokens(node)[0])
        return self._select(operand, name, self.find(".", operand_node.meta.end_pos))

    def _select(self, operand: CelType, name: str, offset: int) -> CelType:
        if operand.kind == "object":
            found = operand.fields.get(name)
            return found if found is not None else self.error(offset, f"undefined field '{name}'")
        if operand.kind == "map":
            return operand.elem or DYN
        shown = operand.name()
        if operand.kind in ("dyn", "error", "type") or shown is None:
            return DYN if operand.kind != "error" else ERROR
        return self.error(offset, f"type '{shown}' does not support field selection")

    def _member_dot_arg(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        target_node = _trees(node)[0]
        name_token = _tokens(node)[0]
        name = str(name_token)
        args = [kid for sub in _trees(node)[1:] for kid in _trees(sub)]  # the exprlist's
        target = self.visit(target_node, env)
        variables = [_simple_ident(arg) for arg in args]
        if name in _MACROS and len(args) in (2, 3) and variables[0] is not None:
            return self._comprehension(name, target, args, variables, env)
        for arg in args:
            self.visit(arg, env)
        if name in ("min", "max", "sum") and target.kind == "list" and target.elem is not None:
            return target.elem
        return _METHOD_RESULTS.get(name, DYN)

    def _comprehension(
        self,
        name: str,
        target: CelType,
        args: list[lark.Tree[Any]],
        variables: list[str | None],
        env: Mapping[str, CelType],
    ) -> CelType:
        """all/exists/exists_one/map/filter: the variable is the list's item (the map's
        key); with two variables (``all(i, v, ...)``), the index (key) and the item (value)."""
        item = target.elem if target.kind == "list" else target.key
        item = item if item is not None and target.kind in ("list", "map") else DYN
        two = len(args) == 3 and name != "map" and variables[1] is not None
        scope = dict(env)
        if two:
            index = INT if target.kind == "list" else item
            value = target.elem if target.kind == "map" and target.elem else item
            scope[str(variables[0])], scope[str(variables[1])] = index, value
        else:
            scope[str(variables[0])] = item
        results = [self.visit(arg, scope) for arg in args[2 if two else 1 :]]
        if name == "map":
            return _list(results[-1])
        if name == "filter":
            return target if target.kind == "list" else _list(item)
        return BOOL

    def _member_index(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        target_node, index_node = _trees(node)
        target = self.visit(target_node, env)
        self.visit(index_node, env)
        if target.kind in ("list", "map") and target.elem is not None:
            return target.elem
        return DYN

    def _ident(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        token = _tokens(node)[0]
        name = str(token)
        if name in env:
            return env[name]
        if name in _TYPE_NAMES:
            return CelType("type")
        return self.error(
            token.start_pos or 0, f"undeclared reference to '{name}' (in container '')"
        )

    def _ident_arg(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        token = _tokens(node)[0]
        name = str(token)
        args = [kid for sub in _trees(node) for kid in _trees(sub)]
        paren = self.find("(", token.end_pos or 0)
        if name == "has":
            select = _select_of(args[0]) if len(args) == 1 else None
            if select is None:
                return self.error(paren, "invalid argument to has() macro")
            # the presence test is placed at the macro call, its operand where it is
            operand = self.visit(_trees(select)[0], env)
            self._select(operand, str(_tokens(select)[0]), paren)
            return BOOL
        for arg in args:
            self.visit(arg, env)
        return _GLOBAL_RESULTS.get(name, DYN)

    def _list_lit(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        items = [kid for sub in _trees(node) for kid in _trees(sub)]
        return _list(_join([self.visit(item, env) for item in items]))

    def _map_lit(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        entries = [self.visit(kid, env) for sub in _trees(node) for kid in _trees(sub)]
        return CelType("map", key=_join(entries[0::2]), elem=_join(entries[1::2]))

    def _literal(self, node: lark.Tree[Any], env: Mapping[str, CelType]) -> CelType:
        kinds = {
            "INT_LIT": "int",
            "UINT_LIT": "uint",
            "FLOAT_LIT": "double",
            "STRING_LIT": "string",
            "MLSTRING_LIT": "string",
            "BYTES_LIT": "bytes",
            "BOOL_LIT": "bool",
            "NULL_LIT": "null",
        }
        return CelType(kinds.get(_tokens(node)[0].type, "dyn"))

    def display(self) -> list[str]:
        """The issues as cel-go shows them, in source order."""
        lines = self.text.split("\n")
        shown = []
        for offset, message in sorted(self.issues, key=lambda issue: issue[0]):
            line = self.text.count("\n", 0, offset)
            column = offset - (self.text.rfind("\n", 0, offset) + 1)
            snippet = lines[line].replace("\t", " ")
            shown.append(
                f"ERROR: <input>:{line + 1}:{column + 1}: {message}\n"
                f" | {snippet}\n | {'.' * column}^"
            )
        return shown


def problem(expression: str, self_type: CelType, *, message: bool = False) -> str | None:
    """What the real server says of a rule (a ``messageExpression`` if ``message``)
    whose ``self`` (and ``oldSelf``) has this type, the detail of its ``Invalid value``;
    None if its checker takes it. An expression that does not parse has no problem
    here: its parse error is reported on its own."""
    try:
        tree = _PARSER.parse(expression)
    except Exception:  # celpy raises several unrelated exception types
        return None
    checker = _Checker(expression)
    result = checker.visit(tree, {"self": self_type, "oldSelf": self_type})
    issues = checker.display()
    what, wanted = ("messageExpression", "string") if message else ("cel expression", "bool")
    if issues:
        prefix = "messageExpression compilation failed: " if message else "compilation failed: "
        return prefix + "\n".join(issues)
    if result.kind in _PRIMITIVES and result.kind != wanted:
        return f"{what} must evaluate to a {wanted}"
    return None
