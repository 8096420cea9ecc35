"""The status report: the original system's text, word for word, and its JSON form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from kubemigrate.domain.migrations import AppliedMigration, DirtyState, Migration, RollbackRecord
from kubemigrate.engine import report

NAMES = [
    "0000_initial_schema",
    "0001_add_users",
    "0002_add_products",
    "0003_add_orders",
    "0004_add_analytics",
]
FILES = tuple(Migration(name=f"{n}.sql", up_sql=f"-- {n}\nSELECT 1;") for n in NAMES)
TIMES = [
    datetime(2025, 1, 29, 10, 15, 23),
    datetime(2025, 1, 29, 11, 2, 3),
    datetime(2025, 1, 29, 14, 0, 0),
    datetime(2025, 1, 29, 14, 30, 45),
]


def rows(count: int = 4) -> tuple[AppliedMigration, ...]:
    return tuple(
        AppliedMigration(
            name=m.name, applied_at=t, checksum=m.checksum, batch=1 + i // 2, rollback_sql=None
        )
        for i, (m, t) in enumerate(zip(FILES[:count], TIMES, strict=False))
    )


ROLLBACKS = (
    RollbackRecord(migration="0002_add_products.sql", at=datetime(2025, 1, 29, 13, 45, 20)),
)


def test_the_issue_example_word_for_word() -> None:
    rep = report.build(FILES, rows(), rollbacks=ROLLBACKS)
    assert rep.text() == (
        "📊 Migration Status Report\n"
        "================================\n"
        "Total migration files: 5\n"
        "Applied migrations: 4\n"
        "Pending migrations: 1\n"
        "Last applied: 2025-01-29 14:30:45\n"
        "\n"
        "📋 Migration Details:\n"
        "  ✅ Applied 0000_initial_schema.sql 2025-01-29 10:15:23\n"
        "  ✅ Applied 0001_add_users.sql 2025-01-29 11:02:03\n"
        "  ✅ Applied 0002_add_products.sql 2025-01-29 14:00:00\n"
        "  ✅ Applied 0003_add_orders.sql 2025-01-29 14:30:45\n"
        "  ⏳ Pending 0004_add_analytics.sql\n"
        "\n"
        "🔄 Recent Rollbacks:\n"
        "  2025-01-29 13:45:20 - 0002_add_products.sql\n"
    )
    assert rep.healthy
    assert (rep.total, rep.applied, rep.pending) == (5, 4, 1)


def test_nothing_applied_yet() -> None:
    text = report.build(FILES[:1], ()).text()
    assert text == (
        "📊 Migration Status Report\n"
        "================================\n"
        "Total migration files: 1\n"
        "Applied migrations: 0\n"
        "Pending migrations: 1\n"
        "Last applied: never\n"
        "\n"
        "📋 Migration Details:\n"
        "  ⏳ Pending 0000_initial_schema.sql\n"
    )


def test_times_are_shown_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert (
        report.fmt_time(datetime(2025, 1, 29, 16, 30, 45, tzinfo=plus_two)) == "2025-01-29 14:30:45"
    )
    assert (
        report.fmt_time(datetime(2025, 1, 29, 14, 30, 45, 999999, tzinfo=UTC))
        == "2025-01-29 14:30:45"
    )
    assert report.fmt_time(None) == "never"


def test_warnings_for_edited_missing_out_of_order_and_dirty() -> None:
    applied = list(rows(4))
    applied[0] = AppliedMigration(applied[0].name, TIMES[0], "0" * 64, 1, None)
    del applied[1]  # 0001 becomes out of order
    applied.append(AppliedMigration("0009_gone.sql", TIMES[3], "1" * 64, 3, None))
    dirty = (
        DirtyState(migration="0003_add_orders.sql", statement=2, total_statements=3, error="boom"),
    )
    rep = report.build(
        FILES,
        tuple(applied),
        dirty=dirty,
        warnings=("0005_x.sql is not in _journal.json and is ignored.",),
    )
    text = rep.text()
    assert "  ❌ Missing 0009_gone.sql 2025-01-29 14:30:45\n" in text
    assert "Total migration files: 5\n" in text
    assert "Applied migrations: 3\n" in text
    warnings = text.split("⚠️  Warnings:\n")[1].splitlines()
    assert warnings[0].startswith(
        "  - 0000_initial_schema.sql: edited: changed after it was applied (checksum 000000000000"
    )
    assert warnings[1:] == [
        "  - 0009_gone.sql: missing: applied, but its file is gone",
        "  - 0001_add_users.sql: out-of-order: "
        "pending, but older than the applied 0003_add_orders.sql",
        "  - 0003_add_orders.sql: dirty: stopped at statement 2 of 3 outside a transaction; "
        # 0003 is recorded as applied here: a rollback's mark, and its way out
        "inspect what the down's statements left (an INVALID index from DROP INDEX "
        "CONCURRENTLY shows in `SELECT indexrelid::regclass FROM pg_index WHERE NOT "
        "indisvalid`); make each statement of its down SQL safe to run again (IF EXISTS), "
        "store it with `kubemigrate repair --accept-down 0003_add_orders.sql` (a rollback runs "
        "the SQL stored at apply time; this also clears the mark), then roll back again: the "
        "whole down runs once more",
        "  - 0005_x.sql is not in _journal.json and is ignored.",
    ]
    assert not rep.healthy


def test_json_form() -> None:
    data = report.build(FILES, rows(), rollbacks=ROLLBACKS).to_dict()
    assert data["totalMigrations"] == 5
    assert data["appliedMigrations"] == 4
    assert data["pendingMigrations"] == 1
    assert data["lastApplied"] == "2025-01-29T14:30:45+00:00"
    assert data["migrations"][0] == {
        "name": "0000_initial_schema.sql",
        "status": "applied",
        "appliedAt": "2025-01-29T10:15:23+00:00",
        "checksum": FILES[0].checksum,
        "batch": 1,
    }
    assert data["migrations"][4]["status"] == "pending"
    assert data["migrations"][4]["appliedAt"] is None
    assert data["recentRollbacks"] == [
        {"migration": "0002_add_products.sql", "rolledBackAt": "2025-01-29T13:45:20+00:00"}
    ]
    assert data["drift"] == []
    assert data["dirty"] == []


def test_a_dirty_mark_before_the_first_statement_or_after_the_last_says_so() -> None:
    """ "stopped at statement 0 of 2" read as nonsense; "stopped at statement 3 of 2"
    as if the last had not run."""
    for statement, said in (
        (0, "interrupted before the first of its 2 statements finished, outside a transaction"),
        (3, "ran all 2 statements outside a transaction, then stopped before recording it"),
    ):
        mark = DirtyState(migration="0001_add_users.sql", statement=statement,
                          total_statements=2, error="")  # fmt: skip
        rep = report.build(FILES, tuple(rows()), dirty=(mark,))
        assert f"  - 0001_add_users.sql: dirty: {said}; " in rep.text()
    # the way out the refused run gives: a bare repair ran a finished file again
    finished = DirtyState(migration="0004_add_analytics.sql", statement=3, total_statements=2,
                          error="")  # fmt: skip
    text = report.build(FILES, tuple(rows()), dirty=(finished,)).text()
    assert "`kubemigrate baseline --target 0004_add_analytics.sql`" in text


def test_an_applied_migration_the_journal_no_longer_lists_is_on_disk_not_gone() -> None:
    """Its journal entry lost in a merge, the file still there: status said "Missing ...
    its file is gone", or, when it was the last one, "(newer version)"."""
    from kubemigrate.domain.migrations import Unlisted

    for lost in (1, 3):  # in the middle, and the last applied
        available = tuple(m for i, m in enumerate(FILES) if i != lost)
        stray = Unlisted(FILES[lost].name, FILES[lost].checksum, "meta/_journal.json", "{}")
        rep = report.build(available, rows(), unlisted=(stray,))
        text = rep.text()
        assert (
            f"  ❌ Delisted {FILES[lost].name} {TIMES[lost]:%Y-%m-%d %H:%M:%S} (applied; its file "
            "is on disk, but not in the journal)\n"
        ) in text
        assert "gone" not in text
        assert "newer version" not in text
        assert (
            f"  - {FILES[lost].name}: delisted: applied, but meta/_journal.json no longer" in text
        )
        assert "Total migration files: 4" in text
        assert rep.to_dict()["drift"][0]["kind"] == "delisted"
