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
    """A down outside a transaction that stops midway is run again whole once a person
    has looked (the dirty database's advice): each DROP says IF EXISTS."""
    up = "CREATE TABLE t (a int);\n--> statement-breakpoint\nCREATE INDEX CONCURRENTLY i ON t (a);"
    sql = down(up)
    assert sql == "-- kubemigrate:no-transaction\n" + BREAK.join(
        ["DROP INDEX CONCURRENTLY IF EXISTS i;", "DROP TABLE IF EXISTS t;"]
    )
    analysed = analyse(sql)
    assert analysed.mixed
    assert analysed.no_transaction_directive
    assert down("CREATE INDEX CONCURRENTLY i ON t (a)") == "DROP INDEX CONCURRENTLY IF EXISTS i;"


def test_up_directive_is_carried_to_the_down_file() -> None:
    up = "-- kubemigrate:no-transaction\nCREATE TABLE t (a int);"
    assert down(up) == "-- kubemigrate:no-transaction\nDROP TABLE IF EXISTS t;"


def test_a_down_outside_a_transaction_can_run_again() -> None:
    up = (
        "-- kubemigrate:no-transaction\n"
        "CREATE TYPE s AS ENUM ('a');\n"
        "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'select 1';\n"
        "ALTER TABLE older ADD COLUMN c int, ADD CONSTRAINT older_c CHECK (c > 0);\n"
        "CREATE UNIQUE INDEX CONCURRENTLY older_c_idx ON app.older (c);\n"
        "ALTER TABLE older RENAME COLUMN c TO d;\n"
    )
    assert down(up) == "-- kubemigrate:no-transaction\n" + BREAK.join(
        [
            "ALTER TABLE older RENAME COLUMN d TO c;",
            "DROP INDEX CONCURRENTLY IF EXISTS app.older_c_idx;",
            "ALTER TABLE older DROP CONSTRAINT IF EXISTS older_c, DROP COLUMN IF EXISTS c;",
            "DROP FUNCTION IF EXISTS f(integer);",
            "DROP TYPE IF EXISTS s;",
        ]
    )
    # in a transaction a missing object is a surprise worth stopping for
    assert "IF EXISTS" not in down(up.replace("CONCURRENTLY ", "").split("\n", 1)[1])


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
            "line 1: GRANT SELECT ON t TO r (the privileges held before it are unknown; "
            "write its down by hand)",
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
    assert line.endswith("(it calls set_config(): write its down by hand)")


# -- what the DROP of an object the file created undoes ------------------------------


SEED = """\
CREATE TYPE status AS ENUM ('active', 'retired');
COMMENT ON TYPE status IS 'lifecycle';
ALTER TYPE status ADD VALUE 'pending';
GRANT USAGE ON TYPE status TO PUBLIC;
CREATE TABLE countries (code char(2) PRIMARY KEY, name text, status status);
COMMENT ON TABLE countries IS 'ISO 3166';
COMMENT ON COLUMN countries.name IS 'English name';
COMMENT ON CONSTRAINT countries_pkey ON countries IS 'the code';
CREATE INDEX ON countries (name);
CREATE INDEX IF NOT EXISTS countries_status ON countries (status);
INSERT INTO countries VALUES ('FR', 'France', 'active'), ('DE', 'Germany', now()::text);
INSERT INTO countries SELECT code, name, 'active' FROM legacy_countries ON CONFLICT DO NOTHING;
UPDATE countries SET name = upper(name) WHERE code = 'FR';
DELETE FROM countries WHERE code = 'XX';
GRANT SELECT ON countries TO PUBLIC;
REVOKE INSERT ON TABLE countries FROM app_writer;
ALTER TABLE countries ALTER COLUMN name SET DEFAULT 'unknown', ALTER COLUMN status DROP DEFAULT;
ALTER TABLE countries ADD UNIQUE (name), ADD CHECK (code <> ''), OWNER TO app_owner;
ALTER TABLE countries ADD COLUMN IF NOT EXISTS region text, ALTER COLUMN name TYPE varchar(80);
ALTER TABLE countries SET (fillfactor = 90), ALTER COLUMN name SET STATISTICS 500;
CREATE FUNCTION country_name(c char(2), OUT n text) LANGUAGE sql STABLE AS 'select 1';
COMMENT ON FUNCTION country_name(character) IS 'lookup';
REVOKE ALL ON FUNCTION country_name FROM PUBLIC;
GRANT EXECUTE ON FUNCTION country_name(bpchar) TO app_reader;
ALTER FUNCTION country_name(char(2)) SECURITY DEFINER SET search_path = pg_catalog;
ALTER FUNCTION country_name(char) OWNER TO app_owner;
CREATE SEQUENCE ticket;
SELECT setval('ticket', 100);
ALTER SEQUENCE ticket OWNED BY countries.code;
CREATE SCHEMA reports;
COMMENT ON SCHEMA reports IS 'read models';
GRANT USAGE ON SCHEMA reports TO PUBLIC;
CREATE ROLE app_auditor;
GRANT app_reader TO app_auditor;
COMMENT ON ROLE app_auditor IS 'reads';
CREATE INDEX items_name_idx ON items (name);
COMMENT ON INDEX items_name_idx IS 'by name';
ALTER TABLE items ADD COLUMN sku text;
COMMENT ON COLUMN items.sku IS 'stock keeping unit';
ALTER TABLE items ALTER COLUMN sku SET DEFAULT 'n/a', ALTER COLUMN sku SET STATISTICS 100;
SELECT 1;
SELECT count(*), lower('A') FROM countries WHERE now() > '2020-01-01';
"""


def test_what_the_drop_of_an_object_the_file_created_undoes_needs_no_inverse() -> None:
    """Comments, privileges, owners, defaults, unnamed constraints and indexes, options
    and a seed table's rows on an object created in the same file were listed as having
    no inverse, which blocked the rollback of a seed migration; its DROP undoes them."""
    assert down(SEED) == BREAK.join(
        [
            "ALTER TABLE items DROP COLUMN sku;",
            "DROP INDEX items_name_idx;",
            "DROP ROLE app_auditor;",
            "DROP SCHEMA reports;",
            "DROP SEQUENCE ticket;",
            "DROP FUNCTION country_name(char(2));",
            "DROP TABLE countries;",
            "DROP TYPE status;",
        ]
    )


@pytest.mark.parametrize(
    ("up", "reason"),
    [
        # created earlier than the file: its state before is unknown
        ("INSERT INTO items VALUES (1)", "data changes are not inverted"),
        ("COMMENT ON TABLE items IS 'x'", "the previous comment is unknown"),
        ("GRANT SELECT ON items TO r", "the privileges held before it are unknown"),
        ("CREATE INDEX ON items (a)", "it has no name to drop it by"),
        ("ALTER TABLE items ALTER COLUMN a SET DEFAULT 1", "the previous default is unknown"),
        ("ALTER TYPE status ADD VALUE 'x'", "PostgreSQL cannot remove a value from an enum"),
        ("COMMENT ON FUNCTION f(int) IS 'x'", "the previous comment is unknown"),
        # another object of that name: another schema, another search_path, another
        # argument list, or one that may predate the file
        (
            "CREATE TABLE a.docs (id int);\nINSERT INTO b.docs VALUES (1)",
            "data changes are not inverted",
        ),
        (
            "SET search_path TO app;\nCREATE TABLE docs (id int);\nRESET search_path;\n"
            "INSERT INTO docs VALUES (1)",
            "data changes are not inverted",
        ),
        (
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'select 1';\n"
            "COMMENT ON FUNCTION f(text) IS 'x'",
            "the previous comment is unknown",
        ),
        (
            "CREATE TABLE IF NOT EXISTS docs (id int);\nINSERT INTO docs VALUES (1)",
            "data changes are not inverted",
        ),
        (
            "CREATE TABLE docs (id int);\nDROP TABLE docs;\nINSERT INTO docs VALUES (1)",
            "data changes are not inverted",
        ),
    ],
)
def test_on_an_object_the_file_did_not_create_the_statement_is_still_listed(
    up: str, reason: str
) -> None:
    problems = infer_rollback(up).uninvertible
    assert reason in problems[-1]


@pytest.mark.parametrize(
    "up",
    [
        # rows written to the table reach others: a trigger, a rule, a default calling
        # a function, a partition of an older table, an older table's foreign key
        "CREATE TABLE t (a int);\nCREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW "
        "EXECUTE FUNCTION audit();\nINSERT INTO t VALUES (1)",
        "CREATE TABLE t (a int);\nCREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY t;\n"
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE t (a int DEFAULT nextval('older_seq'));\nINSERT INTO t VALUES (DEFAULT)",
        "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET DEFAULT audit();\n"
        "INSERT INTO t VALUES (DEFAULT)",
        "CREATE TABLE t (LIKE older INCLUDING ALL);\nINSERT INTO t VALUES (1)",
        "CREATE TABLE t PARTITION OF older FOR VALUES IN (1);\nINSERT INTO t VALUES (1)",
        "CREATE TABLE t (id int PRIMARY KEY);\nALTER TABLE older ADD COLUMN t_id int "
        "REFERENCES t ON DELETE CASCADE;\nDELETE FROM t",
        "CREATE TABLE t (id int);\nALTER TABLE older INHERIT t;\nDELETE FROM t",
    ],
)
def test_rows_that_may_reach_another_table_are_listed(up: str) -> None:
    assert "its rows may reach other tables" in infer_rollback(up).uninvertible[-1]


@pytest.mark.parametrize(
    ("up", "reason"),
    [
        ("INSERT INTO t VALUES (audit())", "it calls audit()"),
        ("INSERT INTO t SELECT nextval('older_seq')", "it calls nextval()"),
        ("INSERT INTO t VALUES (1) RETURNING app.log(a)", "it calls app.log()"),
        (
            "WITH d AS (DELETE FROM older RETURNING a) INSERT INTO t SELECT a FROM d",
            "its WITH changes data",
        ),
        ("UPDATE t SET a = pg_advisory_lock(1)", "it calls pg_advisory_lock()"),
        ("COPY t TO '/tmp/t.csv'", "data changes are not inverted"),
        ("COPY t FROM PROGRAM 'curl x'", "data changes are not inverted"),
        ("TRUNCATE t CASCADE", "data cannot be restored"),
    ],
)
def test_a_data_change_in_a_table_the_file_created_that_acts_elsewhere_is_listed(
    up: str, reason: str
) -> None:
    result = infer_rollback(f"CREATE TABLE t (a int);\n{up}")
    assert result.sql == "DROP TABLE t;"
    assert len(result.uninvertible) == 1
    assert reason in result.uninvertible[0]


@pytest.mark.parametrize(
    "up",
    [
        # made to depend on something created after the table, which the down drops
        # first: left to the table's DROP, that DROP would fail
        "CREATE TABLE t (a int);\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';\n"
        "CREATE INDEX ON t (f());",
        "CREATE TABLE t (a int);\nCREATE SEQUENCE s;\n"
        "ALTER TABLE t ALTER COLUMN a SET DEFAULT nextval('s');",
        "CREATE TABLE t (a int);\nCREATE TYPE e AS ENUM ('x');\n"
        "ALTER TABLE t ALTER COLUMN a TYPE e USING 'x';",
        "CREATE TABLE t (a int);\nCREATE TABLE u (a int PRIMARY KEY);\n"
        "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u;",
        "CREATE SEQUENCE s;\nCREATE TABLE t (a int);\nALTER SEQUENCE s OWNED BY t.a;",
        # given to a role the file created, whose DROP comes first
        "CREATE TABLE t (a int);\nCREATE ROLE r;\nGRANT SELECT ON t TO r;",
        "CREATE TABLE t (a int);\nCREATE ROLE r;\nALTER TABLE t OWNER TO r;",
        # removes what a statement of the file created, with a DROP in the down
        "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT c UNIQUE (a);\n"
        "ALTER TABLE t DROP CONSTRAINT c;",
    ],
)
def test_what_the_drop_of_the_made_object_would_not_undo_is_listed(up: str) -> None:
    result = infer_rollback(up)
    assert len(result.uninvertible) == 1
    assert result.uninvertible[0].startswith("line 3: ")


def test_names_follow_renames() -> None:
    result = infer_rollback(
        "CREATE TABLE t (a int);\nALTER TABLE t RENAME TO u;\nINSERT INTO u VALUES (1);\n"
        "COMMENT ON COLUMN u.a IS 'x';\nALTER TABLE older ADD COLUMN c int;\n"
        "ALTER TABLE older RENAME COLUMN c TO d;\nCOMMENT ON COLUMN older.d IS 'x';\n"
        "CREATE TYPE e AS ENUM ('x');\nALTER TYPE e RENAME TO f;\nCOMMENT ON TYPE f IS 'x';\n"
    )
    assert result.uninvertible == ()
    assert result.sql == BREAK.join(
        [
            "ALTER TYPE f RENAME TO e;",
            "DROP TYPE e;",
            "ALTER TABLE older RENAME COLUMN d TO c;",
            "ALTER TABLE older DROP COLUMN c;",
            "ALTER TABLE u RENAME TO t;",
            "DROP TABLE t;",
        ]
    )


def test_statements_on_a_temporary_table_the_file_made_need_nothing() -> None:
    """An inverse would run in the rollback's session, which has no such temporary
    table: ALTER TABLE tmp DROP COLUMN found the real table of that name."""
    up = (
        "CREATE TEMP TABLE items (id int);\nALTER TABLE items ADD COLUMN b int;\n"
        "CREATE INDEX items_b ON items (b);\nINSERT INTO items SELECT id, 1 FROM public.items;\n"
        "COMMENT ON TABLE items IS 'x';\nUPDATE public.items SET b = 1;\n"
        "UPDATE items SET b = audit(b);\n"
        "CREATE VIEW recent AS SELECT * FROM items;\n"  # temporary too, PostgreSQL says
        "DROP TABLE items CASCADE;\nALTER TABLE items ADD COLUMN c int;\n"  # the real one again
    )
    result = infer_rollback(up)
    assert result.sql == "ALTER TABLE items DROP COLUMN c;"
    assert result.uninvertible == (
        "line 6: UPDATE public.items SET b = 1 (data changes are not inverted)",
        "line 7: UPDATE items SET b = audit(b) (it calls audit(): write its down by hand)",
    )


def test_a_setting_on_a_table_that_may_predate_the_file_is_listed() -> None:
    """CREATE TABLE IF NOT EXISTS may have created nothing: the table's row level
    security may have been on already."""
    result = infer_rollback(
        "CREATE TABLE IF NOT EXISTS docs (id int);\nALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
    )
    assert result.sql == ""
    assert "row level security may have been on already" in result.uninvertible[1]


# -- queries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "up",
    [
        "SELECT 1",
        "SELECT count(*), lower(name), now() FROM items WHERE id > 0",
        "SELECT pg_catalog.upper('a'), coalesce(NULL, 1), current_timestamp, 'a' || 'b'",
        "SELECT * FROM generate_series(1, 3) AS g WHERE EXISTS (SELECT 1 FROM items)",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE SELECT 1",
        "EXPLAIN (ANALYZE false) INSERT INTO items VALUES (1)",
    ],
)
def test_a_query_that_changes_nothing_has_nothing_to_undo(up: str) -> None:
    assert infer_rollback(up) == InferredRollback(NOTHING, ())


@pytest.mark.parametrize(
    ("up", "reason"),
    [
        ("SELECT setval('items_id_seq', 42)", "it calls setval()"),
        ("SELECT nextval('items_id_seq')", "it calls nextval()"),
        ("SELECT pg_advisory_lock(42)", "it calls pg_advisory_lock()"),
        ("SELECT refresh_totals()", "it calls refresh_totals()"),
        ("SELECT lower(a), app.lower(a) FROM t", "it calls app.lower()"),
        ("SELECT * FROM items WHERE id = audit(id)", "it calls audit()"),
        ("SELECT 1 INTO copy_of", "SELECT INTO creates a table"),
        ("WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d", "its WITH changes data"),
        ("EXPLAIN ANALYZE INSERT INTO items VALUES (1)", "data changes are not inverted"),
        ("EXPLAIN ANALYZE SELECT refresh_totals()", "it calls refresh_totals()"),
    ],
)
def test_a_query_that_may_change_something_is_listed(up: str, reason: str) -> None:
    """Only what provably changes nothing is left out: a SELECT's functions may."""
    (line,) = problems(up)
    assert line.startswith(f"line 1: {up} ({reason}")
