"""``kubemigrate generate`` on files alone (no database)."""

from __future__ import annotations

import pytest

from kubemigrate.domain.errors import UsageError
from kubemigrate.engine.generate import slug


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ünïcødé naïve café", "unicode_naive_cafe"),  # ø was dropped: "unicde"
        ("Straße", "strasse"),
        ("Łódź", "lodz"),
        ("Æsir Œuvre", "aesir_oeuvre"),
        ("Þór Ðoð", "thor_dod"),
        ("Đường đi", "duong_di"),
        ("Ångström ĳssel", "angstrom_ijssel"),
        ("add Заказы orders", "add_orders"),  # no ASCII spelling for Cyrillic: dropped
    ],
)
def test_a_slug_drops_accents_not_letters(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_a_name_without_a_latin_letter_is_refused() -> None:
    with pytest.raises(UsageError, match="other scripts have no ASCII spelling"):
        slug("Заказы")
