"""Apply, roll back, reset, repair and baseline: plans run against the store.

The runner owns the order of operations that makes runs safe together: take the
lock, re-read the applied list, check integrity and analyse every file, and only
then run the first statement. Observers (progress bar, log lines, metrics) are
told about each step; the runner knows nothing of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import psycopg

from kubemigrate.domain import histories, planning, versions
from kubemigrate.domain.dirty import dirty_error
from kubemigrate.domain.errors import (
    IntegrityError,
    Interrupted,
    InvalidIndexError,
    KubemigrateError,
    MigrationFailed,
    NotAdopted,
    PermissionDenied,
    SafetyRefusal,
    UsageError,
)
from kubemigrate.domain.migrations import (
    Action,
    Direction,
    Environment,
    Migration,
    Plan,
    Step,
)
from kubemigrate.domain.outcome import Counts, MigrationResult, Outcome
from kubemigrate.engine import report, sources
from kubemigrate.engine.postgres import (
    DoneRecord,
    PostgresStore,
    StepFailed,
    StepsInterrupted,
    StepSql,
    StoreState,
)
from kubemigrate.engine.preparing import (
    PreparedStep,
    concurrent_index,
    destroys_data,
    index_builds,
    invalid_index_note,
    prepare,
)
from kubemigrate.engine.report import StatusReport
from kubemigrate.engine.sources import Source

if TYPE_CHECKING:
    from kubemigrate.domain.sql import IndexBuild


class Observer(Protocol):
    """Watches a run without the runner knowing who watches."""

    def lock_wait(self, holder: str | None) -> None: ...
    def plan_ready(self, plan: Plan) -> None: ...
    def step_started(self, step: Step, index: int, total: int) -> None: ...
    def step_finished(self, step: Step, duration_ms: float) -> None: ...
    def step_failed(self, step: Step, error: KubemigrateError, duration_ms: float) -> None: ...
    def notice(self, severity: str, message: str, migration: str | None = None) -> None: ...


class QuietObserver:
    """The default observer: sees everything, says nothing."""

    def lock_wait(self, holder: str | None) -> None:
        pass

    def plan_ready(self, plan: Plan) -> None:
        pass

    def step_started(self, step: Step, index: int, total: int) -> None:
        pass

    def step_finished(self, step: Step, duration_ms: float) -> None:
        pass

    def step_failed(self, step: Step, error: KubemigrateError, duration_ms: float) -> None:
        pass

    def notice(self, severity: str, message: str, migration: str | None = None) -> None:
        pass


@dataclass(frozen=True)
class RunOptions:
    environment: Environment = Environment.DEVELOPMENT
    target: str | None = None
    steps: int | None = None
    dry_run: bool = False
    confirm: str | None = None
    force: bool = False
    lock_wait_s: float = 60.0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    drizzle_table: histories.TableName | None = None
    """Where drizzle's migrator keeps its history (``--drizzle-table``); None: found."""


@dataclass(frozen=True)
class _Recorded:
    """What the folder's previous tool recorded as run (see ``Runner._recorded_by_tool``)."""

    tool: str
    names: frozenset[str]
    """The folder's files its history records."""
    count: int
    """How many files its history stands for (more than ``names``: some match no file)."""
    table: histories.TableName | None = None
    """drizzle's table, where it was found; the other tools' are at their fixed names."""
    named: bool = False
    """The table was named (``--drizzle-table``), not found."""
    shown: str = ""
    """How messages name the table, when not as ``table`` writes it."""
    checksums: Mapping[str, int] = field(default_factory=dict)
    """Flyway's checksum of each version's script as it ran."""

    @property
    def where(self) -> str:
        if self.shown:
            return self.shown
        return str(self.table) if self.table else planning.HISTORY_TABLES[self.tool]


# Transactional migrations sent in one pipeline before results are read; bounded so
# that a progress bar and log lines still move during a long batch.
_PIPELINE_GROUP = 50


def _dirty_error(state: StoreState) -> KubemigrateError:
    """The refusal of the state's dirty mark, which reads differently for a migration
    still recorded as applied (a rollback's)."""
    return dirty_error(state.dirty, (row.name for row in state.applied))


def _invalid_index(name: str, migrations: Sequence[str]) -> InvalidIndexError:
    """What ``status`` warns and ``verify`` fails with for the INVALID index ``name``,
    which the applied ``migrations`` build CONCURRENTLY. They do not run again, so the
    way out is by hand: a failed REINDEX CONCURRENTLY's copy is dropped, any other
    index rebuilt in place."""
    leftover = re.search(r"_cc(?:new|old)\d*\"?$", name) is not None
    fix = (
        f"drop it, the copy a failed REINDEX CONCURRENTLY left: `DROP INDEX CONCURRENTLY {name};`"
        if leftover
        else f"rebuild it: `REINDEX INDEX CONCURRENTLY {name};` (for a UNIQUE index, remove "
        "the duplicate keys first), or drop it (`DROP INDEX CONCURRENTLY "
        f"{name};`) and run the statement that builds it again by hand"
    )
    return InvalidIndexError(
        f"{name}, which {', '.join(migrations)} "
        f"({'applied' if len(migrations) == 1 else 'all applied'}) "
        f"build{'s' if len(migrations) == 1 else ''} CONCURRENTLY, is INVALID: a failed "
        "build left it so, and PostgreSQL uses no INVALID index (a UNIQUE one enforces "
        "nothing).",
        hint=f"{fix}; an applied migration does not run again, so migrate will not",
        migration=migrations[0],
        index=name,
    )


def _invalid_indexes(found: Sequence[InvalidIndexError]) -> InvalidIndexError:
    """``verify``'s one error for the INVALID indexes ``found``: the first said whole."""
    if len(found) == 1:
        return found[0]
    first = found[0]
    more = ", ".join(str(e.details["index"]) for e in found[1:])
    return InvalidIndexError(
        f"{first.message} So {'is' if len(found) == 2 else 'are'} {more}.",
        hint=f"{first.hint}; the same for {more} (`kubemigrate status` says each)",
        migration=first.details.get("migration"),
        index=first.details["index"],
        indexes=[e.details["index"] for e in found],
    )


def _nothing() -> None:
    pass


def _result(step: Step, duration_ms: float) -> MigrationResult:
    return MigrationResult(
        name=step.name,
        direction=str(step.direction),
        checksum=step.checksum,
        durationMs=round(duration_ms, 3),
    )


class Runner:
    """One engine run against one database and one source directory."""

    def __init__(
        self,
        store: PostgresStore,
        source: Source,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.observer: Observer = observer or QuietObserver()
        self._running = False
        """Whether a changing run has begun executing its plan (an interruption is audited)."""
        self._earlier: list[DoneRecord] = []
        """What earlier attempts of the run (its run id) did, for its result to report."""
        self._unconfirmed = False
        """The run was interrupted while the server could not be reached: what it
        committed is unknown (``StepsInterrupted.unconfirmed``)."""

    # -- read-only -----------------------------------------------------------

    def state(
        self,
        *,
        with_rollbacks: bool = False,
        with_invalid_indexes: bool = False,
        with_holder: bool = False,
    ) -> StoreState:
        return self.store.read_state(
            with_rollbacks=with_rollbacks,
            with_invalid_indexes=with_invalid_indexes,
            with_holder=with_holder,
        )

    def report(self) -> tuple[StatusReport, StoreState]:
        """The status report as things stand, with the state it was built from."""
        state = self.state(with_rollbacks=True, with_invalid_indexes=True, with_holder=True)
        available, unlisted = self.source.migrations, self.source.unlisted
        built = report.build(
            available,
            state.applied,
            rollbacks=state.rollbacks,
            dirty=state.dirty,
            running=state.running,
            holder=state.holder,
            warnings=(
                *self._source_warnings(state),
                *(
                    planning.changed_down_warning(name, available)
                    for name in planning.changed_downs(available, state.applied)
                ),
                *filter(None, [planning.ahead_warning(available, state.applied, unlisted)]),
                *self._adoption_warnings(state),
                *(f"{e.message.removesuffix('.')}; {e.hint}" for e in self._invalid(state)),
                *self._under_way(state),
            ),
            unlisted=unlisted,
        )
        return built, state

    @staticmethod
    def _under_way(state: StoreState) -> tuple[str, ...]:
        """Another run holds the migration lock: what it applies in a transaction shows
        only once that commits, so a status beside a long backfill listed it pending and
        said nothing of the run (one outside a transaction is said by its mark)."""
        if state.holder is None or state.running:
            return ()
        return (
            f"a run holds the migration lock now: {state.holder}; what it applies shows "
            "here once it commits",
        )

    def _invalid(self, state: StoreState) -> list[InvalidIndexError]:
        """The INVALID indexes applied migrations built CONCURRENTLY, each said as
        ``verify`` fails on it: recorded as applied before kubemigrate checked its builds,
        or by a ``baseline`` after a build by hand failed unnoticed. Only the indexes the
        applied files name are kubemigrate's to report: an unnamed build or a REINDEX
        TABLE names none, and another application's INVALID index on that table is not
        the migration's (a migrate checks them, right after its statements). The state says
        whether any index is INVALID at all (a column of a query it reads anyway); only
        then are the applied files that say CONCURRENTLY parsed and their indexes looked
        up, in one query, so a status of 1000 applied migrations pays nothing more. Not
        while a migration runs outside a transaction (``running``): the index it is
        building is INVALID until it is done."""
        if not state.invalid_indexes or state.running:
            return []
        files = {m.name: m for m in self.source.migrations}
        renamed = dict(planning.renamed(self.source.migrations, state.applied))
        builds: list[tuple[str, IndexBuild]] = []
        for row in state.applied:
            found = files.get(renamed.get(row.name, row.name))
            if found is not None:
                builds += [
                    (found.name, build)
                    for _, build in index_builds(found.up_sql)
                    if build.index is not None
                ]
        by_index: dict[str, list[str]] = {}
        for n, name in self.store.invalid_built([build for _, build in builds]):
            migrations = by_index.setdefault(name, [])
            if builds[n][0] not in migrations:
                migrations.append(builds[n][0])
        return [_invalid_index(name, migrations) for name, migrations in by_index.items()]

    def adoption_refusal(self, state: StoreState) -> KubemigrateError | None:
        """What a migrate of the pending files would be refused for because another
        tool migrated this database (``_refuse_unadopted``), found where a migrate finds
        it: ``status`` warns of it and ``verify`` fails on it, so a CI gate does not
        pass a database the deploy's migrate then refuses. Asked only with files
        pending (the report of an up-to-date database pays nothing for it)."""
        pending = [m.name for m in planning.pending(self.source.migrations, state.applied)]
        if not pending:
            return None
        try:
            self._refuse_unadopted(pending, None, applied=bool(state.applied))
        except KubemigrateError as error:  # not adopted, the old tool's dirty mark ...
            return error
        return None

    def _adoption_warnings(self, state: StoreState) -> tuple[str, ...]:
        refusal = self.adoption_refusal(state)
        if refusal is None:
            return ()
        said = refusal.message.removesuffix(" nothing was run.").removesuffix(";")
        return (f"{said}; {refusal.hint}" if refusal.hint else f"{said}.",)

    def _source_warnings(self, state: StoreState) -> tuple[str, ...]:
        """The source's warnings, with what to do about each file its journal does not
        list and the database never applied (one it applied is a ``delisted`` finding)."""
        told = planning.unlisted_warnings(
            self.source.unlisted, self.source.migrations, state.applied
        )
        return (*self.source.warnings, *told)

    def counts(self, state: StoreState) -> Counts:
        applied = {row.name for row in state.applied}
        applied |= {new for _, new in planning.renamed(self.source.migrations, state.applied)}
        total = len(self.source.migrations)
        done = sum(1 for m in self.source.migrations if m.name in applied)
        return Counts(total=total, applied=done, pending=total - done)

    def plan(self, action: Action, options: RunOptions) -> tuple[Plan, StoreState]:
        """The plan for ``action`` as things stand now (no lock, no changes)."""
        state = self.state()
        return self._plan(action, state, options), state

    def _plan(self, action: Action, state: StoreState, options: RunOptions) -> Plan:
        available = self.source.migrations
        if action is Action.MIGRATE:
            plan = planning.plan_migrate(
                available,
                state.applied,
                next_batch=state.next_batch,
                target=options.target,
                unlisted=self.source.unlisted,
            )
            if plan.steps:
                names = [step.name for step in plan.steps]
                self._refuse_unadopted(names, options.drizzle_table, applied=bool(state.applied))
            return self._destroyed_said(plan, options)
        if action is Action.BASELINE:
            return self._plan_baseline(state, options)
        if action in (Action.ROLLBACK, Action.RESET):
            steps = options.steps
            if action is Action.ROLLBACK and options.target is None:
                steps = self._steps_left(state, options)
                if steps == 0:
                    return Plan(action=Action.ROLLBACK, steps=())
            plan = planning.plan_rollback(
                state.applied,
                available,
                steps=steps,
                target=options.target,
                everything=action is Action.RESET,
            )
            if action is Action.RESET:  # rolling back everything is what a reset says
                return plan
            found = self.store.baselined([(s.name, s.batch) for s in plan.steps])
            baselined = tuple(s.name for s in plan.steps if s.name in found)
            return self._destroyed_said(dataclasses.replace(plan, baselined=baselined), options)
        raise UsageError(f"{action} has no plan")

    @staticmethod
    def _destroyed_said(plan: Plan, options: RunOptions) -> Plan:
        """A production plan with what it destroys said first (``destroys_data``): an up's
        DROP COLUMN, or a down's, which loses the values written since as surely."""
        if options.environment is not Environment.PRODUCTION or not plan.steps:
            return plan
        return dataclasses.replace(plan, warnings=(*plan.warnings, *destroys_data(plan.steps)))

    def _plan_baseline(self, state: StoreState, options: RunOptions) -> Plan:
        """What to record without running: up to ``--target``, or what the previous
        tool's history records (``_recorded_by_any_tool``), less what kubemigrate rolled
        back since, and checked against that history (a target no further than it ran,
        Flyway's checksums)."""
        if not state.applied and not self.store.has_history():
            # as a first migrate: not a second set of tables beside the folder's own
            self._refuse_elsewhere(self.source.migrations, unless_chosen=True)
        previous = None
        if options.target is None:  # a target says what to record
            previous = self._recorded_by_any_tool(options.drizzle_table)
        recorded = previous.names if previous else None
        count = previous.count if previous else 0
        undone = self.store.rolled_back(sorted(recorded)) if recorded else frozenset()
        if recorded is not None and undone:
            # that tool never learnt of kubemigrate's rollback: recorded again, they
            # would read as applied with their tables gone, and migrate never rerun them
            recorded, count = recorded - undone, count - len(undone)
        planning.check_baseline(options.environment, target=options.target, recorded=recorded)
        tool = previous.tool if previous else "drizzle"
        plan = planning.plan_baseline(
            self.source.migrations,
            state.applied,
            next_batch=state.next_batch,
            target=options.target,
            recorded=recorded,
            recorded_count=count,
            recorded_by=tool,
            history_table=previous.where if previous else None,
            unlisted=self.source.unlisted,
        )
        if options.target is not None and self.source.fmt != "drizzle":
            # by version, its history is exact (drizzle's hashes miss edited files, the
            # reason to give a target): a dirty or failed mark refuses, as without a
            # target, and so does a file it never ran
            previous = self._recorded_by_tool(None)
            if previous is not None:
                planning.check_target_recorded(
                    plan,
                    target=options.target,
                    recorded=previous.names,
                    tool=previous.tool,
                    table=previous.where,
                )
        if previous is not None and previous.checksums:
            self._refuse_edited_since(plan, previous)
        stale = tuple(
            f"{name}: {planning.tool_name(tool)}'s history lists it as run, but kubemigrate "
            "rolled it back since; not recorded (migrate runs it)"
            for name in sorted(undone)
        )
        return dataclasses.replace(plan, warnings=(*plan.warnings, *stale)) if stale else plan

    def _steps_left(self, state: StoreState, options: RunOptions) -> int | None:
        """The batches a rollback still has to undo: ``--steps`` (or the one batch) less
        those its run id has undone whole already. A Job's retry runs the same command
        again (an evicted Pod, a lock timeout), and counted from the database as it then
        is, ``--steps 2`` undid a third batch, and a plain rollback a second."""
        if options.run_id is None:
            return options.steps
        present = {row.batch for row in state.applied}
        done = self.store.batches_undone_by(options.run_id) - present
        if not done:
            return options.steps
        left = max((options.steps or 1) - len(done), 0)
        newer = sorted(b for b in present if b > min(done))
        if left and newer and options.environment is not Environment.PRODUCTION:
            # applied between the attempts: counted from the database as it now is, the
            # rest of the run would undo a batch it never meant to (in production the
            # phrase, which names the batches, refuses it; development and staging undid it)
            label = "batch" if len(newer) == 1 else "batches"
            raise SafetyRefusal(
                f"An earlier attempt of this run (the same run id) undid batch "
                f"{', '.join(map(str, sorted(done)))}, and {label} "
                f"{', '.join(map(str, newer))} was applied since: rolling back "
                f"{left} more would undo that, not what the run set out to undo; nothing "
                "more was rolled back.",
                hint="run the rollback again under a new run id, with what is to be undone "
                "now (`kubemigrate plan --for rollback` shows it)",
            )
        return left

    def _refuse_unadopted(
        self, pending: Sequence[str], drizzle_table: histories.TableName | None, *, applied: bool
    ) -> None:
        """A migrate of ``pending`` on a database the folder's previous tool migrated
        (drizzle's own migrator, or the tool whose layout ``--format`` reads) would run
        again what that tool ran: a seed inserted twice, or a failure at its first
        CREATE TABLE. ``baseline`` records what it ran; until then, refused. On a database
        kubemigrate has adopted, only what that tool ran since (teams keep the old tool
        running for a while) is refused. A history that records none of this folder's
        files is not its history (Rails keeps a ``schema_migrations`` too; a Flyway
        baseline below the first file) and stops nothing."""
        if applied or self.store.has_history():
            # adopted (a baseline, migrations since emptied by a reset, or the original
            # system's tracking table): whatever the old tool's history reads, a migrate
            # goes on as before unless it shows that tool ran some of these
            found = None
            with contextlib.suppress(KubemigrateError):
                found = self._ran_since(pending, drizzle_table)
            if found is not None:
                raise found
            return
        tool, available = self.source.fmt, self.source.migrations
        self._refuse_elsewhere(available, unless_chosen=True)
        if tool == "drizzle":
            # drizzle's table (as _drizzle_history finds it) is this project's whatever its
            # hashes: its migrator goes by time, not hash, so files edited after they ran
            # are common
            drizzle = self._drizzle_history(drizzle_table)
            if drizzle is not None and drizzle.rows.hashes:
                self._refuse_elsewhere(available)
                count = len(drizzle.rows.hashes)
                raise self._unadopted(
                    tool, f"records {count} migration(s) as run", drizzle.table, drizzle.named
                )
            return
        recorded = self._recorded_by_tool(drizzle_table)
        if recorded is None or not recorded.names:
            return
        self._refuse_elsewhere(available)
        ran = recorded.names
        newest = [m.name for m in available if m.name in ran][-1]
        raise self._unadopted(
            tool,
            f"records {len(ran)} of these migrations as run, up to {newest}",
            recorded.table,
            where=recorded.where,
        )

    def _ran_since(
        self, pending: Sequence[str], drizzle_table: histories.TableName | None
    ) -> NotAdopted | None:
        """The refusal of a migrate of ``pending`` some of which the previous tool ran on
        this adopted database (its history lists them, and kubemigrate did not roll them
        back since: that tool never learns of a rollback); None when it ran none."""
        recorded = self._recorded_by_tool(drizzle_table)
        ran = [name for name in pending if recorded and name in recorded.names]
        undone = self.store.rolled_back(ran) if ran else frozenset()
        ran = [name for name in ran if name not in undone]
        if recorded is None or not ran:
            return None
        where = recorded.where
        flag = (
            f", --format and {histories.FLAG} {recorded.table.as_flag()}"
            if recorded.table and recorded.named
            else " and --format"
        )
        shown = ", ".join(ran[:3]) + (f" and {len(ran) - 3} more" if len(ran) > 3 else "")
        tool = planning.tool_name(recorded.tool)
        return NotAdopted(
            f"{tool} ran {shown} on this database ({where} records "
            f"{'it' if len(ran) == 1 else 'them'}) without kubemigrate, which has not "
            f"recorded {'it' if len(ran) == 1 else 'them'}: migrate would run "
            f"{'it' if len(ran) == 1 else 'them'} again; nothing was run.",
            hint=f"record what {tool} ran with `kubemigrate baseline` (add the same "
            f"--dir{flag}), then migrate runs the rest; once kubemigrate migrates a database, "
            f"stop running {tool} on it",
            table=where,
        )

    def _refuse_edited_since(self, plan: Plan, recorded: _Recorded) -> None:
        """Scripts to be baselined that Flyway's history records with another checksum:
        edited since Flyway ran them, so the database has what ran, not these files,
        and a baseline would record them as applied (Flyway's own ``validate`` refuses
        them: "Migration checksum mismatch")."""
        from kubemigrate.domain.checksums import flyway_checksum
        from kubemigrate.domain.versions import file_version, version_key

        ran = {version_key(v): crc for v, crc in recorded.checksums.items()}
        edited = []
        for step in plan.steps:
            version = file_version(step.name)
            expected = ran.get(version) if version is not None else None
            if expected is None:
                continue
            text = sources.read_text(self.source.directory / step.name)
            if flyway_checksum(text) != expected:
                edited.append(step.name)
        if edited:
            them = "it" if len(edited) == 1 else "them"
            raise IntegrityError(
                f"{recorded.where} (Flyway's history) records another checksum for "
                f"{', '.join(edited)}: edited since Flyway ran {them}, so the database has "
                f"what ran, not {'this file' if len(edited) == 1 else 'these files'}; "
                "nothing was recorded.",
                hint=f"restore {them} as {'it' if len(edited) == 1 else 'they'} ran (git log "
                "-p); or, if the database has the edit too, realign Flyway's checksums with "
                "`flyway repair` first; then baseline",
            )

    def _recorded_by_any_tool(self, drizzle_table: histories.TableName | None) -> _Recorded | None:
        """For a baseline: the history of the folder's tool, or, for a drizzle folder
        without drizzle's own, of whichever of the others migrated the database (a
        folder kept in drizzle's layout, run by dbmate)."""
        found = self._recorded_by_tool(drizzle_table)
        if found is not None or self.source.fmt != "drizzle":
            return found
        for tool in ("flyway", "golang-migrate", "dbmate"):
            found = self._recorded_by_tool(None, tool=tool)
            if found is not None:
                return found
        return None

    def _recorded_by_tool(
        self, drizzle_table: histories.TableName | None, *, tool: str | None = None
    ) -> _Recorded | None:
        """The folder's files the previous tool's history records as run: drizzle's
        migrator's (by hash) or, for another layout, the tool ``--format`` names (by
        version; or ``tool``); None when this database has no such history."""
        available = self.source.migrations
        tool = tool or self.source.fmt
        if tool == "drizzle":
            drizzle = self._drizzle_history(drizzle_table)
            if drizzle is None:
                return None
            recorded = self._drizzle_recorded(drizzle.rows.hashes)
            return _Recorded(tool, recorded, len(drizzle.rows.hashes), drizzle.table, drizzle.named)
        from kubemigrate.engine.sources import others  # adoption only, not every start

        found = self.store.tool_histories(tool)  # by version, wherever its config put it
        if not found:
            return None
        names = [m.name for m in available]
        matched = [
            (history, *others.history_matches(names, tool, history.versions, history.below))
            for history in found
        ]
        recording = [m for m in matched if m[1]]
        if len(recording) > 1:
            raise UsageError(
                f"{planning.tool_name(tool)}'s history of these migrations could be any of "
                f"{', '.join(m[0].shown for m in recording)}: each records some of them, and "
                f"which one {tool} uses is in its configuration; nothing was run.",
                hint="baseline with --target NAME, the last migration the database already "
                "has; or drop the copy that is not in use",
            )
        # none recording any: a history all the same (another application's, which a
        # baseline refuses to take for this folder's)
        history, ran, count = (recording or matched)[0]
        history.refuse_unfinished()
        return _Recorded(
            tool, ran, count, history.table, shown=history.shown, checksums=history.checksums
        )

    def _refuse_elsewhere(
        self, available: Sequence[Migration], *, unless_chosen: bool = False
    ) -> None:
        """kubemigrate's own tables for this folder in a schema this connection's
        search_path does not reach (runs that connected otherwise made them): it would
        start a second tracking table and run again what was applied. Another team's
        tables in its own schema (which records none of these files) are not ours.

        With ``unless_chosen``, a connection whose search_path someone chose (the URL's
        options, the role's or the database's setting) may start the folder's tables in
        a schema of their own, as a schema per tenant does; one left at the server's
        default is what a URL that lost its options gets (a CI job's beside the Job's),
        and it ran the whole folder again into ``public``."""
        elsewhere = self.store.tracking_elsewhere([m.name for m in available])
        if elsewhere is None or (unless_chosen and self.store.search_path_chosen()):
            return
        option = f"options=-csearch_path%3D{quote(elsewhere, safe='')}"
        raise UsageError(
            f"kubemigrate's tables for these migrations are in schema {elsewhere}, which "
            "this connection's search_path does not reach: it would start a second "
            "tracking table and run again what was applied; nothing was run.",
            hint=f"connect as the runs that made them did, with the URL parameter {option}"
            + (
                "; to apply the folder to another schema as well (a schema per tenant), "
                "name that one in the URL the same way"
                if unless_chosen
                else ""
            ),
        )

    @staticmethod
    def _unadopted(
        tool: str,
        what: str,
        table: histories.TableName | None = None,
        named: bool = False,
        *,
        where: str | None = None,
    ) -> NotAdopted:
        where = where or (str(table) if table else planning.HISTORY_TABLES[tool])
        tool = planning.tool_name(tool)
        flag = f"{histories.FLAG} {table.as_flag()}" if table and named else None
        same = f"--dir, --format and {flag}" if flag else "--dir and --format"
        return NotAdopted(
            f"This database was migrated by {tool} ({where} {what}) and kubemigrate has "
            f"recorded nothing here yet: migrate would run them again; nothing was run.",
            hint=f"record what {tool} ran with `kubemigrate baseline` first (`--dry-run` shows "
            f"it; add the same {same}), then migrate runs the rest",
            table=where,
        )

    def _drizzle_history(
        self, named: histories.TableName | None
    ) -> histories.DrizzleHistory | None:
        """Where drizzle's migrator recorded what it ran in this database, if it did.

        The table ``--drizzle-table`` names; else, of drizzle's default table and the
        tables of drizzle's shape in any schema (``migrationsSchema`` and
        ``migrationsTable`` send it anywhere), the one that records some of this
        folder's files (by hash, or by the time drizzle goes by): two are refused, as
        which one drizzle's config points at cannot be told. One that records none of
        them is another application's (a second drizzle project sharing the database,
        the usual reason for a custom table). None recording any: drizzle's default
        table, whatever its rows, as its migrator goes by time and files edited after
        they ran match no hash; else none.
        """
        store = self.store
        if named is not None:
            rows = store.drizzle_rows(named)
            if rows is not None:
                return histories.DrizzleHistory(named, rows, named=True)
            others = self._drizzle_tables_recording(store.drizzle_tables(), exclude=named)
            if others:
                raise histories.named_but_missing(named, others)
            return None  # a database drizzle never migrated (a new environment)
        default = store.drizzle_rows(histories.DRIZZLE_DEFAULT)
        found = self._drizzle_tables_recording(store.drizzle_tables(), default=default)
        if len(found) > 1:
            raise histories.ambiguous(found)
        if found:
            table, rows = next(iter(found.items()))
            return histories.DrizzleHistory(table, rows)
        if default is not None:
            return histories.DrizzleHistory(histories.DRIZZLE_DEFAULT, default)
        return None

    def _drizzle_tables_recording(
        self,
        tables: Sequence[histories.TableName],
        *,
        default: histories.DrizzleRows | None = None,
        exclude: histories.TableName | None = None,
    ) -> dict[histories.TableName, histories.DrizzleRows]:
        """Of ``tables`` (and drizzle's default table, when ``default`` holds its
        rows), those that record some of this folder's files, with their rows."""
        candidates: dict[histories.TableName, histories.DrizzleRows | None] = {}
        if default is not None:
            candidates[histories.DRIZZLE_DEFAULT] = default
        for table in tables:
            if table != exclude and table not in candidates:
                with contextlib.suppress(PermissionDenied):  # not ours to read after all
                    candidates[table] = self.store.drizzle_rows(table)
        if not any(rows and (rows.hashes or rows.times) for rows in candidates.values()):
            return {}
        hashes = {m.checksum for m in self.source.migrations}.union(*self._raw_hashes.values())
        times = sources.drizzle_times(self.source)
        return {
            table: rows
            for table, rows in candidates.items()
            if rows is not None and rows.records_any(hashes, times)
        }

    def _drizzle_recorded(self, hashes: frozenset[str]) -> frozenset[str]:
        """The files drizzle's table records as run: drizzle hashes a file as it read it,
        CRLF and BOM included, maybe from a checkout with other line endings; a checksum
        normalises them."""
        raw = self._raw_hashes
        return frozenset(
            m.name
            for m in self.source.migrations
            if m.checksum in hashes or not hashes.isdisjoint(raw.get(m.name, ()))
        )

    @functools.cached_property
    def _raw_hashes(self) -> dict[str, frozenset[str]]:
        """``sources.raw_hashes``, once a run: finding drizzle's table and matching its
        rows both need them, and on a database adopted from drizzle (whose table stays)
        every migrate with files pending asks both, reading and hashing every file."""
        return sources.raw_hashes(self.source)

    # -- changing runs -------------------------------------------------------

    def preview(self, action: Action, options: RunOptions) -> tuple[Outcome, Plan]:
        """What ``action`` would do now, checked as a real run would; no lock, no changes.

        The same refusals as a real run (dirty database, integrity, unparseable SQL),
        except the safety rules, so a dry run can show the confirmation phrase.
        """
        try:
            if action is Action.RESET:  # refused in production whatever its plan
                planning.refuse_reset(options.environment, force=True)  # staging: --force
            state = self.state()
            if state.dirty:
                raise _dirty_error(state)
            plan = self._plan(action, state, options)
            if action is not Action.BASELINE:
                for step in plan.steps:
                    prepare(step, self.store.server_version_num)
        except KubemigrateError as error:  # as a real run's refusal: where the database is
            error.partial = dataclasses.replace(self._partial(action, None, ()), dryRun=True)
            raise
        self.observer.plan_ready(plan)
        return self._outcome(action, plan, state, (), dry_run=True), plan

    def run(self, action: Action, options: RunOptions) -> Outcome:
        """Lock, re-read, check, analyse, then execute ``action``'s plan."""
        if options.dry_run:
            return self.preview(action, options)[0]
        store = self.store
        self._running = False
        self._earlier = []
        self._unconfirmed = False
        if (lock_timeout_ms := options.environment.lock_timeout_ms) is not None:
            store.default_lock_timeout(lock_timeout_ms)  # set with the lock (_watch_client)
        try:
            store.acquire_lock(options.lock_wait_s, self.observer.lock_wait)
        except KubemigrateError as error:  # the counts still say where the database is
            with contextlib.suppress(KubemigrateError, psycopg.Error):  # if it can be read
                self._earlier = self._done_before(action, options)
            error.partial = self._partial(action, None, ())
            raise
        except KeyboardInterrupt:  # waiting for another run's lock: nothing ran
            stopped = Interrupted(
                "Interrupted while waiting for the migration lock: nothing was changed."
            )
            stopped.partial = self._partial(action, None, ())
            raise stopped from None
        try:
            state = self.state()  # read as a status reads it: no tables yet is a state too
            self._earlier = self._done_before(action, options)
            plan: Plan | None = None
            results: list[MigrationResult] = []
            try:
                plan, prepared = self._checked_plan(action, state, options)
                # only once nothing refuses the run: created first, the tables stayed
                # behind a refused first run (a URL that lost its search_path left
                # them in public, where a status then read an empty tracking table)
                store.ensure_tables()
                self._running = True
                if action is Action.BASELINE:
                    self.observer.plan_ready(plan)
                    results = self._baseline(plan, options)
                else:
                    ready = plan
                    self._execute(
                        prepared, options, results, first=lambda: self.observer.plan_ready(ready)
                    )
            except KubemigrateError as error:
                error.partial = self._partial(action, plan, results)
                raise
            except (KeyboardInterrupt, SystemExit) as stop:
                # Ctrl-C, SIGTERM as the CLI delivers it, or the SystemExit of an embedding
                # application's own SIGTERM handler (the Python API installs none): audited
                # alike, where a SystemExit wrote no history row of the migration it stopped
                stopped = self._interrupted(
                    action, plan, results, options, unconfirmed=self._unconfirmed
                )
                if isinstance(stop, SystemExit):  # the application's exit, code and all
                    raise stop from stopped
                raise stopped from None
            return self._outcome(action, plan, self.state(), results)
        finally:
            store.release_lock()

    def _done_before(self, action: Action, options: RunOptions) -> list[DoneRecord]:
        """What earlier attempts of this run did: a Job's new Pod runs the engine again
        under the same run id (the MigrationRun's uid) once the last one was evicted or
        exited 75, and only the last Pod's result reaches the run's status and metrics.
        Read under the lock, before anything runs: none of it is this attempt's."""
        if action is Action.MIGRATE:
            return self.store.done_by(options.run_id, "applied")
        if action in (Action.ROLLBACK, Action.RESET):
            return self.store.done_by(options.run_id, "rolled_back")
        return []

    def _undone(self) -> planning.Undone:
        """The batches earlier attempts of this rollback undid, for its phrase."""
        rows = [(r.name, r.batch) for r in self._earlier if r.batch is not None]
        found = self.store.baselined(rows)
        return planning.Undone(
            batches=tuple(sorted({batch for _, batch in rows}, reverse=True)),
            baselined=tuple(name for name, _ in rows if name in found),
        )

    def _whole_run(
        self, action: Action, plan: Plan | None, results: Sequence[MigrationResult]
    ) -> dict[str, Any]:
        """The run's migrations (its earlier attempts' first, marked), ``batch`` and
        ``batches``. A migration done again by this attempt (undone between the two by
        someone else) is listed, and counted, once."""
        mine = {r.name for r in results}
        earlier = [r for r in self._earlier if r.name not in mine]
        migrations = (
            *(
                MigrationResult(
                    name=r.name,
                    direction=str(Direction.UP if action is Action.MIGRATE else Direction.DOWN),
                    checksum=r.checksum,
                    durationMs=None if r.duration_ms is None else round(r.duration_ms, 3),
                    earlierAttempt=True,
                )
                for r in earlier
            ),
            *results,
        )
        steps = plan.steps if plan is not None else ()
        touched = {s.batch for s in steps if s.name in mine}
        touched |= {r.batch for r in earlier if r.batch is not None}
        several = len(touched) > 1 and action is not Action.RESET  # a reset: everything
        return {
            "migrations": migrations,
            "batch": next(iter(touched)) if len(touched) == 1 else None,
            "batches": tuple(sorted(touched)) if several else (),
        }

    def _checked_plan(
        self, action: Action, state: StoreState, options: RunOptions
    ) -> tuple[Plan, list[PreparedStep]]:
        """The plan, once everything that can refuse it has had its say: a dirty mark,
        the safety rules, and every file's SQL (parsed whole, so a bad file 900 cannot
        leave 899 applied). Nothing has run yet."""
        if state.dirty:
            raise _dirty_error(state)
        if action is Action.RESET:
            planning.refuse_reset(options.environment, force=options.force)
        plan = self._plan(action, state, options)
        planning.enforce_safety(
            plan,
            options.environment,
            confirm=options.confirm,
            force=options.force,
            undone=self._undone() if action is Action.ROLLBACK else None,
        )
        if action is Action.BASELINE:
            return plan, []
        version = self.store.server_version_num
        return plan, [prepare(step, version) for step in plan.steps]

    def _interrupted(
        self,
        action: Action,
        plan: Plan | None,
        results: Sequence[MigrationResult],
        options: RunOptions,
        *,
        unconfirmed: bool = False,
    ) -> Interrupted:
        """The report of a run stopped by Ctrl-C or SIGTERM: which migration it stopped
        in and what that left (rolled back, or a dirty mark), audited in the history."""
        self.store.rollback_quietly()
        step = None
        if self._running and plan is not None and len(results) < len(plan.steps):
            step = plan.steps[len(results)]
        if unconfirmed and step is not None:
            error = self._unconfirmed_interruption(step)
        else:
            error = self._interruption(step, done=len(results), action=action)
        if step is not None:
            self._record_failure(step, error, None, options)
        error.partial = self._partial(action, plan, results)
        return error

    @staticmethod
    def _unconfirmed_interruption(step: Step) -> Interrupted:
        """Stopped while no connection could reach the server: it may have committed
        the whole batch (it did, in a network partition) or none of it. "Rolled back,
        nothing after it ran" was said of a batch the server had kept entire."""
        error = Interrupted(
            f"Interrupted {'rolling back' if step.direction is Direction.DOWN else 'in'} "
            f"{step.name}, and no new connection could ask the server which of the run's "
            "migrations it committed from there on (unreachable, or refusing connections): "
            "that cannot be told now.",
            hint="`kubemigrate status` tells once the server answers; the next run "
            "continues from what it kept",
            migration=step.name,
        )
        error.details["unconfirmed"] = True
        return error

    def _interruption(
        self, step: Step | None, *, done: int = 0, action: Action = Action.MIGRATE
    ) -> Interrupted:
        if step is None and done:
            return Interrupted(
                f"Interrupted after the run's last migration committed: all {done} of them "
                "are done."
            )
        if step is None:
            return Interrupted("Interrupted before any migration ran; nothing was changed.")
        try:
            dirty = next((d for d in self.state().dirty if d.migration == step.name), None)
        except (KubemigrateError, psycopg.Error):
            dirty = None
        if dirty is not None:
            down = step.direction is Direction.DOWN
            # the way out the next run's refusal gives (a rollback's mark: still applied)
            way_out = dirty_error([dirty], [step.name] if down else []).hint
            if dirty.finished:
                return Interrupted(
                    f"Interrupted in {step.name}, which runs outside a transaction, after all "
                    f"{dirty.total_statements} of its statements ran, before it was recorded: "
                    "the database is marked dirty.",
                    hint=way_out,
                    migration=step.name,
                    dirty=True,
                )
            return Interrupted(
                f"Interrupted {'rolling back' if down else 'in'} {step.name}, which runs outside "
                f"a transaction, at statement {max(dirty.statement, 1)} of "
                f"{dirty.total_statements}: the statements before it stay "
                f"{'done' if down else 'applied'} and the database is marked dirty.",
                hint=way_out,
                migration=step.name,
                dirty=True,
            )
        if step.direction is Direction.DOWN:
            return Interrupted(
                f"Interrupted rolling back {step.name}: its transaction was rolled back, so it "
                "is still applied, and nothing after it ran.",
                hint="the migrations undone before it stay undone; "
                + ("run reset again" if action is Action.RESET else "roll back again")
                + " to go on",
                migration=step.name,
            )
        return Interrupted(
            f"Interrupted in {step.name}: its transaction was rolled back and nothing after it "
            "ran.",
            hint="the migrations before it stay applied; the next run continues from there",
            migration=step.name,
        )

    def _partial(
        self, action: Action, plan: Plan | None, results: Sequence[MigrationResult]
    ) -> Outcome:
        """What a refused or failed run leaves: the migrations done before the failure
        (if it got that far), and the counts as they are now (left at zero, unknown, if
        the database went away), so a refused run still shows where the database is."""
        try:
            counts = self.counts(self.state())
        except (KubemigrateError, psycopg.Error):  # the failure may have been the connection
            counts = Counts()
        return Outcome(
            action=str(action), ok=False, counts=counts, **self._whole_run(action, plan, results)
        )

    def _baseline(self, plan: Plan, options: RunOptions) -> list[MigrationResult]:
        with self.store.transaction():
            for step in plan.steps:
                self.store.insert_tracking(step.name, step.rollback_sql, step.checksum, step.batch)
                self.store.record(
                    "baselined",
                    migration=step.name,
                    batch=step.batch,
                    checksum=step.checksum,
                    run_id=options.run_id,
                )
        return [
            MigrationResult(name=s.name, direction="baseline", checksum=s.checksum)
            for s in plan.steps
        ]

    def _execute(
        self,
        prepared: Sequence[PreparedStep],
        options: RunOptions,
        results: list[MigrationResult],
        first: Callable[[], None] = _nothing,
    ) -> None:
        """Run the steps in order, appending each one done to ``results``.

        Observer calls (``first``, then each group's log lines and progress) are made
        while the server runs the next group, so they never leave the server idle.
        The migrations' NOTICEs and WARNINGs (a DO block's RAISE NOTICE on a backfill's
        progress) go to the observer, as psql shows them.
        """
        with self.store.notices_to(self.observer.notice):
            self._execute_steps(prepared, options, results, first)

    def _execute_steps(
        self,
        prepared: Sequence[PreparedStep],
        options: RunOptions,
        results: list[MigrationResult],
        first: Callable[[], None],
    ) -> None:
        total = len(prepared)
        index = 0
        report = first
        while index < total:
            if prepared[index].transactional:
                group = list(itertools.takewhile(lambda p: p.transactional, prepared[index:]))
                group = group[:_PIPELINE_GROUP]
                report = self._run_group(group, index, total, options, results, report)
                index += len(group)
                continue
            report()
            report = _nothing
            item = prepared[index]
            self.observer.step_started(item.step, index, total)
            started = time.perf_counter()
            try:
                self._run_outside_transaction(item, options)
            except KubemigrateError as error:
                self._failed_step(item.step, error, started, options, results)
                raise
            self._finished_step(item.step, (time.perf_counter() - started) * 1000, results)
            index += 1
        report()

    def _run_group(
        self,
        group: Sequence[PreparedStep],
        first: int,
        total: int,
        options: RunOptions,
        results: list[MigrationResult],
        previous: Callable[[], None],
    ) -> Callable[[], None]:
        """Consecutive transactional migrations, one pipeline, each its own transaction.

        ``previous`` (the last group's report) runs once the group is on its way;
        returns this group's report, for the caller to run while the next one runs.
        """
        started = time.perf_counter()
        steps = [
            StepSql(
                statements=tuple(text for text, _ in item.statements),
                up=item.step.direction is Direction.UP,
                name=item.step.name,
                rollback_sql=item.step.rollback_sql,
                checksum=item.step.checksum,
                batch=item.step.batch,
                durable=first + n == total - 1,
            )
            for n, item in enumerate(group)
        ]
        reported = False

        def report_previous() -> None:
            nonlocal reported
            if not reported:
                reported = True
                previous()

        try:
            durations = self.store.run_steps(
                steps, run_id=options.run_id, while_running=report_previous
            )
        except StepsInterrupted as stopped:
            self._done(group, stopped.durations_ms, results)
            report_previous()
            self._report_group(group, first, total, stopped.durations_ms)
            self._unconfirmed = stopped.unconfirmed
            raise stopped.stop from None
        except StepFailed as failure:
            self._done(group, failure.durations_ms, results)
            report_previous()
            self._report_group(group, first, total, failure.durations_ms)
            item = group[failure.step] if failure.step < len(group) else group[-1]
            self.observer.step_started(item.step, first + failure.step, total)
            error = self._step_error(item, failure)
            if failure.unconfirmed:
                error.hint = (f"{error.hint}; " if error.hint else "") + (
                    "the server went away before kubemigrate could ask which commits it kept: "
                    "the last of those reported done may be lost if it crashed; "
                    "`kubemigrate status` tells"
                )
                error.details["unconfirmed"] = True
            self._failed_step(item.step, error, started, options, results)
            raise error from None
        # committed: in the results at once, whatever happens while the lines are written
        # (a SIGTERM then reported committed migrations as rolled back)
        self._done(group, durations, results)
        return lambda: self._report_group(group, first, total, durations)

    def _report_group(
        self,
        group: Sequence[PreparedStep],
        first: int,
        total: int,
        durations: Sequence[float],
    ) -> None:
        for n, duration in enumerate(durations):
            self.observer.step_started(group[n].step, first + n, total)
            self.observer.step_finished(group[n].step, duration)

    @staticmethod
    def _done(
        group: Sequence[PreparedStep], durations: Sequence[float], results: list[MigrationResult]
    ) -> None:
        results.extend(_result(group[n].step, duration) for n, duration in enumerate(durations))

    def _step_error(self, item: PreparedStep, failure: StepFailed) -> KubemigrateError:
        step = item.step
        lost = self.store.conn.broken  # the server went away, no constraint failed
        if failure.index == len(item.statements) + 1 and not lost:  # a deferred constraint
            return self.store.statement_error(
                failure.error,
                step=step,
                statement_index=len(item.statements),
                offset=0,
                where=" at COMMIT (a deferred constraint is checked there)",
            )
        if failure.index >= len(item.statements):
            cause = self.store.database_error(failure.error)
            kind: type[KubemigrateError] = type(cause) if cause else KubemigrateError
            after = (
                "whether the server kept it cannot be told now"
                if failure.unconfirmed
                else "its changes were rolled back"
            )
            return kind(
                f"{step.name}: recording it in kubemigrate's tables failed: "
                f"{self.store.scrub(str(failure.error)).strip()}; {after}.",
                hint=cause.hint if cause else None,
                migration=step.name,
            )
        _, offset = item.statements[failure.index]
        error = self.store.statement_error(
            failure.error, step=step, statement_index=failure.index + 1, offset=offset
        )
        if step.direction is Direction.DOWN and isinstance(error, MigrationFailed):
            # "fix the statement" alone sends people to a file a rollback does not read
            hint = planning.accept_down_hint(step.name, self.source.migrations)
            error.hint = f"{hint}; nothing of it was kept"
        return error

    def _finished_step(
        self, step: Step, duration_ms: float, results: list[MigrationResult]
    ) -> None:
        self.observer.step_finished(step, duration_ms)
        results.append(_result(step, duration_ms))

    def _failed_step(
        self,
        step: Step,
        error: KubemigrateError,
        started: float,
        options: RunOptions,
        results: list[MigrationResult],
    ) -> None:
        duration = (time.perf_counter() - started) * 1000
        self._record_failure(step, error, duration, options)
        self.observer.step_failed(step, error, duration)
        error.details.setdefault("completed", [r.name for r in results])

    def _run_statements_marking_progress(self, item: PreparedStep) -> None:
        """Outside a transaction, one statement at a time, the dirty mark naming each; an
        index built or dropped CONCURRENTLY without the default lock timeout
        (``lock_timeout_lifted``), unless the file sets one of its own."""
        lifted = item.without_default_lock_timeout
        for number, (text, offset) in enumerate(item.statements, start=1):
            self.store.mark_dirty(item.step.name, number, len(item.statements), None)
            try:
                with (
                    self.store.lock_timeout_lifted()
                    if number in lifted
                    else contextlib.nullcontext()
                ):
                    self.store.execute(text)
            except psycopg.Error as exc:
                raise self.store.statement_error(
                    exc, step=item.step, statement_index=number, offset=offset
                ) from None

    def _undo_failed_build(
        self,
        item: PreparedStep,
        number: int,
        statement: str,
        left: Sequence[str],
        error: KubemigrateError,
    ) -> bool:
        """A CREATE INDEX CONCURRENTLY that failed as the file's first change (duplicate
        keys, a deadlock, a lock timeout someone chose) left only its INVALID index:
        dropped, nothing of the migration remains, and the failure is the statement's
        alone, as in a transaction, with no dirty mark for a person to clear. Before,
        the run left the index and the mark, and a person dropped one and repaired the
        other before the file could run again. Not when the index was there before
        (42P07), nor when the build named none; a DROP that fails keeps both, as they
        were. (A signal is no statement error: it stops the run without waiting.)
        ``statement`` is the failing one (number ``number``), ``left`` the INVALID
        indexes it names (``_left_invalid``)."""
        if (
            concurrent_index(statement)[1] is None  # no CREATE INDEX CONCURRENTLY, or unnamed
            or len(left) != 1
            or number != item.first_change
            or error.details.get("sqlState") in (None, "42P07")
        ):
            return False
        step = item.step
        try:
            self.store.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {left[0]}")
            self.store.reset_session([text for text, _ in item.statements])
            self.store.begin()
            self.store.clear_dirty(step.name)
            self.store.commit()
        except psycopg.Error:
            self.store.rollback_quietly()
            return False
        said = error.message.replace("; its transaction was rolled back.", "").rstrip(".")
        error.message = (
            f"{said}; the INVALID index {left[0]} it left was dropped: nothing of the "
            "migration remains."
        )
        state = error.details.get("sqlState")
        if state == "23505":
            error.hint = (
                "remove the duplicate keys (the detail names one), or build the index "
                "without UNIQUE, then run migrate again"
            )
        elif state == "55P03":
            error.hint = (
                "a CONCURRENTLY build waits for every older transaction in the database, "
                "without holding up the application's queries: retry once they have ended, "
                "or give the build no lock timeout (--lock-timeout, or the file's SET)"
            )
        return True

    def _left_invalid(self, statement: str) -> list[str]:
        """The INVALID indexes a failed ``statement`` may have left: the one it names, or
        any when it names none; none when it is no CREATE INDEX CONCURRENTLY (or the
        connection is gone)."""
        concurrent, name = concurrent_index(statement)
        if not concurrent:
            return []
        with contextlib.suppress(psycopg.Error):
            return self.store.invalid_indexes(name)
        return []

    def _refuse_invalid_builds(self, item: PreparedStep) -> None:
        """Every statement of ``item`` ran: the indexes its CONCURRENTLY statements name
        must now be valid, or it is not recorded as applied. An earlier failed build (a
        SIGTERM, duplicate keys) left its index INVALID, and ``IF NOT EXISTS`` (as
        squawk's prefer-robust-stmts advises) then skips it with a notice: recorded,
        the migration would stand as applied, ``status`` and ``verify`` green, with an
        index no query uses and, for a UNIQUE one, a constraint that does not hold. It
        fails as a failed build does instead, the database marked dirty. Asked only of
        files with such statements (one query), before the migration's settings are
        reset, so that names resolve as its statements' did."""
        if not item.index_builds:
            return
        step = item.step
        left = self.store.invalid_built([build for _, build in item.index_builds])
        if not left:
            return
        names = list(dict.fromkeys(name for _, name in left))
        number = item.index_builds[left[0][0]][0]
        them = "it" if len(names) == 1 else "them"
        message = (
            f"{step.name}: its statements ran, but {', '.join(names)}, which statement "
            f"{number} builds CONCURRENTLY, {'is' if len(names) == 1 else 'are'} INVALID: "
            f"an earlier failed build left {them} so, and the statement did not rebuild "
            f"{them} (IF NOT EXISTS skips an existing index, REINDEX TABLE an invalid "
            "one). PostgreSQL uses no INVALID index, and a UNIQUE one enforces nothing; "
            f"{step.name} was not recorded as "
            + ("applied." if step.direction is Direction.UP else "rolled back.")
        )
        drops = " ".join(f"DROP INDEX CONCURRENTLY {name};" for name in names)
        hint = (
            f"drop {them} (`{drops}`), then `kubemigrate repair` and "
            + (
                "`kubemigrate migrate` again, which builds "
                if step.direction is Direction.UP
                else "roll back again, which builds "
            )
            + f"{them} anew (for a UNIQUE index, remove the duplicate keys first)"
        )
        # the mark says why, where the next run's refusal and `status` show it
        cause = (
            f"all its statements ran, but {', '.join(names)}, built CONCURRENTLY by statement "
            f"{number}, {'is' if len(names) == 1 else 'are'} INVALID, left so by an earlier "
            f"failed build: {drops}"
        )
        with contextlib.suppress(psycopg.Error):  # a lost connection keeps the last mark
            self.store.mark_dirty(step.name, number, len(item.statements), cause)
        raise MigrationFailed(message, hint=hint, migration=step.name, statement=number, dirty=True)

    def _run_outside_transaction(self, item: PreparedStep, options: RunOptions) -> None:
        """Statement by statement, with a dirty mark that only success removes.

        The mark is committed before the first statement, so a run killed midway
        (SIGKILL, node loss) leaves the database marked for a person to check.
        """
        started = time.perf_counter()
        step = item.step
        texts = [text for text, _ in item.statements]
        self.store.mark_dirty(step.name, 0, len(item.statements), None)
        try:
            with self.store.noticing(lambda: step.name):
                self._run_statements_marking_progress(item)
        except KubemigrateError as error:
            number = int(error.details.get("statement", 0))
            failing = texts[number - 1] if 0 < number <= len(texts) else ""
            # asked before the session's settings are reset: names resolve as the file's did
            left = self._left_invalid(failing)
            if self._undo_failed_build(item, number, failing, left, error):
                raise
            # outside a transaction nothing was rolled back, whatever the error's words
            message = error.message.replace("; its transaction was rolled back.", ".")
            with contextlib.suppress(psycopg.Error):  # a lost connection keeps the first mark
                self.store.reset_session(texts)
                self.store.mark_dirty(step.name, number, len(item.statements), message)
            hint = (
                "the migration ran outside a transaction, so statements before the failing one "
                "stay applied and the database is now marked dirty; check them, then run "
                "`kubemigrate repair`"
            ) + invalid_index_note(left)
            # for the result's `dirty` (the drift gauge and its alert): the reason says only
            # that a migration failed, and the runs after it are refused
            error.details["dirty"] = True
            if error.retryable:  # a lock timeout, a lost connection: a retry meets the mark
                raise MigrationFailed(message, hint=hint, **error.details) from None
            error.hint = hint
            raise
        self._refuse_invalid_builds(item)
        # every statement done: a run stopped before its bookkeeping leaves this mark
        self.store.mark_dirty(step.name, len(texts) + 1, len(texts), None)
        self.store.reset_session(texts)
        self.store.begin()
        try:
            self.store.clear_dirty(step.name)
            if step.direction is Direction.UP:
                self.store.insert_tracking(step.name, step.rollback_sql, step.checksum, step.batch)
            else:
                self.store.delete_tracking(step.name)
            self.store.record(
                "applied" if step.direction is Direction.UP else "rolled_back",
                migration=step.name,
                batch=step.batch,
                checksum=step.checksum,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                run_id=options.run_id,
            )
            self.store.commit()
        except BaseException:
            self.store.rollback_quietly()
            raise

    def _record_failure(
        self, step: Step, error: KubemigrateError, duration_ms: float | None, options: RunOptions
    ) -> None:
        """Audit the failure; a durable commit that also flushes earlier async commits."""
        # a gone connection cannot record it: the error being raised says so already
        with contextlib.suppress(psycopg.Error):
            self.store.record(
                "failed",
                migration=step.name,
                batch=step.batch,
                checksum=step.checksum,
                duration_ms=None if duration_ms is None else round(duration_ms, 3),
                run_id=options.run_id,
                sql_state=error.details.get("sqlState"),
                error=error.message,
            )

    # -- maintenance ---------------------------------------------------------

    def repair(
        self,
        accept_checksums: Sequence[str],
        options: RunOptions,
        accept_downs: Sequence[str] = (),
        *,
        accept_renames: bool = False,
    ) -> Outcome:
        """Clear the dirty mark, re-record edited files' checksums, corrected downs'
        rollback SQL and renamed files' names, all audited. A mark whose migration's
        CONCURRENTLY build left its index INVALID is cleared only with ``force``."""
        store = self.store
        checked = self._marks_to_repair()
        store.acquire_lock(options.lock_wait_s, self.observer.lock_wait)
        try:
            self._refuse_new_marks(checked)
            if not options.force:
                self._refuse_invalid_left()
            by_name = {m.name: m for m in self.source.migrations}
            results: list[MigrationResult] = []
            with store.transaction():
                # in the repair's transaction: one refused on a database kubemigrate never
                # ran on (nothing applied to accept) leaves no empty tables behind
                store.ensure_tables()
                for name in store.clear_dirty():
                    store.record(
                        "repaired",
                        migration=name,
                        run_id=options.run_id,
                    )
                    results.append(MigrationResult(name=name, direction="repair"))
                for wanted in accept_checksums:
                    results.append(self._accept_checksum(wanted, by_name, options))
                for wanted in accept_downs:
                    results.append(self._accept_down(wanted, by_name, options))
                if accept_renames:
                    results += self._accept_renames(options)
            state = self.state()
            return Outcome(
                action=str(Action.REPAIR),
                ok=True,
                migrations=tuple(results),
                counts=self.counts(state),
            )
        finally:
            store.release_lock()

    def _marks_to_repair(self) -> set[tuple[str, Any]]:
        """The dirty marks as the person asking for a repair saw them, read before the
        lock. A mark a run is still writing (its migration being applied now, outside a
        transaction) is no one's to clear yet: a repair waited for that run's lock and
        cleared what its crash left, unchecked, and the next migrate ran the file again
        over what it had done."""
        state = self.state()
        if state.running:
            names = ", ".join(d.migration for d in state.running)
            raise SafetyRefusal(
                f"{names} is marked dirty while another run holds the lock ({state.holder}): "
                "it may be applying it now, outside a transaction, and a repair would clear "
                "whatever mark that run leaves before anyone has checked what it did; "
                "nothing was repaired.",
                hint="wait for that run to end; if the database is still dirty, check what "
                "was left (`kubemigrate status` names the statement), then repair",
            )
        return {(d.migration, d.marked_at) for d in state.dirty}

    def _refuse_new_marks(self, checked: set[tuple[str, Any]]) -> None:
        """Marks made while the repair waited for the lock (a run that stopped in a
        migration outside a transaction): no one has checked those."""
        new = [d.migration for d in self.state().dirty if (d.migration, d.marked_at) not in checked]
        if new:
            raise SafetyRefusal(
                f"{', '.join(new)} was marked dirty while this repair waited for the lock (a "
                "run stopped in it): no one has checked what it left; nothing was repaired.",
                hint="check the database (`kubemigrate status` names the statement it stopped "
                "at), then run repair again",
            )

    def _refuse_invalid_left(self) -> None:
        """A dirty mark whose migration builds an index CONCURRENTLY that is INVALID now
        (the failed build's): cleared, the next migrate runs the file again, and its
        statement either fails on the index (42P07) or, with IF NOT EXISTS, skips it
        (``_refuse_invalid_builds`` then fails it again). The way out is dropping the
        index; a person who has dealt with it otherwise (the file now drops it first)
        clears the mark with ``--force``. Only the marked migrations' SQL is parsed:
        what a migrate left dirty ran its up file, what a rollback left dirty (still
        recorded as applied) its down, stored or on disk."""
        state = self.state()
        by_name = {m.name: m for m in self.source.migrations}
        stored = {row.name: row.rollback_sql for row in state.applied}
        builds: list[tuple[str, int, IndexBuild]] = []
        for mark in state.dirty:
            found = by_name.get(mark.migration)
            texts = (
                [stored[mark.migration], found.down_sql if found else None]
                if mark.migration in stored
                else [found.up_sql if found else None]
            )
            seen = set()
            for text in filter(None, texts):
                for number, build in index_builds(text):
                    if build not in seen:
                        seen.add(build)
                        builds.append((mark.migration, number, build))
        left = self.store.invalid_built([build for _, _, build in builds])
        if not left:
            return
        names = list(dict.fromkeys(name for _, name in left))
        migration, number, _ = builds[left[0][0]]
        them = "it" if len(names) == 1 else "them"
        drops = " ".join(f"DROP INDEX CONCURRENTLY {name};" for name in names)
        raise SafetyRefusal(
            f"{migration} is marked dirty, and {', '.join(names)}, which its statement "
            f"{number} builds CONCURRENTLY, {'is' if len(names) == 1 else 'are'} INVALID: "
            f"the failed build left {them} so. Cleared, the mark would let migrate run the "
            f"file again over {them}, and fail on {them}, or, with IF NOT EXISTS, skip "
            f"{them}; nothing was repaired.",
            hint=f"drop {them} first (`{drops}`; for a UNIQUE index, remove the duplicate "
            "keys too), then `kubemigrate repair` again; if the migration now deals with "
            f"{them} itself, `kubemigrate repair --force` clears the mark anyway",
            migration=migration,
        )

    def _accept_renames(self, options: RunOptions) -> list[MigrationResult]:
        """Applied migrations recorded under their new file names (see planning.renamed);
        the history keeps the old name."""
        applied = self.state().applied
        moves = planning.renamed(self.source.migrations, applied)
        if not moves:
            raise UsageError(
                "--accept-renames: no applied migration's file was renamed (none is missing "
                "with its SQL under a new name that keeps its number or its title).",
                hint="`kubemigrate verify` lists what disagrees; a rename is recorded when "
                "exactly one pending file has the missing migration's SQL (same checksum) and "
                "its number or its title",
            )
        rows = {row.name: row for row in applied}
        done = []
        for old, new in moves:
            self.store.rename_tracking(old, new)
            self.store.record(
                "renamed", migration=new, checksum=rows[old].checksum, run_id=options.run_id,
                error=f"was {old}", batch=rows[old].batch,
            )  # fmt: skip
            done.append(MigrationResult(name=new, direction="renamed"))
        return done

    def _named(self, flag: str, wanted: str, by_name: dict[str, Migration]) -> Migration:
        """The migration a repair option names, as --target names one."""
        found = versions.the_one(wanted, by_name, said=f"{flag} {wanted}:")
        if found is None:
            raise UsageError(f"{flag} {wanted}: no such file in {self.source.directory}.")
        return by_name[found]

    def _accept_checksum(
        self, wanted: str, by_name: dict[str, Migration], options: RunOptions
    ) -> MigrationResult:
        """Record the file's current checksum as ``wanted``'s (an edit found harmless)."""
        migration = self._named("--accept-checksum", wanted, by_name)
        key = migration.name
        if not self.store.update_checksum(key, migration.checksum):
            raise UsageError(
                f"--accept-checksum {wanted}: it is not applied, so it has no checksum to accept."
            )
        self.store.record(
            "checksum_accepted", migration=key, checksum=migration.checksum, run_id=options.run_id
        )
        return MigrationResult(name=key, direction="repair", checksum=migration.checksum)

    def _accept_down(
        self, wanted: str, by_name: dict[str, Migration], options: RunOptions
    ) -> MigrationResult:
        """Store the file's current down as ``wanted``'s rollback SQL (see changed_downs)."""
        migration = self._named("--accept-down", wanted, by_name)
        key = migration.name
        if not planning.usable_down(migration.down_sql or ""):
            missing = "does not exist" if migration.down_sql is None else "has no statement"
            raise UsageError(
                f"--accept-down {wanted}: {migration.down_file} {missing} to record.",
                hint="write the rollback SQL in the down file first",
            )
        if not self.store.update_rollback_sql(key, migration.down_sql or ""):
            raise UsageError(
                f"--accept-down {wanted}: it is not applied, so no rollback SQL is stored; "
                "its down file is used as it is."
            )
        self.store.record("rollback_accepted", migration=key, run_id=options.run_id)
        return MigrationResult(name=key, direction="accept-down")

    def verify(self) -> Outcome:
        """The integrity checks, strict about migrations applied after the folder's last
        file (a CI gate cannot tell a newer version's from a deleted file), which still
        are no drift: ``status`` and ``migrate`` let them be, and the drift gauge and its
        alert follow all three the same way. So are files the journal does not list (and
        the database never applied): drizzle's migrator never runs them either, and migrate
        lets them be, with a warning; verify, the CI gate, fails on them so that a
        migration someone meant to run is not left out unnoticed. And an INVALID index an
        applied migration built CONCURRENTLY fails it (``status`` warns): the migration
        stands as applied, and CI would pass a database without its index."""
        state = self.state(with_invalid_indexes=True)
        findings = planning.check_integrity(
            self.source.migrations, state.applied, unlisted=self.source.unlisted, strict=True
        )
        drift = any(f.kind.drift for f in findings)
        counts = self.counts(state)
        if state.dirty:
            error = _dirty_error(state)
            return self._failed(Action.VERIFY, error, counts, drift=drift, dirty=True)
        if findings:
            return self._failed(
                Action.VERIFY,
                planning.integrity_error(findings, files_read=len(self.source.migrations)),
                counts,
                drift=drift,
            )
        refusal = self.adoption_refusal(state)
        if refusal is not None:
            return self._failed(Action.VERIFY, refusal, counts, drift=drift)
        invalid = self._invalid(state)
        if invalid:
            return self._failed(Action.VERIFY, _invalid_indexes(invalid), counts, drift=drift)
        return Outcome(action=str(Action.VERIFY), ok=True, counts=counts)

    @staticmethod
    def _failed(
        action: Action, error: KubemigrateError, counts: Counts, *, drift: bool, dirty: bool = False
    ) -> Outcome:
        return Outcome(
            action=str(action),
            ok=False,
            exitCode=int(error.exit_code),
            counts=counts,
            error=error.to_dict(),
            drift=drift,
            dirty=dirty,
        )

    def _outcome(
        self,
        action: Action,
        plan: Plan,
        state: StoreState,
        results: Sequence[MigrationResult],
        *,
        dry_run: bool = False,
    ) -> Outcome:
        if dry_run:  # what it would do: nothing earlier attempts did
            would = tuple(
                MigrationResult(name=s.name, direction=str(s.direction), checksum=s.checksum)
                for s in plan.steps
            )
            done: dict[str, Any] = {"batch": plan.batch, "migrations": would}
        else:
            done = self._whole_run(action, plan, results)
        return Outcome(
            action=str(action),
            ok=True,
            **done,
            counts=self.counts(state),
            dryRun=dry_run,
            confirmation=plan.confirmation_phrase
            if dry_run and action is Action.ROLLBACK
            else None,
            warnings=(*self._source_warnings(state), *planning.plan_warnings(plan)),
        )


class Observers:
    """Fans every event out to several observers (log lines, progress bar, metrics)."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def lock_wait(self, holder: str | None) -> None:
        for o in self.observers:
            o.lock_wait(holder)

    def plan_ready(self, plan: Plan) -> None:
        for o in self.observers:
            o.plan_ready(plan)

    def step_started(self, step: Step, index: int, total: int) -> None:
        for o in self.observers:
            o.step_started(step, index, total)

    def step_finished(self, step: Step, duration_ms: float) -> None:
        for o in self.observers:
            o.step_finished(step, duration_ms)

    def step_failed(self, step: Step, error: KubemigrateError, duration_ms: float) -> None:
        for o in self.observers:
            o.step_failed(step, error, duration_ms)

    def notice(self, severity: str, message: str, migration: str | None = None) -> None:
        for o in self.observers:
            o.notice(severity, message, migration)
