"""The original guide's three workflows, end to end through the real CLI.

Development (generate, migrate, status), production deployment (``--env production
migrate`` and the environment's resolution from KUBEMIGRATE_ENV / NODE_ENV) and
emergency rollback (status, rollback, status), plus the details users and scripts
rely on: the report's exact format, the tracking table's exact shape, checksums,
batches, stored rollback SQL, JSON outputs, dry runs, history, baseline and reset.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli
from tests.integration.helpers import (
    add_migration,
    applied_names,
    column_exists,
    connect,
    create_table,
    history,
    history_actions,
    index_state,
    numbered,
    query,
    sha256_normalised,
    table_exists,
    tracking,
    user_tables,
    write_drizzle,
)

SHOP = ROOT / "examples" / "shop"
SHOP_NAMES = [
    "0000_initial_schema.sql",
    "0001_add_products.sql",
    "0002_add_orders.sql",
    "0003_index_orders_by_customer.sql",
    "0004_add_analytics.sql",
]
TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHOP, tmp_path / "drizzle"))


def fmt(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def cli(*args: str, url: str, directory: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--dir", str(directory), database_url=url, env=env)


def expected_report(url: str, names: list[str], rollbacks: list[str] | None = None) -> str:
    """The report as the tracking table says it must read, line for line."""
    rows = {row["migration_name"]: row for row in tracking(url)}
    applied = [n for n in names if n in rows]
    lines = [
        "📊 Migration Status Report",
        "================================",
        f"Total migration files: {len(names)}",
        f"Applied migrations: {len(applied)}",
        f"Pending migrations: {len(names) - len(applied)}",
        "Last applied: "
        + (fmt(max(rows[n]["applied_at"] for n in applied)) if applied else "never"),
        "",
        "📋 Migration Details:",
    ]
    for name in names:
        if name in rows:
            lines.append(f"  ✅ Applied {name} {fmt(rows[name]['applied_at'])}")
        else:
            lines.append(f"  ⏳ Pending {name}")
    if rollbacks:
        lines += ["", "🔄 Recent Rollbacks:"]
        lines += [f"  {fmt(row['at'])} - {row['migration_name']}" for row in rollback_rows(url)]
    return "\n".join(lines) + "\n"


def rollback_rows(url: str) -> list[dict[str, Any]]:
    return [row for row in reversed(history(url)) if row["action"] == "rolled_back"][:5]


# -- development --------------------------------------------------------------


def test_development_workflow_generate_migrate_status(tmp_path: Path, database_url: str) -> None:
    drizzle = tmp_path / "drizzle"
    up_sql = tmp_path / "users.sql"
    up_sql.write_text(
        'CREATE TABLE "users" ("id" serial PRIMARY KEY, "email" text NOT NULL);\n'
        "--> statement-breakpoint\n"
        'CREATE INDEX "users_email_idx" ON "users" ("email");\n'
    )
    gen = run_cli("generate", "create_users", "--dir", str(drizzle), "--sql", str(up_sql))
    assert gen.returncode == 0, gen.stderr
    assert "0000_create_users.sql" in gen.stdout
    gen2 = run_cli("generate", "add_age", "--dir", str(drizzle))
    assert gen2.returncode == 0, gen2.stderr
    assert "-- Write the migration's SQL here" in (drizzle / "0001_add_age.sql").read_text()

    (drizzle / "0001_add_age.sql").write_text('ALTER TABLE "users" ADD COLUMN "age" integer;\n')
    (drizzle / "0001_add_age.down.sql").write_text('ALTER TABLE "users" DROP COLUMN "age";\n')

    journal = json.loads((drizzle / "meta" / "_journal.json").read_text())
    assert [e["tag"] for e in journal["entries"]] == ["0000_create_users", "0001_add_age"]
    down = (drizzle / "0000_create_users.down.sql").read_text()
    assert "DROP TABLE" in down
    assert "users_email_idx" in down

    before = cli("status", url=database_url, directory=drizzle)
    assert before.returncode == 0, before.stderr
    assert "  ⏳ Pending 0000_create_users.sql\n" in before.stdout
    assert "Last applied: never\n" in before.stdout

    done = cli("migrate", url=database_url, directory=drizzle)
    assert done.returncode == 0, done.stderr
    assert "✅ Applied 2 migration(s) (batch 1):" in done.stdout
    assert column_exists(database_url, "users", "age")
    assert index_state(database_url, "users_email_idx") is True

    after = cli("status", url=database_url, directory=drizzle)
    assert after.returncode == 0, after.stderr
    names = ["0000_create_users.sql", "0001_add_age.sql"]
    assert after.stdout == expected_report(database_url, names)


def test_an_unwritten_generate_template_is_refused_before_anything_runs(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = tmp_path / "drizzle"
    first = tmp_path / "first.sql"
    first.write_text("CREATE TABLE first_t (id int);\n")
    assert run_cli("generate", "first", "--dir", str(drizzle), "--sql", str(first)).returncode == 0
    assert run_cli("generate", "forgot", "--dir", str(drizzle)).returncode == 0

    done = cli("migrate", url=database_url, directory=drizzle)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "0001_forgot.sql is still the template `kubemigrate generate` wrote" in done.stderr
    assert not table_exists(database_url, "first_t")  # nothing of the batch ran


def test_a_migration_of_comments_alone_is_applied_with_a_warning(
    tmp_path: Path, database_url: str
) -> None:
    # what `drizzle-kit generate --custom` writes, left unfilled: drizzle applies it as is
    drizzle = write_drizzle(
        tmp_path / "drizzle",
        [("0000_custom", "-- Custom SQL migration file, put your code below! --\n", None)],
    )

    done = cli("migrate", url=database_url, directory=drizzle)

    assert done.returncode == 0, done.stderr
    assert "0000_custom.sql has no SQL statement (only comments)" in done.stdout + done.stderr
    assert [row["migration_name"] for row in tracking(database_url)] == ["0000_custom.sql"]


def test_status_report_exact_format_with_pending(shop: Path, database_url: str) -> None:
    first = cli(
        "migrate", "--target", "0003_index_orders_by_customer", url=database_url, directory=shop
    )
    assert first.returncode == 0, first.stderr
    result = cli("status", url=database_url, directory=shop)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_report(database_url, SHOP_NAMES)
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "📊 Migration Status Report",
        "================================",
        "Total migration files: 5",
        "Applied migrations: 4",
        "Pending migrations: 1",
    ]
    assert re.fullmatch(f"Last applied: {TIME}", lines[5])
    assert re.fullmatch(f"  ✅ Applied 0000_initial_schema.sql {TIME}", lines[8])
    assert lines[-1] == "  ⏳ Pending 0004_add_analytics.sql"
    assert "🔄 Recent Rollbacks:" not in result.stdout
    assert "Warnings" not in result.stdout


def test_fail_on_pending_exits_3_only_when_something_is_pending(
    shop: Path, database_url: str
) -> None:
    pending = cli("status", "--fail-on-pending", url=database_url, directory=shop)
    assert pending.returncode == 3, pending.stderr
    assert "Pending migrations: 5" in pending.stdout
    assert "error: 5 migration(s) pending (--fail-on-pending)" in pending.stderr
    result_file = shop.parent / "status-result.json"
    as_json = cli(
        "status", "--fail-on-pending", "--json", "--result-file", str(result_file),
        url=database_url, directory=shop,
    )  # fmt: skip
    assert as_json.returncode == 3
    # a gate reading `ok` alone (`jq -e .ok`), or the result file, is told too
    printed, written = json.loads(as_json.stdout), json.loads(result_file.read_text())
    assert (printed["ok"], printed["exitCode"]) == (False, 3)
    assert (written["ok"], written["exitCode"]) == (False, 3)
    assert cli("migrate", url=database_url, directory=shop).returncode == 0
    clean = cli("status", "--fail-on-pending", url=database_url, directory=shop)
    assert clean.returncode == 0, clean.stderr


def test_metadata_file_and_status_json(shop: Path, tmp_path: Path, database_url: str) -> None:
    assert (
        cli("migrate", "--target", "0001_add_products", url=database_url, directory=shop).returncode
        == 0
    )
    metadata = tmp_path / "migration-metadata.json"
    result = cli("status", "--metadata-file", str(metadata), url=database_url, directory=shop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("📊 Migration Status Report\n")
    data = json.loads(metadata.read_text())
    assert data["totalMigrations"] == 5
    assert data["appliedMigrations"] == 2
    assert data["pendingMigrations"] == 3
    assert [(m["name"], m["status"]) for m in data["migrations"]] == [
        (name, "applied" if i < 2 else "pending") for i, name in enumerate(SHOP_NAMES)
    ]
    assert data["migrations"][0]["checksum"] == sha256_normalised(shop / SHOP_NAMES[0])
    assert data["migrations"][0]["batch"] == 1

    as_json = cli("status", "--json", url=database_url, directory=shop)
    assert as_json.returncode == 0, as_json.stderr
    printed = json.loads(as_json.stdout)
    assert printed["appliedMigrations"] == 2
    assert printed["migrations"] == data["migrations"]
    # the fields every command's JSON starts with, then the report's own
    assert (printed["action"], printed["ok"]) == ("status", True)
    assert printed["counts"] == {"total": 5, "applied": 2, "pending": 3}


def test_tracking_table_has_the_original_columns(shop: Path, database_url: str) -> None:
    assert cli("migrate", url=database_url, directory=shop).returncode == 0
    columns = {
        row[0]: row[1:]
        for row in query(
            database_url,
            "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = '__migration_tracking'",
        )
    }
    assert columns["id"][:3] == ("integer", None, "NO")
    assert columns["id"][3].startswith("nextval(")
    assert columns["migration_name"][:3] == ("character varying", 255, "NO")
    assert columns["applied_at"] == (
        "timestamp without time zone",
        None,
        "YES",
        "CURRENT_TIMESTAMP",
    )
    assert columns["rollback_sql"] == ("text", None, "YES", None)
    assert columns["checksum"] == ("character varying", 64, "YES", None)
    assert columns["batch_number"] == ("integer", None, "YES", "1")
    constraints = {
        (row[0], row[1])
        for row in query(
            database_url,
            "SELECT tc.constraint_type, kcu.column_name "
            "FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu "
            "USING (constraint_schema, constraint_name) "
            "WHERE tc.table_name = '__migration_tracking'",
        )
    }
    assert constraints == {("PRIMARY KEY", "id"), ("UNIQUE", "migration_name")}


def test_checksum_is_sha256_of_the_file_with_crlf_normalised(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = tmp_path / "drizzle"
    write_drizzle(drizzle, numbered(create_table("lf_table")))
    crlf = drizzle / "0001_crlf.sql"
    add_migration(drizzle, "0001_crlf", "", None)
    crlf.write_bytes(b"CREATE TABLE crlf_table (\r\n  id integer\r\n);\r\n")
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    rows = {row["migration_name"]: row["checksum"] for row in tracking(database_url)}
    assert rows["0000_lf_table.sql"] == sha256_normalised(drizzle / "0000_lf_table.sql")
    assert rows["0001_crlf.sql"] == sha256_normalised(crlf)
    assert re.fullmatch("[0-9a-f]{64}", rows["0001_crlf.sql"])
    # Converting the file to LF (a checkout on another OS) is not an edit.
    crlf.write_bytes(crlf.read_bytes().replace(b"\r\n", b"\n"))
    verify = cli("verify", url=database_url, directory=drizzle)
    assert verify.returncode == 0, verify.stderr


# -- production deployment ----------------------------------------------------


def test_production_deployment_migrates(shop: Path, database_url: str) -> None:
    result = cli("migrate", "--env", "production", url=database_url, directory=shop)
    assert result.returncode == 0, result.stderr
    assert applied_names(database_url) == SHOP_NAMES
    assert index_state(database_url, "orders_customer_id_idx") is True
    status = cli(
        "status", "--env", "production", "--fail-on-pending", url=database_url, directory=shop
    )
    assert status.returncode == 0, status.stderr
    assert "Pending migrations: 0" in status.stdout


def test_a_production_migrate_says_what_data_it_destroys_before_it_runs(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            create_table("legacy"),
            ("cleanup", "DROP TABLE legacy;\nCREATE TABLE kept (id int, old text);", None),
            ("trim", "ALTER TABLE kept DROP COLUMN old;", None),
            ("custom", "TRUNCATE kept\n--> statement-breakpoint\nSELECT 1", None),
        ),
    )
    assert (
        cli("migrate", "--target", "0000_legacy", url=database_url, directory=drizzle).returncode
        == 0
    )
    preview = cli(
        "migrate", "--env", "production", "--dry-run", url=database_url, directory=drizzle
    )
    assert preview.returncode == 0, preview.stderr
    # on stdout, first: a pull request's comment made of the plan has them
    said = " ".join(preview.stdout.split())
    assert said.startswith("warning: 0001_cleanup.sql line 1 destroys data")
    assert "0001_cleanup.sql line 1 destroys data no rollback restores: DROP TABLE legacy" in said
    assert "0002_trim.sql line 1 destroys data no rollback restores: DROP COLUMN kept.old" in said
    assert "0003_custom.sql line 1 destroys data no rollback restores: TRUNCATE kept" in said
    done = cli("migrate", "--env", "production", url=database_url, directory=drizzle)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    warned = [line for line in lines if line["level"] == "warning"]
    first_applied = next(i for i, line in enumerate(lines) if line["action"] == "applied")
    assert warned
    assert lines.index(warned[0]) < first_applied  # before the first statement ran


@pytest.mark.parametrize(
    ("env", "flag", "production"),
    [
        ({"KUBEMIGRATE_ENV": "production"}, [], True),
        ({"NODE_ENV": "production"}, [], True),
        ({"KUBEMIGRATE_ENV": "development", "NODE_ENV": "production"}, [], False),
        ({"KUBEMIGRATE_ENV": "production"}, ["--env", "development"], False),
        ({"NODE_ENV": "test"}, [], False),  # as test runners set it
        ({"NODE_ENV": "prod"}, [], True),  # short forms count, so a reset is not let through
        ({"KUBEMIGRATE_ENV": "Production"}, [], True),
        ({"NODE_ENV": "qa"}, [], False),  # NODE_ENV's own values mean development (warned)
        ({}, ["--env", "production"], True),
        ({}, [], False),
    ],
)
def test_environment_resolution(
    shop: Path, database_url: str, env: dict[str, str], flag: list[str], production: bool
) -> None:
    assert cli("migrate", url=database_url, directory=shop).returncode == 0
    result = cli("rollback", *flag, url=database_url, directory=shop, **env)
    if production:
        assert result.returncode == 5, result.stderr
        assert "rollback-batch-1" in result.stderr
        assert applied_names(database_url) == SHOP_NAMES
    else:
        assert result.returncode == 0, result.stderr
        assert applied_names(database_url) == []


def test_unknown_kubemigrate_env_is_a_usage_error(shop: Path, database_url: str) -> None:
    result = cli("migrate", url=database_url, directory=shop, KUBEMIGRATE_ENV="prodution")
    assert result.returncode == 2, result.stderr
    assert "Unknown environment 'prodution' (KUBEMIGRATE_ENV)" in result.stderr
    assert "Traceback" not in result.stderr
    assert applied_names(database_url) == []


@pytest.mark.parametrize(
    ("command", "flag", "env", "named"),
    [
        ("status", ["--env", "prodution"], {}, "--env"),
        ("verify", [], {"KUBEMIGRATE_ENV": "prodution"}, "KUBEMIGRATE_ENV"),
        ("history", ["--env", "prodution", "--json"], {}, "--env"),
    ],
)
def test_unknown_environment_is_refused_by_reading_commands_too(
    shop: Path, database_url: str, command: str, flag: list[str], env: dict[str, str], named: str
) -> None:
    # a report that seemed to accept the typo, where the next migrate refuses it
    result = cli(command, *flag, url=database_url, directory=shop, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    if "--json" in flag:
        error = json.loads(result.stdout)["error"]
        assert f"Unknown environment 'prodution' ({named})" in error["message"]
    else:
        assert f"Unknown environment 'prodution' ({named})" in result.stderr
        assert "Migration Status Report" not in result.stdout


def test_node_env_of_another_kind_is_warned_about(shop: Path, database_url: str) -> None:
    result = cli("migrate", url=database_url, directory=shop, NODE_ENV="qa")
    assert result.returncode == 0, result.stderr
    assert (
        "warning: NODE_ENV='qa' is not development, staging or production; using development"
        in (result.stderr)
    )


# -- emergency rollback -------------------------------------------------------


def test_emergency_rollback_status_rollback_status(shop: Path, database_url: str) -> None:
    assert (
        cli("migrate", "--target", "0001_add_products", url=database_url, directory=shop).returncode
        == 0
    )
    assert cli("migrate", url=database_url, directory=shop).returncode == 0

    before = cli("status", url=database_url, directory=shop)
    assert before.stdout == expected_report(database_url, SHOP_NAMES)
    assert "Applied migrations: 5" in before.stdout

    result = cli("rollback", url=database_url, directory=shop)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "✅ Rolled back 3 migration(s) (batch 2):\n"
        + "".join(
            f"  - {name} ({m} ms)\n"
            for name, m in zip(
                reversed(SHOP_NAMES[2:]),
                re.findall(r"\((\d+) ms\)", result.stdout),
                strict=True,
            )
        )
    )
    assert applied_names(database_url) == SHOP_NAMES[:2]
    assert not table_exists(database_url, "orders")
    assert not column_exists(database_url, "customers", "loyalty_points")
    assert table_exists(database_url, "products")

    after = cli("status", url=database_url, directory=shop)
    assert after.returncode == 0, after.stderr
    assert after.stdout == expected_report(database_url, SHOP_NAMES, rollbacks=SHOP_NAMES[2:])
    section = after.stdout.split("🔄 Recent Rollbacks:\n")[1].splitlines()
    # Newest first: the rollback ran 0004, 0003, then 0002.
    assert [line.split(" - ")[1] for line in section] == list(SHOP_NAMES[2:])
    assert all(re.fullmatch(f"  {TIME} - .+", line) for line in section)


def test_rollback_steps_and_target(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(*(create_table(f"t{i}") for i in range(5))))
    names = [f"{i:04d}_t{i}.sql" for i in range(5)]
    for target in [*names[1:4:2], names[4]]:  # batches: {0,1}, {2,3}, {4}
        assert (
            cli("migrate", "--target", target, url=database_url, directory=drizzle).returncode == 0
        )
    assert [r["batch_number"] for r in tracking(database_url)] == [1, 1, 2, 2, 3]

    two = cli("rollback", "--steps", "2", url=database_url, directory=drizzle)
    assert two.returncode == 0, two.stderr
    assert applied_names(database_url) == names[:2]
    assert [a for a, m in history_actions(database_url) if a == "rolled_back"] == [
        "rolled_back"
    ] * 3
    assert [m for a, m in history_actions(database_url) if a == "rolled_back"] == names[4:1:-1]

    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    to = cli("rollback", "--target", "0001_t1", url=database_url, directory=drizzle)
    assert to.returncode == 0, to.stderr
    assert applied_names(database_url) == names[:2]
    assert user_tables(database_url) == {"t0", "t1"}

    both = cli(
        "rollback", "--steps", "1", "--target", "0000_t0", url=database_url, directory=drizzle
    )
    assert both.returncode == 2
    assert applied_names(database_url) == names[:2]


def test_migrate_target_applies_up_to_and_including_it(shop: Path, database_url: str) -> None:
    result = cli("migrate", "--target", "0002_add_orders.sql", url=database_url, directory=shop)
    assert result.returncode == 0, result.stderr
    assert applied_names(database_url) == SHOP_NAMES[:3]
    unknown = cli("migrate", "--target", "0009_nope", url=database_url, directory=shop)
    assert unknown.returncode == 2
    assert "0009_nope" in unknown.stderr
    assert applied_names(database_url) == SHOP_NAMES[:3]


def test_batches_are_numbered_per_run_and_never_reused(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    assert cli("migrate", "--target", "0000_a", url=database_url, directory=drizzle).returncode == 0
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    assert [r["batch_number"] for r in tracking(database_url)] == [1, 2]
    assert cli("rollback", url=database_url, directory=drizzle).returncode == 0
    again = cli("migrate", "--json", url=database_url, directory=drizzle)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["batch"] == 3
    assert [r["batch_number"] for r in tracking(database_url)] == [1, 3]
    nothing = cli("migrate", url=database_url, directory=drizzle)
    assert nothing.returncode == 0
    assert nothing.stdout.startswith("Nothing to migrate")
    add_migration(drizzle, "0002_c", *create_table("c")[1:])
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    assert [r["batch_number"] for r in tracking(database_url)] == [1, 3, 4]


def test_rollback_sql_is_stored_at_apply_time(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("keep", "CREATE TABLE keep (id int);", "DROP TABLE keep;"),
            ("gone", "CREATE TABLE gone (id int);", "DROP TABLE gone;"),
            ("changed", "CREATE TABLE changed (id int);", "DROP TABLE changed;"),
        ),
    )
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    stored = {r["migration_name"]: r["rollback_sql"] for r in tracking(database_url)}
    assert stored["0001_gone.sql"] == "DROP TABLE gone;"
    (drizzle / "0001_gone.down.sql").unlink()
    (drizzle / "0002_changed.down.sql").write_text("SELECT 1/0;")
    result = cli("rollback", url=database_url, directory=drizzle)
    assert result.returncode == 0, result.stderr
    assert applied_names(database_url) == []
    assert user_tables(database_url) == set()


def test_a_generated_down_that_could_not_invert_refuses_the_rollback(
    tmp_path: Path, database_url: str
) -> None:
    """`generate` cannot invert a DROP COLUMN: its down file holds only a note. Rolling
    that back must not "succeed" by running nothing and dropping the tracking row."""
    (tmp_path / "up.sql").write_text("CREATE TABLE users (id int, name text);\n")
    (tmp_path / "drop.sql").write_text("ALTER TABLE users DROP COLUMN name;\n")
    drizzle = tmp_path / "drizzle"
    for name, sql in (("create_users", "up.sql"), ("drop_name", "drop.sql")):
        made = cli(
            "generate", name, "--sql", str(tmp_path / sql), url=database_url, directory=drizzle
        )
        assert made.returncode == 0, made.stderr
    assert "could not invert" in (drizzle / "0001_drop_name.down.sql").read_text()
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0

    refused = cli("rollback", url=database_url, directory=drizzle)
    assert refused.returncode == 2
    assert "No rollback SQL for: 0001_drop_name.sql; nothing was rolled back" in refused.stderr
    assert applied_names(database_url) == ["0000_create_users.sql", "0001_drop_name.sql"]
    assert table_exists(database_url, "users")

    # the rollback written by hand afterwards is used, as nothing usable was stored
    (drizzle / "0001_drop_name.down.sql").write_text("ALTER TABLE users ADD COLUMN name text;\n")
    undone = cli("rollback", url=database_url, directory=drizzle)
    assert undone.returncode == 0, undone.stderr
    assert applied_names(database_url) == []
    assert not table_exists(database_url, "users")


def test_a_maintenance_migration_does_not_block_its_batch_s_rollback(
    tmp_path: Path, database_url: str
) -> None:
    """generate wrote an empty down for VACUUM/ANALYZE, and rollback refused the whole
    batch; it now writes the nothing-to-undo directive, which rollback accepts."""
    drizzle = tmp_path / "drizzle"
    for name, sql in (
        ("items", "CREATE TABLE items (id int);"),
        ("stats", "VACUUM ANALYZE items;"),
    ):
        source = tmp_path / f"{name}.sql"
        source.write_text(sql + "\n")
        made = run_cli("generate", name, "--sql", str(source), "--dir", str(drizzle))
        assert made.returncode == 0, made.stderr
    assert (drizzle / "0001_stats.down.sql").read_text() == "-- kubemigrate:nothing-to-undo\n"
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    undone = cli("rollback", url=database_url, directory=drizzle)
    assert undone.returncode == 0, undone.stderr
    assert applied_names(database_url) == []
    assert not table_exists(database_url, "items")


def test_a_migration_s_notices_and_warnings_are_logged(tmp_path: Path, database_url: str) -> None:
    """A backfill's RAISE NOTICE on its progress was dropped: psql shows it."""
    body = "DO $$ BEGIN RAISE NOTICE 'backfilled % rows', 42; RAISE WARNING 'slow path'; END $$;"
    outside = "-- kubemigrate:no-transaction\nDO $$ BEGIN RAISE WARNING 'outside'; END $$;"
    specs = [("backfill", body, None), create_table("b")]
    specs += [(f"w{n}", f"DO $$ BEGIN RAISE WARNING 'from {n}'; END $$;", None) for n in range(3)]
    specs += [("outside", outside, None)]
    drizzle = write_drizzle(tmp_path / "d", numbered(*specs))
    result = cli("migrate", "--log-format", "json", url=database_url, directory=drizzle)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    notices = [(line["level"], line["msg"]) for line in lines if line["action"] == "notice"]
    assert notices == [
        ("info", "backfilled 42 rows"),
        ("warning", "slow path"),
        ("warning", "from 0"),
        ("warning", "from 1"),
        ("warning", "from 2"),
        ("warning", "outside"),
    ]


def test_a_notice_names_its_migration_where_that_is_certain(
    tmp_path: Path, database_url: str
) -> None:
    """A warning nobody can trace to its file helps nobody: a migration run alone (one
    pending, or outside a transaction) names itself; in a pipeline of several, where
    psycopg reads a burst of results at once, none is named rather than the wrong one."""
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            ("alone", "DO $$ BEGIN RAISE WARNING 'alone'; END $$;", None),
            (
                "outside",
                "-- kubemigrate:no-transaction\nDO $$ BEGIN RAISE WARNING 'out'; END $$;",
                None,
            ),
        ),
    )
    for target in ("0000_alone", "0001_outside"):
        done = cli("migrate", "--target", target, "--log-format", "json",
                   url=database_url, directory=drizzle)  # fmt: skip
        assert done.returncode == 0, done.stderr
        [line] = [json.loads(line) for line in done.stderr.splitlines() if '"notice"' in line]
        assert line["migration"] == f"{target}.sql"


def test_json_logs_are_json_throughout(shop: Path, tmp_path: Path, database_url: str) -> None:
    """NODE_ENV's warning and a result file that cannot be written came as plain text
    between the JSON lines, and the command's own lines wrote their time as +00:00
    with no type, unlike the run's."""
    result = cli(
        "migrate", "--log-format", "json", "--result-file", str(tmp_path),
        url=database_url, directory=shop, NODE_ENV="ci",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    said = [line["msg"] for line in lines if line["level"] == "warning"]
    assert any(m.startswith("NODE_ENV='ci' is not development") for m in said), said
    assert any(m.startswith(f"cannot write the result to {tmp_path}") for m in said), said
    assert all(line["time"].endswith("Z") for line in lines)
    assert {line["type"] for line in lines} == {"database_migration"}


def test_a_dry_run_s_log_lines_say_so(shop: Path, database_url: str) -> None:
    """Its "planned" line was a real run's, word for word: an audit of the logs could
    not tell the plan on every pull request from a deploy."""

    def planned(*args: str) -> dict[str, Any]:
        done = cli("migrate", *args, "--log-format", "json", url=database_url, directory=shop)
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stderr.splitlines()]
        return next(line for line in lines if line["action"] == "planned")

    assert planned("--dry-run")["dry_run"] is True
    assert "dry_run" not in planned()


def test_a_baseline_dry_run_still_says_its_warnings(tmp_path: Path, database_url: str) -> None:
    """A plan's text carries its warnings, so stderr leaves them out; a baseline's dry
    run, whose text does not, lost them with it."""
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a")))
    (drizzle / "meta" / "_journal.json").unlink()
    preview = cli("baseline", "--dry-run", url=database_url, directory=drizzle)
    assert preview.returncode == 0, preview.stderr
    assert "has no meta/_journal.json" in preview.stderr


def test_dry_run_prints_sql_and_changes_nothing(shop: Path, database_url: str) -> None:
    result = cli("migrate", "--dry-run", url=database_url, directory=shop)
    assert result.returncode == 0, result.stderr
    assert "Dry run: 5 migration(s) would run as batch 1:" in result.stdout
    assert "-- 0003_index_orders_by_customer.sql (up)" in result.stdout
    assert 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_customer_id_idx"' in result.stdout
    assert user_tables(database_url) == set()
    assert tracking(database_url) == []

    assert cli("migrate", url=database_url, directory=shop).returncode == 0
    snapshot = tracking(database_url)
    back = cli("rollback", "--dry-run", url=database_url, directory=shop)
    assert back.returncode == 0, back.stderr
    assert "-- 0004_add_analytics.sql (down)" in back.stdout
    assert 'DROP VIEW "customer_order_counts"' in back.stdout
    assert tracking(database_url) == snapshot
    assert table_exists(database_url, "customer_order_counts")
    assert [a for a, _ in history_actions(database_url)] == ["applied"] * 5


def test_json_outputs(shop: Path, database_url: str) -> None:
    up = cli("migrate", "--json", url=database_url, directory=shop)
    assert up.returncode == 0, up.stderr
    data = json.loads(up.stdout)
    assert data["ok"] is True
    assert data["action"] == "migrate"
    assert data["batch"] == 1
    assert [m["name"] for m in data["migrations"]] == SHOP_NAMES
    assert data["counts"] == {"total": 5, "applied": 5, "pending": 0}
    down = cli("rollback", "--json", url=database_url, directory=shop)
    assert down.returncode == 0, down.stderr
    data = json.loads(down.stdout)
    assert [m["name"] for m in data["migrations"]] == SHOP_NAMES[::-1]
    assert {m["direction"] for m in data["migrations"]} == {"down"}
    refused = cli("rollback", "--json", "--env", "production", url=database_url, directory=shop)
    assert refused.returncode == 0  # nothing left to roll back: no confirmation needed
    hist = cli("history", "--json", url=database_url, directory=shop)
    document = json.loads(hist.stdout)
    assert (document["action"], document["ok"], document["v"]) == ("history", True, 1)
    rows = document["entries"]
    assert [r["action"] for r in rows] == ["applied"] * 5 + ["rolled_back"] * 5
    assert rows[0]["at"].endswith("+00:00")  # UTC, said so
    made = run_cli("generate", "next", "--dir", str(shop), "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert (created["action"], created["ok"], created["v"]) == ("generate", True, 1)
    status = json.loads(cli("status", "--json", url=database_url, directory=shop).stdout)
    assert (status["action"], status["ok"], status["v"]) == ("status", True, 1)
    assert created["up"].endswith("0005_next.sql")
    assert set(rows[0]) == {
        "at", "action", "migration", "batch", "durationMs", "runId", "actor", "sqlState", "error",
    }  # fmt: skip


def test_history_lists_every_action(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    assert cli("rollback", url=database_url, directory=drizzle).returncode == 0
    result = cli("history", url=database_url, directory=drizzle)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["🕘 Migration History", "================================"]
    pattern = r"  {time} {action:<17} {name} batch 1 \(\d+ ms\) by \S+@\S+ \[run [0-9a-f]{{12}}\]"
    expected = [
        ("applied", "0000_a.sql"),
        ("applied", "0001_b.sql"),
        ("rolled_back", "0001_b.sql"),
        ("rolled_back", "0000_a.sql"),
    ]
    assert len(lines) == 2 + len(expected)
    for line, (action, name) in zip(lines[2:], expected, strict=True):
        assert re.fullmatch(pattern.format(time=TIME, action=action, name=re.escape(name)), line), (
            line
        )


def test_baseline_records_without_running(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(*map(create_table, "abc")))
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE a (id int)")
        conn.execute("CREATE TABLE b (id int)")
    result = cli("baseline", "--target", "0001_b", url=database_url, directory=drizzle)
    assert result.returncode == 0, result.stderr
    assert "📌 Baselined 2 migration(s)" in result.stdout
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]
    assert [a for a, _ in history_actions(database_url)] == ["baselined", "baselined"]
    up = cli("migrate", url=database_url, directory=drizzle)
    assert up.returncode == 0, up.stderr
    assert "0002_c.sql" in up.stdout
    assert "0000_a.sql" not in up.stdout
    assert user_tables(database_url) == {"a", "b", "c"}
    assert [r["batch_number"] for r in tracking(database_url)] == [1, 1, 2]


A_AND_B = ("0000_a.sql", "0001_b.sql")


def drizzle_ran_a_and_b(url: str, hashes: list[str]) -> None:
    """A database drizzle-orm's migrator ran 0000_a and 0001_b on: their tables, and its
    own table holding ``hashes`` (as it records them: the SHA-256 of each file)."""
    with connect(url) as conn:
        conn.execute("CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations "
            "(id serial PRIMARY KEY, hash text NOT NULL, created_at bigint)"
        )
        for digest in hashes:
            conn.execute("INSERT INTO drizzle.__drizzle_migrations (hash) VALUES (%s)", (digest,))


def test_baseline_from_drizzle_s_own_table_leaves_what_it_never_ran_pending(
    tmp_path: Path, database_url: str
) -> None:
    """A database drizzle's migrator ran 0000 and 0001 on; 0002 was added since. Baseline
    with no target records exactly what drizzle's table records, so 0002 still runs."""
    drizzle = write_drizzle(tmp_path / "d", numbered(*map(create_table, "abc")))
    drizzle_ran_a_and_b(database_url, [sha256_normalised(drizzle / n) for n in A_AND_B])
    preview = cli("baseline", "--dry-run", url=database_url, directory=drizzle)
    assert preview.returncode == 0, preview.stderr
    assert "📌 Would baseline 2 migration(s)" in preview.stdout
    assert applied_names(database_url) == []

    # production: allowed, since drizzle's table says what the database has
    result = cli("baseline", "--env", "production", url=database_url, directory=drizzle)
    assert result.returncode == 0, result.stderr
    assert "📌 Baselined 2 migration(s)" in result.stdout
    assert "1 migration(s) stay pending, to be run by migrate." in result.stdout
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    assert user_tables(database_url) >= {"a", "b", "c"}


def test_baseline_matches_drizzle_s_hashes_of_the_files_as_they_are(
    tmp_path: Path, database_url: str
) -> None:
    """drizzle hashes a file's bytes, CRLF (a Windows checkout) included; a file edited
    since drizzle ran it matches nothing, and then the baseline is refused, not guessed."""
    drizzle = write_drizzle(tmp_path / "d", numbered(*map(create_table, "abc")))
    crlf = drizzle / "0001_b.sql"
    crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))
    drizzle_ran_a_and_b(
        database_url, [hashlib.sha256((drizzle / n).read_bytes()).hexdigest() for n in A_AND_B]
    )

    crlf.write_text(crlf.read_text() + "-- edited after drizzle ran it\n")
    refused = cli("baseline", "--env", "production", url=database_url, directory=drizzle)
    assert refused.returncode == 4, refused.stderr
    assert "lists 2 migration(s), but only 1 of the 3 files" in refused.stderr
    assert applied_names(database_url) == []

    crlf.write_bytes(b"CREATE TABLE b (id int);\r\n")  # what drizzle ran, CRLF and all
    with connect(database_url) as conn:
        conn.execute(
            "UPDATE drizzle.__drizzle_migrations SET hash = %s WHERE id = 2",
            (hashlib.sha256(crlf.read_bytes()).hexdigest(),),
        )
    result = cli("baseline", "--env", "production", url=database_url, directory=drizzle)
    assert result.returncode == 0, result.stderr
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]


def test_baseline_reads_what_another_tool_ran(tmp_path: Path, database_url: str) -> None:
    """dbmate migrated it (its schema_migrations lists the versions it ran): exactly those
    are recorded, in production too; a version golang-migrate left dirty refuses it."""
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE a (id int)")
        conn.execute("CREATE TABLE schema_migrations (version varchar PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES ('0000')")
    done = cli("baseline", "--env", "production", url=database_url, directory=drizzle)
    assert done.returncode == 0, done.stderr
    assert applied_names(database_url) == ["0000_a.sql"]  # 0001 stays pending

    with connect(database_url) as conn:
        conn.execute("DROP TABLE schema_migrations; DELETE FROM __migration_tracking")
        conn.execute("CREATE TABLE schema_migrations (version bigint, dirty boolean)")
        conn.execute("INSERT INTO schema_migrations VALUES (1, true)")
    refused = cli("baseline", url=database_url, directory=drizzle)
    assert refused.returncode == 4, refused.stderr
    assert "golang-migrate, whose history says version 1 is dirty" in refused.stderr
    assert applied_names(database_url) == []


def test_other_tools_folders_run_as_those_tools_number_and_mark_them(
    tmp_path: Path, database_url: str
) -> None:
    """dbmate's ``transaction:false`` runs a section outside a transaction (CREATE INDEX
    CONCURRENTLY beside other statements was refused as a mix); --target takes the
    version people know a migration by; a missing down names where dbmate keeps it."""
    folder = tmp_path / "db" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_items.sql").write_text(
        "-- migrate:up transaction:false\nCREATE TABLE items (id int);\n"
        "CREATE INDEX CONCURRENTLY items_id ON items (id);\n\n"
        "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY items_id;\nDROP TABLE items;\n"
    )
    (folder / "20240102000000_tags.sql").write_text("-- migrate:up\nCREATE TABLE tags (id int);\n")
    dbmate = ("--format", "dbmate")
    first = cli(
        "migrate", *dbmate, "--target", "20240101000000", url=database_url, directory=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert applied_names(database_url) == ["20240101000000_items.sql"]
    assert index_state(database_url, "items_id") is True

    assert cli("migrate", *dbmate, url=database_url, directory=tmp_path).returncode == 0
    undo = cli("rollback", *dbmate, url=database_url, directory=tmp_path)
    assert undo.returncode == 2, undo.stderr
    assert "write the rollback in the '-- migrate:down' section of 20240102000000_tags.sql" in (
        " ".join(undo.stderr.split())
    )
    back = cli(
        "rollback", *dbmate, "--target", "20240101000000", url=database_url, directory=tmp_path
    )
    assert back.returncode == 2  # the version is found; tags' down is still missing
    assert "No rollback SQL for: 20240102000000_tags.sql" in back.stderr
    (folder / "20240102000000_tags.sql").write_text(
        "-- migrate:up\nCREATE TABLE tags (id int);\n-- migrate:down\nDROP TABLE tags;\n"
    )
    assert (
        cli("rollback", *dbmate, "--steps", "2", url=database_url, directory=tmp_path).returncode
        == 0
    )
    assert not table_exists(database_url, "items")
    assert not table_exists(database_url, "tags")


def test_another_application_s_schema_migrations_is_named_when_it_matches_nothing(
    tmp_path: Path, database_url: str
) -> None:
    """Rails keeps a schema_migrations of dbmate's shape: the refusal says which table it
    read, so nobody hunts for a drizzle history that is not there."""
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version varchar PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240102000000')")
    refused = cli("baseline", url=database_url, directory=drizzle)
    assert refused.returncode == 4, refused.stderr
    said = " ".join(refused.stderr.split())
    assert "schema_migrations (dbmate's history) lists 2 migration(s), but only 0 of the 2" in said
    assert "(Rails has one too)" in said
    assert "hint: baseline with --target NAME" in said
    assert applied_names(database_url) == []


def test_rolling_back_what_baseline_recorded_needs_force(tmp_path: Path, database_url: str) -> None:
    """Their downs would drop what the database had before kubemigrate (Flyway refuses to
    undo below its baseline): refused, nothing undone, unless --force says so."""
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE a (id int); INSERT INTO a VALUES (1)")
    assert (
        cli("baseline", "--target", "0000_a", url=database_url, directory=drizzle).returncode == 0
    )
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0

    both = cli("rollback", "--steps", "2", url=database_url, directory=drizzle)
    assert both.returncode == 5, both.stderr
    said = " ".join(both.stderr.split())
    assert "includes 0000_a.sql, which `baseline` recorded without running" in said
    assert "`--target 0000_a` undoes only what was applied after it" in said
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]
    assert table_exists(database_url, "b")

    preview = cli("rollback", "--steps", "2", "--dry-run", url=database_url, directory=drizzle)
    assert preview.returncode == 0, preview.stderr
    assert "which `baseline` recorded without running" in preview.stdout + preview.stderr

    assert cli("rollback", url=database_url, directory=drizzle).returncode == 0  # batch 2: ours
    # production's consent is a phrase that says so: the batch's plain one is refused
    prod = ("--env", "production", "--confirm")
    refused = cli("rollback", *prod, "rollback-batch-1", url=database_url, directory=drizzle)
    assert refused.returncode == 5, refused.stderr
    assert "rollback-batch-1-with-baselined" in refused.stderr
    assert "undoes baselined migrations, so its phrase ends -with-baselined" in refused.stderr
    assert "which `baseline` recorded without running" in " ".join(refused.stderr.split())
    assert query(database_url, "SELECT count(*) FROM a") == [(1,)]
    phrase = "rollback-batch-1-with-baselined"
    consented = cli("rollback", *prod, phrase, url=database_url, directory=drizzle)
    assert consented.returncode == 0, consented.stderr
    assert not table_exists(database_url, "a")


def test_a_baselined_migration_renamed_by_repair_still_needs_force(
    tmp_path: Path, database_url: str
) -> None:
    """repair --accept-renames moved the tracking row, and the rule lost track of it:
    the next rollback dropped a table that predates kubemigrate, rows and all."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "0000_customers.sql").write_text("CREATE TABLE customers (id int);\n")
    (folder / "0000_customers.down.sql").write_text("DROP TABLE customers;\n")
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE customers (id int); INSERT INTO customers VALUES (1)")
    assert cli("baseline", url=database_url, directory=folder).returncode == 0
    for suffix in (".sql", ".down.sql"):
        (folder / f"0000_customers{suffix}").rename(folder / f"0005_customers{suffix}")
    renamed = cli("repair", "--accept-renames", url=database_url, directory=folder)
    assert renamed.returncode == 0, renamed.stderr
    assert applied_names(database_url) == ["0005_customers.sql"]
    refused = cli("rollback", url=database_url, directory=folder)
    assert refused.returncode == 5, refused.stderr
    assert "0005_customers.sql, which `baseline` recorded" in " ".join(refused.stderr.split())
    assert query(database_url, "SELECT count(*) FROM customers") == [(1,)]


def test_a_blind_baseline_in_production_is_refused(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    refused = cli("baseline", "--env", "production", url=database_url, directory=drizzle)
    assert refused.returncode == 5, refused.stderr
    assert "baseline in production needs --target NAME" in refused.stderr
    assert applied_names(database_url) == []
    named = cli(
        "baseline", "--env", "production", "--target", "0000_a", url=database_url, directory=drizzle
    )
    assert named.returncode == 0, named.stderr
    assert applied_names(database_url) == ["0000_a.sql"]


def test_reset_in_development_and_staging(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    assert cli("migrate", "--target", "0000_a", url=database_url, directory=drizzle).returncode == 0
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0

    staging = cli("reset", "--env", "staging", url=database_url, directory=drizzle)
    assert staging.returncode == 5
    assert "--force" in staging.stderr
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]

    # as migrate, rollback and baseline: a dry run shows it and changes nothing
    preview = cli("reset", "--dry-run", "--reapply", url=database_url, directory=drizzle)
    assert preview.returncode == 0, preview.stderr
    assert "Dry run: 2 migration(s) would be rolled back, newest first" in preview.stdout
    assert "--reapply would then apply them again." in preview.stdout
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]

    dev = cli("reset", url=database_url, directory=drizzle)
    assert dev.returncode == 0, dev.stderr
    assert "Rolled back 2 migration(s)" in dev.stdout
    assert applied_names(database_url) == []
    assert user_tables(database_url) == set()

    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    forced = cli(
        "reset",
        "--env",
        "staging",
        "--force",
        "--reapply",
        "--json",
        url=database_url,
        directory=drizzle,
    )
    assert forced.returncode == 0, forced.stderr
    result = json.loads(forced.stdout)  # both halves: it told the migrate alone
    assert result["action"] == "reset"
    assert [(m["name"], m["direction"]) for m in result["migrations"]] == [
        ("0001_b.sql", "down"),
        ("0000_a.sql", "down"),
        ("0000_a.sql", "up"),
        ("0001_b.sql", "up"),
    ]
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql"]
    assert user_tables(database_url) == {"a", "b"}
    assert [a for a, _ in history_actions(database_url)][-4:] == [
        "rolled_back",
        "rolled_back",
        "applied",
        "applied",
    ]


def test_repair_accept_checksum_is_recorded(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a")))
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    (drizzle / "0000_a.sql").write_text(
        "-- a harmless comment\nCREATE TABLE a (id integer PRIMARY KEY);"
    )
    assert cli("verify", url=database_url, directory=drizzle).returncode == 4
    fixed = cli("repair", "--accept-checksum", "0000_a.sql", url=database_url, directory=drizzle)
    assert fixed.returncode == 0, fixed.stderr
    assert "0000_a.sql: new checksum recorded" in fixed.stdout
    assert tracking(database_url)[0]["checksum"] == sha256_normalised(drizzle / "0000_a.sql")
    assert ("checksum_accepted", "0000_a.sql") in history_actions(database_url)
    assert cli("verify", url=database_url, directory=drizzle).returncode == 0


def test_user_connection_options_reach_the_server(tmp_path: Path, database_url: str) -> None:
    """Settings a user passes through PGOPTIONS or the URL's ``options`` stay in effect.

    libpq only reads PGOPTIONS when the connection string has no ``options`` of its
    own, so an engine that adds ``-c TimeZone=UTC`` must merge the user's PGOPTIONS in.
    """
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(
            (
                "marks",
                "CREATE TABLE marks AS SELECT current_setting('kubemigrate_test.mark', true) AS v;",
                "DROP TABLE marks;",
            )
        ),
    )
    via_url = cli(
        "migrate",
        url=database_url + "?options=-c%20kubemigrate_test.mark%3Durl",
        directory=drizzle,
    )
    assert via_url.returncode == 0, via_url.stderr
    assert query(database_url, "SELECT v FROM marks") == [("url",)]
    assert cli("rollback", url=database_url, directory=drizzle).returncode == 0

    via_env = cli(
        "migrate", url=database_url, directory=drizzle, PGOPTIONS="-c kubemigrate_test.mark=env"
    )
    assert via_env.returncode == 0, via_env.stderr
    assert query(database_url, "SELECT v FROM marks") == [("env",)]


def test_a_partitioned_client_s_session_ends_within_a_minute_or_two(
    tmp_path: Path, database_url: str
) -> None:
    """A network partition leaves no one to close the connection: the server's session
    held the migration lock for the kernel's default of two hours (tcp_keepalives at 0,
    the system's 7200 s). Keepalives the URL sets are its own."""
    setting = (
        "current_setting('tcp_keepalives_idle') || '/' || current_setting('tcp_keepalives_count')"
    )
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(("ka", f"CREATE TABLE ka AS SELECT {setting} AS v;", "DROP TABLE ka;")),
    )
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    assert query(database_url, "SELECT v FROM ka") == [("30/3",)]
    assert cli("rollback", url=database_url, directory=drizzle).returncode == 0

    own = database_url + "?options=-c%20tcp_keepalives_idle%3D5&keepalives_idle=5"
    assert cli("migrate", url=own, directory=drizzle).returncode == 0
    assert query(database_url, "SELECT v FROM ka") == [("5/3",)]
    assert cli("rollback", url=database_url, directory=drizzle).returncode == 0

    # a DBA's setting for the role or the database is theirs too
    database = query(database_url, "SELECT current_database()")[0][0]
    role = f'ALTER ROLE CURRENT_USER IN DATABASE "{database}"'
    with connect(database_url) as conn:
        conn.execute(f"{role} SET tcp_keepalives_count = 7")
    try:
        assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
        assert query(database_url, "SELECT v FROM ka") == [("30/7",)]
    finally:
        with connect(database_url) as conn:
            conn.execute(f"{role} RESET ALL")


def test_migrate_says_which_files_it_ignores(shop: Path, database_url: str) -> None:
    """A file left out of the journal never runs; migrate says so, not only status."""
    (shop / "0009_forgotten.sql").write_text("CREATE TABLE forgotten (id int);\n")
    result = cli("migrate", url=database_url, directory=shop)
    assert result.returncode == 0, result.stderr
    assert "warning: 0009_forgotten.sql is not in meta/_journal.json and is ignored" in (
        result.stderr
    )
    assert '"tag": "0009_forgotten"' in result.stderr  # the entry that would list it
    assert "0009_forgotten.sql" not in applied_names(database_url)
    as_json = cli("migrate", "--json", url=database_url, directory=shop)
    assert "warning:" not in as_json.stderr  # --json carries them in its "warnings"


def test_a_database_set_up_before_kubemigrate_is_pointed_to_baseline(
    tmp_path: Path, database_url: str
) -> None:
    """Teams adopting kubemigrate run it on a database their scripts already built."""
    folder = write_drizzle(tmp_path / "d", numbered(create_table("accounts")))
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE accounts (id int)")
    result = cli("migrate", url=database_url, directory=folder)
    assert result.returncode == 1, result.stderr
    assert "(SQLSTATE 42P07)" in result.stderr
    assert "`kubemigrate baseline --target NAME`" in result.stderr


def test_history_reads_only_the_database(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a")))
    assert cli("migrate", url=database_url, directory=drizzle).returncode == 0
    result = cli("history", url=database_url, directory=tmp_path / "not-here")
    assert result.returncode == 0, result.stderr
    assert "0000_a.sql" in result.stdout
