"""`kubemigrate lint`: squawk's rules, told how kubemigrate will run each file.

The real squawk binary (the squawk-cli wheel) judges the files; these tests check
what kubemigrate tells it (transaction or not, the run's timeouts, the server's
version), which files it lints, and how the findings reach a person and a CI job.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.helpers import BREAKPOINT, applied_names, write_drizzle, write_journal

TIMEOUTS = ("--lock-timeout", "5000", "--statement-timeout", "60")


def folder(tmp_path: Path, *ups: str) -> Path:
    directory = tmp_path / "drizzle"
    specs = [(f"{n:04d}_m{n}", up, None) for n, up in enumerate(ups)]
    write_drizzle(directory, specs)
    write_journal(directory, [tag for tag, _, _ in specs])
    return directory


def lint(directory: Path, *args: str, url: str | None = None):  # type: ignore[no-untyped-def]
    return run_cli("lint", "--dir", str(directory), *args, database_url=url)


def findings(directory: Path, *args: str, url: str | None = None) -> list[tuple[str, str, int]]:
    done = lint(directory, "--json", *args, url=url)
    body = json.loads(done.stdout)
    assert done.returncode == body["exitCode"], done.stderr
    return [(f["migration"], f["rule"], f["line"]) for f in body["findings"]]


def test_a_risky_change_is_named_with_its_file_line_rule_and_fix(tmp_path: Path) -> None:
    directory = folder(
        tmp_path,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text);",
        "SELECT 1;\nALTER TABLE users ADD COLUMN age bigint NOT NULL;",
    )
    done = lint(directory, *TIMEOUTS)
    assert done.returncode == 1
    assert "0001_m1.sql:2:" in done.stdout
    assert "adding-required-field" in done.stdout
    assert "help: Make the field nullable or add a non-VOLATILE DEFAULT" in done.stdout
    assert "1 problem(s) in 1 of 2 migration(s)" in done.stdout


def test_clean_migrations_pass(tmp_path: Path) -> None:
    directory = folder(tmp_path, "CREATE TABLE users (id bigint PRIMARY KEY, name text);")
    done = lint(directory, *TIMEOUTS)
    assert done.returncode == 0, done.stdout
    assert "No problems in 1 migration(s)" in done.stdout


def test_squawk_is_told_which_files_run_inside_a_transaction(tmp_path: Path) -> None:
    """A transactional file needs no IF NOT EXISTS (a failure rolls it back whole); a
    file kubemigrate runs outside one (the directive, CREATE INDEX CONCURRENTLY) does:
    a failure midway leaves its first statements done, and the re-run after `repair`
    meets them."""
    directory = folder(
        tmp_path,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text);",
        "CREATE INDEX CONCURRENTLY users_name ON users (name);",
        "-- kubemigrate:no-transaction\nCREATE TABLE orders (id bigint PRIMARY KEY);",
        "CREATE TABLE items (id bigint PRIMARY KEY);",
    )
    assert findings(directory, *TIMEOUTS) == [
        ("0001_m1.sql", "prefer-robust-stmts", 1),
        ("0002_m2.sql", "prefer-robust-stmts", 2),
    ]


def test_a_file_wrapped_in_begin_and_commit_is_linted_as_it_runs(tmp_path: Path) -> None:
    """migrate runs a file wrapped whole in BEGIN; ... COMMIT; (golang-migrate users
    write them) in its own transaction, without the two; squawk was shown them and
    called the BEGIN a transaction nested in kubemigrate's."""
    directory = folder(
        tmp_path,
        "BEGIN;\nCREATE TABLE users (id bigint PRIMARY KEY);\n"
        "ALTER TABLE users ADD COLUMN age bigint NOT NULL;\nCOMMIT;\n",
    )
    assert findings(directory, *TIMEOUTS) == [("0000_m0.sql", "adding-required-field", 3)]


def test_timeout_rules_are_met_by_the_options_the_run_will_have(tmp_path: Path) -> None:
    directory = folder(tmp_path, "CREATE TABLE t (id bigint);", "ALTER TABLE t ADD COLUMN a text;")
    without = {rule for _, rule, _ in findings(directory)}
    assert {"require-lock-timeout", "require-statement-timeout"} <= without
    assert "--lock-timeout" in lint(directory).stdout  # the hint names kubemigrate's option
    assert findings(directory, *TIMEOUTS) == []


def test_staging_and_production_count_their_default_lock_timeout(tmp_path: Path) -> None:
    """migrate in staging and production waits at most 3 s for a lock where nobody set a
    lock_timeout: lint there asked for one all the same. And a timeout of 0, none at
    all, met the rule."""
    directory = folder(tmp_path, "CREATE TABLE t (id bigint);", "ALTER TABLE t ADD COLUMN a text;")

    def rules(*args: str) -> set[str]:
        return {rule for _, rule, _ in findings(directory, *args)}

    statement = ("--statement-timeout", "60")
    assert "require-lock-timeout" in rules(*statement)  # development: no default
    assert "require-lock-timeout" not in rules(*statement, "--env", "staging")
    assert "require-lock-timeout" not in rules(*statement, "--env", "production")
    assert "require-lock-timeout" in rules(*statement, "--env", "production", "--lock-timeout", "0")
    assert "require-statement-timeout" in rules(
        "--lock-timeout", "5000", "--statement-timeout", "0"
    )
    done = lint(directory, "--env", "prod-eu")
    assert done.returncode == 2, done.stdout
    assert "Unknown environment 'prod-eu' (--env)" in done.stderr


def test_a_file_kubemigrate_would_refuse_is_reported_as_its_refusal(tmp_path: Path) -> None:
    directory = folder(tmp_path, "CREATE TABLE t (id bigint);\nBEGIN;\nCOMMIT;")
    done = lint(directory, *TIMEOUTS)
    assert done.returncode == 1
    assert "0000_m0.sql:2:1: error kubemigrate:" in done.stdout
    assert "controls the transaction itself" in done.stdout


def test_statements_split_only_by_breakpoints_are_read_as_drizzle_sends_them(
    tmp_path: Path,
) -> None:
    """A drizzle custom file may leave out the ``;`` the breakpoint stands for: squawk
    alone calls that a syntax error."""
    up = "CREATE TABLE t (id bigint)" + BREAKPOINT + "CREATE TABLE u (id bigint)"
    assert findings(folder(tmp_path, up), *TIMEOUTS) == []


def test_named_migrations_only(tmp_path: Path) -> None:
    directory = folder(
        tmp_path,
        "CREATE TABLE t (id bigint);",
        "ALTER TABLE t ADD COLUMN a bigint NOT NULL;",
        "ALTER TABLE t ADD COLUMN b bigint NOT NULL;",
    )
    assert findings(directory, "0002", *TIMEOUTS) == [("0002_m2.sql", "adding-required-field", 1)]
    unknown = lint(directory, "0009")
    assert unknown.returncode == 2
    assert "'0009' is not a migration in the directory" in unknown.stderr


def test_pending_lints_what_the_next_migrate_would_run(tmp_path: Path, database_url: str) -> None:
    directory = folder(
        tmp_path,
        "CREATE TABLE t (id bigint);",
        "ALTER TABLE t ADD COLUMN a bigint NOT NULL;",
        "ALTER TABLE t ADD COLUMN b bigint NOT NULL;",
    )
    done = run_cli(
        "migrate", "--dir", str(directory), "--target", "0001", database_url=database_url
    )
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url) == ["0000_m0.sql", "0001_m1.sql"]
    assert findings(directory, "--pending", *TIMEOUTS, url=database_url) == [
        ("0002_m2.sql", "adding-required-field", 1)
    ]
    both = lint(directory, "--pending", "0001", url=database_url)
    assert both.returncode == 2
    assert "not both" in both.stderr


def test_pending_needs_a_database(tmp_path: Path) -> None:
    done = lint(folder(tmp_path, "CREATE TABLE t (id bigint);"), "--pending")
    assert done.returncode == 2
    assert "No database URL given" in done.stderr


def test_a_trailing_comment_before_a_breakpoint_swallows_no_statement_end(
    tmp_path: Path,
) -> None:
    """The ``;`` that stands for the breakpoint went inside a ``--`` comment: lint called
    a file migrate runs a syntax error."""
    up = "CREATE TABLE a (id bigint) -- the first table" + BREAKPOINT + "CREATE TABLE b (id bigint)"
    assert findings(folder(tmp_path, up), *TIMEOUTS) == []


def test_findings_point_into_the_file_a_person_opens(tmp_path: Path) -> None:
    """file:line:column is what editors and CI annotations follow: a dbmate file's up
    section starts below its header, and a drizzle-kit 1.0 migration is a folder's
    migration.sql."""
    dbmate = tmp_path / "db" / "migrations"
    dbmate.mkdir(parents=True)
    (dbmate / "20240101000000_a.sql").write_text(
        "-- migrate:up\nCREATE TABLE t (id bigint);\n\n"
        "ALTER TABLE t ADD COLUMN a bigint NOT NULL;\n-- migrate:down\nDROP TABLE t;\n"
    )
    done = lint(tmp_path, "--format", "dbmate", *TIMEOUTS)
    assert "db/migrations/20240101000000_a.sql:4:" in done.stdout, done.stdout

    folders = tmp_path / "drizzle1"
    (folders / "20240101120000_a").mkdir(parents=True)
    (folders / "20240101120000_a" / "migration.sql").write_text(
        "CREATE TABLE t (id bigint);\n--> statement-breakpoint\n"
        "ALTER TABLE t ADD COLUMN a bigint NOT NULL;\n"
    )
    done = lint(folders, *TIMEOUTS)
    assert "20240101120000_a/migration.sql:3:" in done.stdout, done.stdout
