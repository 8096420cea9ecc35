"""Splitting and analysis of migration files (kubemigrate.domain.sql)."""

from __future__ import annotations

import pytest

from kubemigrate.domain.sql import (
    IndexBuild,
    SqlSyntaxError,
    Statement,
    analyse,
    split_statements,
)

DRIZZLE = """\
CREATE TYPE "public"."role" AS ENUM('admin', 'user');--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "users" (
\t"id" serial PRIMARY KEY NOT NULL,
\t"email" varchar(255) NOT NULL,
\tCONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "posts" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "users"("id");
EXCEPTION
 WHEN duplicate_object THEN null;
END $$;
"""


def kinds(sql: str) -> list[str]:
    return [s.kind for s in split_statements(sql)]


def one(sql: str, **kwargs: int) -> Statement:
    (statement,) = analyse(sql, **kwargs).statements
    return statement


# --- splitting ------------------------------------------------------------------


def test_drizzle_breakpoints_split_into_statements_with_lines_and_offsets() -> None:
    statements = split_statements(DRIZZLE)
    assert [s.kind for s in statements] == ["CreateEnumStmt", "CreateStmt", "DoStmt"]
    assert [s.line for s in statements] == [1, 2, 8]
    for s in statements:
        assert DRIZZLE[s.offset :].startswith(s.text)
    assert statements[0].text == """CREATE TYPE "public"."role" AS ENUM('admin', 'user')"""
    assert statements[1].text.endswith('UNIQUE("email")\n)')
    assert statements[2].text.endswith("END $$")


def test_semicolons_inside_strings_dollar_bodies_and_comments_do_not_split() -> None:
    sql = """
        INSERT INTO t VALUES ('a;b'); -- x; y
        CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$
        BEGIN PERFORM 1; RETURN 2; END $body$;
        /* c; /* nested; */ */ SELECT 1
    """
    assert kinds(sql) == ["InsertStmt", "CreateFunctionStmt", "SelectStmt"]


def test_offsets_are_str_indexes_even_after_non_ascii_text() -> None:
    sql = "-- café ☕ naïve\nSELECT 'déjà vu';\n\nCREATE TABLE \"ünïcode\" (a int);\n"
    first, second = split_statements(sql)
    assert sql[first.offset : first.offset + len(first.text)] == "SELECT 'déjà vu'"
    assert sql[second.offset : second.offset + len(second.text)] == 'CREATE TABLE "ünïcode" (a int)'
    assert (first.line, second.line) == (2, 4)


def test_text_excludes_semicolon_and_surrounding_comments() -> None:
    sql = "  -- lead\n  SELECT 1 -- trailing\n ; /* after */\nSELECT 2 -- no semicolon\n"
    assert [s.text for s in split_statements(sql)] == ["SELECT 1", "SELECT 2"]


def test_byte_order_mark_does_not_shift_offsets() -> None:
    sql = "\ufeffSELECT 1;\nSELECT 2;"
    first, second = split_statements(sql)
    assert (first.offset, first.text) == (1, "SELECT 1")
    assert sql[second.offset :].startswith("SELECT 2")


@pytest.mark.parametrize("sql", ["", "   \n", "-- only a comment\n", "/* c */ ;; ;", "--> x\n"])
def test_empty_and_comment_only_files_have_no_statements(sql: str) -> None:
    analysed = analyse(sql)
    assert analysed.statements == ()
    assert not analysed.needs_no_transaction
    assert not analysed.mixed


def test_syntax_error_reports_message_line_and_offset() -> None:
    sql = "SELECT 'é';\n--> statement-breakpoint\nCREAT TABLE t (a int);"
    with pytest.raises(SqlSyntaxError) as caught:
        analyse(sql)
    assert caught.value.message == 'syntax error at or near "CREAT"'
    assert caught.value.line == 3
    assert sql[caught.value.offset :].startswith("CREAT TABLE")
    assert str(caught.value).startswith("line 3: ")
    assert isinstance(caught.value, ValueError)


def test_syntax_error_at_end_of_input_points_past_the_text() -> None:
    sql = "SELECT 1;\nCREATE TABLE t (a int"
    with pytest.raises(SqlSyntaxError) as caught:
        analyse(sql)
    assert caught.value.message == "syntax error at end of input"
    assert (caught.value.line, caught.value.offset) == (2, len(sql))


# --- transactions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
        "DROP INDEX CONCURRENTLY i",
        "REINDEX INDEX CONCURRENTLY i",
        "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
        "REINDEX SCHEMA public",
        "REINDEX DATABASE app",
        "REINDEX SYSTEM app",
        "VACUUM",
        "VACUUM (ANALYZE) t",
        "CREATE DATABASE x",
        "DROP DATABASE IF EXISTS x",
        "ALTER DATABASE x SET TABLESPACE y",
        "ALTER SYSTEM SET work_mem = '1MB'",
        "CREATE TABLESPACE ts LOCATION '/x'",
        "DROP TABLESPACE ts",
        "CLUSTER",
        "DISCARD ALL",
        "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
        "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p",
        "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (create_slot = true)",
        "DROP SUBSCRIPTION s",
        "ALTER SUBSCRIPTION s REFRESH PUBLICATION",
        "ALTER SUBSCRIPTION s SET PUBLICATION p",
        "ALTER SUBSCRIPTION s ADD PUBLICATION p WITH (refresh = on)",
        "COMMIT PREPARED 'x'",
    ],
)
def test_statements_postgresql_refuses_in_a_transaction(sql: str) -> None:
    # Each one was checked against PostgreSQL 15: SQLSTATE 25001 inside BEGIN.
    assert one(sql).transactional is False


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX i ON t (a)",
        "DROP INDEX i",
        "REINDEX TABLE t",
        "ANALYZE t",
        "ALTER DATABASE x SET work_mem = '1MB'",
        "ALTER TABLESPACE ts SET (seq_page_cost = 1)",
        "CLUSTER t USING i",
        "DISCARD PLANS",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
        "ALTER TABLE p DETACH PARTITION p1",
        "ALTER TYPE e ADD VALUE 'x'",
        "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (connect = false)",
        "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (create_slot = false)",
        "ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)",
        "ALTER SUBSCRIPTION s DISABLE",
        "DO $$ BEGIN VACUUM; END $$",
        "SELECT 'VACUUM'",
    ],
)
def test_statements_that_run_in_a_transaction(sql: str) -> None:
    assert one(sql).transactional is True


def test_alter_type_add_value_is_non_transactional_before_postgresql_12() -> None:
    sql = "ALTER TYPE e ADD VALUE IF NOT EXISTS 'x'"
    assert one(sql, server_version_num=110000).transactional is False
    assert one(sql, server_version_num=120000).transactional is True
    assert one("ALTER TYPE e RENAME VALUE 'a' TO 'b'", server_version_num=110000).transactional


def test_a_concurrent_index_alone_needs_no_transaction_and_is_not_mixed() -> None:
    analysed = analyse("CREATE INDEX CONCURRENTLY i ON t (a);")
    assert analysed.needs_no_transaction
    assert not analysed.mixed


@pytest.mark.parametrize(
    ("sql", "build"),
    [
        (
            'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Email" ON app.users (email)',
            IndexBuild("table", ("app", "users"), "Email"),
        ),
        ("CREATE INDEX CONCURRENTLY ON users (email)", IndexBuild("table", ("users",))),
        (
            "REINDEX INDEX CONCURRENTLY app.users_email",
            IndexBuild("index", ("app", "users_email"), "users_email"),
        ),
        ("REINDEX (CONCURRENTLY) TABLE users", IndexBuild("table", ("users",))),
        ("REINDEX SCHEMA CONCURRENTLY app", IndexBuild("schema", ("app",))),
        ("REINDEX DATABASE CONCURRENTLY shop", IndexBuild("database")),
    ],
)
def test_concurrent_index_builds_name_what_they_build(sql: str, build: IndexBuild) -> None:
    """What the engine checks is valid once such a statement ran: an earlier failed
    build's INVALID index is skipped by IF NOT EXISTS and by REINDEX TABLE."""
    assert analyse(f"CREATE TABLE t (a int);\n{sql};").index_builds == ((2, build),)


@pytest.mark.parametrize(
    "sql", ["CREATE INDEX i ON t (a)", "REINDEX TABLE t", "DROP INDEX CONCURRENTLY i"]
)
def test_builds_in_a_transaction_leave_no_invalid_index(sql: str) -> None:
    assert analyse(sql).index_builds == ()


def test_a_build_names_its_relation_as_sql_for_the_server_to_resolve() -> None:
    assert IndexBuild("table", ("App", 'we"ird')).relation_sql == '"App"."we""ird"'


def test_mixing_both_kinds_is_reported() -> None:
    analysed = analyse("CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);")
    assert analysed.mixed
    assert analysed.needs_no_transaction
    assert not analysed.no_transaction_directive


def test_session_settings_before_a_concurrent_index_do_not_make_it_mixed() -> None:
    """squawk's require-lock-timeout asks for exactly this; split in two migrations, the
    settings would be reset before the index's."""
    analysed = analyse(
        "SET statement_timeout = 0;\nSET lock_timeout = '1s';\n"
        "CREATE INDEX CONCURRENTLY i ON t (a);\nRESET lock_timeout;"
    )
    assert not analysed.mixed
    assert analysed.needs_no_transaction
    # SET LOCAL outside a transaction block sets nothing: still refused as mixed
    assert analyse("SET LOCAL lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY i ON t (a);").mixed


def test_no_transaction_directive_is_a_comment_line() -> None:
    analysed = analyse("-- kubemigrate:no-transaction\nUPDATE t SET a = 1 WHERE b;")
    assert analysed.no_transaction_directive
    assert analysed.needs_no_transaction
    assert not analyse("SELECT '-- kubemigrate:no-transaction'").no_transaction_directive
    assert not analyse("-- kubemigrate:no-transactions\nSELECT 1").no_transaction_directive


def test_transaction_control_is_collected_for_the_engine_to_refuse() -> None:
    analysed = analyse("BEGIN;\nCREATE TABLE t (a int);\nSAVEPOINT s;\nCOMMIT;")
    assert [s.text for s in analysed.transaction_control] == ["BEGIN", "SAVEPOINT s", "COMMIT"]
    assert [s.line for s in analysed.transaction_control] == [1, 3, 4]
    assert len(analysed.statements) == 4


# --- destructive statements ------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "description"),
    [
        ('DROP TABLE "users"', "DROP TABLE users"),
        ("DROP TABLE IF EXISTS a.b, c", "DROP TABLE a.b, c"),
        ("DROP MATERIALIZED VIEW mv", "DROP MATERIALIZED VIEW mv"),
        ("DROP SEQUENCE s", "DROP SEQUENCE s"),
        ("DROP SCHEMA app", "DROP SCHEMA app"),
        ("DROP TYPE mood CASCADE", "DROP TYPE mood CASCADE"),
        ("DROP VIEW v CASCADE", "DROP VIEW v CASCADE"),
        ("DROP DATABASE app", "DROP DATABASE app"),
        ("DROP OWNED BY bob", "DROP OWNED BY bob"),
        ('ALTER TABLE "users" DROP COLUMN "email"', "DROP COLUMN users.email"),
        (
            "ALTER TABLE s.t DROP COLUMN a, ALTER COLUMN b TYPE bigint",
            "DROP COLUMN s.t.a; ALTER COLUMN s.t.b TYPE bigint",
        ),
        (
            "ALTER TABLE t ALTER COLUMN b SET DATA TYPE varchar(10)",
            "ALTER COLUMN t.b TYPE varchar(10)",
        ),
        ("ALTER TYPE pair DROP ATTRIBUTE a", "DROP ATTRIBUTE pair.a"),
        ("TRUNCATE orders, items", "TRUNCATE orders, items"),
        ("DELETE FROM orders", "DELETE FROM orders without WHERE"),
        ("UPDATE orders SET paid = true", "UPDATE orders without WHERE"),
        (
            'DO $$ BEGIN DROP TABLE "x"; EXCEPTION WHEN undefined_table THEN null; END $$',
            "DROP TABLE x",
        ),
    ],
)
def test_destructive_statements_are_described(sql: str, description: str) -> None:
    assert one(sql).destructive == description


@pytest.mark.parametrize(
    "sql",
    [
        "DROP INDEX i",
        "DROP VIEW v",
        "DROP TYPE mood",
        "DROP FUNCTION f(int)",
        "DELETE FROM orders WHERE id = 1",
        "UPDATE orders SET paid = true WHERE id = 1",
        "ALTER TABLE t ADD COLUMN a int, DROP CONSTRAINT c",
        "CREATE TABLE t (a int)",
        "SELECT 'DROP TABLE users'",
        "-- DROP TABLE users\nSELECT 1",
    ],
)
def test_non_destructive_statements(sql: str) -> None:
    assert one(sql).destructive is None


@pytest.mark.parametrize(
    ("sql", "warned"),
    [
        ("CREATE TABLE t (a int, b int); ALTER TABLE t DROP COLUMN b", []),
        ("CREATE TABLE t (a int); INSERT INTO t VALUES (1); DELETE FROM t; TRUNCATE t", []),
        ("CREATE TABLE s.t AS SELECT 1 AS a; UPDATE s.t SET a = 2; DROP TABLE s.t", []),
        # the same name written otherwise may be another table: the warning stays
        ("CREATE TABLE t (a int); DROP TABLE public.t", ["DROP TABLE public.t"]),
        ("CREATE TABLE t (a int); DROP TABLE t, old", ["DROP TABLE old"]),
        ("CREATE TABLE t (a int); TRUNCATE t, old", ["TRUNCATE old"]),
        # dropped before it is created: the older table's rows are lost
        ("DROP TABLE t; CREATE TABLE t (a int)", ["DROP TABLE t"]),
        ("CREATE TABLE t (a int); DROP TABLE t CASCADE", ["DROP TABLE t CASCADE"]),
    ],
)
def test_tables_the_file_creates_hold_no_data_to_warn_about(sql: str, warned: list[str]) -> None:
    """A migration that creates a table and then reshapes it (a column dropped, a
    backfill redone) destroys nothing that was there before it ran."""
    assert [s.destructive for s in analyse(sql).destructive] == warned


def test_analysis_of_a_typical_file_is_fast_enough_to_skip_caching() -> None:
    # A smoke check on the order of magnitude only (timing belongs in bench/):
    # 1000 statements must not take seconds.
    sql = "\n--> statement-breakpoint\n".join(
        f'ALTER TABLE "t{i}" ADD COLUMN "c" integer;' for i in range(1000)
    )
    assert len(analyse(sql).statements) == 1000


def test_a_large_file_is_analysed_statement_by_statement() -> None:
    """A 12 MB seed file's tree took 0.9 GB (a Job's memory is 256 Mi): past 1 MiB,
    an INSERT is classified by its first word, the rest parsed one by one, with the
    same answers, lines and offsets as a whole-file analysis."""
    rows = ",\n".join(f"({i}, 'valeur {i} é; end')" for i in range(40000))
    head = "-- kubemigrate:no-transaction\nCREATE TABLE t (id int, v text);\n"
    tail = ";\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nDROP TABLE old;\n"
    sql = head + "INSERT INTO t VALUES\n" + rows + tail
    assert len(sql) > 1 << 20
    big = analyse(sql)
    assert [s.kind for s in big.statements] == ["CreateStmt", "InsertStmt", "IndexStmt", "DropStmt"]
    assert [s.transactional for s in big.statements] == [True, True, False, True]
    assert big.no_transaction_directive
    assert big.statements[3].destructive == "DROP TABLE old"
    for statement in big.statements:
        assert sql[statement.offset :].startswith(statement.text)
        assert statement.line == sql.count("\n", 0, statement.offset) + 1


def test_non_ascii_text_keeps_its_statements_and_quoted_names() -> None:
    """The scanner reads an ASCII stand-in of the file (pglast's offsets for non-ASCII
    text cost quadratic time); the texts and names come from the file itself."""
    from kubemigrate.domain.sql.parsing import parse_file

    sql = '-- é\nCREATE TABLE "Café" ("naïve" text); -- ü\nSELECT \'ß;\'  ;\n'
    first, second = parse_file(sql).statements
    assert first.text == 'CREATE TABLE "Café" ("naïve" text)'
    assert first.quoted == frozenset({"Café", "naïve"})
    assert second.text == "SELECT 'ß;'"
    assert second.line == 3


def test_non_ascii_dollar_quote_tags_still_parse() -> None:
    """Two such tags read the same in the scanner's ASCII stand-in ($x$): the file is
    scanned as it is instead of being refused."""
    from kubemigrate.domain.sql.parsing import parse_file

    sql = "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $é$ SELECT 'it''s $ñ$' $é$;"
    [statement] = parse_file(sql).statements
    assert statement.text == sql.rstrip(";")


def test_a_directive_inside_a_non_ascii_dollar_quote_is_not_one() -> None:
    """The stand-in read $é$ and $ñ$ alike and took a body's line for the directive:
    the whole file would have run outside a transaction."""
    from kubemigrate.domain.sql.parsing import parse_file

    sql = (
        "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $é$ SELECT $ñ$\n"
        "-- kubemigrate:no-transaction\n$ñ$::text $é$;"
    )
    assert not parse_file(sql).no_transaction_directive


@pytest.mark.parametrize(
    ("sql", "numbers"),
    [
        ("CREATE INDEX CONCURRENTLY i ON t (a);\nDROP INDEX CONCURRENTLY j;", {1, 2}),
        ("REINDEX INDEX CONCURRENTLY i;\nVACUUM t;\nDROP INDEX k;", {1}),
        ("CREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN b int;", set()),
        # the file chooses its own: whoever chose a lock timeout for the build gets it
        ("SET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY i ON t (a);", set()),
        ("RESET ALL;\nCREATE INDEX CONCURRENTLY i ON t (a);", set()),
        ("CREATE INDEX CONCURRENTLY i ON t (a);\nDISCARD ALL;", set()),
        ("SELECT set_config( 'lock_timeout', '1s', false);\nDROP INDEX CONCURRENTLY i;", set()),
        # reading it, or setting another, is no choice of one
        (
            "SET statement_timeout = 0;\nCREATE INDEX CONCURRENTLY i ON t (a);\n"
            "CREATE TABLE seen AS SELECT current_setting('lock_timeout');",
            {2},
        ),
    ],
)
def test_concurrent_index_statements_run_without_the_default_lock_timeout(
    sql: str, numbers: set[int]
) -> None:
    """They wait for every older snapshot without blocking the application's queries,
    and a timeout there leaves an INVALID index: the engine lifts its own default."""
    assert analyse(sql).without_default_lock_timeout == numbers
