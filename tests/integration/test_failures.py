"""Migrations that fail: at run time, at parse time, or by what they contain.

A statement failing at run time stops the batch: migrations before it stay (each
committed with its tracking row), nothing of the failing file remains, nothing
after it runs, and the error names the file, the SQLSTATE and the position. Files
that cannot run safely (syntax errors, BEGIN/COMMIT, a transactional statement
mixed with CREATE INDEX CONCURRENTLY) are refused before the first statement.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import (
    Spec,
    applied_names,
    connect,
    history,
    history_actions,
    index_state,
    numbered,
    output,
    tracking,
    user_tables,
    write_drizzle,
    write_journal,
)

BREAK = "\n--> statement-breakpoint\n"


def migrate(directory: Path, url: str, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("migrate", *args, "--dir", str(directory), database_url=url)


def batch_with(tmp_path: Path, middle_up: str) -> Path:
    return write_drizzle(
        tmp_path / "d",
        numbered(
            ("first", "CREATE TABLE first_ok (id int);", "DROP TABLE first_ok;"),
            ("bad", middle_up, "DROP TABLE IF EXISTS bad_first;"),
            ("third", "CREATE TABLE third_never (id int);", "DROP TABLE third_never;"),
        ),
    )


def test_failing_statement_keeps_earlier_migrations_and_nothing_of_the_file(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = batch_with(
        tmp_path,
        "CREATE TABLE bad_first (id int);"
        + BREAK
        + "INSERT INTO bad_first\n  SELECT id FROM missing_table;\n",
    )
    result = migrate(drizzle, database_url)
    assert result.returncode == 1, output(result)
    text = output(result)
    assert "Traceback" not in text
    assert "0001_bad.sql" in result.stderr
    assert "SQLSTATE 42P01" in result.stderr
    assert "line 4, column 18" in result.stderr
    assert 'relation "missing_table" does not exist' in result.stderr
    assert "done before it, and kept (batch 1): 0000_first.sql" in result.stderr

    assert applied_names(database_url) == ["0000_first.sql"]
    assert user_tables(database_url) == {"first_ok"}
    failed = [row for row in history(database_url) if row["action"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["migration_name"] == "0001_bad.sql"
    assert failed[0]["sql_state"] == "42P01"
    assert failed[0]["batch_number"] == 1
    assert [row["action"] for row in history(database_url)] == ["applied", "failed"]

    as_json = migrate(drizzle, database_url, "--json")
    assert as_json.returncode == 1
    # nothing ran before the failure this time; the counts are the database's, as they are
    assert json.loads(as_json.stdout)["counts"] == {"total": 3, "applied": 1, "pending": 2}
    assert "migrations" not in json.loads(as_json.stdout)
    error = json.loads(as_json.stdout)["error"]
    assert error["reason"] == "MigrationFailed"
    assert error["migration"] == "0001_bad.sql"
    assert error["sqlState"] == "42P01"
    assert error["position"] == "line 4, column 18"
    assert applied_names(database_url) == ["0000_first.sql"]

    # Each run takes a new batch number, failed runs (batches 1 and 2) included.
    (drizzle / "0001_bad.sql").write_text("CREATE TABLE bad_first (id int);")
    fixed = migrate(drizzle, database_url)
    assert fixed.returncode == 0, output(fixed)
    assert user_tables(database_url) == {"first_ok", "bad_first", "third_never"}
    assert [r["batch_number"] for r in tracking(database_url)] == [1, 3, 3]


def test_runtime_error_without_a_position_names_the_statement(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = batch_with(tmp_path, "CREATE TABLE bad_first (id int);" + BREAK + "SELECT 1/0;")
    result = migrate(drizzle, database_url)
    assert result.returncode == 1, output(result)
    assert "0001_bad.sql" in result.stderr
    assert "SQLSTATE 22012" in result.stderr
    assert "division by zero" in result.stderr
    assert "statement 2" in result.stderr
    assert applied_names(database_url) == ["0000_first.sql"]
    assert user_tables(database_url) == {"first_ok"}


def test_a_comment_only_migration_before_a_failure_is_not_blamed_for_it(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("a", "CREATE TABLE a_ok (id int);", None),
            ("custom", "-- Custom SQL migration file, put your code below! --", None),
            ("b", "CREATE TABLE b_ok (id int);", None),
            ("bad", "SELECT 1/0;", None),
        ),
    )
    result = migrate(drizzle, database_url, "--json")
    assert result.returncode == 1, output(result)
    data = json.loads(result.stdout)
    assert data["error"]["migration"] == "0003_bad.sql"
    assert [m["name"] for m in data["migrations"]] == [
        "0000_a.sql",
        "0001_custom.sql",
        "0002_b.sql",
    ]
    assert applied_names(database_url) == ["0000_a.sql", "0001_custom.sql", "0002_b.sql"]


def test_failure_reported_while_its_own_file_is_still_being_sent(
    tmp_path: Path, database_url: str
) -> None:
    """The server fails statement 2 while statement 3 (megabytes long) is still going
    out: the error surfaces in the middle of sending, and must still name statement 2."""
    long_statement = "SELECT 1 -- " + "x" * 8_000_000
    drizzle = batch_with(
        tmp_path,
        "CREATE TABLE bad_first (id int);" + BREAK + "SELECT 1/0;" + BREAK + long_statement,
    )
    result = migrate(drizzle, database_url)
    assert result.returncode == 1, output(result)
    assert (
        "0001_bad.sql in statement 2 (line 3): division by zero (SQLSTATE 22012)" in result.stderr
    )
    assert applied_names(database_url) == ["0000_first.sql"]


def test_syntax_error_is_found_before_anything_runs(tmp_path: Path, database_url: str) -> None:
    drizzle = batch_with(
        tmp_path, "CREATE TABLE bad_first (id int);" + BREAK + "CREAT TABLE oops (id int);"
    )
    result = migrate(drizzle, database_url)
    assert result.returncode == 1, output(result)
    assert "0001_bad.sql" in result.stderr
    assert "42601" in result.stderr
    assert "line 3" in result.stderr
    assert "nothing was run" in result.stderr
    assert "Traceback" not in output(result)
    assert applied_names(database_url) == []
    assert user_tables(database_url) == set()


def test_file_with_begin_commit_is_refused(tmp_path: Path, database_url: str) -> None:
    """A COMMIT half-way through would end kubemigrate's transaction with the tracking row
    not yet written (a file wrapped whole in BEGIN ... COMMIT asks for what kubemigrate
    does anyway, and runs)."""
    drizzle = batch_with(tmp_path, "CREATE TABLE bad_first (id int);\nCOMMIT;\nBEGIN;\nSELECT 1;\n")
    result = migrate(drizzle, database_url)
    assert result.returncode == 2, output(result)
    assert "0001_bad.sql (up) line 2: COMMIT controls the transaction" in result.stderr
    assert "nothing was run" in result.stderr
    assert applied_names(database_url) == []
    assert user_tables(database_url) == set()


def test_mixed_file_is_refused_without_the_directive(tmp_path: Path, database_url: str) -> None:
    mixed = (
        "CREATE TABLE bad_first (id int, sku text);"
        + BREAK
        + "CREATE INDEX CONCURRENTLY bad_first_sku_idx ON bad_first (sku);"
    )
    drizzle = batch_with(tmp_path, mixed)
    result = migrate(drizzle, database_url)
    assert result.returncode == 2, output(result)
    assert "0001_bad.sql" in result.stderr
    assert "kubemigrate:no-transaction" in result.stderr
    assert "line 3" in result.stderr
    assert applied_names(database_url) == []
    assert user_tables(database_url) == set()

    (drizzle / "0001_bad.sql").write_text("-- kubemigrate:no-transaction\n" + mixed)
    accepted = migrate(drizzle, database_url)
    assert accepted.returncode == 0, output(accepted)
    assert applied_names(database_url) == ["0000_first.sql", "0001_bad.sql", "0002_third.sql"]
    assert index_state(database_url, "bad_first_sku_idx") is True


def test_settings_for_a_concurrent_index_run_with_it(tmp_path: Path, database_url: str) -> None:
    """A lock timeout set before CREATE INDEX CONCURRENTLY (what lint asks for) needs no
    directive: the file runs outside a transaction, the setting with it."""
    drizzle = batch_with(
        tmp_path,
        "SET lock_timeout = '1s';"
        + BREAK
        + "CREATE INDEX CONCURRENTLY first_id_idx ON first_ok (id);"
        + BREAK
        + "RESET lock_timeout;",
    )
    result = migrate(drizzle, database_url)
    assert result.returncode == 0, output(result)
    assert applied_names(database_url) == ["0000_first.sql", "0001_bad.sql", "0002_third.sql"]
    assert index_state(database_url, "first_id_idx") is True


def test_a_connection_lost_midway_is_reported_as_such(tmp_path: Path, database_url: str) -> None:
    """The session dies inside a migration: the report is that failure (retryable, exit
    75) with what was kept, not a crash while looking up the counts afterwards."""
    drizzle = batch_with(tmp_path, "SELECT pg_terminate_backend(pg_backend_pid());")
    result = migrate(drizzle, database_url)
    assert result.returncode == 75, output(result)
    assert "0001_bad.sql in statement 1 (line 1): the database connection failed" in result.stderr
    assert "Unexpected" not in result.stderr
    assert "done before it, and kept (batch 1): 0000_first.sql" in result.stderr
    assert applied_names(database_url) == ["0000_first.sql"]


def test_failure_deep_in_a_long_batch_reports_every_migration_before_it_in_order(
    tmp_path: Path, database_url: str
) -> None:
    """A batch longer than one pipeline group, failing in its third group: the log has
    one 'applied' line per migration before the failure, in order, then the failure;
    the JSON result lists the same migrations; the database holds exactly those."""
    specs: list[Spec] = [
        (f"t{i}", f"CREATE TABLE t{i} (id int);", f"DROP TABLE t{i};") for i in range(130)
    ]
    specs[117] = ("t117", "CREATE TABLE t117 (id int);" + BREAK + "SELECT 1/0;", None)
    drizzle = write_drizzle(tmp_path / "d", numbered(*specs))
    result = migrate(drizzle, database_url, "--json", "--log-format", "json")
    assert result.returncode == 1, output(result)
    # every line of stderr is JSON, the error's too: a log shipper choked on "error: ..."
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    error = lines[-1]
    assert (error["level"], error["kept"].split(", ")[0]) == ("error", "0000_t0.sql")
    assert "division by zero" in error["msg"]
    assert "hint" in error
    per_migration = [(e["action"], e["migration"]) for e in lines if "migration" in e]
    expected = [("applied", f"{i:04d}_t{i}.sql") for i in range(117)]
    assert per_migration == [*expected, ("failed", "0117_t117.sql")]
    outcome = json.loads(result.stdout)
    assert [m["name"] for m in outcome["migrations"]] == [name for _, name in expected]
    assert outcome["counts"] == {"total": 130, "applied": 117, "pending": 13}
    assert applied_names(database_url) == [name for _, name in expected]
    assert "t117" not in user_tables(database_url)


def test_a_deferred_constraint_failing_at_commit_says_so(tmp_path: Path, database_url: str) -> None:
    drizzle = batch_with(
        tmp_path,
        "CREATE TABLE bad_first (id int PRIMARY KEY, parent int REFERENCES bad_first (id) "
        "DEFERRABLE INITIALLY DEFERRED);" + BREAK + "INSERT INTO bad_first VALUES (1, 42);",
    )
    result = migrate(drizzle, database_url)
    assert result.returncode == 1, output(result)
    assert "0001_bad.sql at COMMIT (a deferred constraint is checked there):" in result.stderr
    assert "(SQLSTATE 23503)" in result.stderr
    assert applied_names(database_url) == ["0000_first.sql"]
    assert user_tables(database_url) == {"first_ok"}


def test_a_lock_timeout_outside_a_transaction_is_not_called_temporary(
    tmp_path: Path, database_url: str
) -> None:
    """Exit 75 tells a Job to retry; after a statement outside a transaction the database
    is marked dirty and a retry can only be refused, so it is a failure (exit 1)."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("t", "CREATE TABLE t (id int);", None),
            ("idx", "CREATE INDEX CONCURRENTLY t_id ON t (id);", None),
        ),
    )
    assert migrate(drizzle, database_url, "--target", "0000_t").returncode == 0
    with connect(database_url) as holder, holder.transaction():
        holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        result = migrate(drizzle, database_url, "--lock-timeout", "300", "--json")
    assert result.returncode == 1, output(result)
    told = json.loads(result.stdout)
    error = told["error"]
    assert error["sqlState"] == "55P03"
    assert "rolled back" not in error["message"]
    assert "marked dirty" in error["hint"]
    # the run that left the mark says so: the operator's drift gauge (and its critical
    # alert) came up only with the next run, refused for it
    assert told["dirty"] is True


def test_a_rollback_failing_across_batches_lists_what_it_undid(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("a", "CREATE TABLE a (id int);", "DROP TABLE missing_a;"),
            ("b", "CREATE TABLE b (id int);", "DROP TABLE b;"),
        ),
    )
    assert migrate(drizzle, database_url, "--target", "0000_a").returncode == 0
    assert migrate(drizzle, database_url).returncode == 0
    result = run_cli("rollback", "--steps", "2", "--dir", str(drizzle), database_url=database_url)
    assert result.returncode == 1, result.stderr
    # the batch of what it undid, not the plan's two
    assert "  done before it, and kept (batch 2): 0001_b.sql" in result.stderr
    assert applied_names(database_url) == ["0000_a.sql"]


def test_psql_s_own_parts_of_a_file_are_named_for_what_they_are(
    tmp_path: Path, database_url: str
) -> None:
    """A pg_dump file's \\restrict line, its COPY data, a COPY TO STDOUT: psql's, not SQL.
    A COPY FROM stdin without data was sent and came back as "database unreachable,
    retry" (exit 75), with no failure in the history."""
    cases = [
        ("\\restrict abc123\nCREATE TABLE a (id int);\n", 1, "\\restrict is a psql meta-command"),
        (
            "CREATE TABLE a (id int);\nCOPY a (id) FROM stdin;\n1\n2\n\\.\n",
            1,
            "the data of a COPY ... FROM stdin, which only psql can send",
        ),
        ("CREATE TABLE a (id int);\nCOPY a FROM stdin;\n", 2, "has no client side"),
        ("COPY (SELECT 1) TO STDOUT;\n", 2, "has no client side"),
    ]
    for number, (sql, code, said) in enumerate(cases):
        drizzle = write_drizzle(
            tmp_path / str(number),
            numbered(("first", "CREATE TABLE first_ok (id int);", None), ("dump", sql, None)),
        )
        result = migrate(drizzle, database_url)
        assert result.returncode == code, result.stderr
        assert said in " ".join(result.stderr.split())
        assert applied_names(database_url) == []  # refused before the batch's first statement


def test_statements_without_semicolons_between_breakpoints_run_as_drizzle_runs_them(
    tmp_path: Path, database_url: str
) -> None:
    """drizzle's migrator sends each piece between breakpoints on its own, so a custom
    file may leave out the `;`: such a file was refused as a syntax error. A real one is
    still reported at its line in the file."""
    pieces = ["CREATE TABLE c (id int)", "INSERT INTO c VALUES (42)", "CREATE TABLE zz (a int)"]
    drizzle = write_drizzle(tmp_path / "d", numbered(("custom", BREAK.join(pieces), None)))
    result = migrate(drizzle, database_url)
    assert result.returncode == 0, result.stderr
    assert user_tables(database_url) == {"c", "zz"}

    broken = ["CREATE TABLE d (id int)", "INSERT INTO d VALUES (1)", "CREATE TABLE (a int)"]
    drizzle = write_drizzle(
        tmp_path / "e",
        numbered(("custom", BREAK.join(pieces), None), ("broken", BREAK.join(broken), None)),
    )
    refused = migrate(drizzle, database_url)
    assert refused.returncode == 1
    assert "at line 5 (SQLSTATE 42601)" in refused.stderr


def test_a_run_time_error_says_what_psql_would_say_under_it(
    tmp_path: Path, database_url: str
) -> None:
    """The DETAIL (the key that clashed) and the PL/pgSQL line were dropped; a COMMIT in
    a DO block said "fix the statement" where the no-transaction line is the fix."""
    cases = [
        (
            "CREATE TABLE u (x int UNIQUE);\nINSERT INTO u VALUES (1);\nINSERT INTO u VALUES (1);",
            "Key (x)=(1) already exists",
        ),
        (
            "DO $$\nBEGIN\n  PERFORM 1/0;\nEND $$;",
            "(in PL/pgSQL function inline_code_block line 3 at PERFORM)",
        ),
        (
            "CREATE TABLE big (id int);\nDO $$ BEGIN INSERT INTO big VALUES (1); COMMIT; END $$;",
            "add the line `-- kubemigrate:no-transaction` to the file",
        ),
    ]
    for number, (sql, said) in enumerate(cases):
        drizzle = write_drizzle(tmp_path / str(number), numbered((f"case{number}", sql, None)))
        result = migrate(drizzle, database_url)
        assert result.returncode == 1, result.stderr
        assert said in " ".join(result.stderr.split())
        assert applied_names(database_url) == []


DUPLICATE_SKUS = "CREATE TABLE items (sku text);\nINSERT INTO items VALUES ('a'), ('a');"
"""A table over whose duplicate keys a unique index build fails, leaving it INVALID."""


def test_a_failed_concurrent_index_build_names_the_invalid_index_it_left(
    tmp_path: Path, database_url: str
) -> None:
    """CREATE UNIQUE INDEX CONCURRENTLY over duplicate keys fails and leaves its index
    INVALID, after a statement of the file that stays done: the hint said only "check,
    then repair", and the next migrate then failed on the index (42P07)."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", DUPLICATE_SKUS, None),
            (
                "uniq",
                "-- kubemigrate:no-transaction\n"
                "CREATE TABLE IF NOT EXISTS notes (id int);\n"
                "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku);",
                None,
            ),
        ),
    )
    failed = migrate(drizzle, database_url)
    assert failed.returncode == 1, output(failed)
    said = " ".join(failed.stderr.split())
    assert "left items_sku_uq behind, INVALID" in said
    assert "DROP INDEX CONCURRENTLY items_sku_uq" in said
    assert index_state(database_url, "items_sku_uq") is False

    with connect(database_url) as conn:  # what a person does, as told
        conn.execute("DELETE FROM items WHERE ctid = (SELECT max(ctid) FROM items)")
        conn.execute("DROP INDEX CONCURRENTLY items_sku_uq")
    assert run_cli("repair", "--dir", str(drizzle), database_url=database_url).returncode == 0
    done = migrate(drizzle, database_url)
    assert done.returncode == 0, output(done)
    assert index_state(database_url, "items_sku_uq") is True


@pytest.mark.parametrize("before", ["", "SET lock_timeout = '5s';\n"])
def test_a_failed_concurrent_index_build_that_was_the_file_s_first_change_leaves_nothing(
    tmp_path: Path, database_url: str, before: str
) -> None:
    """The build was all the migration changed: its INVALID index is dropped, nothing of
    the migration remains and nothing is marked dirty, as a failure in a transaction
    leaves it. Before, a person dropped the index and repaired the mark before the
    file, its data fixed, could run again. (A session SET before it changes nothing.)"""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", DUPLICATE_SKUS, None),
            (
                "uniq",
                before + "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku);",
                None,
            ),
        ),
    )
    failed = migrate(drizzle, database_url, "--json")
    assert failed.returncode == 1, output(failed)
    told = json.loads(failed.stdout)
    assert not told.get("dirty")
    assert told["error"]["sqlState"] == "23505"
    assert (
        "(SQLSTATE 23505); the INVALID index items_sku_uq it left was dropped: nothing of the "
        "migration remains." in told["error"]["message"]
    )
    assert told["error"]["hint"].startswith("remove the duplicate keys")
    assert index_state(database_url, "items_sku_uq") is None
    assert ("failed", "0001_uniq.sql") in history_actions(database_url)

    with connect(database_url) as conn:  # the data fixed, the file runs again as it is
        conn.execute("DELETE FROM items WHERE ctid = (SELECT max(ctid) FROM items)")
    done = migrate(drizzle, database_url)
    assert done.returncode == 0, output(done)
    assert index_state(database_url, "items_sku_uq") is True
    assert applied_names(database_url) == ["0000_items.sql", "0001_uniq.sql"]


def test_a_concurrent_index_build_that_left_nothing_is_not_called_invalid(
    tmp_path: Path, database_url: str
) -> None:
    """A CREATE INDEX CONCURRENTLY on a missing column fails before making an index;
    the hint named it as left INVALID (its DROP then failed), not the valid index the
    statement before it did make, which the next migrate then met (42P07)."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("t", "CREATE TABLE t (id int);", None),
            (
                "idx",
                "-- kubemigrate:no-transaction\n"
                "CREATE INDEX CONCURRENTLY t_id ON t (id);\n--> statement-breakpoint\n"
                "CREATE INDEX CONCURRENTLY t_v ON t (nosuchcol);",
                None,
            ),
        ),
    )
    failed = migrate(drizzle, database_url)
    assert failed.returncode == 1, output(failed)
    said = " ".join(failed.stderr.split())
    assert "INVALID" not in said
    assert "statements before the failing one stay applied" in said
    assert index_state(database_url, "t_id") is True
    assert run_cli("repair", "--dir", str(drizzle), database_url=database_url).returncode == 0
    again = migrate(drizzle, database_url)  # t_id is there, valid: not "left INVALID"
    assert again.returncode == 1, output(again)
    assert "42P07" in again.stderr
    assert "INVALID" not in again.stderr


# -- where a failure is: the file a person opens -------------------------------------------

FAILING = "INSERT INTO positioned\n  SELECT id FROM missing_table;\n"
"""Fails at ``missing_table`` (42P01), on the second of its lines."""


def place_of(text: str, token: str) -> tuple[int, int]:
    """Line and column (1-based) of ``token`` in ``text``, as an editor counts them."""
    offset = text.index(token)
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def in_layout(root: Path, fmt: str, up: str, down: str) -> tuple[Path, str, str, str]:
    """One migration of ``fmt``'s layout below ``root``, its up and down SQL written as
    that tool's users write them: (directory, migration name, up file, down file), the
    files relative to the directory."""
    files: dict[str, str]
    if fmt == "drizzle":
        name, upf, downf = "0000_positioned.sql", "0000_positioned.sql", "0000_positioned.down.sql"
        files = {upf: up, downf: down}
    elif fmt == "drizzle-1.0":
        name = "20240101120000_positioned.sql"
        upf, downf = "20240101120000_positioned/migration.sql", "20240101120000_positioned/down.sql"
        files = {upf: up, downf: down}
    elif fmt == "dbmate":
        name = "20240101000000_positioned.sql"
        upf = downf = f"db/migrations/{name}"
        files = {upf: f"{up}\n-- migrate:down\n{down}"}
    elif fmt == "flyway":
        name, upf, downf = "V1__positioned.sql", "sql/V1__positioned.sql", "sql/U1__positioned.sql"
        files = {upf: up, downf: down}
    else:
        name, upf, downf = "1_positioned.up.sql", "1_positioned.up.sql", "1_positioned.down.sql"
        files = {upf: up, downf: down}
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    if fmt == "drizzle":
        write_journal(root, ["0000_positioned"])
    return root, name, upf, downf


def formatted(fmt: str) -> tuple[str, ...]:
    return () if fmt.startswith("drizzle") else ("--format", fmt)


# Each up runs CREATE TABLE, then FAILING several lines into the file, below what the
# tool puts first: a dbmate header and comments, Flyway's executeInTransaction=false
# (kubemigrate's directive goes before it, and the script runs outside a transaction),
# golang-migrate's BEGIN/COMMIT wrapper (unwrapped: kubemigrate's transaction); a dbmate
# transaction:false section gets the directive too, and loses its first line's indent.
UPS = {
    "drizzle": f"CREATE TABLE positioned (id int);\n--> statement-breakpoint\n{FAILING}",
    "drizzle-1.0": f"CREATE TABLE positioned (id int);\n--> statement-breakpoint\n{FAILING}",
    "dbmate": (
        "-- migrate:up\n-- the table of positions\n-- (and its first rows)\n\n"
        f"CREATE TABLE positioned (id int);\n\n{FAILING}"
    ),
    "dbmate-no-transaction": (  # failing on the section's first line, which is indented
        "-- migrate:up transaction:false\n\n  CREATE TABLE positioned (id int); "
        "INSERT INTO positioned SELECT id FROM missing_table;\n-- the table of positions\n"
    ),
    "flyway": (
        "-- flyway:executeInTransaction=false\n-- the table of positions\n"
        f"CREATE TABLE positioned (id int);\n{FAILING}"
    ),
    "golang-migrate": (
        f"BEGIN;\n-- the table of positions\nCREATE TABLE positioned (id int);\n{FAILING}COMMIT;\n"
    ),
}


@pytest.mark.parametrize("case", sorted(UPS))
def test_a_failure_points_at_its_token_in_the_file_a_person_opens(
    tmp_path: Path, database_url: str, case: str
) -> None:
    """``file:line:column`` is what editors and CI annotations follow: a dbmate file's
    failure was counted from its up section (below the header and its comments), a
    Flyway script's from the directive kubemigrate puts before it. The CLI's text, its
    JSON, the log line and a dirty mark (a script outside a transaction) all say it."""
    fmt = case.removesuffix("-no-transaction")
    directory, name, file, _ = in_layout(tmp_path, fmt, UPS[case], "DROP TABLE positioned;\n")
    line, column = place_of((directory / file).read_text(), "missing_table")
    at = f"line {line}, column {column}"
    said = f"{name} at {at}" + ("" if file == name else f" of {file}")

    first = migrate(directory, database_url, *formatted(fmt), "--json", "--log-format", "json")
    assert first.returncode == 1, output(first)
    error = json.loads(first.stdout)["error"]
    assert (error["position"], error["sqlState"]) == (at, "42P01")
    assert error["message"].startswith(f'{said}: relation "missing_table" does not exist')
    assert error["file"] == file
    logged = [json.loads(line) for line in first.stderr.splitlines()]
    assert [e["msg"] for e in logged if e.get("action") == "failed"] == [error["message"]]

    again = migrate(directory, database_url, *formatted(fmt))
    if case in ("flyway", "dbmate-no-transaction"):  # outside a transaction: marked dirty
        assert again.returncode == 4, output(again)
        assert f"({said}: relation" in again.stderr
        status = run_cli("status", "--json", "--dir", str(directory), *formatted(fmt),
                         database_url=database_url)  # fmt: skip
        assert said in json.loads(status.stdout)["dirty"][0]["error"]
    else:
        assert again.returncode == 1, output(again)
        assert f'error: {said}: relation "missing_table" does not exist' in again.stderr
    assert applied_names(database_url) == []


def test_a_refused_file_names_its_line_in_the_file(tmp_path: Path, database_url: str) -> None:
    """A BEGIN that is not the whole file's wrapper, in a dbmate file: refused before
    anything runs, at the line an editor shows it on."""
    up = "-- migrate:up\n-- a comment\n\nCREATE TABLE positioned (id int);\nBEGIN;\nSELECT 1;\n"
    directory, name, file, _ = in_layout(tmp_path, "dbmate", up, "SELECT 1;\n")
    refused = migrate(directory, database_url, "--format", "dbmate", "--json")
    assert refused.returncode == 2, output(refused)
    error = json.loads(refused.stdout)["error"]
    assert error["message"].startswith(f"{name} (up) line 5 of {file}: BEGIN controls")
    assert (error.get("position"), error.get("file")) == ("line 5", file)


# Each down fails at missing_table several lines into its file or section, after a
# statement that ran.
DOWN = "-- undo the table\n\nDROP TABLE positioned;\nDELETE FROM\n  missing_table;\n"
DOWNS = {
    "drizzle": DOWN,
    "drizzle-1.0": DOWN,
    "dbmate": DOWN,
    "flyway": f"-- flyway:executeInTransaction=false\n{DOWN}",
    "golang-migrate": f"BEGIN;\n{DOWN}COMMIT;\n",
}


@pytest.mark.parametrize("fmt", sorted(DOWNS))
def test_a_failing_rollback_points_into_its_down_file(
    tmp_path: Path, database_url: str, fmt: str
) -> None:
    """A rollback's position was counted in the down SQL as run and given after the up
    file's name: it names the down file (a dbmate file's down section counts in the
    file), at the failing token."""
    up = "-- migrate:up\n" if fmt == "dbmate" else ""
    up += "CREATE TABLE positioned (id int);\n"
    directory, name, _, file = in_layout(tmp_path, fmt, up, DOWNS[fmt])
    assert migrate(directory, database_url, *formatted(fmt)).returncode == 0
    line, column = place_of((directory / file).read_text(), "missing_table")
    at = f"line {line}, column {column}"

    failed = run_cli("rollback", "--json", "--dir", str(directory), *formatted(fmt),
                     database_url=database_url)  # fmt: skip
    assert failed.returncode == 1, output(failed)
    error = json.loads(failed.stdout)["error"]
    assert error["position"] == at
    of = "" if file == name else f" of {file}"
    assert error["message"].startswith(f'{name} at {at}{of}: relation "missing_table"')
    assert error["file"] == file


def test_a_rollback_of_stored_sql_its_file_no_longer_holds_says_so(
    tmp_path: Path, database_url: str
) -> None:
    """A rollback runs the SQL stored at apply time: once its down file has changed, a
    line of the file would point at other SQL, so the position counts in the stored SQL
    and the message says that is what it counts in."""
    directory, name, _, file = in_layout(
        tmp_path, "drizzle", "CREATE TABLE positioned (id int);\n", DOWN
    )
    assert migrate(directory, database_url).returncode == 0
    (directory / file).write_text("-- fixed later\n" + DOWN.replace("missing_table", "positioned"))
    line, column = place_of(DOWN, "missing_table")

    failed = run_cli("rollback", "--json", "--dir", str(directory), database_url=database_url)
    assert failed.returncode == 1, output(failed)
    error = json.loads(failed.stdout)["error"]
    assert error["position"] == f"line {line}, column {column}"
    assert "file" not in error
    assert error["message"].startswith(
        f"{name} at line {line}, column {column} of the rollback SQL stored when it was "
        f"applied ({file} has changed since): "
    )
    assert "repair --accept-down" in error["hint"]


@pytest.mark.parametrize("directive", ["", "-- kubemigrate:no-transaction\n"])
def test_a_run_time_error_s_position_is_its_statement_s_line(
    tmp_path: Path, database_url: str, directive: str
) -> None:
    """PostgreSQL gives no cursor position for a run-time error (a division by zero, a
    missing column of an index): the message said "in statement 2 (line 4)", the JSON's
    position (a MigrationRun's status.error.position) said nothing."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(("t", f"{directive}CREATE TABLE t (id int);\n\nSELECT\n  1 / 0;\n", None)),
    )
    failed = migrate(drizzle, database_url, "--json")
    assert failed.returncode == 1, output(failed)
    error = json.loads(failed.stdout)["error"]
    line = 4 if directive else 3
    assert error["position"] == f"line {line}"
    assert f"0000_t.sql in statement 2 (line {line}): division by zero" in error["message"]
