"""How a migration file is split and whether it runs in a transaction.

``prepare`` skips the full analysis for files with none of the words that could
start a statement PostgreSQL refuses in a transaction block; these cases pin down
that the shortcut never changes the answer: case, comments and plpgsql bodies.
"""

from __future__ import annotations

import pytest

from kubemigrate.domain.errors import MigrationFailed, UsageError
from kubemigrate.domain.migrations import Direction, Step
from kubemigrate.engine.preparing import prepare

PG15 = 150000


def _prepare(sql: str) -> tuple[list[str], bool]:
    step = Step(name="0001_x.sql", direction=Direction.UP, sql=sql, checksum=None, batch=1)
    prepared = prepare(step, PG15)
    return [text for text, _ in prepared.statements], prepared.transactional


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
        "create unique index concurrently users_email_idx on users (email);",
        "Vacuum Analyze users;",
        "-- kubemigrate:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS users_email_idx;",
    ],
)
def test_statements_refused_in_a_transaction_run_outside_one(sql: str) -> None:
    _, transactional = _prepare(sql)
    assert not transactional


def test_drizzle_file_is_split_on_breakpoints_and_runs_in_a_transaction() -> None:
    sql = (
        'CREATE TABLE "users" ("id" serial PRIMARY KEY, "pending_end" text);\n'
        "--> statement-breakpoint\n"
        'ALTER TABLE "users" ADD COLUMN "started_at" timestamp;'
    )
    statements, transactional = _prepare(sql)
    assert transactional
    assert statements == [
        'CREATE TABLE "users" ("id" serial PRIMARY KEY, "pending_end" text);',
        'ALTER TABLE "users" ADD COLUMN "started_at" timestamp;',
    ]


def test_plpgsql_begin_and_end_are_not_transaction_control() -> None:
    sql = (
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN NEW.updated_at = now(); RETURN NEW; END $$;\n"
        "ALTER TYPE mood ADD VALUE 'meh';"
    )
    statements, transactional = _prepare(sql)
    assert transactional  # ADD VALUE runs in a transaction on PostgreSQL >= 12
    assert len(statements) == 2


def test_transaction_control_is_refused_whatever_its_case() -> None:
    with pytest.raises(UsageError, match="line 2: COMMIT controls the transaction"):
        _prepare("CREATE TABLE t (id int);\nCommit;")


def test_syntax_error_in_a_file_without_keywords_is_still_caught() -> None:
    with pytest.raises(MigrationFailed, match="line 2"):
        _prepare("CREATE TABLE t (id int);\nCREAT TABLE u (id int);")
