"""``generate-downs`` on files alone (no database): where each layout's down file goes,
what is never overwritten, what is refused, and what the report says."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from kubemigrate.domain.errors import UsageError
from kubemigrate.domain.migrations import AppliedMigration
from kubemigrate.domain.planning import UNFINISHED_DOWN, NewDown
from kubemigrate.engine import downs, sources
from kubemigrate.engine.downs import Result

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BREAK = "\n--> statement-breakpoint\n"


def _journal(drizzle: Path, tags: list[str]) -> None:
    (drizzle / "meta").mkdir(parents=True, exist_ok=True)
    entries = [{"idx": i, "version": "7", "when": 1 + i, "tag": t} for i, t in enumerate(tags)]
    (drizzle / "meta" / "_journal.json").write_text(json.dumps({"entries": entries}))


def _folder(tmp_path: Path, ups: dict[str, str], downs_: dict[str, str] | None = None) -> Path:
    drizzle = tmp_path / "drizzle"
    drizzle.mkdir(parents=True)
    for tag, up in ups.items():
        (drizzle / f"{tag}.sql").write_text(up)
    for tag, down in (downs_ or {}).items():
        (drizzle / f"{tag}.down.sql").write_text(down)
    _journal(drizzle, list(ups))
    return drizzle


def _write(directory: Path, *names: str, fmt: str = "drizzle", **kw: object) -> downs.DownsWritten:
    return downs.write_downs(sources.load(directory, fmt), names, **kw)  # type: ignore[arg-type]


def test_a_drizzle_kit_0x_folder_gets_a_down_file_beside_each_up(tmp_path: Path) -> None:
    """The real drizzle-kit 0.31 output: five up files, no down file, so no rollback."""
    drizzle = tmp_path / "drizzle"
    shutil.copytree(FIXTURES / "drizzle-kit" / "drizzle", drizzle)
    done = _write(drizzle)
    assert [(r.migration, r.result) for r in done.results] == [
        ("0000_initial_schema.sql", Result.WRITTEN),
        ("0001_add_phone_and_order_items.sql", Result.WRITTEN),
        ("0002_rename_full_name.sql", Result.WRITTEN_WITH_NOTE),
        ("0003_rename_products_to_catalog_items.sql", Result.WRITTEN_WITH_NOTE),
        ("0004_order_totals_trigger.sql", Result.WRITTEN),
    ]
    for r in done.results:
        assert r.down == drizzle / r.migration.replace(".sql", ".down.sql")
        assert r.down.read_text() == r.sql
    noted = drizzle / "0002_rename_full_name.down.sql"
    assert noted.read_text().startswith(UNFINISHED_DOWN + "\n--   line 1: ALTER TYPE")
    assert done.results[2].uninvertible == (
        'line 1: ALTER TYPE "public"."order_status" ADD VALUE \'delivered\'... '
        "(PostgreSQL cannot remove a value from an enum)",
    )
    # every down is now read as the migration's, as rollback reads it
    assert all(m.down_sql for m in sources.load(drizzle).migrations)
    text = done.text()
    assert f"📝 Wrote {drizzle}/0000_initial_schema.down.sql\n" in text
    assert "  - line 4: DROP INDEX products_sku_idx (its definition is not in this migration)" in (
        text
    )
    assert "5 down file(s) written (2 with a note)." in text


def test_a_drizzle_kit_1_folder_gets_a_down_sql_in_each_migration_folder(tmp_path: Path) -> None:
    drizzle = tmp_path / "drizzle"
    shutil.copytree(FIXTURES / "drizzle-kit-1" / "drizzle", drizzle)
    done = _write(drizzle)
    assert [r.down for r in done.results] == [
        drizzle / folder / "down.sql" for folder in sorted(p.name for p in drizzle.iterdir())
    ]
    assert all(r.down.is_file() for r in done.results)
    assert [r.result for r in done.results].count(Result.WRITTEN_WITH_NOTE) == 1
    assert not list(drizzle.glob("*.sql"))  # nothing at the top, which drizzle-kit 1.0 warns of


def test_a_hand_named_migration_folder_gets_its_down_inside_it(tmp_path: Path) -> None:
    """The down's place was guessed from a timestamp prefix: a folder named without one
    was sent to ``init.down.sql`` beside it, which the folder reader never reads."""
    drizzle = tmp_path / "drizzle"
    (drizzle / "init").mkdir(parents=True)
    (drizzle / "init" / "migration.sql").write_text("CREATE TABLE a (id int);\n")
    (done,) = _write(drizzle).results
    assert done.down == drizzle / "init" / "down.sql"
    assert sources.load(drizzle).migrations[0].down_sql == "DROP TABLE a;\n"


def test_a_flat_drizzle_kit_1_folder_gets_down_files_beside_its_ups(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "20261129085527_a.sql").write_text("CREATE TABLE a (id int);\n")
    (done,) = _write(flat).results
    assert done.down == flat / "20261129085527_a.down.sql"
    assert sources.load(flat).migrations[0].down_sql == "DROP TABLE a;\n"


def test_golang_migrate_gets_down_sql_siblings(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_a.up.sql").write_text("CREATE TABLE a (id int);\n")
    (folder / "2_b.up.sql").write_text("CREATE TABLE b (id int);\n")
    (folder / "2_b.down.sql").write_text("DROP TABLE b; -- by hand\n")
    done = _write(folder, fmt="golang-migrate")
    assert [(r.migration, r.result) for r in done.results] == [
        ("1_a.up.sql", Result.WRITTEN),
        ("2_b.up.sql", Result.SKIPPED),
    ]
    assert (folder / "1_a.down.sql").read_text() == "DROP TABLE a;\n"
    assert (folder / "2_b.down.sql").read_text() == "DROP TABLE b; -- by hand\n"


@pytest.mark.parametrize(
    ("fmt", "said"),
    [("flyway", "does not write Flyway undo scripts"), ("dbmate", "does not write dbmate downs")],
)
def test_flyway_and_dbmate_are_refused_with_what_to_do(tmp_path: Path, fmt: str, said: str) -> None:
    with pytest.raises(UsageError, match=said) as refused:
        downs.refuse_format(fmt)
    assert "kubemigrate generate NAME --sql" in (refused.value.hint or "")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "V1__a.sql").write_text("CREATE TABLE a (id int);\n")
    (folder / "1_a.sql").write_text("-- migrate:up\nCREATE TABLE a (id int);\n")
    with pytest.raises(UsageError, match=said):
        _write(folder, fmt=fmt)
    assert sorted(p.name for p in folder.iterdir()) == ["1_a.sql", "V1__a.sql"]


def test_an_existing_down_is_never_touched(tmp_path: Path) -> None:
    hand = "-- written by a person\nDROP TABLE a CASCADE;\n"
    empty = "-- cannot be undone: restore from the backup\n"
    drizzle = _folder(
        tmp_path,
        {"0000_a": "CREATE TABLE a (id int);", "0001_b": "CREATE TABLE b (id int);"},
        {"0000_a": hand, "0001_b": empty},
    )
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in drizzle.glob("*.down.sql")}
    done = _write(drizzle)
    assert [r.result for r in done.results] == [Result.SKIPPED, Result.SKIPPED]
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in drizzle.glob("*.down.sql")}
    assert after == before
    first, second = done.results
    assert first.message == f"{drizzle}/0000_a.down.sql exists (a down file is never overwritten)"
    assert "it holds no statement, so a rollback counts it as none" in second.message
    assert done.text().endswith("Nothing to write: each of the 2 migrations has a down file.\n")


def test_a_down_file_made_after_the_folder_was_read_is_not_overwritten(tmp_path: Path) -> None:
    drizzle = _folder(tmp_path, {"0000_a": "CREATE TABLE a (id int);"})
    source = sources.load(drizzle)
    (drizzle / "0000_a.down.sql").write_text("-- mine\n")
    (done,) = downs.write_downs(source).results
    assert done.result is Result.SKIPPED
    assert (drizzle / "0000_a.down.sql").read_text() == "-- mine\n"


def test_names_pick_the_migrations_by_file_name_or_version(tmp_path: Path) -> None:
    ups = {f"000{i}_{t}": f"CREATE TABLE {t} (id int);" for i, t in enumerate("abc")}
    drizzle = _folder(tmp_path, ups)
    done = _write(drizzle, "0002", "0000_a.sql")
    assert [r.migration for r in done.results] == ["0000_a.sql", "0002_c.sql"]  # folder order
    assert sorted(p.name for p in drizzle.glob("*.down.sql")) == [
        "0000_a.down.sql",
        "0002_c.down.sql",
    ]


def test_an_unknown_name_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    drizzle = _folder(tmp_path, {"0000_a": "CREATE TABLE a (id int);"})
    with pytest.raises(UsageError, match=r"'0007' is not a migration in .*; nothing was written"):
        _write(drizzle, "0000", "0007")
    assert not list(drizzle.glob("*.down.sql"))


def test_each_refusal_writes_nothing_for_its_migration_alone(tmp_path: Path) -> None:
    """One bad file did not stop the others; each refusal says what generate says."""
    drizzle = _folder(
        tmp_path,
        {
            "0000_a": "CREATE TABLE a (id int);",
            "0001_bad": "CREATE TABLEE b (id int);",
            "0002_mixed": f"ALTER TABLE a ADD COLUMN c text;{BREAK}"
            "CREATE INDEX CONCURRENTLY a_c ON a (c);",
            "0003_custom": "-- Custom SQL migration file, put your code below! --\n",
            "0004_d": "CREATE TABLE d (id int);",
        },
    )
    done = _write(drizzle)
    assert [r.result for r in done.results] == [
        Result.WRITTEN, Result.REFUSED, Result.REFUSED, Result.REFUSED, Result.WRITTEN,
    ]  # fmt: skip
    assert sorted(p.name for p in drizzle.glob("*.down.sql")) == [
        "0000_a.down.sql",
        "0004_d.down.sql",
    ]
    bad, mixed, custom = done.refused
    assert bad.message == 'The up SQL does not parse: syntax error at or near "TABLEE" at line 1.'
    assert "write 0001_bad.down.sql by hand" in bad.hint
    assert mixed.message.startswith(
        "The up SQL mixes statements that cannot run inside a transaction (line 3: CREATE INDEX "
        "CONCURRENTLY a_c ON a (c))"
    )
    assert "so no down was written" in mixed.message
    assert "-- kubemigrate:no-transaction" in mixed.hint
    assert custom.message == (
        "0003_custom.sql holds no SQL statement (only comments), so there is nothing to invert yet."
    )
    assert "-- kubemigrate:nothing-to-undo" in custom.hint
    text = done.text()
    assert "❌ Refused 0001_bad.sql: The up SQL does not parse" in text
    assert "\n2 down file(s) written, 3 refused (nothing written for them).\n" in text


def test_a_dry_run_writes_nothing_and_says_what_it_would(tmp_path: Path) -> None:
    drizzle = _folder(tmp_path, {"0000_a": "CREATE TABLE a (id int);"})
    done = _write(drizzle, dry_run=True)
    assert not list(drizzle.glob("*.down.sql"))
    assert done.results[0].sql == "DROP TABLE a;\n"
    assert done.text().startswith(f"📝 Would write {drizzle}/0000_a.down.sql\n")
    assert "Dry run: 1 down file(s) would be written; nothing was written." in done.text()


def _row(name: str, rollback_sql: str | None) -> AppliedMigration:
    return AppliedMigration(
        name=name,
        applied_at=datetime(2025, 1, 1),
        checksum=None,
        batch=1,
        rollback_sql=rollback_sql,
    )


def test_with_the_tracking_table_each_written_down_says_what_a_rollback_runs(
    tmp_path: Path,
) -> None:
    drizzle = _folder(
        tmp_path,
        {
            "0000_a": "CREATE TABLE a (id int);",
            "0001_b": "CREATE TABLE b (id int);",
            "0002_c": "CREATE TABLE c (id int);",
        },
    )
    applied = [_row("0000_a.sql", None), _row("0001_b.sql", "DROP TABLE b CASCADE;")]
    done = _write(drizzle, applied=applied)
    assert [r.rollback for r in done.results] == [NewDown.USED, NewDown.STORED, NewDown.PENDING]
    text = done.text()
    assert (
        "  rollback: applied, with no rollback SQL stored (it had no down file then): a "
        "rollback runs this file\n"
    ) in text
    assert "a rollback runs that, not this file" in text
    assert "`kubemigrate repair --accept-down 0001_b`" in text
    assert (
        "  rollback: not recorded as applied: migrate (or baseline) stores this file as its "
        "rollback SQL\n" in text
    )
    assert "--database-url" not in text  # checked: no general caveat
    assert done.to_dict()["migrations"][1]["rollback"] == "stored"
    unchecked = _write(_folder(tmp_path / "x", {"0000_a": "CREATE TABLE a (id int);"}))
    assert "pass --database-url to have each applied one checked" in unchecked.text()
