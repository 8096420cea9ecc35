"""Resource quantities read as Kubernetes reads them (``resource.ParseQuantity``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kubemigrate.quantities import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("64Mi", Decimal(64 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        (2, Decimal(2)),
        ("1.5G", Decimal("1.5e9")),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1E", Decimal("1e18")),
        (".5", Decimal("0.5")),
        ("0", Decimal(0)),
        ("-1Gi", Decimal(-(2**30))),
    ],
)
def test_quantities(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1 Gi", "1GB", "1Gi\n", "lots", True])
def test_what_is_no_quantity(text: str) -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)
