"""Kubernetes resource quantities (``64Mi``, ``500m``, ``1e3``) as numbers.

Enough of ``resource.ParseQuantity`` to compare a run's resources with the operator's
defaults; the API server stays the judge of what a Job may hold. Pure, so settings
and the controller share it without importing each other. The API server emulator
keeps its own, Go-faithful parser (``devcluster/apiserver/podspec.py``) on purpose: it
judges what the operator builds, so it must not share the operator's reading.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?\Z"
)
_BINARY = {f"{p}i": Decimal(1024) ** (i + 1) for i, p in enumerate("KMGTPE")}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(value: str | int) -> Decimal:
    """The quantity as a number (bytes, cores ...); ``ValueError`` when it is none."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    match = _QUANTITY.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a quantity (e.g. 64Mi, 500m, 2)")
    try:
        number = Decimal(match["number"])
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a quantity") from None
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        return number.scaleb(int(suffix[1:]))
    return number
