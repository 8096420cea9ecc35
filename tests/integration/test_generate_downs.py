"""``kubemigrate generate-downs`` through the CLI on a real PostgreSQL: a drizzle team's
folder as ``drizzle-kit generate`` wrote it (up SQL alone, so ``rollback`` refused every
migration) gets its down files, and a rollback then leaves the schema as it was.

The folders are the real drizzle-kit output of ``tests/fixtures`` (0.31 and 1.0's
layouts), applied before any down file existed, as a team adopting kubemigrate has them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubemigrate.domain.planning import UNFINISHED_DOWN
from tests.conftest import ROOT, run_cli
from tests.integration.helpers import (
    CATALOG_BACK,
    ENUM_BACK,
    applied_names,
    finish_by_hand,
    schema_dump,
    table_exists,
    tracking,
    write_drizzle,
)

FIXTURES = ROOT / "tests" / "fixtures"
BREAK = "\n--> statement-breakpoint\n"


@dataclass(frozen=True)
class Layout:
    fixture: str
    first_batch_last: str
    """The migration the first batch goes up to (--target)."""
    noted: dict[str, str]
    """Migration name -> what a person appends to its down after deleting the note."""

    def down(self, drizzle: Path, name: str) -> Path:
        tag = name.removesuffix(".sql")
        folder = drizzle / tag
        return folder / "down.sql" if folder.is_dir() else drizzle / f"{tag}.down.sql"


LAYOUTS = {
    "drizzle-kit 0.31": Layout(
        "drizzle-kit",
        "0001_add_phone_and_order_items",
        {
            "0002_rename_full_name.sql": ENUM_BACK,
            "0003_rename_products_to_catalog_items.sql": CATALOG_BACK,
        },
    ),
    "drizzle-kit 1.0": Layout(
        "drizzle-kit-1",
        "20261129085532_add_phone_and_order_items",
        # 1.0 renames the index instead of dropping it: inverted without a note
        {"20261129085536_rename_full_name.sql": ENUM_BACK},
    ),
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
def test_a_drizzle_kit_folder_gets_its_downs_and_rolls_back_to_the_schema_before(
    tmp_path: Path, database_url: str, layout: Layout
) -> None:
    drizzle = tmp_path / "drizzle"
    shutil.copytree(FIXTURES / layout.fixture / "drizzle", drizzle)
    empty = schema_dump(database_url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--dir", str(drizzle), database_url=database_url)

    assert run("migrate", "--target", layout.first_batch_last).returncode == 0
    first = schema_dump(database_url)
    assert run("migrate").returncode == 0
    both = schema_dump(database_url)
    names = applied_names(database_url)
    assert [row["rollback_sql"] for row in tracking(database_url)] == [None] * len(names)

    # the gap: drizzle-kit wrote no down, so rollback refuses
    before = run("rollback")
    assert before.returncode == 2
    assert "No rollback SQL for" in before.stderr
    assert "`kubemigrate generate-downs " in before.stderr

    made = run("generate-downs")
    assert made.returncode == 0, made.stderr
    for name in names:
        down = layout.down(drizzle, name)
        assert down.is_file(), name
        verb = "📝 Wrote" if name not in layout.noted else None
        if verb:
            assert f"{verb} {down}\n" in made.stdout
        else:
            assert f"📝 Wrote {down}, with a note at its top" in made.stdout
            assert down.read_text().startswith(UNFINISHED_DOWN)
    said = (
        "  rollback: applied, with no rollback SQL stored (it had no down file then): a "
        "rollback runs this file"
    )
    assert made.stdout.count(said) == len(names)
    assert f"{len(names)} down file(s) written ({len(layout.noted)} with a note)." in made.stdout

    # a noted down is refused until a person finishes it; nothing runs meanwhile
    refused = run("rollback")
    assert refused.returncode == 2
    assert (
        "is still what generate (or generate-downs) wrote with statements it could not invert"
        in refused.stderr
    )
    for name in layout.noted:
        assert name in refused.stderr
    assert schema_dump(database_url) == both
    assert applied_names(database_url) == names

    # the rest of the batch is undone with the inferred downs as written
    for name, statements in layout.noted.items():
        finish_by_hand(layout.down(drizzle, name), statements)
    undone = run("rollback")
    assert undone.returncode == 0, undone.stderr
    assert schema_dump(database_url) == first
    undone = run("rollback")
    assert undone.returncode == 0, undone.stderr
    assert applied_names(database_url) == []
    assert schema_dump(database_url) == empty

    # and the files now go round: migrate stores them, rollback runs them
    again = run("migrate")
    assert again.returncode == 0, again.stderr
    assert schema_dump(database_url) == both
    assert all(row["rollback_sql"] for row in tracking(database_url))
    assert run("rollback").returncode == 0
    assert schema_dump(database_url) == empty


def test_a_migration_applied_with_a_since_deleted_down_keeps_its_stored_rollback(
    tmp_path: Path, database_url: str
) -> None:
    """A rollback runs the SQL stored at apply time: a down file written after that
    changes nothing until `repair --accept-down` records it, and generate-downs says so
    (each stored down here leaves a marker table, so which one ran shows)."""
    drizzle = write_drizzle(
        tmp_path / "drizzle",
        [
            ("0000_a", "CREATE TABLE a (id int);", f"DROP TABLE a;{BREAK}CREATE TABLE ran_a ();"),
            ("0001_b", "CREATE TABLE b (id int);", f"DROP TABLE b;{BREAK}CREATE TABLE ran_b ();"),
        ],
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--dir", str(drizzle), database_url=database_url)

    assert run("migrate", "--target", "0000").returncode == 0
    assert run("migrate").returncode == 0
    for down in drizzle.glob("*.down.sql"):
        down.unlink()

    made = run("generate-downs")
    assert made.returncode == 0, made.stderr
    assert made.stdout.count("a rollback runs that, not this file") == 2
    assert "`kubemigrate repair --accept-down 0001_b`" in made.stdout
    as_json = json.loads(run("generate-downs", "--json").stdout)
    assert [m["result"] for m in as_json["migrations"]] == ["skipped", "skipped"]
    status = run("status")
    assert "0001_b.down.sql differs from the rollback SQL stored" in status.stdout + status.stderr

    assert run("repair", "--accept-down", "0001_b").returncode == 0
    assert run("rollback").returncode == 0  # batch 2: 0001_b, with its recorded new file
    assert not table_exists(database_url, "b")
    assert not table_exists(database_url, "ran_b")
    assert run("rollback").returncode == 0  # batch 1: 0000_a, with the SQL stored
    assert not table_exists(database_url, "a")
    assert table_exists(database_url, "ran_a")


def test_refused_migrations_get_nothing_and_the_others_their_downs(tmp_path: Path) -> None:
    drizzle = write_drizzle(
        tmp_path / "drizzle",
        [
            ("0000_a", "CREATE TABLE a (id int);", None),
            ("0001_bad", "CREATE TABLEE b (id int);", None),
            ("0002_c", "CREATE TABLE c (id int);", "DROP TABLE c; -- by hand\n"),
            ("0003_d", "CREATE TABLE d (id int);", None),
        ],
    )
    done = run_cli("generate-downs", "--dir", str(drizzle))
    assert done.returncode == 2
    assert sorted(p.name for p in drizzle.glob("*.down.sql")) == [
        "0000_a.down.sql", "0002_c.down.sql", "0003_d.down.sql",
    ]  # fmt: skip
    assert (drizzle / "0002_c.down.sql").read_text() == "DROP TABLE c; -- by hand\n"
    assert (
        "❌ Refused 0001_bad.sql: The up SQL does not parse: syntax error at or near "
        '"TABLEE" at line 1.'
    ) in done.stdout
    assert f"⏭️  Skipped 0002_c.sql: {drizzle}/0002_c.down.sql exists" in done.stdout
    assert "2 down file(s) written, 1 skipped (a down file already), 1 refused" in done.stdout
    assert "error: 1 migration(s) refused, nothing written for them: 0001_bad.sql" in done.stderr

    as_json = run_cli("generate-downs", "--dir", str(drizzle), "--json")
    data = json.loads(as_json.stdout)
    assert (as_json.returncode, data["ok"], data["exitCode"]) == (2, False, 2)
    assert [(m["name"], m["result"]) for m in data["migrations"]] == [
        ("0000_a.sql", "skipped"),
        ("0001_bad.sql", "refused"),
        ("0002_c.sql", "skipped"),
        ("0003_d.sql", "skipped"),
    ]
    assert data["counts"] == {"written": 0, "writtenWithNote": 0, "skipped": 3, "refused": 1}

    only = run_cli("generate-downs", "0003", "0000_a", "--dir", str(drizzle))
    assert only.returncode == 0
    assert "Nothing to write: each of the 2 migrations has a down file." in only.stdout
    unknown = run_cli("generate-downs", "0009", "--dir", str(drizzle), "--json")
    assert unknown.returncode == 2
    assert json.loads(unknown.stdout)["error"]["message"].startswith("'0009' is not a migration")


def test_golang_migrate_downs_round_trip(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_users.up.sql").write_text("CREATE TABLE users (id serial PRIMARY KEY);\n")
    (folder / "2_email.up.sql").write_text(
        "ALTER TABLE users ADD COLUMN email text;\nCREATE INDEX users_email ON users (email);\n"
    )
    empty = schema_dump(database_url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            *args, "--dir", str(folder), "--format", "golang-migrate", database_url=database_url
        )

    assert run("migrate").returncode == 0
    made = run("generate-downs")
    assert made.returncode == 0, made.stderr
    assert (folder / "2_email.down.sql").read_text() == (
        f"DROP INDEX users_email;{BREAK}ALTER TABLE users DROP COLUMN email;\n"
    )
    assert run("rollback").returncode == 0
    assert schema_dump(database_url) == empty


@pytest.mark.parametrize(
    ("fmt", "file", "said"),
    [
        ("flyway", "V1__a.sql", "does not write Flyway undo scripts"),
        ("dbmate", "1_a.sql", "does not write dbmate downs"),
    ],
)
def test_flyway_and_dbmate_folders_are_refused_untouched(
    tmp_path: Path, fmt: str, file: str, said: str
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / file).write_text("-- migrate:up\nCREATE TABLE a (id int);\n")
    done = run_cli("generate-downs", "--dir", str(folder), "--format", fmt)
    assert done.returncode == 2
    assert said in done.stderr
    assert [p.name for p in folder.iterdir()] == [file]
