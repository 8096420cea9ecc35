"""Naming drizzle's migrations table: ``--drizzle-table`` as given, and as shown."""

from __future__ import annotations

import re
import shlex

import pytest

from kubemigrate.domain import histories
from kubemigrate.domain.errors import UsageError
from kubemigrate.domain.histories import DrizzleRows, TableName, parse_table_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("public.migrations", TableName("public", "migrations")),
        # drizzle quotes the names its config gives: case is kept, as written
        ("Billing.Migrations", TableName("Billing", "Migrations")),
        ('"a.b"."c""d"', TableName("a.b", 'c"d')),
        ('app."my table"', TableName("app", "my table")),
    ],
)
def test_a_table_is_named_as_drizzle_s_config_names_it(text: str, expected: TableName) -> None:
    assert parse_table_name(text) == expected


@pytest.mark.parametrize(
    "text", ["migrations", "a.b.c", ".b", "a.", '"a.b', 'a"b.c', '"a"b.c', "", "."]
)
def test_anything_but_schema_dot_table_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match=r"is not SCHEMA\.TABLE") as refused:
        parse_table_name(text)
    assert "public.__drizzle_migrations" in (refused.value.hint or "")


@pytest.mark.parametrize(
    ("table", "shown"),
    [
        (histories.DRIZZLE_DEFAULT, "drizzle.__drizzle_migrations"),
        (TableName("Billing", "Migrations"), '"Billing"."Migrations"'),
        (TableName("app", 'a"b'), 'app."a""b"'),
        (TableName("user", "order"), '"user"."order"'),  # reserved words
        (TableName("app", "schema_v2$"), "app.schema_v2$"),
    ],
)
def test_a_table_is_shown_as_sql_writes_it(table: TableName, shown: str) -> None:
    """Hints quote it in a query to paste into psql, and messages as --drizzle-table takes it."""
    assert str(table) == shown
    assert parse_table_name(shown) == table


@pytest.mark.parametrize(
    ("table", "flag"),
    [
        (TableName("app", "migrations"), "app.migrations"),
        (TableName("Billing", "Migrations"), "Billing.Migrations"),  # read back as written
        (TableName("a.b", "c"), """'"a.b".c'"""),
        (TableName("app", "my table"), """'app."my table"'"""),
    ],
)
def test_a_table_is_shown_as_a_shell_passes_it_to_the_flag(table: TableName, flag: str) -> None:
    assert table.as_flag() == flag
    assert parse_table_name(shlex.split(flag)[0]) == table


def test_drizzle_s_two_shapes_are_accepted_exactly() -> None:
    v0 = {"id": "integer", "hash": "text", "created_at": "bigint"}
    v1 = {**v0, "name": "text", "applied_at": "timestamp with time zone"}
    assert histories.shape_matches(v0)
    assert histories.shape_matches(v1)
    assert not histories.shape_matches({**v0, "created_at": "timestamp with time zone"})
    assert not histories.shape_matches({**v0, "note": "text"})
    assert not histories.shape_matches({"id": "integer", "hash": "text"})


def test_a_history_records_a_folder_by_hash_or_by_time() -> None:
    rows = DrizzleRows(hashes=frozenset({"h1"}), times=frozenset({1700000000000}))
    assert rows.records_any({"h1"}, ())
    assert rows.records_any({"edited"}, {1700000000000})  # drizzle goes by time
    assert not rows.records_any({"h2"}, {1700000000001})


def test_two_tables_are_refused_naming_both_and_the_flag() -> None:
    error = histories.ambiguous([TableName("public", "migrations"), TableName("app", "m")])
    assert "any of app.m, public.migrations" in error.message
    assert "--drizzle-table app.m" in (error.hint or "")
    assert error.details["tables"] == ["app.m", "public.migrations"]


@pytest.mark.parametrize(
    "text",
    [
        "a.b",
        "Billing.Migrations",
        '"a.b"."c""d"',
        'app."my table"',
        " app.m",
        '"".b',
        '"a"b.c',
        "a.b.c",
        "migrations",
        '""""."x"',
        'a."b',
        ".",
    ],
)
def test_the_crd_s_pattern_accepts_what_the_parser_does(text: str) -> None:
    """spec.drizzleTable is checked by the API server with the pattern, by the engine
    with the parser: a run the API accepts must not fail in its Job for its name."""
    try:
        parse_table_name(text)
    except UsageError:
        parsed = False
    else:
        parsed = True
    assert bool(re.fullmatch(histories.TABLE_NAME_PATTERN, text)) is parsed
