"""Applied history and files that disagree: edited, deleted and out-of-order files.

Each is refused (exit 4) before any statement runs. To prove "before any
statement", every scenario also adds a new, valid pending migration at the end
of the journal: it must not be applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import (
    add_migration,
    applied_names,
    create_table,
    history_actions,
    numbered,
    output,
    sha256_normalised,
    table_exists,
    tracking,
    write_drizzle,
    write_journal,
)


def cli(directory: Path, url: str, *args: str):  # type: ignore[no-untyped-def]
    return run_cli(*args, "--dir", str(directory), database_url=url)


def edit(directory: Path) -> None:
    (directory / "0000_a.sql").write_text("CREATE TABLE a (id integer PRIMARY KEY, extra text);")


def delete(directory: Path) -> None:
    (directory / "0001_b.sql").unlink()
    (directory / "0001_b.down.sql").unlink()
    write_journal(directory, ["0000_a"])


SCENARIOS: dict[str, tuple[Callable[[Path], None], str, str, str]] = {
    # name: (how the folder changes, finding kind, its migration, words in the message)
    "edited": (edit, "edited", "0000_a.sql", "changed after it was applied"),
    "deleted": (delete, "missing", "0001_b.sql", "its file is gone"),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_edited_or_deleted_file_refused_before_anything_runs(
    tmp_path: Path, database_url: str, scenario: str
) -> None:
    change, kind, migration, words = SCENARIOS[scenario]
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    assert cli(drizzle, database_url, "migrate").returncode == 0
    snapshot = tracking(database_url)
    history_before = history_actions(database_url)

    change(drizzle)
    add_migration(drizzle, "0002_new", *create_table("new")[1:])

    result = cli(drizzle, database_url, "migrate")
    assert result.returncode == 4, output(result)
    assert "Integrity check failed; nothing was run:" in result.stderr
    assert migration in result.stderr
    assert words in result.stderr
    assert "Traceback" not in output(result)
    assert not table_exists(database_url, "new")
    assert tracking(database_url) == snapshot
    assert history_actions(database_url) == history_before
    # the refusal still says where the database stands (the operator's status shows it)
    refused = json.loads(cli(drizzle, database_url, "migrate", "--json").stdout)
    assert refused["drift"] is True
    assert refused["counts"]["pending"] == 1  # 0002_new
    assert refused["counts"]["applied"] == (2 if kind == "edited" else 1)

    verify = cli(drizzle, database_url, "verify")
    assert verify.returncode == 4, output(verify)
    assert migration in verify.stderr
    assert words in verify.stderr
    verify_json = cli(drizzle, database_url, "verify", "--json")
    assert verify_json.returncode == 4
    error = json.loads(verify_json.stdout)["error"]
    assert error["reason"] == "IntegrityCheckFailed"
    assert error["findings"][0]["kind"] == kind
    assert error["findings"][0]["migration"] == migration

    status = cli(drizzle, database_url, "status")
    assert status.returncode == 0, output(status)
    assert "⚠️  Warnings:" in status.stdout
    assert f"  - {migration}: {kind}: " in status.stdout
    if kind == "missing":
        assert re.search(
            rf"  ❌ Missing {re.escape(migration)} \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\n",
            status.stdout,
        )
        assert "Total migration files: 2" in status.stdout


def test_repair_accept_checksum_then_migrate(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("b")))
    assert cli(drizzle, database_url, "migrate").returncode == 0
    edit(drizzle)
    add_migration(drizzle, "0002_new", *create_table("new")[1:])
    assert cli(drizzle, database_url, "migrate").returncode == 4

    wrong = cli(drizzle, database_url, "repair", "--accept-checksum", "0002_new")
    assert wrong.returncode == 2, output(wrong)
    assert "not applied" in wrong.stderr

    repaired = cli(drizzle, database_url, "repair", "--accept-checksum", "0000_a")
    assert repaired.returncode == 0, output(repaired)
    assert tracking(database_url)[0]["checksum"] == sha256_normalised(drizzle / "0000_a.sql")
    assert ("checksum_accepted", "0000_a.sql") in history_actions(database_url)

    done = cli(drizzle, database_url, "migrate")
    assert done.returncode == 0, output(done)
    assert applied_names(database_url) == ["0000_a.sql", "0001_b.sql", "0002_new.sql"]
    assert cli(drizzle, database_url, "verify").returncode == 0


def test_a_wrong_down_is_corrected_with_repair_accept_down(
    tmp_path: Path, database_url: str
) -> None:
    """A rollback runs the SQL stored at apply time, so a down file fixed afterwards
    changes nothing by itself: the failure says how to record it, status warns until
    it is recorded, and repair --accept-down unblocks the emergency rollback."""
    drizzle = write_drizzle(
        tmp_path / "d", numbered(("a", "CREATE TABLE a (id int);", "DROP TABLE a_typo;"))
    )
    assert cli(drizzle, database_url, "migrate").returncode == 0
    failed = cli(drizzle, database_url, "rollback")
    assert failed.returncode == 1, output(failed)
    assert 'table "a_typo" does not exist' in failed.stderr
    assert "correct 0000_a.down.sql, record it with `kubemigrate repair --accept-down 0000_a`" in (
        failed.stderr
    )

    (drizzle / "0000_a.down.sql").write_text("DROP TABLE a;\n")
    status = cli(drizzle, database_url, "status")
    assert "  - 0000_a.sql: 0000_a.down.sql differs from the rollback SQL stored" in status.stdout
    assert "to use the file instead, run `kubemigrate repair --accept-down 0000_a`" in (
        status.stdout
    )
    assert cli(drizzle, database_url, "rollback").returncode == 1  # still the stored SQL
    # the Job's result (what a status MigrationRun shows) carries the warning too
    result_file = tmp_path / "result.json"
    assert cli(drizzle, database_url, "status", "--result-file", str(result_file)).returncode == 0
    warnings = json.loads(result_file.read_text())["warnings"]
    assert any(w.startswith("0000_a.sql: 0000_a.down.sql differs") for w in warnings), warnings

    repaired = cli(drizzle, database_url, "repair", "--accept-down", "0000_a")
    assert repaired.returncode == 0, output(repaired)
    assert "0000_a.sql: new rollback SQL recorded" in repaired.stdout
    assert tracking(database_url)[0]["rollback_sql"] == "DROP TABLE a;\n"
    assert ("rollback_accepted", "0000_a.sql") in history_actions(database_url)
    assert "differs" not in cli(drizzle, database_url, "status").stdout

    done = cli(drizzle, database_url, "rollback")
    assert done.returncode == 0, output(done)
    assert applied_names(database_url) == []
    assert not table_exists(database_url, "a")


def test_out_of_order_file_refused_before_anything_runs(tmp_path: Path, database_url: str) -> None:
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a"), create_table("c")))
    assert cli(drizzle, database_url, "migrate").returncode == 0
    snapshot = tracking(database_url)

    # A branch merged late: its migration sorts before the newest applied one.
    (drizzle / "0000b_b.sql").write_text("CREATE TABLE b (id int);")
    add_migration(drizzle, "0002_new", *create_table("new")[1:])
    write_journal(drizzle, ["0000_a", "0000b_b", "0001_c", "0002_new"])

    result = cli(drizzle, database_url, "migrate")
    assert result.returncode == 4, output(result)
    assert "0000b_b.sql" in result.stderr
    assert "older than the applied 0001_c.sql" in result.stderr
    assert "out-of-order" in result.stderr
    assert not table_exists(database_url, "b")
    assert not table_exists(database_url, "new")
    assert tracking(database_url) == snapshot

    verify = cli(drizzle, database_url, "verify", "--json")
    assert verify.returncode == 4
    assert json.loads(verify.stdout)["error"]["findings"] == [
        {
            "kind": "out_of_order",
            "migration": "0000b_b.sql",
            "detail": "pending, but older than the applied 0001_c.sql",
        }
    ]
    status = cli(drizzle, database_url, "status")
    assert (
        "  - 0000b_b.sql: out-of-order: pending, but older than the applied 0001_c.sql"
        in status.stdout
    )
    assert "  ⏳ Pending 0000b_b.sql\n" in status.stdout


def test_an_older_version_of_the_folder_starts_on_a_newer_database(
    tmp_path: Path, database_url: str
) -> None:
    """A rolling deploy (or a Deployment rolled back) runs the previous version's migrate
    against a database the new version already migrated: its files are all applied, in
    order, and the rest came after them. That is no missing file (Flyway ignores such
    "future" migrations by default); the older version starts, and is told."""
    new = write_drizzle(tmp_path / "new", numbered(*map(create_table, "abc")))
    assert cli(new, database_url, "migrate").returncode == 0
    old = write_drizzle(tmp_path / "old", numbered(*map(create_table, "ab")))

    started = cli(old, database_url, "migrate")
    assert started.returncode == 0, output(started)
    assert "Nothing to migrate" in started.stdout
    assert "the database is ahead of this folder: 1 migration(s)" in started.stderr
    assert "0002_c.sql the newest" in started.stderr
    # verify, a CI gate, cannot tell a newer version's migration from a deleted file
    verify = cli(old, database_url, "verify")
    assert verify.returncode == 4, output(verify)
    assert "0002_c.sql: ahead: applied after this folder's last file" in verify.stderr
    # no drift, though: status and migrate call it none, and the drift alert follows all
    assert json.loads(cli(old, database_url, "verify", "--json").stdout).get("drift") is not True
    assert cli(new, database_url, "verify").returncode == 0
    status = cli(old, database_url, "status", "--fail-on-pending")
    assert status.returncode == 0, output(status)
    assert re.search(r"  ✅ Applied 0002_c\.sql \S+ \S+ \(newer version\)\n", status.stdout)
    assert "Total migration files: 2" in status.stdout

    # a folder that went another way (a file the database never had) is still refused
    add_migration(old, "0002_other", *create_table("other")[1:])
    refused = cli(old, database_url, "migrate")
    assert refused.returncode == 4, output(refused)
    assert "0002_c.sql" in refused.stderr


USERS = numbered(
    ("users", "CREATE TABLE users (id int);", "DROP TABLE users;"),
    ("add_name", "ALTER TABLE users ADD COLUMN name text;", "ALTER TABLE users DROP COLUMN name;"),
    ("idx", "CREATE INDEX users_id ON users (id);", "DROP INDEX users_id;"),
)


def rename(directory: Path, old: str, new: str) -> None:
    """A migration's files and its journal tag renamed, its place and SQL kept."""
    (directory / f"{old}.sql").rename(directory / f"{new}.sql")
    (directory / f"{old}.down.sql").rename(directory / f"{new}.down.sql")
    journal = directory / "meta" / "_journal.json"
    journal.write_text(journal.read_text().replace(f'"{old}"', f'"{new}"'))


def test_a_title_renamed_under_its_number_is_recorded_by_repair(
    tmp_path: Path, database_url: str
) -> None:
    """0001_add_name.sql -> 0001_add_user_name.sql, same SQL: verify said missing plus
    out-of-order, hinting to move the file after the newest applied migration (its ADD
    COLUMN would have run twice), and repair --accept-renames found no rename."""
    drizzle = write_drizzle(tmp_path / "d", USERS)
    assert cli(drizzle, database_url, "migrate").returncode == 0
    rename(drizzle, "0001_add_name", "0001_add_user_name")

    verify = cli(drizzle, database_url, "verify", "--json")
    assert verify.returncode == 4, output(verify)
    error = json.loads(verify.stdout)["error"]
    assert error["findings"] == [
        {
            "kind": "renamed",
            "migration": "0001_add_name.sql",
            "detail": "applied, and its SQL is now 0001_add_user_name.sql (same checksum)",
        }
    ]
    assert "kubemigrate repair --accept-renames" in error["hint"]
    assert "sorts after" not in error["hint"]
    assert cli(drizzle, database_url, "migrate").returncode == 4  # until it is recorded

    repaired = cli(drizzle, database_url, "repair", "--accept-renames")
    assert repaired.returncode == 0, output(repaired)
    assert "0001_add_user_name.sql: recorded under its new file name" in repaired.stdout
    assert applied_names(database_url) == [
        "0000_users.sql",
        "0001_add_user_name.sql",
        "0002_idx.sql",
    ]
    assert ("renamed", "0001_add_user_name.sql") in history_actions(database_url)
    assert cli(drizzle, database_url, "verify").returncode == 0
    done = cli(drizzle, database_url, "migrate")
    assert done.returncode == 0, output(done)
    assert "Nothing to migrate: 3 applied, 0 pending." in done.stdout


def test_the_same_sql_under_a_new_number_and_title_is_never_told_to_run(
    tmp_path: Path, database_url: str
) -> None:
    """Nothing of the name kept: the SQL alone cannot tell a rename from a second
    migration of the same SQL, so nothing is recorded, and no hint says to run it."""
    drizzle = write_drizzle(tmp_path / "d", USERS)
    assert cli(drizzle, database_url, "migrate").returncode == 0
    snapshot = tracking(database_url)
    rename(drizzle, "0001_add_name", "0005_user_name")

    verify = cli(drizzle, database_url, "verify")
    assert verify.returncode == 4, output(verify)
    said = " ".join(verify.stderr.split())
    assert (
        "0001_add_name.sql: missing: applied, but its file is gone; "
        "0005_user_name.sql holds its SQL" in said
    )
    assert "its SQL is the applied 0001_add_name.sql's" in said
    assert "sorts after the newest applied migration (in a drizzle folder" not in said
    assert "0005_user_name.sql holds the SQL of 0001_add_name.sql, so it must not run" in said
    refused = cli(drizzle, database_url, "repair", "--accept-renames")
    assert refused.returncode == 2, output(refused)
    assert tracking(database_url) == snapshot

    # as the hint says: its title kept, the rename is certain
    rename(drizzle, "0005_user_name", "0005_add_name")
    assert cli(drizzle, database_url, "repair", "--accept-renames").returncode == 0
    assert applied_names(database_url) == ["0000_users.sql", "0005_add_name.sql", "0002_idx.sql"]
    assert cli(drizzle, database_url, "verify").returncode == 0


def journal_tags(directory: Path) -> list[str]:
    return [
        e["tag"] for e in json.loads((directory / "meta" / "_journal.json").read_text())["entries"]
    ]


def test_a_script_not_named_as_a_migration_is_only_warned_about(
    tmp_path: Path, database_url: str
) -> None:
    """A seed.sql or helper script kept beside the migrations was never meant to run:
    verify failed on it (exit 4, a CI gate broken by an upgrade) and told to list it
    in the journal, which would run it as a migration."""
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a")))
    (drizzle / "seed.sql").write_text("INSERT INTO a VALUES (1);\n")
    migrate = cli(drizzle, database_url, "migrate")
    assert migrate.returncode == 0, output(migrate)
    assert "warning: seed.sql is not in _journal.json and is ignored." in migrate.stderr
    verify = cli(drizzle, database_url, "verify")
    assert verify.returncode == 0, output(verify)
    assert "append" not in output(verify)


def test_a_file_the_journal_does_not_list_fails_verify_and_is_told_how_to_list(
    tmp_path: Path, database_url: str
) -> None:
    """A hand-added file left out of meta/_journal.json never runs (drizzle's migrator
    reads only the journal too), and migrate still lets it be. But verify, the CI gate,
    said "Integrity verified", and generate numbered the next file past it in silence."""
    drizzle = write_drizzle(tmp_path / "d", numbered(create_table("a")))
    assert cli(drizzle, database_url, "migrate").returncode == 0
    (drizzle / "0001_handmade.sql").write_text("CREATE TABLE hand (id int);\n")

    migrate = cli(drizzle, database_url, "migrate")
    assert migrate.returncode == 0, output(migrate)
    assert "warning: 0001_handmade.sql is not in meta/_journal.json and is ignored" in (
        migrate.stderr
    )
    assert '"tag": "0001_handmade"' in migrate.stderr
    assert not table_exists(database_url, "hand")

    verify = cli(drizzle, database_url, "verify")
    assert verify.returncode == 4, output(verify)
    assert "0001_handmade.sql: unlisted: on disk, but not in meta/_journal.json" in verify.stderr
    verify_json = json.loads(cli(drizzle, database_url, "verify", "--json").stdout)
    assert verify_json["error"]["reason"] == "IntegrityCheckFailed"
    assert [f["kind"] for f in verify_json["error"]["findings"]] == ["unlisted"]
    assert verify_json.get("drift") is not True  # the database is as the journal says

    created = run_cli("generate", "next", "--dir", str(drizzle))
    assert created.returncode == 0, output(created)
    assert "0002_next.sql" in created.stdout
    assert "⚠️  0001_handmade.sql is not in meta/_journal.json and is ignored" in created.stdout
    (drizzle / "0002_next.sql").write_text("CREATE TABLE next (id int);\n")
    (drizzle / "0002_next.down.sql").write_text("DROP TABLE next;\n")

    # the fix the finding gives, as it gives it
    detail = json.loads(cli(drizzle, database_url, "verify", "--json").stdout)["error"]["findings"][
        0
    ]["detail"]
    found = re.search(r"append (\{.*?\}) to its", detail)
    assert found, detail
    journal = drizzle / "meta" / "_journal.json"
    data = json.loads(journal.read_text())
    data["entries"].append(json.loads(found[1]))
    journal.write_text(json.dumps(data, indent=2))
    assert cli(drizzle, database_url, "verify").returncode == 0
    done = cli(drizzle, database_url, "migrate")
    assert done.returncode == 0, output(done)
    assert "warning" not in done.stderr
    assert applied_names(database_url) == ["0000_a.sql", "0002_next.sql", "0001_handmade.sql"]
    assert table_exists(database_url, "hand")


@pytest.mark.parametrize("lost", ["0001_b", "0002_c"])
def test_an_applied_migration_whose_journal_entry_was_lost_is_on_disk_not_gone(
    tmp_path: Path, database_url: str, lost: str
) -> None:
    """A merge dropped an applied migration's journal entry; its file is still there.
    status said "❌ Missing ... its file is gone" (and, for the last one, "newer
    version", which migrate let be)."""
    drizzle = write_drizzle(tmp_path / "d", numbered(*map(create_table, "abc")))
    assert cli(drizzle, database_url, "migrate").returncode == 0
    entries = journal_tags(drizzle)
    write_journal(drizzle, [tag for tag in entries if tag != lost])

    status = cli(drizzle, database_url, "status")
    assert status.returncode == 0, output(status)
    assert re.search(
        rf"  ❌ Delisted {lost}\.sql \S+ \S+ \(applied; its file is on disk, but not in the "
        r"journal\)\n",
        status.stdout,
    )
    assert f"  - {lost}.sql: delisted: applied, but meta/_journal.json no longer lists it" in (
        status.stdout
    )
    assert "gone" not in status.stdout
    assert "newer version" not in status.stdout

    refused = cli(drizzle, database_url, "migrate", "--json")
    assert refused.returncode == 4, output(refused)
    result = json.loads(refused.stdout)
    assert result["drift"] is True
    assert [f["kind"] for f in result["error"]["findings"]] == ["delisted"]
    assert (
        "put each delisted migration's entry back in the journal as it was"
        in (result["error"]["hint"])
    )
    verify = json.loads(cli(drizzle, database_url, "verify", "--json").stdout)
    assert verify["drift"] is True

    write_journal(drizzle, entries)
    assert cli(drizzle, database_url, "verify").returncode == 0
