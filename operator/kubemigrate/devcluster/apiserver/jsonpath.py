"""The JSONPath subset used by ``additionalPrinterColumns``.

Supports ``.a.b``, ``['a.b']``, ``[n]``, ``[*]`` and ``[?(@.k=="v")]`` filters with
``==``/``!=``: what CRD printer columns use in practice (``.status.phase``,
``.status.conditions[?(@.type=="Ready")].status``).
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_\-]+)
      |\[\s*'(?P<quoted>[^']*)'\s*\]
      |\[(?P<index>-?\d+|\*)\]
      |\[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]
    """,
    re.VERBOSE,
)


def _get(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def evaluate(expression: str, obj: Any) -> list[Any]:
    """All values the expression selects (empty if the path is missing)."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.removeprefix("$")
    values = [obj]
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"unsupported JSONPath: {expression!r}")
        pos = match.end()
        selected: list[Any] = []
        for value in values:
            name = match.group("name") or match.group("quoted")
            if name is not None:
                if isinstance(value, dict) and name in value:
                    selected.append(value[name])
            elif match.group("index") is not None:
                if isinstance(value, list):
                    index = match.group("index")
                    if index == "*":
                        selected.extend(value)
                    elif -len(value) <= int(index) < len(value):
                        selected.append(value[int(index)])
                elif isinstance(value, dict) and match.group("index") == "*":
                    selected.extend(value.values())
            else:
                wanted = match.group("fval").strip("\"'")
                equal = match.group("op") == "=="
                items = value if isinstance(value, list) else []
                for item in items:
                    actual = _get(item, match.group("fpath"))
                    if (str(actual) == wanted if actual is not None else False) == equal:
                        selected.append(item)
        values = selected
    return values
