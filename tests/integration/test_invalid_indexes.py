"""Indexes a failed CONCURRENTLY build left INVALID, on a real PostgreSQL.

A CREATE INDEX CONCURRENTLY that fails (duplicate keys, a SIGTERM, a lock timeout)
leaves its index behind, INVALID: no query uses it, and a UNIQUE one enforces
nothing. The statement run again with IF NOT EXISTS (squawk's prefer-robust-stmts
advice) skips it with a notice and succeeds, as REINDEX TABLE CONCURRENTLY skips an
invalid index: a migration recorded as applied then, with ``status`` and ``verify``
green, stood on an index that was never built. The INVALID indexes here are made the
way they are made in production, by a unique build over duplicate keys: no timing.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.conftest import run_cli
from tests.integration.helpers import (
    add_migration,
    applied_names,
    connect,
    history_actions,
    index_state,
    numbered,
    output,
    write_drizzle,
)

ITEMS = "CREATE TABLE items (id int, sku text);\nINSERT INTO items VALUES (1, 'a'), (2, 'a');"
"""A table whose duplicate ``sku`` values make a unique index on it fail."""


def said(result) -> str:  # type: ignore[no-untyped-def]
    """What the user read, on one line (the messages wrap nowhere, but hints are long)."""
    return " ".join(output(result).split())


def leave_invalid(url: str, statement: str) -> None:
    """Run a unique CREATE INDEX CONCURRENTLY that fails over duplicate keys, as a
    person's (or an earlier run's) build did: its index stays, INVALID."""
    with connect(url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(statement)


def dedupe(url: str) -> None:
    with connect(url) as conn:
        conn.execute("DELETE FROM items WHERE id = 2")


def migrate(directory: Path, url: str, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("migrate", *args, "--dir", str(directory), database_url=url)


def test_an_index_an_earlier_build_left_invalid_is_not_recorded_as_built(
    tmp_path: Path, database_url: str
) -> None:
    """IF NOT EXISTS skipped the INVALID index and the migration was recorded as
    applied; it fails now, naming the index and the DROP, and leaves a dirty mark. An
    INVALID index of another table, which no statement of the file names, is not
    blamed."""
    drizzle = write_drizzle(tmp_path / "d", numbered(("items", ITEMS, None)))
    assert migrate(drizzle, database_url).returncode == 0
    leave_invalid(database_url, "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku)")
    with connect(database_url) as conn:  # someone else's, elsewhere
        conn.execute("CREATE TABLE other (v int); INSERT INTO other VALUES (1), (1)")
    leave_invalid(database_url, "CREATE UNIQUE INDEX CONCURRENTLY other_v_uq ON other (v)")
    add_migration(
        drizzle,
        "0001_uniq",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_sku_uq ON items (sku);",
    )

    failed = migrate(drizzle, database_url, "--json")
    assert failed.returncode == 1, output(failed)
    result = json.loads(failed.stdout)
    assert result["dirty"] is True
    error = result["error"]
    assert error["reason"] == "MigrationFailed"
    assert error["migration"] == "0001_uniq.sql"
    assert "public.items_sku_uq" in error["message"]
    assert "INVALID" in error["message"]
    assert "earlier failed build" in error["message"]
    assert "other_v_uq" not in error["message"]
    assert "DROP INDEX CONCURRENTLY public.items_sku_uq;" in error["hint"]
    assert "kubemigrate repair" in error["hint"]
    assert applied_names(database_url) == ["0000_items.sql"]
    assert ("failed", "0001_uniq.sql") in history_actions(database_url)

    refused = migrate(drizzle, database_url)  # the mark stops the next run, saying why
    assert refused.returncode == 4, output(refused)
    assert "DROP INDEX CONCURRENTLY public.items_sku_uq" in said(refused)

    # as the hint says: drop it (and the duplicates a unique index needs gone), repair,
    # migrate: the index is built anew, valid
    dedupe(database_url)
    with connect(database_url) as conn:
        conn.execute("DROP INDEX CONCURRENTLY public.items_sku_uq")
    repaired = run_cli("repair", "--dir", str(drizzle), database_url=database_url)
    assert repaired.returncode == 0, output(repaired)
    done = migrate(drizzle, database_url)
    assert done.returncode == 0, output(done)
    assert index_state(database_url, "items_sku_uq") is True
    assert applied_names(database_url) == ["0000_items.sql", "0001_uniq.sql"]


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        # PostgreSQL picks the name of an unnamed index: the table's INVALID ones count
        ("CREATE INDEX CONCURRENTLY ON items (id);", "public.items_sku_uq"),
        # REINDEX TABLE CONCURRENTLY skips an invalid index with a warning, and succeeds
        ("REINDEX TABLE CONCURRENTLY items;", "public.items_sku_uq"),
        # a failed REINDEX INDEX CONCURRENTLY leaves its copy, INVALID, beside the index
        ("REINDEX INDEX CONCURRENTLY items_sku_uq;", "public.items_sku_uq_ccnew"),
    ],
)
def test_other_concurrent_builds_that_leave_an_invalid_index_are_not_recorded(
    tmp_path: Path, database_url: str, statement: str, named: str
) -> None:
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(("items", ITEMS + "\nCREATE UNIQUE INDEX items_id ON items (id);", None)),
    )
    assert migrate(drizzle, database_url).returncode == 0
    leave_invalid(database_url, "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku)")
    if "ccnew" in named:  # its rebuild failed too, over the same keys; they are gone now
        leave_invalid(database_url, "REINDEX INDEX CONCURRENTLY items_sku_uq")
        dedupe(database_url)
    add_migration(drizzle, "0001_build", statement)

    failed = migrate(drizzle, database_url)
    assert failed.returncode == 1, output(failed)
    assert f"{named}," in said(failed) or f"{named} " in said(failed)
    assert f"DROP INDEX CONCURRENTLY {named};" in said(failed)
    assert applied_names(database_url) == ["0000_items.sql"]


def test_names_resolve_as_the_migrations_own_search_path_resolved_them(
    tmp_path: Path, database_url: str
) -> None:
    """A file that sets its search_path builds in that schema; the index is looked for
    there, before the migration's settings are reset, and named with its schema."""
    with connect(database_url) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("CREATE TABLE app.items (id int, sku text)")
        conn.execute("INSERT INTO app.items VALUES (1, 'a'), (2, 'a')")
    leave_invalid(database_url, "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON app.items (sku)")
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            (
                "uniq",
                "-- kubemigrate:no-transaction\nSET search_path = app;\n"
                "--> statement-breakpoint\n"
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_sku_uq ON items (sku);",
                None,
            )
        ),
    )
    failed = migrate(drizzle, database_url)
    assert failed.returncode == 1, output(failed)
    assert "DROP INDEX CONCURRENTLY app.items_sku_uq;" in said(failed)
    assert "statement 2" in said(failed)
    assert applied_names(database_url) == []


def test_repair_leaves_the_mark_while_the_failed_build_s_index_is_invalid(
    tmp_path: Path, database_url: str
) -> None:
    """The reviewer's sequence: a unique build fails over duplicate keys (the database
    dirty, the index INVALID), IF NOT EXISTS is added as lint advises, then repair.
    Repair cleared the mark without a word and the next migrate recorded the index as
    built; it refuses now, naming the index and its DROP, unless forced."""
    # the build after another change of the file, which stays: the index stays too
    first = "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_id ON items (id);\n"
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", ITEMS, None),
            ("uniq", first + "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku);", None),
        ),
    )
    assert migrate(drizzle, database_url).returncode == 1
    assert index_state(database_url, "items_sku_uq") is False
    (drizzle / "0001_uniq.sql").write_text(
        first + "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_sku_uq ON items (sku);"
    )

    refused = run_cli("repair", "--dir", str(drizzle), "--json", database_url=database_url)
    assert refused.returncode == 5, output(refused)
    error = json.loads(refused.stdout)["error"]
    assert error["reason"] == "RefusedBySafetyRules"
    assert error["migration"] == "0001_uniq.sql"
    assert "public.items_sku_uq" in error["message"]
    assert "INVALID" in error["message"]
    assert "DROP INDEX CONCURRENTLY public.items_sku_uq;" in error["hint"]
    assert "kubemigrate repair --force" in error["hint"]
    still = migrate(drizzle, database_url)  # the mark is still there
    assert still.returncode == 4, output(still)
    assert ("repaired", "0001_uniq.sql") not in history_actions(database_url)

    forced = run_cli("repair", "--dir", str(drizzle), "--force", database_url=database_url)
    assert forced.returncode == 0, output(forced)
    assert "dirty mark cleared" in forced.stdout
    again = migrate(drizzle, database_url)  # and the index is still not taken for built
    assert again.returncode == 1, output(again)
    assert applied_names(database_url) == ["0000_items.sql"]

    dedupe(database_url)  # the way out the refusal gave
    with connect(database_url) as conn:
        conn.execute("DROP INDEX CONCURRENTLY public.items_sku_uq")
    repaired = run_cli("repair", "--dir", str(drizzle), database_url=database_url)
    assert repaired.returncode == 0, output(repaired)
    assert migrate(drizzle, database_url).returncode == 0
    assert index_state(database_url, "items_sku_uq") is True


def test_repair_of_a_rollback_reads_the_down_that_left_the_index_invalid(
    tmp_path: Path, database_url: str
) -> None:
    """A rollback whose down rebuilds an index CONCURRENTLY and fails leaves the mark on
    a migration still applied: the down's build is the one checked."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", ITEMS.replace("(2, 'a')", "(2, 'b')"), None),
            (
                "unique_sku",
                "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku);",
                "DROP INDEX CONCURRENTLY IF EXISTS items_sku_uq;",
            ),
            (
                "drop_unique",
                "DROP INDEX CONCURRENTLY items_sku_uq;",
                # the build after another change of the down, which stays: the index too
                "DROP INDEX CONCURRENTLY IF EXISTS items_old;\n"
                "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku);",
            ),
        ),
    )
    assert migrate(drizzle, database_url).returncode == 0
    with connect(database_url) as conn:
        conn.execute("UPDATE items SET sku = 'a'")
    failed = run_cli(
        "rollback", "--target", "0001", "--dir", str(drizzle), database_url=database_url
    )
    assert failed.returncode == 1, output(failed)
    assert index_state(database_url, "items_sku_uq") is False

    refused = run_cli("repair", "--dir", str(drizzle), database_url=database_url)
    assert refused.returncode == 5, output(refused)
    assert "0002_drop_unique.sql is marked dirty" in said(refused)
    assert "DROP INDEX CONCURRENTLY public.items_sku_uq;" in said(refused)


def recorded_over_an_invalid_index(tmp_path: Path, url: str) -> Path:
    """0001 recorded as applied while its index is INVALID, as a person's `baseline`
    records it after building the index by hand (the dirty mark's "finish it by hand"
    way out) when that build failed unnoticed; and another application's INVALID index
    on a table an applied migration indexed without naming the index."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("items", ITEMS, None),
            ("other", "CREATE TABLE other (v int);", None),
            ("other_idx", "CREATE INDEX CONCURRENTLY ON other (v);", None),
        ),
    )
    assert migrate(drizzle, url).returncode == 0
    with connect(url) as conn:
        conn.execute("INSERT INTO other VALUES (1), (1)")
    leave_invalid(url, "CREATE UNIQUE INDEX CONCURRENTLY other_v_uq ON other (v)")
    leave_invalid(url, "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku)")
    add_migration(
        drizzle,
        "0003_uniq",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_sku_uq ON items (sku);",
    )
    baselined = run_cli("baseline", "--target", "0003", "--dir", str(drizzle), database_url=url)
    assert baselined.returncode == 0, output(baselined)
    return drizzle


def test_status_warns_and_verify_fails_on_an_applied_migration_s_invalid_index(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = recorded_over_an_invalid_index(tmp_path, database_url)

    status = run_cli("status", "--dir", str(drizzle), "--json", database_url=database_url)
    assert status.returncode == 0, output(status)
    warnings = json.loads(status.stdout)["warnings"]
    told = [w for w in warnings if "INVALID" in w]
    assert len(told) == 1, warnings
    assert "public.items_sku_uq, which 0003_uniq.sql (applied) builds CONCURRENTLY" in told[0]
    assert "REINDEX INDEX CONCURRENTLY public.items_sku_uq;" in told[0]
    assert "other_v_uq" not in " ".join(warnings)
    text = run_cli("status", "--dir", str(drizzle), database_url=database_url)
    assert "public.items_sku_uq" in said(text)

    verify = run_cli("verify", "--dir", str(drizzle), "--json", database_url=database_url)
    assert verify.returncode == 4, output(verify)
    result = json.loads(verify.stdout)
    assert result["ok"] is False
    assert result["error"]["reason"] == "InvalidIndex"
    assert result["error"]["migration"] == "0003_uniq.sql"
    assert result["error"]["index"] == "public.items_sku_uq"
    assert "REINDEX INDEX CONCURRENTLY public.items_sku_uq;" in result["error"]["hint"]
    plain = run_cli("verify", "--dir", str(drizzle), database_url=database_url)
    assert plain.returncode == 4
    assert "public.items_sku_uq" in said(plain)

    dedupe(database_url)  # as the hint says
    with connect(database_url) as conn:
        conn.execute("REINDEX INDEX CONCURRENTLY public.items_sku_uq")
    assert run_cli("verify", "--dir", str(drizzle), database_url=database_url).returncode == 0
    again = run_cli("status", "--dir", str(drizzle), "--json", database_url=database_url)
    assert not [w for w in json.loads(again.stdout)["warnings"] if "INVALID" in w]


def test_a_migration_run_s_status_shows_what_verify_and_status_found(
    tmp_path: Path, database_url: str
) -> None:
    """The operator reads the engine's result file (a Job's termination message) into
    the MigrationRun's status: a verify run fails with reason InvalidIndex and the
    engine's message and hint; a status run succeeds with the warning in
    status.warnings and its condition, as a Warning Event."""
    from kubemigrate.domain.outcome import Outcome
    from tests.unit.controller.test_reporting import _finish, _run

    drizzle = recorded_over_an_invalid_index(tmp_path, database_url)
    results = {}
    for action in ("verify", "status"):
        path = tmp_path / f"{action}.json"
        run_cli(
            action, "--dir", str(drizzle), "--result-file", str(path), database_url=database_url
        )
        results[action] = Outcome.from_dict(json.loads(path.read_text()))

    verify = _finish(_run("verify"), results["verify"], failed=("PodFailurePolicy", "exit 4"))
    assert verify.status["phase"] == "Failed"
    failed = verify.condition("Failed")
    assert failed["reason"] == "InvalidIndex"
    assert "public.items_sku_uq" in failed["message"]
    error = verify.status["error"]
    assert (error["reason"], error["migration"]) == ("InvalidIndex", "0003_uniq.sql")
    assert "REINDEX INDEX CONCURRENTLY public.items_sku_uq;" in error["hint"]

    status = _finish(_run("status"), results["status"])
    assert status.status["phase"] == "Succeeded"
    told = [w for w in status.status["warnings"] if "public.items_sku_uq" in w]
    assert len(told) == 1
    assert "INVALID" in told[0]
    assert "public.items_sku_uq" in status.condition("Complete")["message"]
    assert [e.type for e in status.kube.events] == ["Warning"]


def test_verify_names_every_invalid_index_and_status_how_to_clear_each(
    tmp_path: Path, database_url: str
) -> None:
    """An index two applied migrations build, and the copy a failed REINDEX INDEX
    CONCURRENTLY left beside it, which is dropped rather than rebuilt."""
    drizzle = write_drizzle(tmp_path / "d", numbered(("items", ITEMS, None)))
    assert migrate(drizzle, database_url).returncode == 0
    leave_invalid(database_url, "CREATE UNIQUE INDEX CONCURRENTLY items_sku_uq ON items (sku)")
    leave_invalid(database_url, "REINDEX INDEX CONCURRENTLY items_sku_uq")
    add_migration(
        drizzle,
        "0001_uniq",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_sku_uq ON items (sku);",
    )
    add_migration(drizzle, "0002_reindex", "REINDEX INDEX CONCURRENTLY items_sku_uq;")
    baselined = run_cli(
        "baseline", "--target", "0002", "--dir", str(drizzle), database_url=database_url
    )
    assert baselined.returncode == 0, output(baselined)

    verify = run_cli("verify", "--dir", str(drizzle), "--json", database_url=database_url)
    assert verify.returncode == 4, output(verify)
    error = json.loads(verify.stdout)["error"]
    assert error["reason"] == "InvalidIndex"
    assert error["indexes"] == ["public.items_sku_uq", "public.items_sku_uq_ccnew"]
    assert "0001_uniq.sql, 0002_reindex.sql (all applied) build CONCURRENTLY" in error["message"]
    assert "So is public.items_sku_uq_ccnew." in error["message"]

    status = run_cli("status", "--dir", str(drizzle), "--json", database_url=database_url)
    warnings = [w for w in json.loads(status.stdout)["warnings"] if "INVALID" in w]
    assert len(warnings) == 2, warnings
    assert "REINDEX INDEX CONCURRENTLY public.items_sku_uq;" in warnings[0]
    assert (
        "drop it, the copy a failed REINDEX CONCURRENTLY left: "
        "`DROP INDEX CONCURRENTLY public.items_sku_uq_ccnew;`"
    ) in warnings[1]
