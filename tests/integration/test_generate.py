"""``kubemigrate generate`` through the CLI: the down it infers, run on a real
PostgreSQL (generate, migrate, rollback: the schema and rows are as before), and what it
refuses before writing anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import applied_names, connect, query, schema_dump, table_exists


def _generate(tmp_path: Path, name: str, sql: str) -> tuple[Path, str]:
    """Generate ``name`` from ``sql``; the folder and the down file's text."""
    source = tmp_path / f"{name}.sql"
    source.write_text(sql)
    drizzle = tmp_path / "drizzle"
    made = run_cli("generate", name, "--sql", str(source), "--dir", str(drizzle))
    assert made.returncode == 0, made.stderr
    assert "Not inverted" not in made.stdout, made.stdout
    (down,) = drizzle.glob(f"*_{name}.down.sql")
    text = down.read_text()
    assert "could not invert" not in text
    return drizzle, text


def _round_trips(
    drizzle: Path, url: str, before: str, check_applied: Callable[[], None] | None = None
) -> None:
    """migrate then rollback, twice: each rollback leaves the schema as it was."""
    for _ in range(2):
        up = run_cli("migrate", "--dir", str(drizzle), database_url=url)
        assert up.returncode == 0, up.stderr
        if check_applied is not None:
            check_applied()
        down = run_cli("rollback", "--dir", str(drizzle), database_url=url)
        assert down.returncode == 0, down.stderr
        assert applied_names(url) == []
        assert schema_dump(url) == before


@pytest.mark.parametrize(
    "setting",
    [
        "SELECT pg_catalog.set_config('search_path', 'app', false);",  # pg_dump's
        "SELECT set_config('search_path', 'app', true);",  # to the end of the transaction
    ],
)
def test_a_search_path_set_with_set_config_is_replayed_by_the_rollback(
    tmp_path: Path, database_url: str, setting: str
) -> None:
    """The down was ``DROP TABLE widgets;`` under a note that the SELECT had no inverse;
    a person deleted the note (a SELECT changes nothing) and the rollback dropped
    public.widgets, rows and all, instead of app.widgets."""
    with connect(database_url) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("CREATE TABLE public.widgets (id int)")
        conn.execute("INSERT INTO public.widgets VALUES (42)")
    drizzle, down = _generate(
        tmp_path, "widgets", f"{setting}\nCREATE TABLE widgets (id int, name text);\n"
    )
    assert down.startswith(setting)
    before = schema_dump(database_url)

    def made_in_app() -> None:
        assert table_exists(database_url, "app.widgets")

    _round_trips(drizzle, database_url, before, made_in_app)
    assert query(database_url, "SELECT id FROM public.widgets") == [(42,)]
    assert not table_exists(database_url, "app.widgets")


SEED = """\
CREATE TYPE country_status AS ENUM ('active', 'retired');
COMMENT ON TYPE country_status IS 'lifecycle';
ALTER TYPE country_status ADD VALUE 'pending';
GRANT USAGE ON TYPE country_status TO PUBLIC;
CREATE TABLE countries (code char(2) PRIMARY KEY, name text, status country_status);
COMMENT ON TABLE countries IS 'ISO 3166';
COMMENT ON COLUMN countries.name IS 'English name';
CREATE INDEX ON countries (name);
INSERT INTO countries VALUES ('FR', 'France', 'active'), ('DE', 'Germany', 'active');
UPDATE countries SET name = upper(name) WHERE code = 'FR';
GRANT SELECT ON countries TO PUBLIC;
REVOKE ALL ON countries FROM PUBLIC;
GRANT SELECT ON countries TO PUBLIC;
ALTER TABLE countries ALTER COLUMN name SET DEFAULT 'unknown';
ALTER TABLE countries ADD UNIQUE (name), ADD CHECK (code <> ''), OWNER TO CURRENT_USER;
CREATE FUNCTION country_name(c char(2)) RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT name FROM countries WHERE code = c $$;
COMMENT ON FUNCTION country_name(char) IS 'lookup';
REVOKE ALL ON FUNCTION country_name FROM PUBLIC;
GRANT EXECUTE ON FUNCTION country_name(bpchar) TO PUBLIC;
ALTER FUNCTION country_name(character) SECURITY DEFINER;
CREATE SEQUENCE ticket;
SELECT setval('ticket', 100);
CREATE INDEX items_name_idx ON items (name);
ALTER TABLE items ADD COLUMN sku text;
COMMENT ON COLUMN items.sku IS 'stock keeping unit';
ALTER TABLE items ALTER COLUMN sku SET DEFAULT 'n/a';
SELECT count(*) FROM countries WHERE code = 'FR';
"""


def test_what_the_drop_of_an_object_made_in_the_file_undoes_rolls_back(
    tmp_path: Path, database_url: str
) -> None:
    """A seed migration (a lookup table, its rows, comments, grants, a function on it)
    got a down of DROP TABLE under a note listing every statement after the CREATE as
    having no inverse, and rollback refused it. The DROPs undo them: the rollback runs,
    and leaves the schema and the older table's rows as they were."""
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items VALUES (1, 'bolt')")
    drizzle, down = _generate(tmp_path, "countries", SEED)
    assert down.split("\n--> statement-breakpoint\n") == [
        "ALTER TABLE items DROP COLUMN sku;",
        "DROP INDEX items_name_idx;",
        "DROP SEQUENCE ticket;",
        "DROP FUNCTION country_name(char(2));",
        "DROP TABLE countries;",
        "DROP TYPE country_status;\n",
    ]
    before = schema_dump(database_url)

    def seeded() -> None:
        rows = query(database_url, "SELECT code, name, country_name(code) FROM countries")
        assert sorted(rows) == [("DE", "Germany", "Germany"), ("FR", "FRANCE", "FRANCE")]
        assert query(database_url, "SELECT obj_description('countries'::regclass)") == [
            ("ISO 3166",)
        ]

    _round_trips(drizzle, database_url, before, seeded)
    assert query(database_url, "SELECT * FROM items") == [(1, "bolt")]


def test_a_file_mixing_transactional_and_non_transactional_statements_is_refused(
    tmp_path: Path,
) -> None:
    """generate wrote it and exited 0; the next migrate refused it. Now nothing is
    written, exit 2 (bad input, as migrate says of that file), and it says which
    statements and the two ways out."""
    source = tmp_path / "code.sql"
    source.write_text(
        "ALTER TABLE items ADD COLUMN code text;\n--> statement-breakpoint\n"
        "CREATE INDEX CONCURRENTLY items_code ON items (code);\n"
    )
    drizzle = tmp_path / "drizzle"
    refused = run_cli("generate", "code", "--sql", str(source), "--dir", str(drizzle))
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "line 3: CREATE INDEX CONCURRENTLY items_code ON items (code)" in refused.stderr
    assert "line 1: ALTER TABLE items ADD COLUMN code text" in refused.stderr
    assert "nothing was written" in refused.stderr
    assert "split it into two migrations" in refused.stderr
    assert "-- kubemigrate:no-transaction" in refused.stderr
    assert not drizzle.exists()
    as_json = run_cli("generate", "code", "--sql", str(source), "--dir", str(drizzle), "--json")
    assert (as_json.returncode, json.loads(as_json.stdout)["error"]["reason"]) == (
        2,
        "InvalidInput",
    )


def test_generate_refuses_a_journal_status_refuses(tmp_path: Path, database_url: str) -> None:
    """generate appended to a journal listing a tag twice, which status refuses."""
    drizzle = tmp_path / "drizzle"
    for name in ("a", "b"):
        made = run_cli("generate", name, "--dir", str(drizzle))
        assert made.returncode == 0, made.stderr
    journal = drizzle / "meta" / "_journal.json"
    data = json.loads(journal.read_text())
    data["entries"].append(data["entries"][-1])
    journal.write_text(json.dumps(data))
    status = run_cli("status", "--dir", str(drizzle), database_url=database_url)
    refused = run_cli("generate", "c", "--dir", str(drizzle))
    assert (status.returncode, refused.returncode) == (2, 2)
    said = f"error: {journal} lists 0001_b twice."
    assert said in status.stderr
    assert said in refused.stderr
    assert json.loads(journal.read_text()) == data
    assert sorted(p.name for p in drizzle.glob("*.sql")) == [
        "0000_a.down.sql", "0000_a.sql", "0001_b.down.sql", "0001_b.sql",
    ]  # fmt: skip


def test_generate_takes_log_format_as_every_command_does(tmp_path: Path) -> None:
    drizzle = tmp_path / "drizzle"
    made = run_cli("generate", "a", "--dir", str(drizzle), "--log-format", "json")
    assert made.returncode == 0, made.stderr
    refused = run_cli("generate", "Заказы", "--dir", str(drizzle), "--log-format", "json")
    assert refused.returncode == 2
    line = json.loads(refused.stderr)
    assert (line["level"], line["msg"].startswith("'Заказы' cannot name a migration")) == (
        "error",
        True,
    )
