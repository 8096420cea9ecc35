"""What a run will do, as a pure function of the files and the applied list.

Like alembic's, the plan is computed before any statement runs and can be tested
with no files and no database. Every integrity rule lives here so that the CLI,
the Python API and the operator's Jobs refuse the same things for the same reasons.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NoReturn

from kubemigrate.domain import versions
from kubemigrate.domain.checksums import normalise
from kubemigrate.domain.errors import (
    ConfirmationRequired,
    IntegrityError,
    SafetyRefusal,
    UsageError,
)
from kubemigrate.domain.migrations import (
    BASELINED_PHRASE,
    NOTHING_TO_UNDO,
    Action,
    AppliedMigration,
    Direction,
    Environment,
    Migration,
    Plan,
    Step,
    Unlisted,
    Written,
    default_down_file,
)
from kubemigrate.domain.outcome import batches_said

#: The first line of a down file ``generate`` wrote without inverting every statement.
UNFINISHED_DOWN = "-- kubemigrate could not invert these statements; write their rollback by hand:"

#: What ``kubemigrate generate`` writes into an up file when it is given no SQL.
GENERATE_TEMPLATE = (
    "-- Write the migration's SQL here; separate statements with a line\n"
    "-- --> statement-breakpoint\n"
)


_TEMPLATE_TEXT = GENERATE_TEMPLATE.strip()


def refuse_unwritten(step: Step) -> None:
    """An up file still holding generate's template was never written: applied, it would
    do nothing, and the SQL written into it later would count as an edit of an applied
    file (refused), with no down to roll it back by."""
    # the substring test first: it runs for every pending file before a batch, and
    # strip() would copy each one
    if (
        step.direction is Direction.UP
        and _TEMPLATE_TEXT in step.sql
        and step.sql.strip() == _TEMPLATE_TEXT
    ):
        raise UsageError(
            f"{step.name} is still the template `kubemigrate generate` wrote: it has no SQL; "
            "nothing was run.",
            hint="write the migration's SQL in it (and in its .down.sql what undoes it), "
            "then run again",
            migration=step.name,
        )


def plan_warnings(plan: Plan) -> tuple[str, ...]:
    """What a plan does that people should hear before it runs: the data a production
    migrate destroys (``Plan.warnings``), pending up files with
    comments alone (drizzle-kit's ``--custom`` one left empty: drizzle's migrator
    applies them as they are, so kubemigrate does, but says so), and baselined
    migrations a rollback would undo."""
    return (
        *plan.warnings,
        *((baselined_warning(plan),) if plan.baselined else ()),
        *(
            f"{step.name} has no SQL statement (only comments): it is recorded as applied and "
            "changes nothing"
            for step in plan.steps
            if step.direction is Direction.UP and not has_statement(step.sql)
        ),
    )


def baselined_warning(plan: Plan) -> str:
    """Why undoing a baselined migration differs (Flyway refuses to undo below its
    baseline): its rollback SQL drops objects, and their rows, that were there before
    kubemigrate, not ones a migrate made."""
    return (
        f"this rollback includes {', '.join(plan.baselined)}, which `baseline` recorded "
        "without running: their rollback SQL removes what the database had before "
        "kubemigrate tracked it"
    )


def has_statement(text: str) -> bool:
    """Anything but whitespace, ``--`` line comments and ``/* */`` blocks (a scan, not
    a regex: a backtracking pattern for this takes exponential time on ``----...x``)."""
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return True  # unterminated: not ours to judge, the server will
            i = end + 2
        else:
            return True
    return False


def _rollback_sql(stored: str | None, current_down: str | None) -> str | None:
    """The SQL that undoes a migration: what was stored at apply time, else the file's.

    A text of comments alone counts as none: running it would change nothing, yet the
    tracking row would go, and the next migrate would re-apply onto a schema that
    still has the change.
    """
    for text in (stored, current_down):
        if text and usable_down(text):
            return text
    return None


def usable_down(text: str) -> bool:
    """A down that says what to undo: a statement, or the nothing-to-undo directive."""
    return has_statement(text) or NOTHING_TO_UNDO in text


def changed_downs(available: Sequence[Migration], applied: Sequence[AppliedMigration]) -> list[str]:
    """Applied migrations whose down file now differs from the rollback SQL stored at
    apply time: a rollback runs the stored SQL, so a down fixed after the fact is not
    used until ``repair --accept-down`` records it, and people should know that."""
    downs = {m.name: m.down_sql for m in available}
    return [
        row.name
        for row in applied
        # a stored text of comments alone is none: a rollback runs the file then
        if row.rollback_sql
        and usable_down(row.rollback_sql)
        and (down := downs.get(row.name))
        and has_statement(down)
        and normalise(down).strip() != normalise(row.rollback_sql).strip()
    ]


class NewDown(StrEnum):
    """What a rollback runs for a migration once a down file is written for it where it
    had none (``kubemigrate generate-downs``): a rollback runs the SQL stored at apply
    time, and the file only where nothing usable was stored."""

    PENDING = "pending"
    """Not applied: migrate stores the file as its rollback SQL."""
    USED = "used"
    """Applied with no rollback SQL stored (no down file then): a rollback runs the file."""
    STORED = "stored"
    """Applied with other rollback SQL stored (a down file since deleted): a rollback
    runs that, not the file, until ``repair --accept-down`` records the file."""
    SAME = "same"
    """Applied with this very SQL stored."""


def new_down(name: str, down: str, applied: Sequence[AppliedMigration]) -> NewDown:
    """What a rollback of ``name`` runs once ``down`` is its down file (as
    ``plan_rollback`` and ``changed_downs`` decide it)."""
    row = next((r for r in applied if r.name == name), None)
    if row is None:
        return NewDown.PENDING
    stored = row.rollback_sql
    if not stored or not usable_down(stored):
        return NewDown.USED
    if normalise(down).strip() == normalise(stored).strip():
        return NewDown.SAME
    return NewDown.STORED


def down_file(name: str, available: Sequence[Migration]) -> str:
    """Where ``name``'s down SQL is written: as its layout's reader said, or drizzle's
    place for a file no longer in the folder."""
    found = next((m for m in available if m.name == name), None)
    return found.down_file if found else default_down_file(name)


def rollback_written(name: str, sql: str, available: Sequence[Migration]) -> Written:
    """Where the rollback SQL of ``name`` stands, for a failure's position: its down file
    (or section) while that holds exactly this text; else the SQL stored at apply time
    stands in no file, and a line of the file as it is now would point at other SQL."""
    found = next((m for m in available if m.name == name), None)
    if found is not None and found.down_sql == sql:
        return found.down_written
    if found is None:
        why = f"{name} is no longer in the folder"
    elif found.down_sql is None:
        why = f"{found.down_file} is gone"
    else:
        why = f"{found.down_file} has changed since"
    return Written("", label=f"the rollback SQL stored when it was applied ({why})")


def accept_down_hint(name: str, available: Sequence[Migration]) -> str:
    tag = name.removesuffix(".sql")
    return (
        f"a rollback runs the SQL stored when the migration was applied: correct "
        f"{down_file(name, available)}, record it with `kubemigrate repair --accept-down "
        f"{tag}`, then roll back again"
    )


def changed_down_warning(name: str, available: Sequence[Migration]) -> str:
    tag = name.removesuffix(".sql")
    return (
        f"{name}: {down_file(name, available)} differs from the rollback SQL stored when it "
        "was applied, "
        f"which is what a rollback runs; to use the file instead, run `kubemigrate repair "
        f"--accept-down {tag}`"
    )


class FindingKind(StrEnum):
    EDITED = "edited"
    MISSING = "missing"
    OUT_OF_ORDER = "out_of_order"
    RENAMED = "renamed"
    AHEAD = "ahead"
    """Applied after the folder's last file: a newer version's (which migrate lets be),
    or a file deleted; ``verify``, a CI gate, cannot tell which and fails."""
    UNLISTED = "unlisted"
    """A file in the folder its journal does not list, never applied: it never runs
    (drizzle's migrator reads only the journal too), so migrate and status warn, and
    ``verify``, a CI gate, fails. Not drift: the database is as the journal says."""
    DELISTED = "delisted"
    """Applied, and its file is in the folder, but the journal no longer lists it (an
    entry lost in a merge): where it belongs in the order cannot be told."""

    @property
    def drift(self) -> bool:
        """Whether the files disagree with the applied history, so migrate refuses: the
        drift gauge and its alert. ``ahead`` and ``unlisted`` are verify's alone."""
        return self not in (FindingKind.AHEAD, FindingKind.UNLISTED)


def _same_migration(old: str, new: str) -> bool:
    """Whether a new file name keeps enough of an applied one's to be that migration
    renamed: its version (``0001_add_name`` -> ``0001_add_user_name``, a title made
    clearer) or its title (``0001_add_x`` -> ``20240101120000_add_x``, ``drizzle-kit up``;
    a number changed after a merge). With neither, the same SQL alone says little: two
    migrations of ``ANALYZE;`` or ``REFRESH MATERIALIZED VIEW`` are common."""
    version = versions.file_version(old)
    if version is not None and version == versions.file_version(new):
        return True
    title = versions.title(old)
    return bool(title) and title == versions.title(new)


def renamed(
    available: Sequence[Migration], applied: Sequence[AppliedMigration]
) -> list[tuple[str, str]]:
    """(applied name, file name) pairs: an applied migration whose file is gone, and the
    pending file that is it renamed, with the same SQL (checksum) and the same version
    or the same title.

    Only a certain pairing counts: the applied migration has exactly one such file, and
    the file exactly one such applied migration. Two files with its SQL (a copy), or two
    applied migrations with the file's, could each be the other, and recording the wrong
    one would leave a migration unrun for good.

    ``drizzle-kit up`` (0.x to 1.0) moves ``0003_add_x.sql`` into
    ``20240101120000_add_x/migration.sql`` byte for byte; without this every applied
    migration would read as missing and its file as pending, to be run again.
    """
    names = {m.name for m in available}
    applied_names = {row.name for row in applied}
    free = [m for m in available if m.name not in applied_names]
    options = {
        row.name: [
            m.name for m in free if m.checksum == row.checksum and _same_migration(row.name, m.name)
        ]
        for row in applied
        if row.name not in names and row.checksum
    }
    claims = Counter(name for found in options.values() for name in found)
    return [
        (old, found[0])
        for old, found in options.items()
        if len(found) == 1 and claims[found[0]] == 1
    ]


@dataclass(frozen=True)
class Finding:
    """One disagreement between the applied history and the files."""

    kind: FindingKind
    migration: str
    detail: str
    same_sql: tuple[str, ...] = ()
    """The other side's migrations with the same SQL (checksum) that are not certainly
    this one renamed (see ``renamed``): a missing migration's files, an out-of-order
    file's applied migrations. Such a file must never be made to run."""

    def __str__(self) -> str:
        return f"{self.migration}: {self.kind.replace('_', '-')}: {self.detail}"


def ahead(
    available: Sequence[Migration],
    applied: Sequence[AppliedMigration],
    unlisted: Sequence[Unlisted] = (),
) -> list[str]:
    """Migrations applied after every file of this folder, in its order: a newer version
    of the application migrated the database (an older pod starting during a rollout, a
    Deployment rolled back). Flyway ignores such "future" migrations by default; calling
    them missing failed the older version's start for no fault of its own. One whose
    file is here, left out of the journal, is no newer version's (see ``DELISTED``)."""
    names = [m.name for m in available]
    here = {u.name for u in unlisted}
    done = [row.name for row in applied if row.name not in here]
    if not names or done[: len(names)] != names:
        return []
    return done[len(names) :]


def ahead_warning(
    available: Sequence[Migration],
    applied: Sequence[AppliedMigration],
    unlisted: Sequence[Unlisted] = (),
) -> str | None:
    newer = ahead(available, applied, unlisted)
    if not newer:
        return None
    return (
        f"the database is ahead of this folder: {len(newer)} migration(s) applied after its "
        f"last file, by a newer version ({newer[-1]} the newest); they are left as they are"
    )


def check_integrity(
    available: Sequence[Migration],
    applied: Sequence[AppliedMigration],
    *,
    unlisted: Sequence[Unlisted] = (),
    strict: bool = False,
) -> list[Finding]:
    """Edited, missing, renamed, delisted and out-of-order files, in file order; with
    ``strict`` (verify's), also what migrate lets be: migrations ahead of the folder,
    and files its journal does not list (``unlisted``, the source's).

    Out of order means a file that is not applied yet but sorts before the newest
    applied one: typically a branch merged after a later migration went out.
    """
    by_name = {m.name: m for m in available}
    moves = dict(renamed(available, applied))
    newer = set(ahead(available, applied, unlisted))
    on_disk = {u.name: u for u in unlisted}
    applied_names = {row.name for row in applied}
    # files no applied row stands for: where the SQL of a missing migration may be
    free = [m for m in available if m.name not in applied_names and m.name not in moves.values()]
    findings: list[Finding] = []
    for row in applied:
        migration = by_name.get(row.name)
        if row.name in newer:
            if strict:
                detail = "applied after this folder's last file: a newer version's, or deleted"
                findings.append(Finding(FindingKind.AHEAD, row.name, detail))
            continue
        if row.name in moves:
            findings.append(
                Finding(
                    FindingKind.RENAMED,
                    row.name,
                    f"applied, and its SQL is now {moves[row.name]} (same checksum)",
                )
            )
        elif migration is None and row.name in on_disk:
            detail = (
                f"applied, but {on_disk[row.name].journal} no longer lists it (its file is on "
                "disk): an entry lost in a merge?"
            )
            findings.append(Finding(FindingKind.DELISTED, row.name, detail))
        elif migration is None:
            twins = tuple(m.name for m in free if row.checksum and m.checksum == row.checksum)
            detail = "applied, but its file is gone"
            if twins:
                detail += f"; {_listing(twins)} {'holds' if len(twins) == 1 else 'hold'} its SQL"
            findings.append(Finding(FindingKind.MISSING, row.name, detail, twins))
        elif row.checksum and row.checksum != migration.checksum:
            findings.append(
                Finding(
                    FindingKind.EDITED,
                    row.name,
                    f"changed after it was applied (checksum {row.checksum[:12]}… recorded, "
                    f"{migration.checksum[:12]}… on disk)",
                )
            )
    positions = [i for i, m in enumerate(available) if m.name in applied_names]
    if positions:
        newest = available[max(positions)].name
        for migration in available[: max(positions)]:
            if migration.name not in applied_names and migration.name not in moves.values():
                same = tuple(row.name for row in applied if row.checksum == migration.checksum)
                detail = f"pending, but older than the applied {newest}"
                if same:
                    detail += f"; its SQL is the applied {_listing(same)}'s"
                findings.append(Finding(FindingKind.OUT_OF_ORDER, migration.name, detail, same))
    if strict:
        for stray in unlisted:
            if stray.name not in applied_names:
                same = _same_sql(stray, available, applied)
                detail = f"on disk, but not in {stray.journal}, so it never runs; " + (
                    f"it holds the SQL of {_listing(same)}"
                    if same
                    else f'to run it, append {stray.entry} to its "entries"'
                )
                findings.append(Finding(FindingKind.UNLISTED, stray.name, detail, same))
    return findings


def _same_sql(
    stray: Unlisted, available: Sequence[Migration], applied: Sequence[AppliedMigration]
) -> tuple[str, ...]:
    """The migrations, applied or listed, whose SQL an unlisted file holds: listing it
    would run that SQL a second time."""
    names = [row.name for row in applied if row.checksum == stray.checksum]
    names += [m.name for m in available if m.checksum == stray.checksum]
    return tuple(dict.fromkeys(names))


def unlisted_warnings(
    unlisted: Sequence[Unlisted],
    available: Sequence[Migration],
    applied: Sequence[AppliedMigration] = (),
) -> tuple[str, ...]:
    """What migrate, status and generate say of the files the journal does not list and
    that were never applied (an applied one is a ``delisted`` finding): how to list one,
    never for one holding another migration's SQL."""
    applied_names = {row.name for row in applied}
    told = []
    for stray in unlisted:
        if stray.name in applied_names:
            continue
        said = (
            f"{stray.name} is not in {stray.journal} and is ignored (drizzle's migrator, too, "
            "runs only what the journal lists): "
        )
        same = _same_sql(stray, available, applied)
        if same:
            said += (
                f"it holds the SQL of {_listing(same)}, a copy? delete it (listed, that SQL "
                "would run a second time)"
            )
        else:
            said += (
                f'to run it, append {stray.entry} to the journal\'s "entries" (`kubemigrate '
                "generate` lists only the files it writes); if it ran before (in any "
                "database: its entry lost in a merge), put its original entry back instead, "
                "`when` included, or drizzle's migrator runs it again; or delete it"
            )
        told.append(said)
    return tuple(told)


def _listing(names: Sequence[str]) -> str:
    return " and ".join((", ".join(names[:-1]), names[-1])) if len(names) > 1 else names[0]


def integrity_error(findings: Sequence[Finding], *, files_read: int = 1) -> IntegrityError:
    """One error naming every finding and the way out of each kind (``files_read`` 0:
    every applied file is missing because none was read, a wrong folder or format)."""
    kinds = {f.kind for f in findings}
    hints = []
    if not files_read:
        hints.append(
            "no migration file was read at all: check --dir and --format (the folder this "
            "database was migrated from, in its tool's layout)"
        )
    if FindingKind.EDITED in kinds:
        hints.append(
            "restore the applied file, or record its new checksum with "
            "`kubemigrate repair --accept-checksum NAME` if the edit is harmless"
        )
    if FindingKind.RENAMED in kinds:
        hints.append(
            "record the new names with `kubemigrate repair --accept-renames` (the SQL is the "
            "same, so nothing runs again)"
        )
    plain = {f.kind for f in findings if not f.same_sql}
    if FindingKind.MISSING in plain:
        hints.append("restore the missing file (applied migrations must stay in the directory)")
    if FindingKind.AHEAD in kinds:
        hints.append(
            "verify with the folder of the version that applied it (an older version's "
            "migrate lets it be, with a warning); if its file was deleted, restore it"
        )
    if FindingKind.DELISTED in kinds:
        hints.append(
            "put each delisted migration's entry back in the journal as it was, its `when` "
            "too (`git log -p` of the journal shows it): listed anew with a later `when`, "
            "drizzle's own migrator would run it again"
        )
    if FindingKind.UNLISTED in plain:
        hints.append(
            "list each unlisted file with the entry its line gives, appended to the journal's "
            '"entries" (`kubemigrate generate` adds entries only for the files it writes), or '
            "delete it if it is not to run"
        )
    if FindingKind.OUT_OF_ORDER in plain:
        hints.append(
            "rename the out-of-order file so it sorts after the newest applied migration "
            "(in a drizzle folder, `kubemigrate generate NAME --sql FILE` makes the next one)"
        )
    if any(f.same_sql for f in findings):
        hints.append(_same_sql_hint(findings))
    lines = "\n".join(f"  - {f}" for f in findings)
    return IntegrityError(
        f"Integrity check failed; nothing was run:\n{lines}",
        hint="; ".join(hints),
        findings=[
            {"kind": str(f.kind), "migration": f.migration, "detail": f.detail} for f in findings
        ],
    )


def _same_sql_hint(findings: Sequence[Finding]) -> str:
    """The way out for a file holding another migration's SQL that is not certainly it
    renamed: never "run it later", which would run that SQL a second time."""
    pairs: list[tuple[str, str, FindingKind]] = []
    for f in findings:
        if f.same_sql and f.kind is FindingKind.MISSING:
            pairs += [(name, f.migration, f.kind) for name in f.same_sql]
        elif f.same_sql:
            pairs += [(f.migration, name, f.kind) for name in f.same_sql]
    file, migration, kind = pairs[0]
    never = f"{file} holds the SQL of {migration}, so it must not run (" + (
        "listed in the journal, that SQL would run a second time)"
        if kind is FindingKind.UNLISTED
        else "not even renamed to sort after the newest applied migration: that SQL would run "
        "a second time)"
    )
    if not any(f.kind is FindingKind.MISSING and f.migration == migration for f in findings):
        return f"{never}: a copy, delete it"
    return (
        f"{never}: if it is {migration} renamed, give it {migration}'s number or title, with no "
        "other pending file holding that SQL, and `kubemigrate repair --accept-renames` records "
        "it (nothing runs); if it is a copy, delete it"
    )


def pending(available: Sequence[Migration], applied: Sequence[AppliedMigration]) -> list[Migration]:
    names = {row.name for row in applied}
    return [m for m in available if m.name not in names]


def _find(available: Sequence[Migration], target: str) -> int:
    names = [m.name for m in available]
    found = versions.the_one(target, names, said=f"Target {target!r}")
    if found is not None:
        return names.index(found)
    example = available[-1].name if available else "0003_add_orders.sql"
    raise UsageError(
        f"Target {target!r} is not a migration in the directory.",
        hint=f"use a file name as listed by `kubemigrate status` (e.g. {example}), or its version",
    )


def plan_migrate(
    available: Sequence[Migration],
    applied: Sequence[AppliedMigration],
    *,
    next_batch: int,
    target: str | None = None,
    unlisted: Sequence[Unlisted] = (),
) -> Plan:
    """Apply everything pending (up to ``target``) as one new batch."""
    findings = check_integrity(available, applied, unlisted=unlisted)
    if findings:
        raise integrity_error(findings, files_read=len(available))
    todo = pending(available, applied)
    if target is not None:
        limit = _find(available, target)
        wanted = {m.name for m in available[: limit + 1]}
        todo = [m for m in todo if m.name in wanted]
    steps = tuple(
        Step(
            name=m.name,
            direction=Direction.UP,
            sql=m.up_sql,
            checksum=m.checksum,
            batch=next_batch,
            rollback_sql=m.down_sql,
            written=m.up_written,
        )
        for m in todo
    )
    told = ahead_warning(available, applied, unlisted)
    return Plan(
        action=Action.MIGRATE,
        steps=steps,
        batch=next_batch if steps else None,
        warnings=(told,) if told else (),
    )


def plan_rollback(
    applied: Sequence[AppliedMigration],
    available: Sequence[Migration] = (),
    *,
    steps: int | None = None,
    target: str | None = None,
    everything: bool = False,
) -> Plan:
    """Undo the last batch, the last ``steps`` batches, everything after ``target``, or all.

    ``applied`` is in application order. The stored ``rollback_sql`` is used; the
    file's current ``.down.sql`` only fills in where nothing was stored.
    """
    if steps is not None and target is not None:
        raise UsageError("Give either --steps or --target, not both.")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps must be 1 or more, not {steps}.")
    if not applied:
        return Plan(action=Action.RESET if everything else Action.ROLLBACK, steps=())
    if everything:
        chosen = list(applied)
    elif target is not None:
        names = [row.name for row in applied]
        key = versions.the_one(target, names, said=f"Target {target!r}", what="applied migrations")
        if key is None:
            raise UsageError(
                f"Target {target!r} is not applied, so there is nothing to roll back to.",
                hint="`kubemigrate status` lists the applied migrations",
            )
        chosen = list(applied[names.index(key) + 1 :])
    else:
        batches = sorted({row.batch for row in applied}, reverse=True)[: steps or 1]
        chosen = [row for row in applied if row.batch in batches]
    downs = {m.name: m.down_sql for m in available}
    sql = {row.name: _rollback_sql(row.rollback_sql, downs.get(row.name)) for row in chosen}
    missing = [name for name, text in sql.items() if text is None]
    if missing:
        # no down file at all (drizzle-kit generate writes none): one can be inferred
        # generate-downs writes down files (drizzle's, golang-migrate's), not Flyway's
        # undo scripts or dbmate's sections, and needs the up file
        files = {m.name: m.down_file for m in available}
        fileless = [
            name.removesuffix(".sql")
            for name in missing
            if downs.get(name) is None and files.get(name, "").endswith("down.sql")
        ]
        infer = (
            f"; or have kubemigrate infer them from the up SQL: `kubemigrate generate-downs "
            f"{' '.join(fileless)}`"
            if fileless
            else ""
        )
        raise UsageError(
            "No rollback SQL for: " + ", ".join(missing) + "; nothing was rolled back.",
            hint="write the rollback in "
            + ", ".join(down_file(name, available) for name in missing)
            + " (it is used when no SQL was stored at apply time); a down of comments "
            f"alone counts as none, unless it has the line `{NOTHING_TO_UNDO}` (the up "
            f"changed no schema: VACUUM, ANALYZE ...){infer}",
        )
    unfinished = [name for name, text in sql.items() if text and UNFINISHED_DOWN in text]
    if unfinished:
        # Run as it is, such a down undoes part of the migration: a batch rollback
        # stopped midway, or a rebuilt table dropped for good.
        stored = [
            row.name
            for row in chosen
            if row.name in unfinished and sql[row.name] == row.rollback_sql
        ]
        record = (
            "; the SQL stored when "
            + ", ".join(stored)
            + " was applied is what a rollback runs: record the finished file with "
            "`kubemigrate repair --accept-down NAME`"
            if stored
            else "; a rollback then runs the file as it is (no SQL was stored at apply time)"
        )
        raise UsageError(
            "The rollback SQL of "
            + ", ".join(unfinished)
            + " is still what generate (or generate-downs) wrote with statements it could "
            "not invert (listed at its top); it would undo only part of the migration, so "
            "nothing was rolled back.",
            hint="write their rollback by hand in "
            + ", ".join(down_file(name, available) for name in unfinished)
            + f" and delete that note{record}",
        )
    ordered = list(reversed(chosen))
    plan_steps = tuple(
        Step(
            name=row.name,
            direction=Direction.DOWN,
            sql=sql[row.name] or "",
            checksum=row.checksum,
            batch=row.batch,
            written=rollback_written(row.name, sql[row.name] or "", available),
        )
        for row in ordered
    )
    batches_touched = tuple(sorted({row.batch for row in chosen}, reverse=True))
    return Plan(
        action=Action.RESET if everything else Action.ROLLBACK,
        steps=plan_steps,
        batch=batches_touched[0] if len(batches_touched) == 1 else None,
        batches=batches_touched,
    )


#: Where each tool keeps the history ``baseline`` reads, for messages that name it
#: (drizzle's where its migrator's default puts it: ``histories`` finds it elsewhere).
TOOL_NAMES = {"flyway": "Flyway"}
"""How messages write a tool whose ``--format`` key is not its name."""


def tool_name(tool: str) -> str:
    """``Flyway`` for ``flyway``; the others are written as their keys."""
    return TOOL_NAMES.get(tool, tool)


HISTORY_TABLES = {
    "drizzle": "drizzle.__drizzle_migrations",
    "dbmate": "schema_migrations",
    "golang-migrate": "schema_migrations",
    "flyway": "flyway_schema_history",
}


def plan_baseline(
    available: Sequence[Migration],
    applied: Sequence[AppliedMigration],
    *,
    next_batch: int,
    target: str | None = None,
    recorded: frozenset[str] | None = None,
    recorded_count: int = 0,
    recorded_by: str = "drizzle",
    history_table: str | None = None,
    unlisted: Sequence[Unlisted] = (),
) -> Plan:
    """Record files (up to ``target``) as applied without running them.

    ``recorded``: the files drizzle's own migrations table holds (matched by its
    hashes), when the database has one, and ``recorded_count`` its rows;
    ``history_table`` the table they were read from, named in refusals. Without
    a target, only the pending files it holds (in order, up to the first it does not)
    are baselined: a file added since drizzle last ran must stay pending, or its schema
    change would never be made. When some of its rows match no file (edited since
    drizzle ran it, or deleted), where drizzle stopped cannot be told: refused.
    """
    table = history_table or HISTORY_TABLES[recorded_by]
    if target is None and recorded is not None:
        matched = sum(1 for m in available if m.name in recorded)
        if matched < recorded_count:
            raise IntegrityError(
                f"{table} ({tool_name(recorded_by)}'s history) lists {recorded_count} "
                "migration(s), but "
                f"only {matched} of the {len(available)} files here match them: a file edited "
                "or removed since it ran cannot be told from one it never ran"
                + (
                    ""
                    if recorded_by == "drizzle"
                    else f", and a {table} another application keeps (Rails has one too) is "
                    "not this folder's history"
                )
                + "; nothing was recorded.",
                hint="find the last migration drizzle applied (its journal's `when` against "
                f"`SELECT created_at FROM {table}`), then baseline with --target NAME"
                if recorded_by == "drizzle"
                else "baseline with --target NAME, the last migration the database already has",
            )
        waiting = pending(available, applied)
        known = list(itertools.takewhile(lambda m: m.name in recorded, waiting))
        later = [m.name for m in waiting[len(known) :] if m.name in recorded]
        if later:
            _refuse_gap(recorded_by, waiting[len(known)].name, later, table)
        if not known:
            return Plan(action=Action.BASELINE, steps=())
        target = known[-1].name
    plan = plan_migrate(available, applied, next_batch=next_batch, target=target, unlisted=unlisted)
    return Plan(action=Action.BASELINE, steps=plan.steps, batch=plan.batch)


def check_target_recorded(
    plan: Plan, *, target: str, recorded: frozenset[str], tool: str, table: str
) -> None:
    """``baseline --target`` on a database whose previous tool kept a history by version
    (dbmate, golang-migrate, Flyway): the target may stop short of what that tool ran,
    but recording a file it never ran (a target past its newest, a Flyway version it
    skipped) marks it applied with its schema change never made, and migrate would
    never make it."""
    never = [step.name for step in plan.steps if step.name not in recorded]
    if not never or not recorded:
        return
    shown = ", ".join(never[:3]) + (f" and {len(never) - 3} more" if len(never) > 3 else "")
    ran = [step.name for step in plan.steps if step.name in recorded]
    stop = f"baseline with --target {ran[-1]} (the last it ran), or with no target; " if ran else ""
    raise IntegrityError(
        f"{table} ({tool_name(tool)}'s history) does not record {shown} as run: --target {target} "
        "would record it as applied without running it, and migrate would never run it; "
        "nothing was recorded.",
        hint=f"{stop}if the database has it anyway (run by hand), record that in {table} "
        f"first, as {tool_name(tool)} would"
        + (" (`migrate force VERSION`)" if tool == "golang-migrate" else ""),
    )


def _refuse_gap(tool: str, gap: str, later: Sequence[str], table: str) -> NoReturn:
    """The other tool ran migrations after one it never ran (dbmate and Flyway's
    out-of-order mode apply whatever is missing, in any order): kubemigrate applies
    in order, so no baseline can record that state, and recording only what comes
    before the gap would run the later ones a second time. ``table``: its history's."""
    shown = ", ".join(later[:3]) + (f" and {len(later) - 3} more" if len(later) > 3 else "")
    finish = {
        "dbmate": f"apply {gap} with dbmate first (`dbmate up` runs what is missing), then "
        "baseline again",
        "flyway": f"apply {gap} with Flyway first (`flyway migrate -outOfOrder=true`), then "
        "baseline again",
    }.get(
        tool,
        # drizzle's 0.x migrator and golang-migrate never run a migration older than their
        # newest: by hand it is
        f"run {gap}'s SQL by hand, then `kubemigrate baseline --target {later[-1]}`",
    )
    raise IntegrityError(
        f"{table} ({tool_name(tool)}'s history) records {shown} as run, but not {gap} before it: "
        "kubemigrate applies migrations in order and cannot record that; nothing was recorded.",
        hint=f"{finish}; or, if {gap} is to run later, rename it to come after {later[-1]}",
    )


def check_baseline(
    environment: Environment, *, target: str | None, recorded: frozenset[str] | None
) -> None:
    """In production a baseline must say what the database already has: a target, or
    the history of the tool that migrated it (drizzle's own table, dbmate's, Flyway's,
    golang-migrate's) to read it from. Baselining the whole folder blind records
    migrations that never ran, and migrate will then never run them."""
    if environment is Environment.PRODUCTION and target is None and recorded is None:
        raise SafetyRefusal(
            "baseline in production needs --target NAME: the last migration this database "
            "already has (everything up to it is recorded as applied without running).",
            hint="check the schema, then re-run with --target; "
            "`kubemigrate baseline --dry-run --target NAME` shows what would be recorded",
        )


def refuse_reset(environment: Environment, *, force: bool = False) -> None:
    """The reset rule, which needs no plan: checked first, so that a production reset
    is refused for what it is, not for something its plan would have found."""
    if environment is Environment.PRODUCTION:
        raise SafetyRefusal(
            "reset is refused in production: it would roll back every migration.",
            hint="roll back batch by batch with `kubemigrate rollback` and its confirmation",
        )
    if environment is Environment.STAGING and not force:
        raise SafetyRefusal(
            "reset in staging needs --force.",
            hint="re-run with --force if you really mean to roll back everything",
        )


# What ``Plan.confirmation_phrase`` looks like: rollback-batch-7, rollback-batches-5-to-7.
_PHRASE = re.compile(r"rollback-batch(?:-\d+|es-\d+-to-\d+)(?:-with-baselined)?")


@dataclass(frozen=True)
class Undone:
    """What earlier attempts of a rollback's run (its run id) undid: a Job retries its
    Pod (evicted, a lock timeout's exit 75) with the same command, phrase included,
    after the first Pod may have undone some of the batches that phrase names."""

    batches: tuple[int, ...]
    baselined: tuple[str, ...] = ()
    """The migrations among them that ``baseline`` had recorded."""

    def whole_run(self, plan: Plan) -> Plan:
        """``plan`` with what was undone already: the rollback the phrase confirmed."""
        batches = sorted({*self.batches, *plan.batches}, reverse=True)
        return replace(plan, batches=tuple(batches), baselined=(*self.baselined, *plan.baselined))


def _confirms_whole_run(confirm: str, plan: Plan, undone: Undone | None) -> bool:
    """Whether ``confirm`` is the phrase of the whole run: the batches its earlier
    attempts undid and the ones its plan undoes now.

    Safe because batch numbers are never reused: any batch still applied within the
    confirmed range was there, and in the plan the phrase was issued for, when it was
    issued (a batch applied since has a higher number and changes the phrase), so the
    retry undoes nothing the person did not see; and a run id's earlier work cannot
    make a phrase fit a batch outside that range.
    """
    if undone is None or not undone.batches:
        return False
    return confirm == undone.whole_run(plan).confirmation_phrase


def enforce_safety(
    plan: Plan,
    environment: Environment,
    *,
    confirm: str | None = None,
    force: bool = False,
    undone: Undone | None = None,
) -> None:
    """The environment rules: production rollbacks confirmed by phrase, reset guarded.

    ``undone`` is what earlier attempts of the run undid already: the phrase of the
    whole run then confirms what is left of it (see ``_confirms_whole_run``).
    """
    if plan.action is Action.RESET:
        refuse_reset(environment, force=force)
    # production's consent is its phrase, which names the baselined ones (see
    # Plan.confirmation_phrase); elsewhere --force
    production = environment is Environment.PRODUCTION
    if plan.action is Action.ROLLBACK and plan.baselined and not force and not production:
        newest = plan.baselined[0]  # steps, and so these, run newest first
        raise SafetyRefusal(
            f"{baselined_warning(plan)}; nothing was rolled back.",
            hint=(
                f"`--target {newest.removesuffix('.sql')}` undoes only what was applied after "
                "it; or "
                if len(plan.baselined) < len(plan.steps)
                else ""
            )
            + "re-run with --force to run their rollback SQL too",
        )
    if plan.action is Action.ROLLBACK and environment is Environment.PRODUCTION and plan.steps:
        phrase = plan.confirmation_phrase
        names = ", ".join(step.name for step in plan.steps)
        if plan.baselined:
            names += f" ({baselined_warning(plan)})"
        before = ""
        if undone and undone.batches:  # a Job's retried Pod, after its first one undid some
            said = batches_said(undone.batches)
            before = f" An earlier attempt of this run (the same run id) undid {said} already."
        # what the phrase consents to: a down's DROP COLUMN loses every value written since
        shown = plan.warnings[:3] + (
            (f"and {len(plan.warnings) - 3} more",) if len(plan.warnings) > 3 else ()
        )
        names += "".join(f"; {warning}" for warning in shown)
        if confirm is None:
            raise ConfirmationRequired(
                f"Rolling back in production needs confirmation.{before} It would undo: {names}.",
                hint=f"re-run with --confirm {phrase}",
                confirmation=phrase,
                planned=[step.name for step in plan.steps],
            )
        if confirm != phrase and not _confirms_whole_run(confirm, plan, undone):
            plain = (phrase or "").removesuffix(BASELINED_PHRASE)
            if plan.baselined and confirm == plain:
                why = (
                    "this rollback undoes baselined migrations, so its phrase ends "
                    f"{BASELINED_PHRASE}"
                )
            elif not plan.baselined and confirm == f"{phrase}{BASELINED_PHRASE}":
                why = "nothing it undoes was baselined, so its phrase has no such ending"
            elif _PHRASE.fullmatch(confirm):
                why = (
                    "it names other batches: they changed since it was issued, or it was "
                    "meant for another --steps or database"
                )
            else:
                why = "it is not a confirmation phrase (mistyped?)"
            raise ConfirmationRequired(
                f"The confirmation {confirm!r} does not match this rollback ({phrase}): {why}."
                f"{before} Nothing {'more ' if before else ''}was rolled back. It would undo: "
                f"{names}.",
                hint=f"check the plan, then re-run with --confirm {phrase}",
                confirmation=phrase,
                planned=[step.name for step in plan.steps],
            )
