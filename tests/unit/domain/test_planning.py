"""The plan as a pure function of the files and the applied list: no files, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from kubemigrate.domain import planning
from kubemigrate.domain.errors import (
    ConfirmationRequired,
    ExitCode,
    IntegrityError,
    SafetyRefusal,
    UsageError,
)
from kubemigrate.domain.migrations import (
    Action,
    AppliedMigration,
    Direction,
    Environment,
    Migration,
    Place,
    Plan,
    Step,
    Unlisted,
    Written,
)
from kubemigrate.domain.planning import FindingKind

AT = datetime(2025, 1, 29, 10, 15, 23)


def files(*names: str) -> tuple[Migration, ...]:
    return tuple(
        Migration(
            name=f"{n}.sql",
            up_sql=f"CREATE TABLE {n[5:]} (id int);",
            down_sql=f"DROP TABLE {n[5:]};",
        )
        for n in names
    )


def applied(
    migration: Migration,
    batch: int = 1,
    *,
    rollback_sql: str | None = "",
    checksum: str | None = "",
) -> AppliedMigration:
    return AppliedMigration(
        name=migration.name,
        applied_at=AT,
        checksum=migration.checksum if checksum == "" else checksum,
        batch=batch,
        rollback_sql=migration.down_sql if rollback_sql == "" else rollback_sql,
    )


FILES = files("0000_a", "0001_b", "0002_c", "0003_d", "0004_e")


# -- pending and migrate ------------------------------------------------------


def test_pending_keeps_file_order() -> None:
    assert planning.pending(FILES, [applied(FILES[0]), applied(FILES[1])]) == list(FILES[2:])


def test_plan_migrate_everything_pending_as_one_batch() -> None:
    plan = planning.plan_migrate(FILES, [applied(FILES[0])], next_batch=4)
    assert plan.action is Action.MIGRATE
    assert plan.batch == 4
    assert [s.name for s in plan.steps] == [m.name for m in FILES[1:]]
    step = plan.steps[0]
    assert step == Step(
        name="0001_b.sql",
        direction=Direction.UP,
        sql=FILES[1].up_sql,
        checksum=FILES[1].checksum,
        batch=4,
        rollback_sql="DROP TABLE b;",
        written=FILES[1].up_written,
    )
    assert plan.confirmation_phrase is None


def test_plan_migrate_nothing_pending() -> None:
    plan = planning.plan_migrate(FILES[:2], [applied(m) for m in FILES[:2]], next_batch=2)
    assert plan.is_empty
    assert plan.batch is None


@pytest.mark.parametrize("target", ["0002_c", "0002_c.sql"])
def test_plan_migrate_up_to_target(target: str) -> None:
    plan = planning.plan_migrate(FILES, [applied(FILES[0])], next_batch=2, target=target)
    assert [s.name for s in plan.steps] == ["0001_b.sql", "0002_c.sql"]


def test_plan_migrate_target_already_applied_is_a_no_op() -> None:
    plan = planning.plan_migrate(
        FILES, [applied(FILES[0]), applied(FILES[1])], next_batch=2, target="0000_a"
    )
    assert plan.is_empty


def test_plan_migrate_unknown_target() -> None:
    with pytest.raises(UsageError, match="'0009_z' is not a migration") as info:
        planning.plan_migrate(FILES, [], next_batch=1, target="0009_z")
    assert info.value.exit_code is ExitCode.USAGE


def test_plan_baseline_records_the_migrate_steps() -> None:
    plan = planning.plan_baseline(FILES, [], next_batch=1, target="0001_b")
    assert plan.action is Action.BASELINE
    assert [s.name for s in plan.steps] == ["0000_a.sql", "0001_b.sql"]
    assert plan.batch == 1


# -- integrity ----------------------------------------------------------------


def test_integrity_clean() -> None:
    assert planning.check_integrity(FILES, [applied(m) for m in FILES[:3]]) == []


def test_integrity_edited() -> None:
    row = applied(FILES[0], checksum="0" * 64)
    [finding] = planning.check_integrity(FILES, [row])
    assert finding.kind is FindingKind.EDITED
    assert finding.migration == "0000_a.sql"
    assert finding.detail == (
        f"changed after it was applied (checksum {'0' * 12}… recorded, "
        f"{FILES[0].checksum[:12]}… on disk)"
    )


def test_integrity_row_without_checksum_is_not_an_edit() -> None:
    assert planning.check_integrity(FILES, [applied(FILES[0], checksum=None)]) == []


def test_integrity_missing() -> None:
    gone = Migration(name="0000_gone.sql", up_sql="SELECT 1;")
    findings = planning.check_integrity(FILES, [applied(gone), applied(FILES[0])])
    assert [(f.kind, f.migration, f.detail) for f in findings] == [
        (FindingKind.MISSING, "0000_gone.sql", "applied, but its file is gone")
    ]


def test_integrity_out_of_order() -> None:
    findings = planning.check_integrity(FILES, [applied(FILES[0]), applied(FILES[2])])
    assert [(f.kind, f.migration) for f in findings] == [(FindingKind.OUT_OF_ORDER, "0001_b.sql")]
    assert str(findings[0]) == (
        "0001_b.sql: out-of-order: pending, but older than the applied 0002_c.sql"
    )


def test_plan_migrate_refuses_on_findings_with_every_reason_named() -> None:
    rows = [
        applied(FILES[0], checksum="f" * 64),
        applied(FILES[2]),
        applied(Migration("0009_x.sql", "SELECT 1;")),
    ]
    with pytest.raises(IntegrityError) as info:
        planning.plan_migrate(FILES, rows, next_batch=2)
    error = info.value
    assert error.exit_code is ExitCode.INTEGRITY
    assert error.reason == "IntegrityCheckFailed"
    assert error.message.startswith(
        "Integrity check failed; nothing was run:\n  - 0000_a.sql: edited"
    )
    assert [f["kind"] for f in error.details["findings"]] == ["edited", "missing", "out_of_order"]
    assert error.hint is not None
    assert "kubemigrate repair --accept-checksum NAME" in error.hint
    assert "restore the missing file" in error.hint
    assert "out-of-order" in error.hint


# -- rollback -----------------------------------------------------------------


def batches() -> list[AppliedMigration]:
    return [
        applied(FILES[0], 1),
        applied(FILES[1], 1),
        applied(FILES[2], 2),
        applied(FILES[3], 3),
        applied(FILES[4], 3),
    ]


def test_rollback_last_batch_newest_first() -> None:
    plan = planning.plan_rollback(batches(), FILES)
    assert plan.action is Action.ROLLBACK
    assert [(s.name, s.direction, s.batch) for s in plan.steps] == [
        ("0004_e.sql", Direction.DOWN, 3),
        ("0003_d.sql", Direction.DOWN, 3),
    ]
    assert plan.steps[0].sql == "DROP TABLE e;"
    assert plan.batch == 3
    assert plan.batches == (3,)
    assert plan.confirmation_phrase == "rollback-batch-3"


def test_rollback_steps() -> None:
    plan = planning.plan_rollback(batches(), FILES, steps=2)
    assert [s.name for s in plan.steps] == ["0004_e.sql", "0003_d.sql", "0002_c.sql"]
    assert plan.batches == (3, 2)
    assert plan.batch is None
    assert plan.confirmation_phrase == "rollback-batches-2-to-3"


def test_rollback_more_steps_than_batches_undoes_everything() -> None:
    plan = planning.plan_rollback(batches(), FILES, steps=10)
    assert len(plan.steps) == 5


@pytest.mark.parametrize("target", ["0001_b", "0001_b.sql"])
def test_rollback_to_target_keeps_the_target(target: str) -> None:
    plan = planning.plan_rollback(batches(), FILES, target=target)
    assert [s.name for s in plan.steps] == ["0004_e.sql", "0003_d.sql", "0002_c.sql"]


def test_rollback_target_not_applied() -> None:
    with pytest.raises(UsageError, match="not applied"):
        planning.plan_rollback(batches()[:2], FILES, target="0003_d")


def test_rollback_steps_and_target_together() -> None:
    with pytest.raises(UsageError, match="either --steps or --target"):
        planning.plan_rollback(batches(), FILES, steps=1, target="0000_a")


def test_rollback_steps_below_one() -> None:
    with pytest.raises(UsageError):
        planning.plan_rollback(batches(), FILES, steps=0)


def test_rollback_nothing_applied() -> None:
    plan = planning.plan_rollback([], FILES)
    assert plan.is_empty
    assert plan.confirmation_phrase is None


def test_reset_undoes_everything() -> None:
    plan = planning.plan_rollback(batches(), FILES, everything=True)
    assert plan.action is Action.RESET
    assert [s.name for s in plan.steps] == [m.name for m in reversed(FILES)]


def test_stored_rollback_sql_wins_over_the_file() -> None:
    row = applied(FILES[0], rollback_sql="DROP TABLE a_as_stored;")
    changed = (Migration(name="0000_a.sql", up_sql=FILES[0].up_sql, down_sql="SELECT 'edited';"),)
    [step] = planning.plan_rollback([row], changed).steps
    assert step.sql == "DROP TABLE a_as_stored;"


def test_file_down_sql_fills_in_when_nothing_was_stored() -> None:
    [step] = planning.plan_rollback([applied(FILES[0], rollback_sql=None)], FILES).steps
    assert step.sql == "DROP TABLE a;"


def test_a_rollback_step_is_placed_in_its_down_file_only_while_that_holds_its_sql() -> None:
    """A failure's line in a down file that has changed would point at other SQL: the
    stored SQL then stands in no file, and says why."""
    [same] = planning.plan_rollback([applied(FILES[0])], FILES).steps
    assert same.written == FILES[0].down_written == Written("0000_a.down.sql")
    row = applied(FILES[0], rollback_sql="DROP TABLE a_as_stored;")
    [changed] = planning.plan_rollback([row], FILES).steps
    [no_down] = planning.plan_rollback([row], (Migration("0000_a.sql", "SELECT 1;"),)).steps
    [gone] = planning.plan_rollback([row], FILES[1:]).steps
    stored = "the rollback SQL stored when it was applied"
    assert [s.written and (s.written.file, s.written.label) for s in (changed, no_down, gone)] == [
        ("", f"{stored} (0000_a.down.sql has changed since)"),
        ("", f"{stored} (0000_a.down.sql is gone)"),
        ("", f"{stored} (0000_a.sql is no longer in the folder)"),
    ]
    label = f"{stored} (0000_a.down.sql has changed since)"
    assert changed.place(len("DROP TABLE ")) == Place(1, 12, "", f" of {label}")


def test_rollback_without_any_sql_is_refused() -> None:
    rows = [applied(FILES[0], rollback_sql=None), applied(FILES[1], rollback_sql="  \n")]
    with pytest.raises(
        UsageError, match=r"No rollback SQL for: 0000_a\.sql, 0001_b\.sql; nothing was rolled back"
    ) as refused:
        planning.plan_rollback(rows, [Migration(r.name, "CREATE TABLE t ();") for r in rows])
    # drizzle-kit generate writes no down: one can be inferred
    assert (refused.value.hint or "").endswith(
        "; or have kubemigrate infer them from the up SQL: `kubemigrate generate-downs "
        "0000_a 0001_b`"
    )


def test_generate_downs_is_offered_only_where_it_writes() -> None:
    """It writes no Flyway undo script or dbmate section, and needs the up file."""
    flyway = Migration("V1__a.sql", "CREATE TABLE a ();", down_file="U1__a.sql")
    dbmate = Migration(
        "20240101000000_b.sql", "CREATE TABLE b ();", down_file="the '-- migrate:down' section"
    )
    gone = Migration("0000_gone.sql", "CREATE TABLE c ();")
    rows = [applied(m, rollback_sql=None) for m in (flyway, dbmate, gone)]
    for available in ([flyway, dbmate], []):
        with pytest.raises(UsageError, match="No rollback SQL for") as refused:
            planning.plan_rollback(rows, available)
        assert "generate-downs" not in (refused.value.hint or "")


GENERATED_NOTE = (
    "-- kubemigrate could not invert these statements; write their rollback by hand:\n"
    "--   line 1: ALTER TABLE a DROP COLUMN name (data cannot be restored)\n"
    "/* a block comment */\n"
)


def test_a_down_of_comments_alone_counts_as_no_rollback() -> None:
    """Running it would change nothing and drop the tracking row: the next migrate
    would then re-apply onto a schema that still has the change."""
    note_only = Migration(name="0000_a.sql", up_sql=FILES[0].up_sql, down_sql=GENERATED_NOTE)
    with pytest.raises(UsageError, match=r"No rollback SQL for: 0000_a\.sql") as refused:
        planning.plan_rollback([applied(note_only)], [note_only])
    assert "a down of comments alone counts as none" in (refused.value.hint or "")


def test_a_down_that_says_nothing_is_to_undo_is_a_rollback() -> None:
    """A VACUUM's down: no statement, on purpose; the whole batch's rollback was refused."""
    from kubemigrate.domain.migrations import NOTHING_TO_UNDO

    vacuum = Migration(name="0000_a.sql", up_sql="VACUUM t;", down_sql=f"{NOTHING_TO_UNDO}\n")
    [step] = planning.plan_rollback([applied(vacuum)], [vacuum]).steps
    assert step.sql == f"{NOTHING_TO_UNDO}\n"


def test_a_down_written_after_apply_fills_in_for_a_stored_one_of_comments_alone() -> None:
    written = Migration(
        name="0000_a.sql", up_sql=FILES[0].up_sql, down_sql="ALTER TABLE a ADD COLUMN name text;"
    )
    [step] = planning.plan_rollback(
        [applied(written, rollback_sql=GENERATED_NOTE)], [written]
    ).steps
    assert step.sql == "ALTER TABLE a ADD COLUMN name text;"


def test_sql_after_comments_or_in_an_unclosed_comment_counts_as_sql() -> None:
    for text in ("-- why\nDROP TABLE a; -- done", "/* unclosed DROP TABLE a;"):
        [step] = planning.plan_rollback([applied(FILES[0], rollback_sql=text)], ()).steps
        assert step.sql == text


# -- safety -------------------------------------------------------------------


def rollback_plan() -> Plan:
    return planning.plan_rollback(batches(), FILES)


def test_production_rollback_without_confirmation() -> None:
    with pytest.raises(ConfirmationRequired) as info:
        planning.enforce_safety(rollback_plan(), Environment.PRODUCTION)
    error = info.value
    assert error.exit_code is ExitCode.REFUSED
    assert error.details["confirmation"] == "rollback-batch-3"
    assert error.details["planned"] == ["0004_e.sql", "0003_d.sql"]
    assert error.hint == "re-run with --confirm rollback-batch-3"
    assert "0004_e.sql, 0003_d.sql" in error.message


def test_production_rollback_with_a_stale_phrase() -> None:
    with pytest.raises(ConfirmationRequired, match="does not match") as info:
        planning.enforce_safety(rollback_plan(), Environment.PRODUCTION, confirm="rollback-batch-2")
    assert info.value.details["confirmation"] == "rollback-batch-3"


def test_production_rollback_with_the_phrase() -> None:
    planning.enforce_safety(rollback_plan(), Environment.PRODUCTION, confirm="rollback-batch-3")


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.STAGING])
def test_rollback_outside_production_needs_no_phrase(environment: Environment) -> None:
    planning.enforce_safety(rollback_plan(), environment)


def test_a_retried_rollback_is_confirmed_by_the_phrase_of_the_whole_run() -> None:
    """A Job's first Pod undid batch 3 of ``--steps 2`` (2 and 3), then exited 75: its
    retry, with the same phrase, has batch 2 left to undo."""
    left = planning.plan_rollback(batches()[:3], FILES, steps=1)
    assert left.confirmation_phrase == "rollback-batch-2"
    undone = planning.Undone(batches=(3,))
    planning.enforce_safety(
        left, Environment.PRODUCTION, confirm="rollback-batches-2-to-3", undone=undone
    )
    # the plan's own phrase still does; another run (nothing undone) needs it
    planning.enforce_safety(left, Environment.PRODUCTION, confirm="rollback-batch-2", undone=undone)
    with pytest.raises(ConfirmationRequired):
        planning.enforce_safety(left, Environment.PRODUCTION, confirm="rollback-batches-2-to-3")


def test_the_phrase_of_the_whole_run_never_confirms_a_batch_it_did_not_name() -> None:
    """Batch 4 applied between the attempts: the retry's plan is batch 4 now."""
    newer = [*batches()[:3], applied(FILES[3], 4)]
    plan = planning.plan_rollback(newer, FILES, steps=1)
    with pytest.raises(ConfirmationRequired) as info:
        planning.enforce_safety(
            plan,
            Environment.PRODUCTION,
            confirm="rollback-batches-2-to-3",
            undone=planning.Undone(batches=(3,)),
        )
    message = info.value.message
    assert "An earlier attempt of this run (the same run id) undid batch 3 already." in message
    assert "Nothing more was rolled back. It would undo: 0003_d.sql." in message
    assert info.value.details["confirmation"] == "rollback-batch-4"


def test_the_phrase_of_the_whole_run_says_what_earlier_attempts_undid_was_baselined() -> None:
    left = planning.plan_rollback(batches()[:3], FILES, steps=1)
    undone = planning.Undone(batches=(3,), baselined=("0003_d.sql",))
    with pytest.raises(ConfirmationRequired):
        planning.enforce_safety(
            left, Environment.PRODUCTION, confirm="rollback-batches-2-to-3", undone=undone
        )
    planning.enforce_safety(
        left,
        Environment.PRODUCTION,
        confirm="rollback-batches-2-to-3-with-baselined",
        undone=undone,
    )


def test_empty_production_rollback_needs_no_phrase() -> None:
    planning.enforce_safety(planning.plan_rollback([], FILES), Environment.PRODUCTION)


def test_production_migrate_is_allowed() -> None:
    planning.enforce_safety(planning.plan_migrate(FILES, [], next_batch=1), Environment.PRODUCTION)


@pytest.mark.parametrize("force", [False, True])
def test_reset_refused_in_production(force: bool) -> None:
    plan = planning.plan_rollback(batches(), FILES, everything=True)
    with pytest.raises(SafetyRefusal, match="refused in production") as info:
        planning.enforce_safety(
            plan, Environment.PRODUCTION, force=force, confirm=plan.confirmation_phrase
        )
    assert info.value.exit_code is ExitCode.REFUSED


def test_reset_in_staging_needs_force() -> None:
    plan = planning.plan_rollback(batches(), FILES, everything=True)
    with pytest.raises(SafetyRefusal, match="needs --force"):
        planning.enforce_safety(plan, Environment.STAGING)
    planning.enforce_safety(plan, Environment.STAGING, force=True)
    planning.enforce_safety(plan, Environment.DEVELOPMENT)


def test_strictest_environment_wins() -> None:
    assert (
        Environment.strictest(Environment.DEVELOPMENT, None, Environment.PRODUCTION)
        is Environment.PRODUCTION
    )
    assert Environment.strictest() is Environment.DEVELOPMENT


# -- renamed files (drizzle-kit up) -------------------------------------------


def _moved(old: Migration, folder: str) -> Migration:
    return Migration(name=f"{folder}.sql", up_sql=old.up_sql, down_sql=old.down_sql)


def test_a_file_moved_with_the_same_sql_is_a_rename_not_a_missing_file() -> None:
    old = files("0000_a", "0001_b")
    new = (_moved(old[0], "20240101120000_a"), _moved(old[1], "20240102120000_b"))
    rows = [applied(old[0]), applied(old[1])]
    assert planning.renamed(new, rows) == [
        ("0000_a.sql", "20240101120000_a.sql"),
        ("0001_b.sql", "20240102120000_b.sql"),
    ]
    findings = planning.check_integrity(new, rows)
    assert [f.kind for f in findings] == [FindingKind.RENAMED, FindingKind.RENAMED]
    error = planning.integrity_error(findings)
    assert "kubemigrate repair --accept-renames" in (error.hint or "")


def test_no_rename_without_the_same_sql_and_title() -> None:
    old = files("0000_a")
    edited = Migration(name="20240101120000_a.sql", up_sql="CREATE TABLE a (id bigint);")
    other_title = _moved(old[0], "20240101120000_z")
    rows = [applied(old[0])]
    assert planning.renamed((edited,), rows) == []
    assert planning.renamed((other_title,), rows) == []
    assert [f.kind for f in planning.check_integrity((edited,), rows)] == [FindingKind.MISSING]


def test_a_title_renamed_under_the_same_number_is_a_rename() -> None:
    """0001_add_name.sql -> 0001_add_user_name.sql, same SQL: it read as missing plus an
    out-of-order file, whose hint (sort it after the newest) ran its SQL a second time."""
    old = files("0000_a", "0001_b", "0002_c")
    new = (old[0], _moved(old[1], "0001_b_clearer"), old[2])
    rows = [applied(m) for m in old]
    assert planning.renamed(new, rows) == [("0001_b.sql", "0001_b_clearer.sql")]
    [finding] = planning.check_integrity(new, rows)
    assert finding.kind is FindingKind.RENAMED
    # Flyway's version and golang-migrate's number count the same way
    flyway = (Migration("V2__add_name.sql", "SELECT 1;"),)
    assert planning.renamed(
        (Migration("V2__add_user_name.sql", "SELECT 1;"),), [applied(flyway[0])]
    ) == [("V2__add_name.sql", "V2__add_user_name.sql")]
    golang = Migration("3_settings.up.sql", "SELECT 1;")
    assert planning.renamed((Migration("7_settings.up.sql", "SELECT 1;"),), [applied(golang)]) == [
        ("3_settings.up.sql", "7_settings.up.sql")
    ]


def test_the_same_sql_alone_is_no_rename_and_is_never_told_to_run() -> None:
    """A new number and a new title: the SQL alone cannot tell a rename from a second
    migration of the same SQL, so neither is recorded nor run; the hint never says to
    move the file after the newest applied migration."""
    old = files("0000_a", "0001_b", "0002_c")
    new = (old[0], _moved(old[1], "0005_z"), old[2])
    rows = [applied(m) for m in old]
    assert planning.renamed(new, rows) == []
    findings = planning.check_integrity(new, rows)
    assert [(f.kind, f.migration, f.same_sql) for f in findings] == [
        (FindingKind.MISSING, "0001_b.sql", ("0005_z.sql",)),
        (FindingKind.OUT_OF_ORDER, "0005_z.sql", ("0001_b.sql",)),
    ]
    assert findings[0].detail == "applied, but its file is gone; 0005_z.sql holds its SQL"
    assert findings[1].detail == (
        "pending, but older than the applied 0002_c.sql; its SQL is the applied 0001_b.sql's"
    )
    hint = planning.integrity_error(findings).hint or ""
    assert "sorts after" not in hint
    assert "restore the missing file" not in hint
    assert "0005_z.sql holds the SQL of 0001_b.sql, so it must not run" in hint
    assert "give it 0001_b.sql's number or title" in hint


def test_a_copy_of_an_applied_migration_is_told_to_be_deleted() -> None:
    old = files("0000_a", "0001_b")
    copy = _moved(old[0], "0000b_copy")
    findings = planning.check_integrity((old[0], copy, old[1]), [applied(m) for m in old])
    assert [(f.kind, f.same_sql) for f in findings] == [(FindingKind.OUT_OF_ORDER, ("0000_a.sql",))]
    hint = planning.integrity_error(findings).hint or ""
    assert hint.endswith("that SQL would run a second time): a copy, delete it")


def test_a_rename_is_recorded_only_when_it_is_certain() -> None:
    """Two files with the applied migration's SQL and number (a copy), or two applied
    migrations of the same SQL gone for one file: which is which cannot be told."""
    old = files("0000_a", "0001_b")
    rows = [applied(m) for m in old]
    twins = (old[0], _moved(old[1], "0001_b_one"), _moved(old[1], "0001_b_two"))
    assert planning.renamed(twins, rows) == []
    assert [f.kind for f in planning.check_integrity(twins, rows)] == [FindingKind.MISSING]
    same = Migration("0001_refresh.sql", "REFRESH MATERIALIZED VIEW v;")
    also = Migration("0001_refresh_again.sql", same.up_sql)
    one = Migration("0001_refresh_views.sql", same.up_sql)
    assert planning.renamed((one,), [applied(same), applied(also)]) == []
    # a number alone ("0001.sql") has no title to share
    bare = Migration("0001.sql", same.up_sql)
    assert planning.renamed((Migration("0002.sql", same.up_sql),), [applied(bare)]) == []


def _unlisted(migration: Migration) -> Unlisted:
    entry = f'{{"idx": 9, "tag": "{migration.name.removesuffix(".sql")}"}}'
    return Unlisted(migration.name, migration.checksum, "meta/_journal.json", entry)


def test_a_file_the_journal_does_not_list_fails_verify_alone_and_is_no_drift() -> None:
    """It never runs (drizzle's migrator reads only the journal too): migrate lets it be,
    verify, the CI gate, names it and how to list it. The database is as the journal
    says, so the drift gauge stays 0."""
    handmade = Migration("0001_handmade.sql", "CREATE TABLE hand (id int);")
    listed, rows = FILES[:1], [applied(FILES[0])]
    stray = (_unlisted(handmade),)
    assert planning.check_integrity(listed, rows, unlisted=stray) == []
    assert planning.plan_migrate(listed, rows, next_batch=2, unlisted=stray).steps == ()
    [finding] = planning.check_integrity(listed, rows, unlisted=stray, strict=True)
    assert finding.kind is FindingKind.UNLISTED
    assert not finding.kind.drift
    assert str(finding) == (
        "0001_handmade.sql: unlisted: on disk, but not in meta/_journal.json, so it never "
        'runs; to run it, append {"idx": 9, "tag": "0001_handmade"} to its "entries"'
    )
    error = planning.integrity_error([finding])
    assert error.exit_code is ExitCode.INTEGRITY
    assert "`kubemigrate generate` adds entries only for the files it writes" in (error.hint or "")
    # a copy of an applied migration is never told to be listed
    copy = _unlisted(Migration("0001_copy.sql", FILES[0].up_sql))
    [finding] = planning.check_integrity(listed, rows, unlisted=(copy,), strict=True)
    assert finding.same_sql == ("0000_a.sql",)
    hint = planning.integrity_error([finding]).hint or ""
    assert "append" not in hint
    assert hint == (
        "0001_copy.sql holds the SQL of 0000_a.sql, so it must not run (listed in the "
        "journal, that SQL would run a second time): a copy, delete it"
    )


@pytest.mark.parametrize("lost", [1, 2])
def test_an_applied_migration_the_journal_lost_is_delisted(lost: int) -> None:
    """Its file is on disk; its entry was lost in a merge. It was "missing: its file is
    gone", or, the last one, a newer version's that migrate let be."""
    rows = [applied(m) for m in FILES[:3]]
    available = tuple(m for i, m in enumerate(FILES) if i != lost)
    stray = (_unlisted(FILES[lost]),)
    assert planning.ahead(available, rows, stray) == []
    [finding] = planning.check_integrity(available, rows, unlisted=stray)
    assert (finding.kind, finding.migration) == (FindingKind.DELISTED, FILES[lost].name)
    assert finding.kind.drift
    assert finding.detail == (
        "applied, but meta/_journal.json no longer lists it (its file is on disk): an entry "
        "lost in a merge?"
    )
    with pytest.raises(IntegrityError) as info:
        planning.plan_migrate(available, rows, next_batch=2, unlisted=stray)
    assert "put each delisted migration's entry back in the journal as it was" in (
        info.value.hint or ""
    )
    assert planning.unlisted_warnings(stray, available, rows) == ()  # the finding says it


# -- baseline -----------------------------------------------------------------


def test_baseline_without_target_takes_what_drizzle_recorded_in_order() -> None:
    recorded = frozenset({FILES[0].name, FILES[1].name})
    plan = planning.plan_baseline(FILES, [], next_batch=1, recorded=recorded, recorded_count=2)
    assert [s.name for s in plan.steps] == ["0000_a.sql", "0001_b.sql"]
    nothing = planning.plan_baseline(FILES, [], next_batch=1, recorded=frozenset())
    assert nothing.steps == ()
    everything = planning.plan_baseline(FILES, [], next_batch=1)
    assert len(everything.steps) == len(FILES)


def test_baseline_refuses_a_history_with_a_gap() -> None:
    """The tool ran 0003 but not 0002 (merged later): stopping at the gap would leave
    0003 pending, and migrate would run it a second time."""
    recorded = frozenset({FILES[0].name, FILES[1].name, FILES[3].name})
    with pytest.raises(
        IntegrityError, match=r"records 0003_d\.sql as run, but not 0002_c\.sql"
    ) as gap:
        planning.plan_baseline(FILES, [], next_batch=1, recorded=recorded, recorded_count=3)
    # drizzle's 0.x migrator never runs a migration older than its newest: by hand it is
    assert gap.value.hint is not None
    assert gap.value.hint.startswith(
        "run 0002_c.sql's SQL by hand, then `kubemigrate baseline --target 0003_d.sql`"
    )
    with pytest.raises(IntegrityError) as dbmate:
        planning.plan_baseline(
            FILES, [], next_batch=1, recorded=recorded, recorded_count=3, recorded_by="dbmate"
        )
    assert dbmate.value.hint is not None
    assert "`dbmate up` runs what is missing" in dbmate.value.hint


def test_baseline_refuses_when_drizzle_ran_sql_no_file_has_any_more() -> None:
    """A file edited after drizzle ran it: drizzle's row matches nothing, so where drizzle
    stopped cannot be told, and guessing would run applied SQL again."""
    recorded = frozenset({FILES[0].name})  # drizzle holds 3 rows; 2 match no file
    with pytest.raises(IntegrityError, match="lists 3 migration"):
        planning.plan_baseline(FILES, [], next_batch=1, recorded=recorded, recorded_count=3)
    with_target = planning.plan_baseline(
        FILES, [], next_batch=1, target="0002_c", recorded=recorded, recorded_count=3
    )
    assert [s.name for s in with_target.steps][-1] == "0002_c.sql"


def test_baseline_refusals_name_the_table_drizzle_s_history_was_found_in() -> None:
    """drizzle's migrator writes where migrationsSchema/migrationsTable say: the
    refusals and the hint's query named drizzle.__drizzle_migrations whatever table
    the history was read from."""
    table = '"Billing".migrations'
    with pytest.raises(IntegrityError) as mismatch:
        planning.plan_baseline(
            FILES,
            [],
            next_batch=1,
            recorded=frozenset({FILES[0].name}),
            recorded_count=3,
            history_table=table,
        )
    assert mismatch.value.message.startswith(f"{table} (drizzle's history) lists 3 migration")
    assert f"`SELECT created_at FROM {table}`" in (mismatch.value.hint or "")
    assert "__drizzle_migrations" not in str(mismatch.value)
    recorded = frozenset({FILES[0].name, FILES[3].name})
    with pytest.raises(IntegrityError) as gap:
        planning.plan_baseline(
            FILES, [], next_batch=1, recorded=recorded, recorded_count=2, history_table=table
        )
    assert gap.value.message.startswith(f"{table} (drizzle's history) records 0003_d.sql")


def test_a_production_baseline_needs_a_target_or_drizzle_s_table() -> None:
    with pytest.raises(SafetyRefusal, match="needs --target NAME"):
        planning.check_baseline(Environment.PRODUCTION, target=None, recorded=None)
    planning.check_baseline(Environment.PRODUCTION, target="0001_b", recorded=None)
    planning.check_baseline(Environment.PRODUCTION, target=None, recorded=frozenset())
    planning.check_baseline(Environment.STAGING, target=None, recorded=None)


def test_every_applied_file_missing_because_none_was_read_says_so() -> None:
    applied = [
        AppliedMigration(
            name=m.name, applied_at=None, checksum=m.checksum, batch=1, rollback_sql=None
        )
        for m in FILES
    ]
    with pytest.raises(IntegrityError) as refused:
        planning.plan_migrate([], applied, next_batch=2)
    assert refused.value.hint is not None
    assert refused.value.hint.startswith(
        "no migration file was read at all: check --dir and --format"
    )


def test_a_down_generate_could_not_finish_is_not_run_half() -> None:
    """Run as it is, it undoes part of the migration: a batch rollback stops midway."""
    down = planning.UNFINISHED_DOWN + "\n--   line 3: UPDATE t SET a = 1\n\nDROP TABLE t;\n"
    applied = [
        AppliedMigration(
            name="0000_a.sql", applied_at=None, checksum="x", batch=1, rollback_sql=down
        )
    ]
    with pytest.raises(UsageError, match=r"still what generate .* wrote") as refused:
        planning.plan_rollback(applied)
    assert "record the finished file with `kubemigrate repair --accept-down NAME`" in (
        refused.value.hint or ""
    )
    # written after it was applied (generate-downs), nothing stored: the file is run
    unstored = [replace(applied[0], rollback_sql=None)]
    in_file = [Migration(name="0000_a.sql", up_sql="CREATE TABLE t (a int);", down_sql=down)]
    with pytest.raises(UsageError, match=r"still what generate .* wrote") as refused:
        planning.plan_rollback(unstored, in_file)
    assert refused.value.hint == (
        "write their rollback by hand in 0000_a.down.sql and delete that note; a rollback "
        "then runs the file as it is (no SQL was stored at apply time)"
    )
    finished = down.replace(planning.UNFINISHED_DOWN, "-- reviewed")
    ok = [
        AppliedMigration(
            name="0000_a.sql", applied_at=None, checksum="x", batch=1, rollback_sql=finished
        )
    ]
    assert [s.name for s in planning.plan_rollback(ok).steps] == ["0000_a.sql"]


def test_a_target_two_files_share_is_refused_naming_both() -> None:
    available = [Migration("0003_a.sql", "SELECT 1;"), Migration("0003_b.sql", "SELECT 2;")]
    with pytest.raises(UsageError, match=r"names 2 migrations: 0003_a\.sql, 0003_b\.sql"):
        planning.plan_migrate(available, [], next_batch=1, target="3")
    plan = planning.plan_migrate(available, [], next_batch=1, target="0003_a")
    assert [s.name for s in plan.steps] == ["0003_a.sql"]


# -- a down file written after the migration was applied (generate-downs) -----

NEW_DOWN = "DROP TABLE a;\n"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, planning.NewDown.USED),  # applied with no down file: the file is used
        ("", planning.NewDown.USED),
        ("-- Write the SQL that undoes the up migration here\n", planning.NewDown.USED),
        ("DROP TABLE a;", planning.NewDown.SAME),  # line endings and spacing aside
        ("DROP TABLE a CASCADE;", planning.NewDown.STORED),
        ("-- kubemigrate:nothing-to-undo\n", planning.NewDown.STORED),
    ],
)
def test_what_a_rollback_runs_once_a_down_file_is_written(
    stored: str | None, expected: planning.NewDown
) -> None:
    """A rollback runs the SQL stored at apply time when it is usable, else the file:
    generate-downs says which, as plan_rollback decides it."""
    migration = Migration(name="0000_a.sql", up_sql="CREATE TABLE a (id int);")
    row = applied(migration, rollback_sql=stored)
    assert planning.new_down("0000_a.sql", NEW_DOWN, [row]) is expected
    with_file = Migration(name="0000_a.sql", up_sql=migration.up_sql, down_sql=NEW_DOWN)
    plan = planning.plan_rollback([row], [with_file])
    ran_file = plan.steps[0].sql.strip() == NEW_DOWN.strip()
    assert ran_file is (expected in (planning.NewDown.USED, planning.NewDown.SAME))


def test_a_down_file_for_a_pending_migration_is_what_migrate_stores() -> None:
    assert planning.new_down("0001_b.sql", NEW_DOWN, [applied(FILES[0])]) is (
        planning.NewDown.PENDING
    )


def test_a_stored_down_of_comments_alone_is_no_changed_down() -> None:
    """status warned that a rollback runs the stored SQL, not the file, and to run
    repair --accept-down: a stored text of comments alone is none, and a rollback runs
    the file already."""
    migration = Migration(name="0000_a.sql", up_sql="CREATE TABLE a (id int);", down_sql=NEW_DOWN)
    comments = applied(migration, rollback_sql="-- Write the SQL that undoes it here\n")
    other = applied(migration, rollback_sql="DROP TABLE a CASCADE;")
    assert planning.changed_downs([migration], [comments]) == []
    assert planning.changed_downs([migration], [other]) == ["0000_a.sql"]
