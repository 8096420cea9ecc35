"""Bad input: one clear message each, the right exit code, no traceback, no password.

Directory problems are found before any connection is made; connection problems
are told apart (unreachable: retry, exit 75; wrong password, malformed URL or a
database that does not exist: fix the input, exit 2). The password is a
distinctive string and must appear in no output: text, ``--json`` or ``--result-file``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kubemigrate.devcluster.postgres import free_port
from tests.conftest import cli_env, run_cli
from tests.integration.helpers import (
    applied_names,
    column_exists,
    create_table,
    numbered,
    output,
    query,
    write_drizzle,
    write_journal,
)

PASSWORD = "Zebra-Quartz-7319-secret"
BREAK = "\n--> statement-breakpoint\n"


def assert_clean(result: Any, secrets: list[str]) -> None:
    text = output(result)
    assert "Traceback" not in text, text
    for n, secret in enumerate(secrets):
        # the failure's report must not print the secret either
        masked = text.replace(secret, f"<secret {n} leaked here>")
        assert secret not in text, masked
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr


@pytest.fixture
def drizzle(tmp_path: Path) -> Path:
    return write_drizzle(tmp_path / "drizzle", numbered(create_table("a")))


# -- the directory ------------------------------------------------------------


def test_missing_directory(tmp_path: Path, database_url: str) -> None:
    result = run_cli("migrate", "--dir", str(tmp_path / "nowhere"), database_url=database_url)
    assert result.returncode == 2, output(result)
    assert "nowhere does not exist" in result.stderr
    assert "--dir" in result.stderr
    assert_clean(result, [])


def test_empty_directory(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("migrate", "--dir", str(tmp_path / "empty"), database_url=database_url)
    assert result.returncode == 2, output(result)
    assert "No migrations found" in result.stderr
    assert_clean(result, [])
    assert applied_names(database_url) == []


def test_malformed_journal(drizzle: Path, database_url: str) -> None:
    (drizzle / "meta" / "_journal.json").write_text(
        '{"version": "7", "entries": [\n  {"idx": 0,,}\n]}'
    )
    result = run_cli("migrate", "--dir", str(drizzle), database_url=database_url)
    assert result.returncode == 2, output(result)
    assert "_journal.json is not valid JSON" in result.stderr
    assert "line 2" in result.stderr
    assert_clean(result, [])
    assert applied_names(database_url) == []


def test_journal_without_entries(drizzle: Path, database_url: str) -> None:
    (drizzle / "meta" / "_journal.json").write_text('{"version": "7"}')
    result = run_cli("migrate", "--dir", str(drizzle), database_url=database_url)
    assert result.returncode == 2, output(result)
    assert '"entries"' in result.stderr
    assert_clean(result, [])


def test_journal_naming_a_missing_file(drizzle: Path, database_url: str) -> None:
    write_journal(drizzle, ["0000_a", "0001_ghost"])
    result = run_cli("migrate", "--dir", str(drizzle), database_url=database_url)
    assert result.returncode == 2, output(result)
    assert "0001_ghost.sql is missing" in result.stderr
    assert_clean(result, [])
    assert applied_names(database_url) == []


def test_unknown_format(drizzle: Path, database_url: str) -> None:
    result = run_cli(
        "migrate", "--format", "liquibase", "--dir", str(drizzle), database_url=database_url
    )
    assert result.returncode == 2, output(result)
    assert "liquibase" in result.stderr
    assert_clean(result, [])


# -- the database -------------------------------------------------------------


def _connection_cases(server: Any) -> dict[str, tuple[str, int, str, str]]:
    """name: (URL, exit code, reason, words in the message)."""
    return {
        "unreachable": (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/shop",
            75,
            "DatabaseUnreachable",
            "Cannot reach the database",
        ),
        "wrong password": (
            server.url("postgres", password=PASSWORD),
            2,
            "AuthenticationFailed",
            "refused the credentials",
        ),
        "malformed url": (  # the option named (not its value): what to fix
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/shop",
            2,
            "InvalidInput",
            'malformed: invalid integer value "..." for connection option "port"',
        ),
        # a TLS setting the server cannot meet is no outage (a Job retried it 4 times,
        # told to "check host, port and network")
        "ssl required of a server without it": (
            f"{server.url('postgres')}?sslmode=require",
            2,
            "InvalidInput",
            "The connection's TLS settings do not fit the server: ",
        ),
        "not a url": (
            f"host=127.0.0.1 password={PASSWORD} nonsense",
            2,
            "InvalidInput",
            "malformed",
        ),
        "no such database": (
            server.url("no_such_db_here"),
            2,
            "InvalidInput",
            "does not exist",
        ),
        # no port can ever have that number: a Job retrying it as "temporary" waits for
        # nothing
        "port out of range": (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:99999/shop",
            2,
            "InvalidInput",
            "malformed",
        ),
        # a Secret holding a passphrase where the URL should be: no word of it printed
        "a passphrase": (f"{PASSWORD} correct horse", 2, "InvalidInput", "malformed"),
        "a percent sign": (
            f"postgresql://postgres:{PASSWORD}%zz@127.0.0.1:{server.port}/postgres",
            2,
            "InvalidInput",
            "malformed",
        ),
        # settings that can never work are not "temporary" (a Job would retry them)
        "bad sslmode": (
            f"{server.url('postgres')}?sslmode=sometimes",
            2,
            "InvalidInput",
            'invalid sslmode value: "sometimes"',
        ),
        "bad server option": (
            f"{server.url('postgres')}?options=-c%20statement_timeout%3Dsoon",
            2,
            "InvalidInput",
            'invalid value for parameter "statement_timeout"',
        ),
    }


CASES = [
    "unreachable",
    "wrong password",
    "malformed url",
    "port out of range",
    "not a url",
    "no such database",
    "a passphrase",
    "a percent sign",
    "bad sslmode",
    "ssl required of a server without it",
    "bad server option",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["migrate", "status"])
def test_connection_problems(
    pg_server: Any, drizzle: Path, tmp_path: Path, case: str, command: str
) -> None:
    url, code, reason, words = _connection_cases(pg_server)[case]
    secrets = [PASSWORD, pg_server.password, url]

    text = run_cli(command, "--dir", str(drizzle), database_url=url)
    assert text.returncode == code, output(text)
    assert words in text.stderr
    assert_clean(text, secrets)

    result_file = tmp_path / "result.json"
    as_json = run_cli(
        command,
        "--json",
        "--result-file",
        str(result_file),
        "--dir",
        str(drizzle),
        database_url=url,
    )
    assert as_json.returncode == code, output(as_json)
    assert_clean(as_json, secrets)
    printed = json.loads(as_json.stdout)
    assert printed["ok"] is False
    assert printed["exitCode"] == code
    assert printed["error"]["reason"] == reason
    assert "counts" not in printed  # nobody looked: unknown, not "nothing pending"
    written = result_file.read_text()
    assert json.loads(written)["error"]["reason"] == reason
    for secret in secrets:
        assert secret not in written


@pytest.mark.parametrize("command", ["migrate", "status"])
@pytest.mark.parametrize("cut", ["@", "@Mid:", "@Mid/", "/"])
def test_an_unencoded_at_sign_in_the_password(
    pg_server: Any, drizzle: Path, command: str, cut: str
) -> None:
    """libpq ends the password at the first @ (and the host at a / or :) and looks up the
    rest as a host name, which its error then prints: a piece of the password must not
    reach the user either, and a URL that cannot work is no reason to retry (exit 75)."""
    head, tail = "Zebra-7319", "Quartz-secret-0042"
    url = f"postgresql://postgres:{head}{cut}{tail}@127.0.0.1:{pg_server.port}/postgres"
    result = run_cli(command, "--dir", str(drizzle), database_url=url)
    assert result.returncode == 2, output(result)
    assert "malformed" in result.stderr
    assert "@ as %40, / as %2F" in result.stderr
    assert_clean(result, [head, tail, "Mid", url])


@pytest.mark.parametrize("tail", ["k9", "Zq"])
def test_a_short_piece_of_a_password_after_an_unencoded_at_is_not_shown(
    pg_server: Any, drizzle: Path, tail: str
) -> None:
    """Too short to blank everywhere, "k9" of "Xy7Tq@k9" was shown in libpq's words:
    failed to resolve host 'k9@127.0.0.1'."""
    url = f"postgresql://postgres:Xy7Tq@{tail}@127.0.0.1:{pg_server.port}/postgres"
    result = run_cli("migrate", "--json", "--dir", str(drizzle), database_url=url)
    assert result.returncode == 2, output(result)
    message = json.loads(result.stdout)["error"]["message"]
    assert message == (
        "The database URL is malformed: its password holds an unencoded @, / or #, so the "
        "host name was read from inside it."
    )
    assert f"{tail}@" not in result.stdout + result.stderr


def test_password_given_with_the_flag_is_not_printed(pg_server: Any, drizzle: Path) -> None:
    url = pg_server.url("postgres", password=PASSWORD)
    result = run_cli(
        "migrate", "--database-url", url, "--log-format", "console", "--dir", str(drizzle)
    )
    assert result.returncode == 2
    assert_clean(result, [PASSWORD, url])


def test_a_log_format_of_another_name_is_refused(drizzle: Path, database_url: str) -> None:
    """`--log-format xml` gave console lines where a log shipper expected JSON."""
    refused = run_cli("status", "--dir", str(drizzle), "--log-format", "xml")
    assert refused.returncode == 2
    assert "'xml' is not json or console" in refused.stderr
    shouted = run_cli(
        "migrate", "--dir", str(drizzle), "--log-format", "JSON", database_url=database_url
    )
    assert shouted.returncode == 0, shouted.stderr
    assert json.loads(shouted.stderr.splitlines()[0])["action"] == "planned"


def test_a_url_read_from_a_file_with_its_newline_works(drizzle: Path, database_url: str) -> None:
    """`DATABASE_URL=$(cat url)` keeps no newline, but a Secret made --from-file does:
    libpq took it into the database name and said that database does not exist."""
    result = run_cli("migrate", "--dir", str(drizzle), database_url=f"  {database_url}\n")
    assert result.returncode == 0, result.stderr
    assert applied_names(database_url) == ["0000_a.sql"]


def test_password_absent_from_a_successful_run(
    pg_server: Any, drizzle: Path, database_url: str, tmp_path: Path
) -> None:
    result_file = tmp_path / "result.json"
    run = run_cli(
        "migrate",
        "--result-file",
        str(result_file),
        "--dir",
        str(drizzle),
        database_url=database_url,
    )
    assert run.returncode == 0, output(run)
    status = run_cli("status", "--json", "--dir", str(drizzle), database_url=database_url)
    hist = run_cli("history", "--dir", str(drizzle), database_url=database_url)
    for text in (output(run), output(status), output(hist), result_file.read_text()):
        assert pg_server.password not in text
        assert database_url not in text


def test_a_command_line_that_does_not_parse_is_told_like_every_error(
    pg_server: Any, drizzle: Path, tmp_path: Path
) -> None:
    """A URL passed where no option takes it (`kubemigrate migrate $DATABASE_URL`) was
    printed whole by click, password and all; with --json stdout stayed empty (a CI
    step's jq failed on nothing) and --result-file unwritten (a Job "left no result")."""
    url = pg_server.url("postgres", password=PASSWORD)
    result_file = tmp_path / "result.json"
    stray = run_cli(
        "migrate", url, "--json", "--result-file", str(result_file), "--dir", str(drizzle)
    )
    assert stray.returncode == 2, output(stray)
    assert_clean(stray, [PASSWORD, url])
    told = json.loads(stray.stdout)
    assert told["ok"] is False
    assert told["exitCode"] == 2
    assert told["action"] == "migrate"
    assert told["error"]["message"] == "Got unexpected extra argument(s) (***)"
    assert told["error"]["hint"] == "see `kubemigrate migrate --help`"
    assert json.loads(result_file.read_text()) == told

    # an unquoted password with spaces: the shell split it, click named the words
    spaced = run_cli(
        "migrate", "--json", "--database-url", "postgresql://app:correct", "horse", "battery",
        "staple@db.internal/shop", "--dir", str(drizzle),
    )  # fmt: skip
    assert spaced.returncode == 2, output(spaced)
    assert_clean(spaced, ["correct", "horse", "battery", "staple"])
    # a URL without a password hides nothing else of the command line
    socket = run_cli("status", "--database-url", "postgresql:///shop?host=/tmp", "--dri", "d")
    assert "No such option: --dri" in socket.stderr

    typo = run_cli("status", "--jsn", "--log-format", "json", "--dir", str(drizzle))
    assert typo.returncode == 2
    assert typo.stdout == ""
    line = json.loads(typo.stderr)  # one JSON line, as a log shipper expects
    assert line["level"] == "error"
    assert line["msg"].startswith("No such option: --jsn (Possible options: ")

    # an option missing its value fails before click knows the command: named all the same
    cut = run_cli("migrate", "--json", "--database-url")
    assert cut.returncode == 2
    assert json.loads(cut.stdout)["action"] == "migrate"
    assert "see `kubemigrate migrate --help`" in cut.stderr

    bare = run_cli()
    assert bare.returncode == 2
    assert "Commands:" in bare.stderr
    assert "migrate" in bare.stderr


def test_no_database_url(drizzle: Path) -> None:
    result = run_cli("migrate", "--dir", str(drizzle))
    assert result.returncode == 2, output(result)
    assert "No database URL given" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert_clean(result, [])


@pytest.mark.parametrize("flag", ["--lock-timeout", "--statement-timeout", "--lock-wait"])
def test_negative_timeouts_are_refused(drizzle: Path, database_url: str, flag: str) -> None:
    result = run_cli("migrate", flag, "-1", "--dir", str(drizzle), database_url=database_url)
    assert result.returncode == 2, output(result)
    assert f"Invalid value for '{flag}'" in result.stderr
    assert applied_names(database_url) == []


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--statement-timeout", "nan", "nan is not a number of seconds"),
        ("--statement-timeout", "inf", "inf is not a number of seconds"),
        ("--lock-wait", "nan", "nan is not a number of seconds"),
        # PostgreSQL's 0, no timeout at all, without a word
        ("--statement-timeout", "0.0004", "0.0004 is under a millisecond (0 means no limit)"),
    ],
)
def test_seconds_that_are_no_time_are_refused(
    drizzle: Path, database_url: str, flag: str, value: str, said: str
) -> None:
    """nan and inf reached the engine and came back as a bug (exit 1, "Unexpected
    ValueError")."""
    result = run_cli("migrate", flag, value, "--json", "--dir", str(drizzle),
                     database_url=database_url)  # fmt: skip
    assert result.returncode == 2, output(result)
    error = json.loads(result.stdout)["error"]
    assert error["reason"] == "InvalidInput"
    assert said in error["message"]
    assert applied_names(database_url) == []


def test_metadata_file_that_cannot_be_written(
    drizzle: Path, database_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "folder" / "metadata.json"
    result = run_cli(
        "status", "--metadata-file", str(target), "--dir", str(drizzle), database_url=database_url
    )
    assert result.returncode == 2, output(result)
    assert f"Cannot write --metadata-file {target}: No such file or directory." in result.stderr
    assert_clean(result, [])


@pytest.mark.parametrize("command", ["migrate", "status", "rollback"])
def test_a_search_path_naming_no_schema_that_exists(
    drizzle: Path, database_url: str, command: str
) -> None:
    # the README's one-schema-per-team set-up, with the schema not created yet
    url = f"{database_url}?options=-csearch_path%3Dteam_c"
    result = run_cli(command, "--dir", str(drizzle), database_url=url)
    assert result.returncode == 2, output(result)
    assert "No schema on the search_path (team_c) exists" in result.stderr
    assert "CREATE SCHEMA" in result.stderr
    assert_clean(result, [])
    assert applied_names(database_url) == []


def test_a_user_without_rights_on_the_schema_is_told_which_grant(
    drizzle: Path, database_url: str
) -> None:
    # PostgreSQL 15's default: a user who does not own `public` may not create in it
    role = f"app_{os.getpid()}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"GRANT CONNECT ON DATABASE {database_url.rsplit('/', 1)[1]} TO {role}")
    url = f"postgresql://{role}:{PASSWORD}@{database_url.split('@', 1)[1]}"
    try:
        for command in ("migrate", "rollback"):
            result = run_cli(command, "--dir", str(drizzle), database_url=url)
            assert result.returncode == 2, output(result)
            assert "may not do what kubemigrate needs: permission denied for schema public" in (
                result.stderr
            )
            assert "GRANT CREATE" in result.stderr
            assert "bug" not in result.stderr
            assert_clean(result, [PASSWORD])
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_schema_named_like_the_user_does_not_start_a_second_tracking_table(
    tmp_path: Path, database_url: str
) -> None:
    """``"$user", public``: once a migration creates schema "postgres" (the user here), it
    comes first on the search_path; the tracking table stays where it is."""
    folder = write_drizzle(
        tmp_path / "d",
        numbered(create_table("a"), ("user_schema", "CREATE SCHEMA postgres;", None)),
    )
    assert run_cli("migrate", "--dir", str(folder), database_url=database_url).returncode == 0
    write_drizzle(
        folder,
        numbered(
            create_table("a"),
            ("user_schema", "CREATE SCHEMA postgres;", None),
            create_table("c"),
        ),
    )
    result = run_cli("migrate", "--dir", str(folder), database_url=database_url)
    assert result.returncode == 2, output(result)
    assert "__migration_tracking is in schema public" in result.stderr
    assert "apply every migration again; nothing was run" in result.stderr
    assert applied_names(database_url) == ["0000_a.sql", "0001_user_schema.sql"]
    pinned = f"{database_url}?options=-csearch_path%3Dpublic"  # what the hint says
    assert run_cli("migrate", "--dir", str(folder), database_url=pinned).returncode == 0
    assert applied_names(database_url)[-1] == "0002_c.sql"


def test_a_migration_s_search_path_does_not_move_the_bookkeeping(
    tmp_path: Path, database_url: str
) -> None:
    folder = write_drizzle(
        tmp_path / "d",
        numbered(
            ("other", "CREATE SCHEMA other;", None),
            (
                "switch",
                "SET search_path TO other;\n--> statement-breakpoint\nCREATE TABLE b (id int);",
                None,
            ),
            create_table("c"),
        ),
    )
    result = run_cli("migrate", "--dir", str(folder), database_url=database_url)
    assert result.returncode == 0, output(result)
    assert applied_names(database_url) == ["0000_other.sql", "0001_switch.sql", "0002_c.sql"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT to_regclass('other.__migration_tracking')").fetchone()
    assert row is not None
    assert row[0] is None


def test_each_migration_starts_from_the_session_the_run_connected_with(
    tmp_path: Path, database_url: str
) -> None:
    """A pg_dump-made first migration empties the search_path and zeroes lock_timeout:
    the next migration of its batch found no schema to create in (run one by one, the
    same files worked) and waited on locks without the run's limit; a SET ROLE ran the
    bookkeeping as a role without rights on the tracking table."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS km_owner")
        conn.execute("CREATE ROLE km_owner; GRANT CREATE ON SCHEMA public TO km_owner")
    dump_header = (
        "SET lock_timeout = 0;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n"
        "CREATE TABLE public.a (id int);\n"
    )
    same_limit = (
        "DO $$ BEGIN IF current_setting('lock_timeout') <> '4s' THEN "
        "RAISE EXCEPTION 'lock_timeout is %', current_setting('lock_timeout'); END IF; END $$;"
    )
    folder = write_drizzle(
        tmp_path / "d",
        numbered(
            ("dump", dump_header, None),
            ("after", f"CREATE TABLE b (id int);{BREAK}{same_limit}", None),
            ("owned", "SET ROLE km_owner;\nCREATE TABLE c (id int);", None),
            (
                "outside",
                "-- kubemigrate:no-transaction\nSET search_path = '';\n"
                "CREATE INDEX CONCURRENTLY a_id ON public.a (id);",
                None,
            ),
            create_table("d"),
            (
                "fill1",
                "CREATE TEMP TABLE ids AS SELECT 1 AS id;\nINSERT INTO b SELECT * FROM ids;",
                None,
            ),
            (
                "fill2",
                "CREATE TEMP TABLE ids AS SELECT 2 AS id;\nINSERT INTO b SELECT * FROM ids;",
                None,
            ),
            ("shadow", "CREATE TEMP TABLE d (x int);", None),
            ("real", "ALTER TABLE d ADD COLUMN email text;", None),
        ),
    )
    result = run_cli(
        "migrate", "--dir", str(folder), "--lock-timeout", "4000", database_url=database_url
    )
    assert result.returncode == 0, output(result)
    assert len(applied_names(database_url)) == 9
    with psycopg.connect(database_url) as conn:
        owners: dict[str, str] = dict(
            conn.execute(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename IN ('b', 'c', 'd')"
            ).fetchall()
        )
        conn.execute("DROP TABLE c; DROP OWNED BY km_owner; DROP ROLE km_owner")
    assert owners["c"] == "km_owner"
    assert set(owners) == {"b", "c", "d"}
    assert query(database_url, "SELECT id FROM b ORDER BY id") == [(1,), (2,)]
    assert column_exists(database_url, "d", "email")  # the real table, not the temp one


# -- the process's standard streams --------------------------------------------


def _shell(script: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``script`` in bash, with kubemigrate on PATH (for redirections run_cli cannot make)."""
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(DATABASE_URL=database_url, **env),
        check=False,
    )


def test_a_closed_stdout_does_not_stop_a_batch_half_way(drizzle: Path, database_url: str) -> None:
    """A supervisor that starts kubemigrate without stdout: it crashed on its first log
    line, after some migrations had committed, and said "a bug in kubemigrate"."""
    add_more = numbered(create_table("a"), create_table("b"), create_table("c"))
    write_drizzle(drizzle, add_more)
    done = _shell(f"kubemigrate migrate --dir {drizzle} --json >&-", database_url)
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql", "0002_c.sql"]

    quiet = _shell(f"kubemigrate status --dir {drizzle} --json 2>&-", database_url)
    assert quiet.returncode == 0
    assert json.loads(quiet.stdout)["counts"]["applied"] == 3  # one document, no log lines


def test_a_closed_stdin_is_no_terminal_to_ask(drizzle: Path, database_url: str) -> None:
    assert run_cli("migrate", "--dir", str(drizzle), database_url=database_url).returncode == 0
    refused = _shell(f"kubemigrate rollback --dir {drizzle} --env production <&-", database_url)
    assert refused.returncode == 5, refused.stderr
    assert "needs confirmation" in refused.stderr
    assert "bug" not in refused.stderr


def test_output_the_reader_cannot_take_does_not_fail_a_done_run(
    drizzle: Path, database_url: str
) -> None:
    """A reader that left (`| head -1`), or a locale without the report's symbols: the
    work was done and recorded, and exit 1 would say a migration failed (a script
    retrying a "failed" rollback undoes another batch)."""
    assert run_cli("migrate", "--dir", str(drizzle), database_url=database_url).returncode == 0
    latin = _shell(f"kubemigrate status --dir {drizzle}", database_url, PYTHONIOENCODING="latin-1")
    assert latin.returncode == 0, latin.stderr
    assert "Migration Status Report" in latin.stdout

    gone = _shell(
        f"kubemigrate rollback --dir {drizzle} | (exec 0<&-; sleep 1); exit ${{PIPESTATUS[0]}}",
        database_url,
    )
    assert gone.returncode == 0, gone.stderr
    assert "Traceback" not in gone.stderr
    assert applied_names(database_url) == []


@pytest.mark.parametrize(
    ("url", "said", "hinted"),
    [
        (
            "postgresql://u:Sekrit-99@127.0.0.1:{port}/postgres?x-migrations-table=m",
            "parameters libpq does not know: x-migrations-table",
            "the x- parameters are golang-migrate's",
        ),
        (
            "postgresql://u:Sekrit-99@127.0.0.1:{port}/postgres?search_path=app",
            "parameters libpq does not know: search_path",
            "options=-csearch_path%3Dapp",
        ),
        (
            "pgx5://u:Sekrit-99@127.0.0.1:{port}/postgres",
            "starts pgx5://, another driver's form",
            "postgresql://USER:PASSWORD@HOST:5432/DBNAME",
        ),
        (
            "jdbc:postgresql://127.0.0.1:{port}/postgres?password=Sekrit-99",
            "starts jdbc:postgresql://",
            "drops its jdbc: prefix",
        ),
    ],
)
def test_other_tools_urls_are_named_for_what_they_are(
    pg_server: Any, drizzle: Path, url: str, said: str, hinted: str
) -> None:
    """A team switching from golang-migrate or Flyway brings its URL: libpq's complaint
    ("invalid URI query parameter") hid which part, as it may quote the password."""
    result = run_cli("status", "--dir", str(drizzle), database_url=url.format(port=pg_server.port))
    assert result.returncode == 2, output(result)
    assert said in result.stderr
    assert hinted in result.stderr
    assert_clean(result, ["Sekrit-99"])


def test_a_secret_holding_more_than_the_url_is_not_repeated(drizzle: Path) -> None:
    """A Secret key holding an env file (or a service account's key JSON): the text
    before its first :// was echoed as "another driver's" scheme, an API key and all,
    into the run's status and Events, which `view` can read though not Secrets."""
    held = "STRIPE_KEY=sk_live_51HxTOPSECRETabc123 DATABASE_URL=postgresql://app:pw@db/x"
    result = run_cli("status", "--dir", str(drizzle), database_url=held)
    assert result.returncode == 2, output(result)
    assert "does not start postgresql://" in result.stderr
    assert "Secret's key holds the URL alone" in result.stderr
    assert_clean(result, ["sk_live", "TOPSECRET", "topsecret", "stripe"])
    after = run_cli(
        "status", "--dir", str(drizzle), database_url="postgresql://u@h/db\nAPI_KEY=Zq9-tok"
    )
    assert after.returncode == 2, output(after)
    assert "spans several lines" in after.stderr
    assert_clean(after, ["Zq9-tok"])  # it was quoted as part of the database's name
    odd = "postgresql://u@127.0.0.1:1/db?sslmod=require&%21tok%21en%21=1"
    typo = run_cli("status", "--dir", str(drizzle), database_url=odd)
    assert "libpq does not know: sslmod, 1 more not shown" in typo.stderr
    assert_clean(typo, ["tok!en"])
