"""--target and repair's options name a migration by file name or by version."""

from __future__ import annotations

import pytest

from kubemigrate.domain.versions import file_version, named

NAMES = [
    "0003_add_orders.sql",
    "V1_10__add_index.sql",
    "10_users.up.sql",
    "20240101120000_items.sql",
]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("0003_add_orders", ["0003_add_orders.sql"]),
        ("0003", ["0003_add_orders.sql"]),
        ("3", ["0003_add_orders.sql"]),
        ("1.10", ["V1_10__add_index.sql"]),
        ("V1.10", ["V1_10__add_index.sql"]),
        ("1.1", []),
        ("10_users.up", ["10_users.up.sql"]),
        ("10_users", ["10_users.up.sql"]),
        ("10", ["10_users.up.sql"]),
        ("20240101120000", ["20240101120000_items.sql"]),
        ("add_orders", []),
    ],
)
def test_a_target_is_a_file_name_or_a_version(target: str, expected: list[str]) -> None:
    assert named(target, NAMES) == expected


def test_a_version_two_files_share_names_both() -> None:
    assert named("3", ["0003_a.sql", "0003_b.sql"]) == ["0003_a.sql", "0003_b.sql"]


def test_a_number_inside_a_name_is_not_its_version() -> None:
    assert file_version("0003_2024.sql") == (3,)
    assert file_version("V2__1.sql") == (2,)
    assert file_version("initial.sql") is None
