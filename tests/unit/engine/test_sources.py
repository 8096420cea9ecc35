"""Migration directory formats read into ``[Migration]``: drizzle and other tools' layouts.

drizzle covers both of drizzle-kit's layouts: 0.x (``NNNN_name.sql`` + journal) and 1.0
(one ``<timestamp>_name/`` folder per migration), and ``generate`` in a 1.0 folder.

These read real files in a temporary directory (no database).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from kubemigrate.domain import planning
from kubemigrate.domain.checksums import checksum
from kubemigrate.domain.errors import ExitCode, SourceError, UsageError
from kubemigrate.domain.migrations import NO_TRANSACTION_DIRECTIVE, Migration, Written
from kubemigrate.domain.planning import plan_migrate
from kubemigrate.engine import sources
from kubemigrate.engine.generate import generate_migration
from kubemigrate.engine.sources import drizzle


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def journal(directory: Path, tags: list[str], where: str = "meta/_journal.json") -> None:
    entries = [
        {"idx": i, "version": "7", "when": 1, "tag": t, "breakpoints": True}
        for i, t in enumerate(tags)
    ]
    write(
        directory / where, json.dumps({"version": "7", "dialect": "postgresql", "entries": entries})
    )


# -- drizzle ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["meta/_journal.json", "_journal.json"])
def test_drizzle_journal_gives_the_order(tmp_path: Path, where: str) -> None:
    write(tmp_path / "0000_b.sql", "SELECT 'b';")
    write(tmp_path / "0001_a.sql", "SELECT 'a';")
    write(tmp_path / "0001_a.down.sql", "SELECT 'undo a';")
    journal(tmp_path, ["0001_a", "0000_b"], where)
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == ["0001_a.sql", "0000_b.sql"]
    assert source.migrations[0].up_sql == "SELECT 'a';"
    assert source.migrations[0].down_sql == "SELECT 'undo a';"
    assert source.migrations[1].down_sql is None
    assert source.warnings == ()


def test_drizzle_file_missing_from_the_journal(tmp_path: Path) -> None:
    write(tmp_path / "0000_a.sql", "SELECT 1;")
    journal(tmp_path, ["0000_a", "0001_ghost"])
    with pytest.raises(
        SourceError, match=r"lists 0001_ghost but 0001_ghost\.sql is missing"
    ) as info:
        sources.load(tmp_path)
    assert info.value.exit_code is ExitCode.USAGE


def test_drizzle_bad_json(tmp_path: Path) -> None:
    write(tmp_path / "0000_a.sql", "SELECT 1;")
    write(tmp_path / "meta" / "_journal.json", '{"entries": [\n  {"tag": "0000_a",}\n]}')
    with pytest.raises(SourceError, match=r"is not valid JSON: .* at line 2 column"):
        sources.load(tmp_path)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"version": "7"}', 'no "entries" list'),
        ("[1, 2]", 'no "entries" list'),
        ('{"entries": [{"idx": 0}]}', 'entry 0 has no "tag"'),
        ('{"entries": [{"idx": 0, "tag": ""}]}', 'entry 0 has no "tag"'),
    ],
)
def test_drizzle_journal_not_a_journal(tmp_path: Path, content: str, words: str) -> None:
    write(tmp_path / "meta" / "_journal.json", content)
    with pytest.raises(SourceError, match=words):
        sources.load(tmp_path)


def test_drizzle_duplicate_tag(tmp_path: Path) -> None:
    write(tmp_path / "0000_a.sql", "SELECT 1;")
    journal(tmp_path, ["0000_a", "0000_a"])
    with pytest.raises(SourceError, match="lists 0000_a twice"):
        sources.load(tmp_path)


def test_drizzle_files_not_in_the_journal_are_told_with_the_entry_that_lists_them(
    tmp_path: Path,
) -> None:
    """drizzle's migrator reads only the journal, so such a file never runs; the source
    carries each, with the entry generate would have written, for migrate, status and
    verify to tell (whether it was applied is the database's to say)."""
    write(tmp_path / "0000_a.sql", "SELECT 1;")
    write(tmp_path / "0010_later.sql", "SELECT 3;")
    write(tmp_path / "0001_stray.sql", "SELECT 2;")
    write(tmp_path / "0001_stray.down.sql", "SELECT 3;")
    journal(tmp_path, ["0000_a"])
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == ["0000_a.sql"]
    assert source.warnings == ()
    assert [(u.name, u.journal, json.loads(u.entry)) for u in source.unlisted] == [
        (
            "0001_stray.sql",
            "meta/_journal.json",
            {"idx": 1, "version": "7", "when": 2, "tag": "0001_stray", "breakpoints": True},
        ),
        (
            "0010_later.sql",
            "meta/_journal.json",
            {"idx": 2, "version": "7", "when": 3, "tag": "0010_later", "breakpoints": True},
        ),
    ]
    assert source.unlisted[0].checksum == checksum("SELECT 2;")
    [told, _] = planning.unlisted_warnings(source.unlisted, source.migrations)
    assert told.startswith(
        "0001_stray.sql is not in meta/_journal.json and is ignored (drizzle's migrator, too, "
        'runs only what the journal lists): to run it, append {"idx": 1, '
    )
    # a copy of a listed migration is never told to be listed: its SQL would run twice
    write(tmp_path / "0001_stray.sql", "SELECT 1;")
    source = sources.load(tmp_path)
    assert planning.unlisted_warnings(source.unlisted, source.migrations)[0].endswith(
        "it holds the SQL of 0000_a.sql, a copy? delete it (listed, that SQL would run a "
        "second time)"
    )


def test_generate_says_which_files_the_journal_leaves_out(tmp_path: Path) -> None:
    """generate numbered the next file past a hand-made one the journal does not list,
    without a word."""
    generate_migration(tmp_path, "first", None)
    write(tmp_path / "0001_handmade.sql", "CREATE TABLE hand (id int);")
    created = generate_migration(tmp_path, "next", None)
    assert created.up.name == "0002_next.sql"
    [warning] = created.warnings
    assert warning.startswith("0001_handmade.sql is not in meta/_journal.json and is ignored")
    assert '"idx": 2, ' in warning
    assert '"tag": "0001_handmade"' in warning
    assert f"⚠️  {warning}" in created.text()
    assert created.to_dict()["warnings"] == [warning]
    assert generate_migration(tmp_path / "other", "first", None).warnings == ()


def test_drizzle_without_journal_uses_file_name_order(tmp_path: Path) -> None:
    write(tmp_path / "0001_b.sql", "SELECT 2;")
    write(tmp_path / "0000_a.sql", "SELECT 1;")
    write(tmp_path / "0000_a.down.sql", "SELECT -1;")
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == ["0000_a.sql", "0001_b.sql"]
    assert len(source.warnings) == 1
    assert "no meta/_journal.json" in source.warnings[0]


def test_a_hand_numbered_folder_without_journal_runs_in_number_order(tmp_path: Path) -> None:
    for name in ("1_init", "2_more", "10_later"):
        write(tmp_path / f"{name}.sql", "SELECT 1;")
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == ["1_init.sql", "2_more.sql", "10_later.sql"]
    # and generate numbers the next one after them, keeping that order in its journal
    created = generate_migration(tmp_path, "newone", None)
    assert created.up.name == "0011_newone.sql"
    assert [m.name for m in sources.load(tmp_path).migrations] == [
        "1_init.sql",
        "2_more.sql",
        "10_later.sql",
        "0011_newone.sql",
    ]


@pytest.mark.parametrize(
    ("files", "tool"),
    [
        (
            {
                "20240101000000_a.sql": "-- migrate:up\nCREATE TABLE d1(id int);\n\n"
                "-- migrate:down\nDROP TABLE d1;\n"
            },
            "dbmate",
        ),
        ({"V1__a.sql": "SELECT 1;", "U1__a.sql": "SELECT 2;"}, "flyway"),
        ({"R__view.sql": "SELECT 1;", "V2__b.sql": "SELECT 1;"}, "flyway"),
        ({"1_a.up.sql": "SELECT 1;", "1_a.down.sql": "SELECT 2;"}, "golang-migrate"),
    ],
)
def test_another_tool_s_folder_read_as_drizzle_s_is_refused(
    tmp_path: Path, files: dict[str, str], tool: str
) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(SourceError) as refused:
        sources.load(tmp_path)
    assert f"holds {tool} migrations" in refused.value.message
    assert refused.value.hint == f"pass --format {tool}"
    assert refused.value.exit_code == ExitCode.USAGE
    if "R__view.sql" in files:  # read as Flyway's, the repeatable one is refused for itself
        with pytest.raises(SourceError, match=r"R__view\.sql is a Flyway repeatable migration"):
            sources.load(tmp_path, tool)
        return
    assert sources.load(tmp_path, tool).migrations  # what the hint says works


def test_drizzle_checksum_ignores_crlf(tmp_path: Path) -> None:
    (tmp_path / "0000_a.sql").write_bytes(b"SELECT 1;\r\nSELECT 2;\r\n")
    (tmp_path / "0001_b.sql").write_bytes(b"SELECT 1;\nSELECT 2;\n")
    journal(tmp_path, ["0000_a", "0001_b"])
    a, b = sources.load(tmp_path).migrations
    assert a.checksum == b.checksum


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "0000_a.sql").write_bytes(b"SELECT '\xff';")
    journal(tmp_path, ["0000_a"])
    with pytest.raises(SourceError, match="not valid UTF-8"):
        sources.load(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        sources.load(tmp_path / "nope")


def test_a_file_is_not_a_directory(tmp_path: Path) -> None:
    write(tmp_path / "x.sql", "")
    with pytest.raises(SourceError, match="is not a directory"):
        sources.load(tmp_path / "x.sql")


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="No migrations found"):
        sources.load(tmp_path)
    assert sources.load(tmp_path, allow_empty=True).migrations == ()


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Unknown migration format 'liquibase'"):
        sources.load(tmp_path, "liquibase")


def test_next_index(tmp_path: Path) -> None:
    assert drizzle.next_index(tmp_path) == 0
    journal(tmp_path, ["0000_a", "0001_b"])
    assert drizzle.next_index(tmp_path) == 2


# -- drizzle-kit 1.0: one folder per migration ---------------------------------

DK1_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "drizzle-kit-1" / "drizzle"


def test_drizzle_kit_1_folders_are_detected_and_ordered_by_name(tmp_path: Path) -> None:
    """No journal, no flag: the folders are the migrations, in name order (drizzle-orm
    1.0 sorts the folder names), each keyed ``<folder>.sql``."""
    write(tmp_path / "20260102000000_b" / "migration.sql", "SELECT 'b';")
    write(tmp_path / "20260102000000_b" / "snapshot.json", "{}")
    write(tmp_path / "20260101000000_a" / "migration.sql", "SELECT 'a';")
    write(tmp_path / "20260101000000_a" / "down.sql", "SELECT 'undo a';")
    write(tmp_path / "20260101000000_a" / "snapshot.json", "{}")
    write(tmp_path / "migrations.js", "// drizzle-kit's bundle, not SQL")
    assert drizzle.layout(tmp_path) == "folders"
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == ["20260101000000_a.sql", "20260102000000_b.sql"]
    a, b = source.migrations
    assert (a.up_sql, a.down_sql) == ("SELECT 'a';", "SELECT 'undo a';")
    assert (b.up_sql, b.down_sql) == ("SELECT 'b';", None)
    assert a.checksum == Migration(name="x", up_sql="SELECT 'a';").checksum
    assert source.warnings == ()


def test_drizzle_kit_1_fixture(tmp_path: Path) -> None:
    """The real drizzle-kit 1.0 output reads with no warning, in folder order."""
    folders = sorted(p.name for p in DK1_FIXTURE.iterdir())
    source = sources.load(DK1_FIXTURE)
    assert [m.name for m in source.migrations] == [f"{f}.sql" for f in folders]
    assert len(folders) == 5
    assert all(m.down_sql is None for m in source.migrations)
    assert source.migrations[0].up_sql == (DK1_FIXTURE / folders[0] / "migration.sql").read_text()
    assert source.warnings == ()


def test_drizzle_kit_1_folders_made_flat_for_a_config_map_read_the_same(tmp_path: Path) -> None:
    """A ConfigMap holds no folders: ``<folder>.sql`` and ``<folder>.down.sql`` side by
    side give the same migrations, names (so tracking rows) and order, and no warning
    about a missing journal (there is none to make)."""
    flat = tmp_path / "flat"
    for folder in sorted(p.name for p in DK1_FIXTURE.iterdir()):
        write(flat / f"{folder}.sql", (DK1_FIXTURE / folder / "migration.sql").read_text())
    write(flat / f"{sorted(p.name for p in DK1_FIXTURE.iterdir())[0]}.down.sql", "SELECT 1;")
    folders, flattened = sources.load(DK1_FIXTURE), sources.load(flat)
    assert [(m.name, m.checksum) for m in flattened.migrations] == [
        (m.name, m.checksum) for m in folders.migrations
    ]
    assert flattened.migrations[0].down_sql == "SELECT 1;"
    # messages (a failing rollback, --accept-down) send people to the file read, not to
    # the folder's down.sql the flat layout has none of
    first = flattened.migrations[0].name.removesuffix(".sql")
    assert flattened.migrations[0].down_file == f"{first}.down.sql"
    assert flattened.migrations[0].down_written == Written(f"{first}.down.sql")
    assert flattened.warnings == ()


def test_drizzle_kit_1_target_takes_the_folder_name(tmp_path: Path) -> None:
    """``--target`` matches a name with or without ``.sql``, so the folder name works."""
    for name in ("20260101000000_a", "20260102000000_b", "20260103000000_c"):
        write(tmp_path / name / "migration.sql", "SELECT 1;")
    available = sources.load(tmp_path).migrations
    plan = plan_migrate(available, [], next_batch=1, target="20260102000000_b")
    assert [s.name for s in plan.steps] == ["20260101000000_a.sql", "20260102000000_b.sql"]


def test_layout_of_a_0x_folder_or_nothing_is_journal(tmp_path: Path) -> None:
    assert drizzle.layout(tmp_path / "missing") == "journal"
    assert drizzle.layout(tmp_path) == "journal"
    write(tmp_path / "0000_a.sql", "SELECT 1;")
    write(tmp_path / "meta" / "0000_snapshot.json", "{}")
    journal(tmp_path, ["0000_a"])
    assert drizzle.layout(tmp_path) == "journal"
    assert [m.name for m in sources.load(tmp_path).migrations] == ["0000_a.sql"]


@pytest.mark.parametrize("where", ["meta/_journal.json", "_journal.json"])
def test_drizzle_kit_1_folders_beside_a_journal_are_an_error(tmp_path: Path, where: str) -> None:
    write(tmp_path / "0000_a.sql", "SELECT 1;")
    journal(tmp_path, ["0000_a"], where)
    write(tmp_path / "20260101000000_b" / "migration.sql", "SELECT 2;")
    with pytest.raises(
        SourceError, match=r"has both .*_journal\.json .* 20260101000000_b/"
    ) as info:
        sources.load(tmp_path)
    assert "drizzle-kit up" in (info.value.hint or "")
    with pytest.raises(SourceError, match="has both"):
        generate_migration(tmp_path, "next")


def test_drizzle_kit_1_stray_top_level_files_are_warned_about(tmp_path: Path) -> None:
    """``drizzle-kit up`` moves ``NNNN_name.sql`` into ``<timestamp>_name/`` but leaves
    our ``NNNN_name.down.sql`` behind; the warning says where it goes."""
    write(tmp_path / "20260101000000_add_users" / "migration.sql", "SELECT 1;")
    write(tmp_path / "0000_add_users.down.sql", "SELECT -1;")
    write(tmp_path / "0001_orphan.sql", "SELECT 2;")
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == ["20260101000000_add_users.sql"]
    assert source.migrations[0].down_sql is None
    assert source.warnings == (
        "0000_add_users.down.sql is ignored (drizzle-kit 1.0's layout has no top-level "
        "migration files): move it to 20260101000000_add_users/down.sql.",
        "0001_orphan.sql is ignored (drizzle-kit 1.0's layout has no top-level migration "
        "files): each migration is a <timestamp>_<name>/ folder holding migration.sql.",
    )


def test_drizzle_kit_1_odd_folders_are_warned_about(tmp_path: Path) -> None:
    write(tmp_path / "20260101000000_a" / "migration.sql", "SELECT 1;")
    write(tmp_path / "20260101000000_a" / "rollback.sql", "SELECT -1;")
    write(tmp_path / "20260102000000_typo" / "migrations.sql", "SELECT 2;")
    write(tmp_path / "meta" / "0000_snapshot.json", "{}")  # no SQL: silently ignored
    write(tmp_path / "..data" / "migration.sql", "SELECT 3;")  # a ConfigMap volume's link
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == ["20260101000000_a.sql"]
    assert source.warnings == (
        "20260101000000_a/rollback.sql is ignored: a migration folder holds migration.sql "
        "and, for the rollback, down.sql.",
        "20260102000000_typo/ has no migration.sql and is ignored (it holds migrations.sql).",
    )


def test_drizzle_kit_1_shared_or_missing_timestamps_are_warned_about(tmp_path: Path) -> None:
    for name in ("20260101000000_b", "20260101000000_a", "initial"):
        write(tmp_path / name / "migration.sql", "SELECT 1;")
    source = sources.load(tmp_path)
    assert [m.name for m in source.migrations] == [
        "20260101000000_a.sql",
        "20260101000000_b.sql",
        "initial.sql",
    ]
    assert len(source.warnings) == 2
    assert source.warnings[0].startswith("initial/ does not start with a YYYYMMDDHHMMSS_")
    assert source.warnings[1].startswith(
        "20260101000000_a, 20260101000000_b share the timestamp 20260101000000"
    )


def test_drizzle_kit_1_migration_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "20260101000000_a").mkdir()
    (tmp_path / "20260101000000_a" / "migration.sql").write_bytes(b"SELECT '\xff';")
    with pytest.raises(SourceError, match=r"migration\.sql is not valid UTF-8"):
        sources.load(tmp_path)


def test_generate_in_a_drizzle_kit_1_folder_writes_the_next_folder(tmp_path: Path) -> None:
    """The next ``<timestamp>_name/`` with migration.sql and down.sql; no journal, no
    snapshot. The timestamp is at least a second after the newest folder's, even one
    in the future, so the new folder sorts last, as drizzle-kit 1.0 does it."""
    write(tmp_path / "20260101000000_a" / "migration.sql", "SELECT 1;")
    write(tmp_path / "29990101000000_future" / "migration.sql", "SELECT 2;")
    sql = tmp_path / "up.sql"
    sql.write_text('CREATE TABLE "t" ("id" integer);')
    created = generate_migration(tmp_path, "Add T", sql)
    folder = tmp_path / "29990101000001_add_t"
    assert created.up == folder / "migration.sql"
    assert created.down == folder / "down.sql"
    assert created.journal is None
    assert created.up.read_text() == 'CREATE TABLE "t" ("id" integer);\n'
    assert 'DROP TABLE "t"' in created.down.read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["down.sql", "migration.sql"]
    assert not (tmp_path / "meta").exists()
    assert created.to_dict()["journal"] is None
    assert "journal" not in created.text().lower()
    names = [m.name for m in sources.load(tmp_path).migrations]
    assert names[-1] == "29990101000001_add_t.sql"


def test_generate_in_a_drizzle_kit_1_folder_uses_now_in_utc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "20260101000000_a" / "migration.sql", "SELECT 1;")
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # drizzle-kit's names are UTC, not local time
    time.tzset()
    monkeypatch.setattr("time.time", lambda: 1795943727.9)  # 2026-11-29 09:15:27.9 UTC
    try:
        created = generate_migration(tmp_path, "b")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert created.up.parent.name == "20261129091527_b"
    assert "-- Write the migration's SQL here" in created.up.read_text()


# -- other tools' layouts -----------------------------------------------------


def test_golang_migrate(tmp_path: Path) -> None:
    write(tmp_path / "10_later.up.sql", "SELECT 10;")
    write(tmp_path / "2_second.up.sql", "SELECT 2;")
    write(tmp_path / "2_second.down.sql", "SELECT -2;")
    write(tmp_path / "1_first.up.sql", "SELECT 1;")
    write(tmp_path / "README.md", "not a migration")
    source = sources.load(tmp_path, "golang-migrate")
    assert [m.name for m in source.migrations] == [
        "1_first.up.sql",
        "2_second.up.sql",
        "10_later.up.sql",
    ]
    assert source.migrations[1].down_sql == "SELECT -2;"
    assert source.migrations[0].down_sql is None


def test_golang_migrate_pairs_up_and_down_by_version(tmp_path: Path) -> None:
    """As golang-migrate does: a down whose title was edited still belongs to its up
    (it was "ignored", and the rollback refused for want of SQL)."""
    write(tmp_path / "1_create_q.up.sql", "CREATE TABLE q ();")
    write(tmp_path / "1_create_table_q.down.sql", "DROP TABLE q;")
    source = sources.load(tmp_path, "golang-migrate")
    [only] = source.migrations
    assert (only.down_sql, only.down_file) == ("DROP TABLE q;", "1_create_table_q.down.sql")
    assert source.warnings == ()


def test_flyway_with_dotted_versions_and_undo(tmp_path: Path) -> None:
    write(tmp_path / "V1.10__later.sql", "SELECT 110;")
    write(tmp_path / "V1.2__second.sql", "SELECT 12;")
    write(tmp_path / "U1.2__second.sql", "SELECT -12;")
    write(tmp_path / "V1__first.sql", "SELECT 1;")
    source = sources.load(tmp_path, "flyway")
    assert [m.name for m in source.migrations] == [
        "V1__first.sql",
        "V1.2__second.sql",
        "V1.10__later.sql",
    ]
    assert source.migrations[1].down_sql == "SELECT -12;"
    assert source.migrations[2].down_sql is None
    # where a hint sends people to write the rollback
    assert [m.down_file for m in source.migrations[1:]] == [
        "U1.2__second.sql",
        "U1.10__later.sql",
    ]
    assert source.warnings == ()


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("R__views.sql", "R__views.sql is a Flyway repeatable migration, which kubemigrate"),
        ("beforeMigrate.sql", "beforeMigrate.sql is a Flyway callback"),
        ("sub/R__views.sql", "sub/R__views.sql is a Flyway repeatable migration"),
    ],
)
def test_flyway_scripts_kubemigrate_cannot_run_are_refused(
    tmp_path: Path, name: str, said: str
) -> None:
    """Left out with a warning, what they create was missing while every command
    (status --fail-on-pending, verify) said all was well."""
    write(tmp_path / "V1__first.sql", "SELECT 1;")
    (tmp_path / name).parent.mkdir(exist_ok=True)
    write(tmp_path / name, "CREATE VIEW v AS SELECT 1;")
    with pytest.raises(SourceError, match=re.escape(said)):
        sources.load(tmp_path, "flyway")


def test_flyway_placeholders_are_refused_not_sent(tmp_path: Path) -> None:
    write(tmp_path / "V1__first.sql", "CREATE TABLE t (v text);\nINSERT INTO t VALUES ('${env}');")
    with pytest.raises(
        SourceError, match=r"V1__first.sql line 2 uses the Flyway placeholder \$\{env\}"
    ):
        sources.load(tmp_path, "flyway")


def test_flyway_subfolders_name_their_files_when_two_share_a_version(tmp_path: Path) -> None:
    """An undo script was taken from another folder (its rollback SQL dropped another
    table), and two V1__init.sql were refused without saying where."""
    write(tmp_path / "a" / "V1__init.sql", "CREATE TABLE a ();")
    write(tmp_path / "a" / "U1__init.sql", "DROP TABLE a;")
    write(tmp_path / "b" / "U1__init.sql", "DROP TABLE zzz;")
    with pytest.raises(SourceError, match=r"a/U1__init\.sql and b/U1__init\.sql undo the same"):
        sources.load(tmp_path, "flyway")
    (tmp_path / "b" / "U1__init.sql").unlink()
    write(tmp_path / "b" / "V1__init.sql", "CREATE TABLE b ();")
    with pytest.raises(SourceError, match=r"a/V1__init\.sql and b/V1__init\.sql have the same"):
        sources.load(tmp_path, "flyway")


def test_flyway_placeholders_are_text_where_flyway_was_told_so(tmp_path: Path) -> None:
    """A team whose scripts hold ${...} as text (a plv8 body) ran Flyway with
    placeholderReplacement=false: its flyway.conf says so, and the scripts run as written."""
    folder = tmp_path / "sql"
    write(folder / "V1__first.sql", "SELECT '${not_a_placeholder}';")
    write(tmp_path / "flyway.conf", "flyway.url=jdbc:...\nflyway.placeholderReplacement=false\n")
    (found,) = sources.load(folder, "flyway").migrations
    assert found.up_sql == "SELECT '${not_a_placeholder}';"
    (tmp_path / "flyway.conf").unlink()
    write(tmp_path / "flyway.toml", "[flyway]\nplaceholderReplacement = false # plv8\n")
    assert sources.load(folder, "flyway").migrations
    # one environment's setting is that environment's: the default replaces
    write(tmp_path / "flyway.toml", "[environments.ci.flyway]\nplaceholderReplacement = false\n")
    with pytest.raises(SourceError, match="Flyway placeholder"):
        sources.load(folder, "flyway")


def test_flyway_reads_subfolders_and_its_transaction_setting(tmp_path: Path) -> None:
    """Flyway scans its locations recursively, and runs a script configured with
    executeInTransaction=false (in the script or its .sql.conf) outside a transaction."""
    write(tmp_path / "V1__first.sql", "SELECT 1;")
    (tmp_path / "later").mkdir()
    write(tmp_path / "later" / "V2__index.sql", "CREATE INDEX CONCURRENTLY i ON t (v);")
    write(tmp_path / "later" / "V2__index.sql.conf", "executeInTransaction=false\n")
    write(tmp_path / "V3__x.sql", "-- flyway:executeInTransaction=false\nSELECT 3;")
    source = sources.load(tmp_path, "flyway")
    assert [m.name for m in source.migrations] == ["V1__first.sql", "V2__index.sql", "V3__x.sql"]
    directive = "-- kubemigrate:no-transaction"
    assert [m.up_sql.startswith(directive) for m in source.migrations] == [False, True, True]
    # the checksum is the script's as written
    assert source.migrations[1].checksum == checksum("CREATE INDEX CONCURRENTLY i ON t (v);")


@pytest.mark.parametrize(
    ("fmt", "names", "ignored"),
    [
        ("flyway", ["V1__ok.sql", "v2__low.sql", "V3_one.sql"], ["V3_one.sql", "v2__low.sql"]),
        ("golang-migrate", ["1_ok.up.sql", "1_ok.down.sql", "2_x.sql"], ["2_x.sql"]),
        ("dbmate", ["1_ok.sql", "notes.sql"], ["notes.sql"]),
    ],
)
def test_sql_files_a_format_does_not_run_are_warned_about(
    tmp_path: Path, fmt: str, names: list[str], ignored: list[str]
) -> None:
    """Silence would look like success: the file would simply never run."""
    for name in names:
        write(tmp_path / name, "-- migrate:up\nSELECT 1;\n")
    source = sources.load(tmp_path, fmt)
    assert len(source.migrations) == 1
    assert [w.split(" is ignored: ")[0] for w in source.warnings] == ignored
    assert all(f"does not follow {fmt}'s" in w for w in source.warnings)


@pytest.mark.parametrize("sub", ["", "db/migrations"])
def test_dbmate_sections(tmp_path: Path, sub: str) -> None:
    root = tmp_path / sub if sub else tmp_path
    write(root / "20240102000000_second.sql", "-- migrate:up\nSELECT 2;\n")
    write(
        root / "20240101000000_first.sql",
        "-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down\nDROP TABLE a;\n",
    )
    source = sources.load(tmp_path, "dbmate")
    assert [m.name for m in source.migrations] == [
        "20240101000000_first.sql",
        "20240102000000_second.sql",
    ]
    first, second = source.migrations
    assert first.up_sql == "CREATE TABLE a (id int);\n"
    assert first.down_sql == "DROP TABLE a;\n"
    assert second.up_sql == "SELECT 2;\n"
    assert second.down_sql is None


def test_dbmate_transaction_false_runs_a_section_outside_a_transaction(tmp_path: Path) -> None:
    """The header's ``transaction:false`` becomes kubemigrate's directive; the checksum
    stays the section's, so files applied before this was read are not 'edited'."""
    body = "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n"
    write(tmp_path / "1_plain.sql", f"-- migrate:up\n{body}-- migrate:down\nDROP TABLE a;\n")
    write(
        tmp_path / "2_marked.sql",
        f"-- migrate:up transaction:false\n{body}"
        "-- migrate:down transaction:false\nDROP TABLE a;\n",
    )
    plain, marked = sources.load(tmp_path, "dbmate").migrations
    assert marked.up_sql == f"-- kubemigrate:no-transaction\n{body}"
    assert marked.down_sql == "-- kubemigrate:no-transaction\nDROP TABLE a;\n"
    assert plain.up_sql == body
    assert marked.checksum == plain.checksum
    assert plain.down_file == "the '-- migrate:down' section of 1_plain.sql"


def test_a_directive_the_author_wrote_in_a_dbmate_section_stays_in_its_checksum(
    tmp_path: Path,
) -> None:
    """Files applied before transaction:false was read must not turn 'edited'."""
    from kubemigrate.domain.checksums import checksum

    section = "-- kubemigrate:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n"
    write(tmp_path / "1_own.sql", f"-- migrate:up\n{section}")
    [own] = sources.load(tmp_path, "dbmate").migrations
    assert own.up_sql == section
    assert own.checksum == checksum(section)  # as every earlier version recorded it


def test_dbmate_sections_are_placed_in_their_file(tmp_path: Path) -> None:
    """A failure's line and column count in the file, not its section: below the header,
    the first line's indentation (stripped with the section) and kubemigrate's directive
    accounted for; db/migrations/ named, where a person opens it."""
    text = (
        "-- migrate:up transaction:false\n\n  CREATE TABLE a (id int);\n"
        "-- migrate:down\n-- undo\nDROP TABLE a;\n"
    )
    write(tmp_path / "db" / "migrations" / "1_a.sql", text)
    [migration] = sources.load(tmp_path, "dbmate").migrations
    path = "db/migrations/1_a.sql"
    assert migration.up_written == Written(
        path, line=3, column=3, added=len(NO_TRANSACTION_DIRECTIVE) + 1
    )
    assert migration.down_written == Written(path, line=5)
    up, down = migration.up_sql, migration.down_sql or ""
    assert migration.up_written.place(up, up.index("a (")) == (3, 16)
    assert migration.down_written.place(down, down.index("a;")) == (6, 12)


def test_a_flyway_directive_is_no_line_of_the_script(tmp_path: Path) -> None:
    write(tmp_path / "sql" / "V1__a.sql", "-- flyway:executeInTransaction=false\nSELECT 1/0;\n")
    write(tmp_path / "sql" / "U1__a.sql", "SELECT 2/0;\n")
    [migration] = sources.load(tmp_path, "flyway").migrations
    assert migration.up_written == Written("sql/V1__a.sql", added=len(NO_TRANSACTION_DIRECTIVE) + 1)
    assert migration.up_written.place(migration.up_sql, migration.up_sql.index("1/0")) == (2, 8)
    assert migration.down_written == Written("sql/U1__a.sql")


def test_dbmate_file_without_up_marker(tmp_path: Path) -> None:
    write(tmp_path / "20240101000000_first.sql", "CREATE TABLE a (id int);\n")
    with pytest.raises(SourceError, match="no '-- migrate:up' line"):
        sources.load(tmp_path, "dbmate")


def test_generate_run_in_parallel_numbers_each_migration_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path / "par"
    names = [f"p{n}" for n in range(6)]
    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(lambda n: generate_migration(folder, n, None), names))
    tags = [
        e["tag"] for e in json.loads((folder / "meta" / "_journal.json").read_text())["entries"]
    ]
    assert sorted(tag.split("_", 1)[0] for tag in tags) == [f"{i:04d}" for i in range(6)]
    assert {tag.split("_", 1)[1] for tag in tags} == set(names)
    assert len(list(folder.glob("*.down.sql"))) == 6


def test_a_flyway_undo_pairs_with_its_version_whatever_its_description(tmp_path: Path) -> None:
    write(tmp_path / "V2__add_f2.sql", "SELECT 2;")
    write(tmp_path / "U2__undo_f2.sql", "SELECT -2;")
    [migration] = sources.load(tmp_path, "flyway").migrations
    assert migration.down_sql == "SELECT -2;"


@pytest.mark.parametrize(
    ("fmt", "names"),
    [
        ("flyway", ["V1__users.sql", "V2__add_c.sql", "V2__add_c.down.sql"]),
        ("flyway", ["V1__a.sql", "V1.0__b.sql"]),
        ("golang-migrate", ["1_a.up.sql", "001_b.up.sql"]),
    ],
)
def test_two_files_of_one_version_are_refused(tmp_path: Path, fmt: str, names: list[str]) -> None:
    for name in names:
        write(tmp_path / name, "SELECT 1;")
    with pytest.raises(SourceError, match="have the same version"):
        sources.load(tmp_path, fmt)


def test_dbmate_versions_run_in_its_own_text_order(tmp_path: Path) -> None:
    for name in ("9_nine.sql", "10_ten.sql", "11.sql"):
        write(tmp_path / name, "-- migrate:up\nSELECT 1;\n")
    names = [m.name for m in sources.load(tmp_path, "dbmate").migrations]
    assert names == ["10_ten.sql", "11.sql", "9_nine.sql"]  # as dbmate itself runs them


def test_dbmate_reads_every_file_it_runs_in_the_order_it_runs_them(tmp_path: Path) -> None:
    """dbmate takes any name that starts with digits (3-dash.sql) and runs its files in
    name order: 10_b.sql before 1_a.sql (seen with dbmate 2.36)."""
    for name in ("1_a.sql", "10_b.sql", "3-dash.sql"):
        write(tmp_path / name, "-- migrate:up\nSELECT 1;\n")
    names = [m.name for m in sources.load(tmp_path, "dbmate").migrations]
    assert names == ["10_b.sql", "1_a.sql", "3-dash.sql"]


def test_a_format_that_reads_none_of_the_files_names_the_one_that_does(tmp_path: Path) -> None:
    write(tmp_path / "V1__init.sql", "SELECT 1;")
    write(tmp_path / "V2__more.sql", "SELECT 2;")
    with pytest.raises(SourceError) as refused:  # status too: CI must not pass on nothing
        sources.load(tmp_path, "golang-migrate", allow_empty=True)
    assert "none in golang-migrate's layout; they look like flyway's" in refused.value.message
    assert refused.value.hint == "pass --format flyway"


def test_generate_refuses_to_turn_another_tool_s_folder_into_drizzle_s(tmp_path: Path) -> None:
    write(tmp_path / "V1__init.sql", "SELECT 1;")
    write(tmp_path / "U1__init.sql", "SELECT -1;")
    with pytest.raises(SourceError, match="holds flyway migrations"):
        generate_migration(tmp_path, "next", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["U1__init.sql", "V1__init.sql"]


def test_generate_refuses_a_dbmate_folder_whose_versions_are_timestamps(tmp_path: Path) -> None:
    """dbmate names its files by timestamp, as drizzle-kit 1.0's flattened folders are:
    generate wrote a drizzle pair there, which --format dbmate then refused."""
    dbmate = "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n"
    write(tmp_path / "20240101000000_a.sql", dbmate)
    with pytest.raises(SourceError, match="holds dbmate migrations"):
        generate_migration(tmp_path, "next", None)
    assert [p.name for p in tmp_path.iterdir()] == ["20240101000000_a.sql"]


def test_the_files_another_tool_s_history_says_it_ran() -> None:
    from kubemigrate.engine.sources.others import versions_run

    flyway = ["V1__a.sql", "V1.1__b.sql", "V2__c.sql"]
    assert versions_run(flyway, "flyway", ["1.0", "1.1"]) == {"V1__a.sql", "V1.1__b.sql"}
    golang = ["1_a.up.sql", "0002_b.up.sql", "3_c.up.sql"]
    assert versions_run(golang, "golang-migrate", ["2"]) == {"1_a.up.sql", "0002_b.up.sql"}
    assert versions_run(golang, "golang-migrate", []) == frozenset()
    dbmate = ["20240101000000_a.sql", "20240201000000_b.sql"]
    assert versions_run(dbmate, "dbmate", ["20240101000000"]) == {"20240101000000_a.sql"}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "CREATE TYPE mood AS ENUM ('a');\n-- migrate:up\nSELECT 1;\n",
            "has SQL before its '-- migrate:up' line",
        ),
        (
            "-- migrate:down\nDROP TABLE t;\n-- migrate:up\nCREATE TABLE t ();\n",
            "has its '-- migrate:down' section before '-- migrate:up'",
        ),
    ],
)
def test_dbmate_files_dbmate_refuses_are_refused_not_cut(
    tmp_path: Path, text: str, said: str
) -> None:
    """Read as they were, the SQL before the up line vanished, and an up placed after
    its down was taken for a migration with no rollback."""
    write(tmp_path / "1_a.sql", text)
    with pytest.raises(SourceError, match=re.escape(said)):
        sources.load(tmp_path, "dbmate")


def test_a_dbmate_project_root_given_as_the_folder_is_named(tmp_path: Path) -> None:
    """Read as drizzle's, it held nothing, and status and verify passed a CI gate."""
    write(tmp_path / "db" / "migrations" / "1_a.sql", "-- migrate:up\nSELECT 1;\n")
    with pytest.raises(SourceError) as refused:
        sources.load(tmp_path, allow_empty=True)
    assert "where dbmate keeps them (1_a.sql)" in refused.value.message
    assert refused.value.hint == "pass --format dbmate"


def test_a_mounted_config_map_s_flyway_scripts_are_read_once(tmp_path: Path) -> None:
    """A kubelet mounts a ConfigMap as ``..<timestamp>/`` with ``..data`` and symlinks
    beside it: read recursively, every script was there twice (refused as a duplicate)."""
    stamp = tmp_path / "..2026_11_29_16_00_00.000000001"
    write(stamp / "V1__a.sql", "CREATE TABLE a ();")
    (tmp_path / "..data").symlink_to(stamp.name)
    (tmp_path / "V1__a.sql").symlink_to("..data/V1__a.sql")
    assert [m.name for m in sources.load(tmp_path, "flyway").migrations] == ["V1__a.sql"]


def test_line_ending_forms_are_what_other_checkouts_hold() -> None:
    """drizzle's hash of a file is of its bytes as that checkout held them."""
    lf = b"CREATE TABLE a (\n  id int\n);"
    crlf = lf.replace(b"\n", b"\r\n")
    for data in (lf, crlf, b"\xef\xbb\xbf" + lf, lf + b"\n", crlf + b"\r"):
        forms = sources.line_ending_forms(data)
        assert {lf, crlf, lf + b"\n", crlf + b"\r\n", b"\xef\xbb\xbf" + crlf} <= forms
    assert b"CREATE TABLE a (\n  id bigint\n);" not in sources.line_ending_forms(lf)


@pytest.mark.parametrize("which", ["0001_b.sql", "0001_b.down.sql"])
def test_a_migration_file_linked_from_outside_the_folder_is_refused(
    tmp_path: Path, which: str
) -> None:
    """A pull request's ``0001_b.sql -> ~/.git-credentials``: the file's text came back
    in a syntax error, and a linked down file was stored as rollback SQL."""
    folder = tmp_path / "d"
    write(folder / "0000_a.sql", "CREATE TABLE a (id int);")
    write(folder / "0001_b.sql", "CREATE TABLE b (id int);")
    secret = tmp_path / "credentials"
    secret.write_text("token=ghp_not_for_your_eyes")
    (folder / which).unlink(missing_ok=True)
    (folder / which).symlink_to(secret)
    with pytest.raises(SourceError) as refused:
        sources.load(folder, "drizzle")
    assert f"{which} is a link to a file outside" in refused.value.message
    assert "ghp_" not in str(refused.value)


def test_links_within_the_folder_are_read_as_a_configmap_volume_makes_them(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "d"
    data = folder / "..2026_11_30"
    write(data / "0000_a.sql", "CREATE TABLE a (id int);")
    (folder / "..data").symlink_to(data.name)
    (folder / "0000_a.sql").symlink_to("..data/0000_a.sql")
    assert [m.name for m in sources.load(folder, "drizzle").migrations] == ["0000_a.sql"]


def test_a_drizzle_1_migration_sql_linked_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write(folder / "20260101000000_a" / "migration.sql", "CREATE TABLE a (id int);")
    secret = tmp_path / "credentials"
    secret.write_text("token=ghp_not_for_your_eyes")
    (folder / "20260102000000_b").mkdir()
    (folder / "20260102000000_b" / "migration.sql").symlink_to(secret)
    with pytest.raises(SourceError, match="is a link to a file outside"):
        sources.load(folder, "drizzle")
