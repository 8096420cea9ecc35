"""The Python API for scripts (the original system's integration examples), on a real
PostgreSQL: ``kubemigrate.apply_migrations``, ``show_status`` and ``rollback_migrations``."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

import kubemigrate
from kubemigrate.domain.errors import ConfirmationRequired, KubemigrateError, SourceError
from tests.conftest import ROOT
from tests.integration.helpers import (
    applied_names,
    connect,
    history,
    table_exists,
    write_drizzle,
    write_journal,
)

SHOP = ROOT / "examples" / "shop"
NAMES = [
    "0000_initial_schema.sql",
    "0001_add_products.sql",
    "0002_add_orders.sql",
    "0003_index_orders_by_customer.sql",
    "0004_add_analytics.sql",
]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHOP, tmp_path / "drizzle"))


def test_apply_then_status_then_rollback(
    database_url: str, shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = kubemigrate.apply_migrations(database_url, shop)
    assert outcome.ok
    assert outcome.batch == 1
    assert [m.name for m in outcome.migrations] == NAMES
    assert (outcome.counts.applied, outcome.counts.pending) == (5, 0)
    assert outcome.durationMs is not None
    assert outcome.durationMs > 0
    assert applied_names(database_url) == NAMES

    report = kubemigrate.show_status(database_url, shop)
    printed = capsys.readouterr().out
    assert printed.startswith("📊 Migration Status Report\n")
    assert "  ✅ Applied 0004_add_analytics.sql " in printed
    assert (report.applied, report.pending) == (5, 0)

    undone = kubemigrate.rollback_migrations(database_url, shop)
    assert undone.ok
    assert [m.name for m in undone.migrations] == list(reversed(NAMES))
    assert applied_names(database_url) == []
    quiet = kubemigrate.show_status(database_url, shop, print_report=False)
    assert capsys.readouterr().out == ""
    assert (quiet.applied, quiet.pending) == (0, 5)


def test_a_production_rollback_needs_the_phrase_that_names_its_batch(
    database_url: str, shop: Path
) -> None:
    kubemigrate.apply_migrations(database_url, shop, environment="production")
    with pytest.raises(ConfirmationRequired) as refused:
        kubemigrate.rollback_migrations(database_url, shop, environment="production")
    phrase = refused.value.details["confirmation"]
    assert phrase == "rollback-batch-1"
    assert refused.value.hint == "re-run with confirm=rollback-batch-1"  # the API's own words
    assert applied_names(database_url) == NAMES  # nothing was rolled back

    kubemigrate.rollback_migrations(database_url, shop, environment="production", confirm=phrase)
    assert applied_names(database_url) == []
    assert not table_exists(database_url, "products")


def test_bad_input_raises_the_engine_s_errors_with_reason_and_exit_code(
    database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceError) as missing:
        kubemigrate.apply_migrations(database_url, tmp_path / "nowhere")
    assert missing.value.reason == "InvalidSource"
    assert int(missing.value.exit_code) == 2
    assert "does not exist" in str(missing.value)

    with pytest.raises(KubemigrateError) as unreachable:
        kubemigrate.show_status("postgresql://nobody:secret@127.0.0.1:1/none", SHOP)
    assert unreachable.value.retryable
    assert "secret" not in str(unreachable.value)


def test_the_environment_comes_from_kubemigrate_env_as_for_the_cli(
    database_url: str, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline sets KUBEMIGRATE_ENV=production for its job: the API rolled back
    everything unconfirmed, as development, while the CLI refused."""
    kubemigrate.apply_migrations(database_url, shop)
    monkeypatch.setenv("KUBEMIGRATE_ENV", "production")
    with pytest.raises(ConfirmationRequired):
        kubemigrate.rollback_migrations(database_url, shop)
    assert applied_names(database_url) == NAMES
    # the argument still wins, as --env does
    kubemigrate.rollback_migrations(database_url, shop, environment="development", steps=1)
    assert applied_names(database_url) == []


def test_rollback_takes_the_cli_s_options(database_url: str, shop: Path) -> None:
    """What the hints ask for (force=True after a baseline), a dry run, a run id."""
    from kubemigrate.domain.errors import SafetyRefusal
    from tests.conftest import run_cli
    from tests.integration.helpers import history

    kubemigrate.apply_migrations(database_url, shop, target="0001_add_products")
    with connect(database_url) as conn:  # as if another tool had applied them
        conn.execute("DELETE FROM __migration_tracking")
    adopted = run_cli(
        "baseline", "--target", "0001_add_products", "--dir", str(shop), database_url=database_url
    )
    assert adopted.returncode == 0, adopted.stderr
    kubemigrate.apply_migrations(database_url, shop, run_id="ci-42")
    with pytest.raises(SafetyRefusal) as refused:
        kubemigrate.rollback_migrations(database_url, shop, steps=2)
    assert "force=True" in (refused.value.hint or "")
    preview = kubemigrate.rollback_migrations(database_url, shop, steps=2, force=True, dry_run=True)
    assert preview.dryRun
    assert applied_names(database_url) == NAMES
    kubemigrate.rollback_migrations(database_url, shop, steps=2, force=True)
    assert applied_names(database_url) == []
    assert "ci-42" in {row["run_id"] for row in history(database_url)}


def test_apply_takes_the_table_drizzle_s_history_is_in(database_url: str, shop: Path) -> None:
    """An application migrating on start-up, whose drizzle config named its table."""
    from hashlib import sha256

    from kubemigrate.domain.errors import NotAdopted, UsageError

    ran = sha256((shop / NAMES[0]).read_bytes()).hexdigest()
    with connect(database_url) as conn:
        conn.execute("CREATE SCHEMA app")
        for table in ("app.migrations", "public.migrations"):
            conn.execute(f"CREATE TABLE {table} (id serial, hash text, created_at bigint)")
            conn.execute(f"INSERT INTO {table} (hash) VALUES (%s)", (ran,))
    with pytest.raises(UsageError) as two:
        kubemigrate.apply_migrations(database_url, shop)
    assert "drizzle_table=SCHEMA.TABLE" in (two.value.hint or "")
    with pytest.raises(NotAdopted) as refused:
        kubemigrate.apply_migrations(database_url, shop, drizzle_table="app.migrations")
    assert "(app.migrations records 1 migration(s) as run)" in refused.value.message
    assert "drizzle_table=app.migrations" in (refused.value.hint or "")
    with pytest.raises(UsageError, match=r"drizzle_table 'migrations' is not SCHEMA\.TABLE"):
        kubemigrate.apply_migrations(database_url, shop, drizzle_table="migrations")
    assert applied_names(database_url) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://nobody:Spa ce Secret@127.0.0.1:1/none",
        "postgresql://nobody:SecretPw@[::1x]:5432/none",
        "postgresql://nobody:SecretPw@127.0.0.1:1/none",
    ],
)
def test_no_exception_in_the_chain_holds_the_password(url: str) -> None:
    """Error reporters (Sentry and the like) walk __cause__ and __context__; libpq's
    messages there quoted the connection string."""
    with pytest.raises(KubemigrateError) as failed:
        kubemigrate.show_status(url, SHOP, print_report=False)
    error: BaseException | None = failed.value
    while error is not None:
        for text in (str(error), repr(error)):
            assert "Secret" not in text
            assert "Spa ce" not in text
        error = error.__cause__ or error.__context__


def test_lint_reads_the_folder_alone(tmp_path: Path) -> None:
    """For a script (a pre-commit hook, a CI check): squawk's findings as objects, and
    a name that is no migration as the engine's error in this API's terms."""
    directory = tmp_path / "drizzle"
    write_drizzle(
        directory,
        [
            ("0000_t", "CREATE TABLE t (id bigint);", None),
            ("0001_a", "ALTER TABLE t ADD COLUMN a bigint NOT NULL;", None),
        ],
    )
    write_journal(directory, ["0000_t", "0001_a"])
    found = kubemigrate.lint_migrations(directory, lock_timeout_ms=1000, statement_timeout_s=60)
    assert found.migrations == ("0000_t.sql", "0001_a.sql")
    assert [(f.migration, f.rule, f.line) for f in found.findings] == [
        ("0001_a.sql", "adding-required-field", 1)
    ]
    in_production = kubemigrate.lint_migrations(
        directory, statement_timeout_s=60, environment="production"
    )
    assert found.findings == in_production.findings  # its default lock timeout counts
    with pytest.raises(KubemigrateError) as refused:
        kubemigrate.lint_migrations(directory, ["0007"])
    assert refused.value.exit_code == 2


def test_an_application_s_own_psycopg_logs_are_left_alone(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An application that migrates on start-up lost every psycopg warning of its own
    once it had imported kubemigrate; the pipeline's "error ignored" about a failed
    migration, which the raised error already reports, is the one record dropped."""
    folder = write_drizzle(
        tmp_path / "drizzle",
        [
            ("0000_ok", "CREATE TABLE ok (id int);", None),
            ("0001_bad", "SELECT 1/0;", None),
            # still being sent when the failure comes back: psycopg then logs it again
            *((f"{i:04d}_t{i}", f"CREATE TABLE t{i} (id int);", None) for i in range(2, 1000)),
        ],
    )
    with caplog.at_level(logging.WARNING, logger="psycopg"):
        with pytest.raises(KubemigrateError):
            kubemigrate.apply_migrations(database_url, folder)
        logging.getLogger("psycopg").warning("the application's own warning")
    told = [r.getMessage() for r in caplog.records if r.name == "psycopg"]
    assert told == ["the application's own warning"]
    assert applied_names(database_url) == ["0000_ok.sql"]


def test_ctrl_c_stays_a_keyboard_interrupt_for_the_application(
    database_url: str, tmp_path: Path
) -> None:
    """An application's ``except Exception`` around its start-up migrations caught the
    engine's Interrupted and went on starting; the report is the interrupt's cause."""
    import os
    import signal
    import threading

    folder = write_drizzle(
        tmp_path / "d",
        [
            (
                "0000_slow",
                "CREATE TABLE slow (id int);\n--> statement-breakpoint\nSELECT pg_sleep(30);",
                None,
            )
        ],
    )
    with connect(database_url) as conn:
        sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"

        def interrupt_once_sleeping() -> None:
            while not conn.execute(sleeping).fetchone()[0]:  # type: ignore[index]
                threading.Event().wait(0.02)
            os.kill(os.getpid(), signal.SIGINT)

        def start_up() -> None:
            try:
                kubemigrate.apply_migrations(database_url, folder)
            except Exception:  # what the application catches
                pytest.fail("the interrupt was caught as an Exception")

        threading.Thread(target=interrupt_once_sleeping, daemon=True).start()
        with pytest.raises(KeyboardInterrupt) as stopped:
            start_up()
    assert isinstance(stopped.value.__cause__, kubemigrate.Interrupted)
    assert not table_exists(database_url, "slow")


def test_an_application_s_own_sigterm_exit_is_audited_as_an_interrupt(
    database_url: str, tmp_path: Path
) -> None:
    """An application whose SIGTERM handler calls sys.exit, as servers' do: the migration
    it stopped was rolled back with no `failed` row in the history (a Ctrl-C writes one).
    The exit is the application's, its code kept; the engine's report is its cause."""
    import os
    import signal
    import sys
    import threading

    folder = write_drizzle(
        tmp_path / "d",
        [
            ("0000_first", "CREATE TABLE first (id int);", None),
            (
                "0001_slow",
                "CREATE TABLE slow (id int);\n--> statement-breakpoint\nSELECT pg_sleep(30);",
                None,
            ),
        ],
    )
    with connect(database_url) as conn:
        sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"

        def terminate_once_sleeping() -> None:
            while not conn.execute(sleeping).fetchone()[0]:  # type: ignore[index]
                threading.Event().wait(0.02)
            os.kill(os.getpid(), signal.SIGTERM)

        def on_sigterm(_signum: int, _frame: object) -> None:
            sys.exit(143)

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            threading.Thread(target=terminate_once_sleeping, daemon=True).start()
            with pytest.raises(SystemExit) as stopped:
                kubemigrate.apply_migrations(database_url, folder, run_id="app-start")
        finally:
            signal.signal(signal.SIGTERM, previous)
    assert stopped.value.code == 143
    assert isinstance(stopped.value.__cause__, kubemigrate.Interrupted)
    assert "Interrupted in 0001_slow.sql" in str(stopped.value.__cause__)
    assert applied_names(database_url) == ["0000_first.sql"]
    assert not table_exists(database_url, "slow")
    assert [
        (row["action"], row["migration_name"], row["run_id"]) for row in history(database_url)
    ] == [
        ("applied", "0000_first.sql", "app-start"),
        ("failed", "0001_slow.sql", "app-start"),
    ]


def test_arguments_the_cli_would_refuse_are_refused(database_url: str, shop: Path) -> None:
    with connect(database_url) as conn, pytest.raises(kubemigrate.UsageError, match="a str"):
        kubemigrate.apply_migrations(conn, shop)  # type: ignore[arg-type]
    with pytest.raises(kubemigrate.UsageError, match="steps must be 1 or more"):
        kubemigrate.rollback_migrations(database_url, shop, steps=0)
    with pytest.raises(kubemigrate.UsageError, match="under a millisecond"):
        kubemigrate.apply_migrations(database_url, shop, statement_timeout_s=0.0004)
    with pytest.raises(kubemigrate.UsageError, match="under a millisecond"):
        kubemigrate.apply_migrations(database_url, shop, lock_timeout_ms=0.4)  # type: ignore[arg-type]
    with connect(database_url) as conn, pytest.raises(kubemigrate.UsageError, match="a str"):
        kubemigrate.show_status(conn, shop)  # type: ignore[arg-type]
    with pytest.raises(kubemigrate.UsageError) as sqlalchemy:
        kubemigrate.apply_migrations(
            database_url.replace("postgresql://", "postgresql+psycopg://"), shop
        )
    assert sqlalchemy.value.hint is not None
    assert sqlalchemy.value.hint.startswith("drop the +psycopg")
    with pytest.raises(kubemigrate.SourceError) as missing:
        kubemigrate.apply_migrations(database_url, shop / "nowhere")
    assert "--dir" not in (missing.value.hint or "")
    assert applied_names(database_url) == []


def test_warnings_reach_the_application_s_logging(
    database_url: str, shop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (shop / "0009_forgotten.sql").write_text("CREATE TABLE forgotten (id int);\n")
    with caplog.at_level(logging.WARNING, logger="kubemigrate"):
        kubemigrate.apply_migrations(database_url, shop)
    assert any("0009_forgotten.sql" in r.getMessage() for r in caplog.records)


def test_lint_takes_one_name_as_a_str(tmp_path: Path) -> None:
    folder = write_drizzle(
        tmp_path / "d",
        [
            ("0000_a", "CREATE TABLE a (id int);", None),
            ("0001_b", "CREATE TABLE b (id int);", None),
        ],
    )
    one = kubemigrate.lint_migrations(folder, "0001_b")
    assert one.migrations == ("0001_b.sql",)


def test_the_error_classes_are_where_the_readme_names_them() -> None:
    """In a fresh process, before any call: kubemigrate.domain.errors raised
    AttributeError until something had imported that module."""
    import subprocess
    import sys

    script = (
        "import kubemigrate\n"
        "assert kubemigrate.domain.errors.KubemigrateError is kubemigrate.KubemigrateError\n"
        "from kubemigrate import LockTimeout, Outcome, StatusReport\n"
        "assert issubclass(LockTimeout, kubemigrate.KubemigrateError)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
