"""Inferred down migrations (kubemigrate.domain.sql.infer_rollback).

The golden files below were also applied up-then-down against PostgreSQL 15 while
this module was written, leaving the catalog as it was; here they pin the text.
"""

from __future__ import annotations

import pytest
from pglast import parser

from kubemigrate.domain.sql import SqlSyntaxError, analyse
from kubemigrate.domain.sql.rollback import InferredRollback, infer_rollback

BREAK = "\n--> statement-breakpoint\n"
NOTHING = "-- kubemigrate:nothing-to-undo\n"

DRIZZLE_UP = """\
CREATE TYPE "public"."role" AS ENUM('admin', 'user');--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "users" (
\t"id" serial PRIMARY KEY NOT NULL,
\t"email" varchar(255) NOT NULL, -- café ☕
\tCONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "posts" ("id" serial PRIMARY KEY NOT NULL, "user_id" integer NOT NULL);
--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "posts" ADD CONSTRAINT "posts_user_id_users_id_fk" FOREIGN KEY ("user_id") \
REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;
EXCEPTION
 WHEN duplicate_object THEN null;
END $$;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "posts_user_idx" ON "posts" USING btree ("user_id");\
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "age" integer;--> statement-breakpoint
ALTER TABLE "users" RENAME COLUMN "age" TO "years";
"""

DRIZZLE_DOWN = BREAK.join(
    [
        'ALTER TABLE "users" RENAME COLUMN "years" TO "age";',
        'ALTER TABLE "users" DROP COLUMN "age";',
        'DROP TYPE "public"."role";',
    ]
)

MAY_HAVE_EXISTED = "the object may have existed before this migration; write its down by hand"
IF_NOT_EXISTS = f"(IF NOT EXISTS: {MAY_HAVE_EXISTED})"
GUARDED = f"(its DO block ignores errors: {MAY_HAVE_EXISTED})"

# Older drizzle-kit's IF NOT EXISTS and DO-block guards make their statements no-ops
# where the object already exists, so they are left for a person to undo.
DRIZZLE_UNINVERTIBLE = (
    f'line 2: CREATE TABLE IF NOT EXISTS "users" ( "id" serial PRIMARY... {IF_NOT_EXISTS}',
    f'line 8: CREATE TABLE IF NOT EXISTS "posts" ("id" serial PRIMARY K... {IF_NOT_EXISTS}',
    f'line 10: ALTER TABLE "posts" ADD CONSTRAINT "posts_user_id_users_i... {GUARDED}',
    f'line 16: CREATE INDEX IF NOT EXISTS "posts_user_idx" ON "posts" US... {IF_NOT_EXISTS}',
)

HANDWRITTEN_UP = """\
SET search_path TO app, public;
CREATE SCHEMA IF NOT EXISTS app;
CREATE TABLE "Accounts" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "Name" text);
CREATE SEQUENCE app.counter;
CREATE VIEW app.v AS SELECT 1 AS x;
CREATE MATERIALIZED VIEW app.mv AS SELECT 1 AS x;
CREATE TYPE app.pair AS (a int, b text);
CREATE DOMAIN app.posint AS int CHECK (VALUE > 0);
CREATE FUNCTION app.f(a varchar(10), OUT b int, VARIADIC c int[]) LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION app.trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER "Tr" BEFORE INSERT ON "Accounts" FOR EACH ROW EXECUTE FUNCTION app.trg();
ALTER TABLE "Accounts" ADD COLUMN n int, ADD COLUMN m int NOT NULL DEFAULT 0,
  ADD CONSTRAINT m_pos CHECK (m >= 0), ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON "Accounts" USING (true);
ALTER TABLE "Accounts" ALTER COLUMN n SET NOT NULL;
ALTER TABLE "Accounts" RENAME TO "Accounts2";
ALTER TABLE "Accounts2" RENAME CONSTRAINT m_pos TO m_positive;
CREATE UNIQUE INDEX "Idx" ON app."Accounts2" ("Name");
ALTER INDEX app."Idx" RENAME TO idx2;
CREATE TYPE app.mood AS ENUM ('a');
ALTER TYPE app.mood RENAME VALUE 'a' TO 'b';
ALTER TYPE app.mood RENAME TO feeling;
CREATE TABLE part (a int) PARTITION BY RANGE (a);
CREATE TABLE part1 (a int);
ALTER TABLE part ATTACH PARTITION part1 FOR VALUES FROM (1) TO (10);
CREATE EXTENSION IF NOT EXISTS pg_trgm;
SET search_path TO public;
CREATE TABLE public.z (a int);
"""

HANDWRITTEN_DOWN = BREAK.join(
    [
        "SET search_path TO public;",
        "DROP TABLE public.z;",
        "SET search_path TO app, public;",
        "ALTER TABLE part DETACH PARTITION part1;",
        "DROP TABLE part1;",
        "DROP TABLE part;",
        "ALTER TYPE app.feeling RENAME TO mood;",
        "ALTER TYPE app.mood RENAME VALUE 'b' TO 'a';",
        "DROP TYPE app.mood;",
        'ALTER INDEX app.idx2 RENAME TO "Idx";',
        'DROP INDEX app."Idx";',
        'ALTER TABLE "Accounts2" RENAME CONSTRAINT m_positive TO m_pos;',
        'ALTER TABLE "Accounts2" RENAME TO "Accounts";',
        'ALTER TABLE "Accounts" ALTER COLUMN n DROP NOT NULL;',
        'DROP POLICY p ON "Accounts";',
        'ALTER TABLE "Accounts" DISABLE ROW LEVEL SECURITY, DROP CONSTRAINT m_pos,'
        " DROP COLUMN m, DROP COLUMN n;",
        'DROP TRIGGER "Tr" ON "Accounts";',
        "DROP FUNCTION app.trg();",
        "DROP FUNCTION app.f(varchar(10), integer[]);",
        "DROP DOMAIN app.posint;",
        "DROP TYPE app.pair;",
        "DROP MATERIALIZED VIEW app.mv;",
        "DROP VIEW app.v;",
        "DROP SEQUENCE app.counter;",
        'DROP TABLE "Accounts";',
        # the session's own again: a batch rollback's next down runs after this one
        "RESET search_path;",
    ]
)

HANDWRITTEN_UNINVERTIBLE = (
    f"line 2: CREATE SCHEMA IF NOT EXISTS app {IF_NOT_EXISTS}",
    f"line 26: CREATE EXTENSION IF NOT EXISTS pg_trgm {IF_NOT_EXISTS}",
)


def down(sql: str) -> str:
    result = infer_rollback(sql)
    assert result.uninvertible == ()
    return result.sql


def problems(sql: str) -> tuple[str, ...]:
    result = infer_rollback(sql)
    assert result.sql == ""
    return result.uninvertible


def test_drizzle_file_golden() -> None:
    assert infer_rollback(DRIZZLE_UP) == InferredRollback(DRIZZLE_DOWN, DRIZZLE_UNINVERTIBLE)


def test_handwritten_file_golden_replays_settings_in_reverse() -> None:
    assert infer_rollback(HANDWRITTEN_UP) == InferredRollback(
        HANDWRITTEN_DOWN, HANDWRITTEN_UNINVERTIBLE
    )


@pytest.mark.parametrize("up", [DRIZZLE_UP, HANDWRITTEN_UP])
def test_golden_down_files_parse_and_invert_statement_by_statement(up: str) -> None:
    sql = infer_rollback(up).sql
    assert len(parser.parse_sql(sql)) == sql.count(";")
    assert not analyse(sql).needs_no_transaction


@pytest.mark.parametrize(
    ("up", "expected"),
    [
        ("CREATE TABLE t (a int)", "DROP TABLE t;"),
        ("CREATE UNLOGGED TABLE s.t (a int)", "DROP TABLE s.t;"),
        ("CREATE TABLE t AS SELECT 1", "DROP TABLE t;"),
        ("CREATE MATERIALIZED VIEW m AS SELECT 1", "DROP MATERIALIZED VIEW m;"),
        ("CREATE UNIQUE INDEX i ON s.t (a)", "DROP INDEX s.i;"),
        ('CREATE INDEX "I" ON t (a) WHERE a > 0', 'DROP INDEX "I";'),
        ("CREATE TYPE r AS RANGE (subtype = int4)", "DROP TYPE r;"),
        ("CREATE TYPE b", "DROP TYPE b;"),
        ("CREATE SCHEMA AUTHORIZATION bob", "DROP SCHEMA bob;"),
        ('CREATE EXTENSION "uuid-ossp"', 'DROP EXTENSION "uuid-ossp";'),
        (
            "CREATE FUNCTION f(INOUT a int, b text DEFAULT 'x', OUT c int) "
            "LANGUAGE sql AS 'select 1, 2'",
            "DROP FUNCTION f(integer, text);",
        ),
        ("CREATE PROCEDURE p() LANGUAGE sql AS 'select 1'", "DROP PROCEDURE p();"),
        ("CREATE ROLE app_reader", "DROP ROLE app_reader;"),
        (
            "ALTER TABLE IF EXISTS ONLY t ADD COLUMN a int",
            "ALTER TABLE IF EXISTS ONLY t DROP COLUMN a;",
        ),
        ("ALTER TYPE pair ADD ATTRIBUTE c int", "ALTER TYPE pair DROP ATTRIBUTE c;"),
        ("ALTER TABLE t VALIDATE CONSTRAINT c", NOTHING),
        ("ALTER VIEW v RENAME COLUMN a TO b", "ALTER VIEW v RENAME COLUMN b TO a;"),
        ("ALTER SCHEMA a RENAME TO b", "ALTER SCHEMA b RENAME TO a;"),
        ("ALTER TRIGGER a ON s.t RENAME TO b", "ALTER TRIGGER b ON s.t RENAME TO a;"),
        ("ALTER POLICY a ON t RENAME TO b", "ALTER POLICY b ON t RENAME TO a;"),
        ("ALTER SEQUENCE s.a RENAME TO b", "ALTER SEQUENCE s.b RENAME TO a;"),
        ("ALTER TYPE e RENAME VALUE 'it''s' TO 'b'", "ALTER TYPE e RENAME VALUE 'b' TO 'it''s';"),
        ("VACUUM ANALYZE t; ANALYZE t; REINDEX TABLE t; CLUSTER t", NOTHING),
    ],
)
def test_single_statement_inverses(up: str, expected: str) -> None:
    sql = down(up)
    assert sql == expected
    if sql:
        parser.parse_sql(sql)


def test_concurrent_index_inverse_is_concurrent_and_keeps_the_file_valid() -> None:
    up = "CREATE TABLE t (a int);\n--> statement-breakpoint\nCREATE INDEX CONCURRENTLY i ON t (a);"
    sql = down(up)
    assert sql == "-- kubemigrate:no-transaction\n" + BREAK.join(
        ["DROP INDEX CONCURRENTLY i;", "DROP TABLE t;"]
    )
    analysed = analyse(sql)
    assert analysed.mixed
    assert analysed.no_transaction_directive
    assert down("CREATE INDEX CONCURRENTLY i ON t (a)") == "DROP INDEX CONCURRENTLY i;"


def test_up_directive_is_carried_to_the_down_file() -> None:
    up = "-- kubemigrate:no-transaction\nCREATE TABLE t (a int);"
    assert down(up) == "-- kubemigrate:no-transaction\nDROP TABLE t;"


@pytest.mark.parametrize(
    ("up", "line"),
    [
        ("DROP TABLE legacy", "line 1: DROP TABLE legacy (data cannot be restored)"),
        (
            "DROP INDEX i, j",
            "line 1: DROP INDEX i, j (its definition is not in this migration)",
        ),
        ("TRUNCATE orders", "line 1: TRUNCATE orders (data cannot be restored)"),
        (
            "INSERT INTO t VALUES (1)",
            "line 1: INSERT INTO t VALUES (1) (data changes are not inverted)",
        ),
        (
            "ALTER TYPE e ADD VALUE 'x'",
            "line 1: ALTER TYPE e ADD VALUE 'x' (PostgreSQL cannot remove a value from an enum)",
        ),
        (
            "COMMENT ON TABLE t IS 'x'",
            "line 1: COMMENT ON TABLE t IS 'x' (the previous comment is unknown)",
        ),
        (
            "CREATE INDEX ON t (a)",
            "line 1: CREATE INDEX ON t (a) (it has no name to drop it by: name the index)",
        ),
        (
            "CREATE OR REPLACE VIEW v AS SELECT 1",
            "line 1: CREATE OR REPLACE VIEW v AS SELECT 1 (the definition it replaced is unknown)",
        ),
        (
            "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'",
            "line 1: CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql A... "
            "(the definition it replaced is unknown)",
        ),
        (
            "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1",
            "line 1: ALTER TABLE t ALTER COLUMN a SET DEFAULT (the previous default is unknown)",
        ),
        (
            "ALTER TABLE t ADD CHECK (a > 0)",
            "line 1: ALTER TABLE t ADD CONSTRAINT (it has no name: name the constraint)",
        ),
        (
            "DO $$ BEGIN PERFORM 1; END $$",
            "line 1: DO $$ BEGIN PERFORM 1; END $$ (procedural code is not inverted)",
        ),
        (
            "GRANT SELECT ON t TO r",
            "line 1: GRANT SELECT ON t TO r (no inverse is known for GrantStmt)",
        ),
    ],
)
def test_uninvertible_statements_are_listed_not_guessed(up: str, line: str) -> None:
    assert problems(up) == (line,)


@pytest.mark.parametrize(
    "up",
    [
        "CREATE TABLE IF NOT EXISTS users (id int)",
        "CREATE UNLOGGED TABLE IF NOT EXISTS s.t (a int)",
        "CREATE TABLE IF NOT EXISTS t AS SELECT 1",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS m AS SELECT 1",
        "CREATE INDEX IF NOT EXISTS users_email_idx ON users (email)",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
        "CREATE SCHEMA IF NOT EXISTS app",
        'CREATE EXTENSION IF NOT EXISTS "uuid-ossp"',
        "CREATE SEQUENCE IF NOT EXISTS s.counter",
        'CREATE COLLATION IF NOT EXISTS c FROM "C"',
    ],
)
def test_if_not_exists_is_listed_not_dropped(up: str) -> None:
    assert problems(up) == (f"line 1: {up} {IF_NOT_EXISTS}",)


@pytest.mark.parametrize(
    ("head", "listed"),
    [
        ("ALTER TABLE users", "ALTER TABLE users"),
        ("ALTER TABLE IF EXISTS ONLY s.users", "ALTER TABLE s.users"),
    ],
)
def test_add_column_if_not_exists_is_listed_not_dropped(head: str, listed: str) -> None:
    up = f"{head} ADD COLUMN IF NOT EXISTS email text"
    assert problems(up) == (f"line 1: {listed} ADD COLUMN IF NOT EXISTS email {IF_NOT_EXISTS}",)


@pytest.mark.parametrize(
    ("up", "what"),
    [
        (
            'DO $$ BEGIN CREATE TYPE "public"."s" AS ENUM(\'a\'); '
            "EXCEPTION WHEN duplicate_object THEN null; END $$",
            'CREATE TYPE "public"."s" AS ENUM(\'a\')',
        ),
        (
            'DO $$ BEGIN\n ALTER TABLE "posts" ADD CONSTRAINT "fk" FOREIGN KEY ("u") '
            'REFERENCES "users"("id");\nEXCEPTION\n WHEN duplicate_object THEN null;\nEND $$',
            'ALTER TABLE "posts" ADD CONSTRAINT "fk" FOREIGN KEY ("u")...',
        ),
    ],
)
def test_drizzle_guarded_statement_is_listed_not_dropped(up: str, what: str) -> None:
    assert problems(up) == (f"line 1: {what} {GUARDED}",)


def test_guarded_statement_without_an_inverse_keeps_its_own_reason() -> None:
    up = "DO $$ BEGIN INSERT INTO t VALUES (1); EXCEPTION WHEN unique_violation THEN null; END $$"
    assert problems(up) == ("line 1: INSERT INTO t VALUES (1) (data changes are not inverted)",)


def test_if_not_exists_statements_are_listed_and_the_rest_inverted() -> None:
    up = (
        "CREATE TABLE IF NOT EXISTS users (id int);\n"
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS email text, ADD COLUMN age int;\n"
        "CREATE INDEX users_age_idx ON users (age);\n"
        "CREATE TABLE audit (id int);\n"
    )
    result = infer_rollback(up)
    assert result.sql == BREAK.join(
        [
            "DROP TABLE audit;",
            "DROP INDEX users_age_idx;",
            "ALTER TABLE users DROP COLUMN age;",
        ]
    )
    assert result.uninvertible == (
        f"line 1: CREATE TABLE IF NOT EXISTS users (id int) {IF_NOT_EXISTS}",
        f"line 2: ALTER TABLE users ADD COLUMN IF NOT EXISTS email {IF_NOT_EXISTS}",
    )


def test_partly_invertible_alter_table_inverts_what_it_can() -> None:
    up = (
        "SELECT 1;\n"
        "ALTER TABLE s.t ADD COLUMN a int, DROP COLUMN b, ALTER COLUMN c TYPE bigint,"
        " DROP CONSTRAINT k, ADD CONSTRAINT u UNIQUE (a), SET UNLOGGED;"
    )
    result = infer_rollback(up)
    assert result.sql == "ALTER TABLE s.t DROP CONSTRAINT u, DROP COLUMN a;"
    assert result.uninvertible == (
        "line 1: SELECT 1 (no inverse is known for SelectStmt)",
        "line 2: ALTER TABLE s.t DROP COLUMN b (data cannot be restored); "
        "ALTER TABLE s.t ALTER COLUMN c TYPE (the previous type is unknown); "
        "ALTER TABLE s.t DROP CONSTRAINT k (its definition is unknown); "
        "ALTER TABLE s.t SetUnLogged (no inverse is known)",
    )


def test_settings_before_the_first_inverse_are_replayed_and_resets_honoured() -> None:
    up = (
        "SET lock_timeout = '5s';\nCREATE TABLE a (x int);\nRESET lock_timeout;\n"
        "CREATE TABLE b (x int);\nSET LOCAL statement_timeout = 0;\nCREATE TABLE c (x int);"
    )
    assert down(up) == BREAK.join(
        [
            "SET LOCAL statement_timeout = 0;",
            "DROP TABLE c;",
            "RESET statement_timeout;",
            "DROP TABLE b;",
            "SET lock_timeout = '5s';",
            "DROP TABLE a;",
            "RESET lock_timeout;",
        ]
    )


def test_temporary_objects_have_nothing_to_undo() -> None:
    """Gone with the up's session: a DROP in the rollback's would find a table of the
    same name, the real one, and drop it with its rows."""
    for up in (
        "CREATE TEMP TABLE order_items AS SELECT * FROM public.order_items",
        "CREATE TEMPORARY TABLE staging (id int)",
        "CREATE TEMP VIEW v AS SELECT 1",
        "CREATE TEMP SEQUENCE s",
    ):
        assert infer_rollback(up) == infer_rollback(""), up


def test_a_file_that_changes_no_schema_has_nothing_to_undo() -> None:
    """Said so, in the directive a rollback accepts (an empty down blocked its batch)."""
    assert infer_rollback("-- nothing\n") == infer_rollback("")
    assert infer_rollback("").sql == NOTHING
    assert infer_rollback("").uninvertible == ()


def test_syntax_errors_propagate() -> None:
    with pytest.raises(SqlSyntaxError):
        infer_rollback("CREATE TABLE (")


def test_lines_in_uninvertible_point_at_the_up_statement() -> None:
    up = "CREATE TABLE a (x int);\n--> statement-breakpoint\n\nDROP TABLE b;"
    result = infer_rollback(up)
    assert result.sql == "DROP TABLE a;"
    assert result.uninvertible == ("line 4: DROP TABLE b (data cannot be restored)",)


def test_what_looks_invertible_but_is_not_is_listed() -> None:
    using_index = infer_rollback(
        'ALTER TABLE "c" ADD CONSTRAINT "c_phone_unique" UNIQUE USING INDEX "p_idx"'
    )
    assert "drops the index it took over" in using_index.uninvertible[0]
    renamed = infer_rollback('ALTER TABLE IF EXISTS "legacy" RENAME TO "clients"')
    assert (renamed.sql, "renamed nothing" in renamed.uninvertible[0]) == ("", True)
    attached = infer_rollback('ALTER INDEX "m_v_idx" ATTACH PARTITION "m26_v_idx"')
    assert (attached.sql, "cannot be detached" in attached.uninvertible[0]) == ("", True)


@pytest.mark.parametrize(
    "up",
    [
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE docs FORCE ROW LEVEL SECURITY",
        "ALTER TABLE docs DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE acct ALTER COLUMN email SET NOT NULL",
        "ALTER TABLE acct ALTER COLUMN nick DROP NOT NULL",
        "ALTER TABLE k ADD CONSTRAINT k_pkey PRIMARY KEY (id)",
    ],
)
def test_a_setting_an_older_table_may_already_have_is_listed(up: str) -> None:
    """Re-asserted (RLS already on, a column already NOT NULL), its reverse would change
    what was there before: a down turned row level security off and exposed every row."""
    result = infer_rollback(up)
    assert len(result.uninvertible) == 1
    assert "write" in result.uninvertible[0]


def test_a_setting_on_what_the_file_created_is_reversed() -> None:
    result = infer_rollback(
        "CREATE TABLE docs (id int, email text);\n"
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY, ADD CONSTRAINT docs_pk PRIMARY KEY (id);\n"
        "ALTER TABLE acct ADD COLUMN nick text;\n"
        "ALTER TABLE acct ALTER COLUMN nick SET NOT NULL;\n"
    )
    assert result.uninvertible == ()
    assert result.sql == BREAK.join(
        [
            "ALTER TABLE acct ALTER COLUMN nick DROP NOT NULL;",
            "ALTER TABLE acct DROP COLUMN nick;",
            "ALTER TABLE docs DROP CONSTRAINT docs_pk, DISABLE ROW LEVEL SECURITY;",
            "DROP TABLE docs;",
        ]
    )


def test_a_table_of_the_same_name_in_another_schema_is_not_one_the_file_made() -> None:
    result = infer_rollback(
        "CREATE TABLE a.docs (id int);\nALTER TABLE b.docs ENABLE ROW LEVEL SECURITY;\n"
    )
    assert len(result.uninvertible) == 1
    assert "b.docs ENABLE ROW LEVEL SECURITY" in result.uninvertible[0]

# -- settings made by set_config ----------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "SELECT pg_catalog.set_config('search_path', 'app', false)",  # what pg_dump writes
        "SELECT set_config('search_path', 'app', false)",
        "select PG_CATALOG.SET_CONFIG('Search_Path', 'app', 'f')",
        "SELECT set_config('search_path', 'app', true)",  # to the end of the transaction
    ],
)
def test_set_config_is_replayed_as_set_is(setting: str) -> None:
    """A pg_dump-made migration sets its search_path with set_config, not SET. Its down
    listed the SELECT as having no inverse and dropped ``widgets`` under the session's
    search_path: a person who deleted the note (a SELECT changes nothing) lost
    public.widgets and its rows."""
    up = f"{setting};\nCREATE TABLE widgets (id int);\n"
    assert down(up) == BREAK.join([f"{setting};", "DROP TABLE widgets;", "RESET search_path;"])


def test_set_config_tracks_like_set_for_every_setting() -> None:
    up = (
        "SELECT set_config('lock_timeout', '5s', false);\n"
        "CREATE TABLE a (x int);\n"
        "SELECT set_config('lock_timeout', NULL, false);\n"  # NULL: back to the default
        "CREATE TABLE b (x int);\n"
        "SET search_path TO app;\n"
        "SELECT set_config('search_path', '', false);\n"
        "CREATE TABLE public.c (x int);\n"
        "SELECT set_config('my-app.tenant', 'x', false);\n"
        "CREATE TABLE public.d (x int);\n"
    )
    assert down(up) == BREAK.join(
        [
            "SELECT set_config('search_path', '', false);",
            "SELECT set_config('my-app.tenant', 'x', false);",
            "DROP TABLE public.d;",
            'RESET "my-app"."tenant";',
            "DROP TABLE public.c;",
            "RESET search_path;",
            "DROP TABLE b;",
            "SELECT set_config('lock_timeout', '5s', false);",
            "DROP TABLE a;",
            "RESET lock_timeout;",
        ]
    )


@pytest.mark.parametrize(
    "select",
    [
        "SELECT set_config('search_path', current_setting('search_path') || ',app', false)",
        "SELECT set_config('search_path', 'app', false), set_config('lock_timeout', '1s', false)",
        "SELECT set_config('search_path', name, false) FROM schemas",
    ],
)
def test_a_set_config_whose_value_the_down_cannot_repeat_is_listed(select: str) -> None:
    """Computed from the database, the value could differ when the down runs."""
    result = infer_rollback(f"{select};\nCREATE TABLE widgets (id int);")
    assert result.sql == "DROP TABLE widgets;"
    (line,) = result.uninvertible
    assert line.startswith("line 1: SELECT set_config(")
    assert line.endswith("(no inverse is known for SelectStmt)")

