"""``kubemigrate generate-downs``: the missing down files of existing migrations.

``drizzle-kit generate`` writes up SQL alone, so a drizzle team's migrations have no
down file and ``rollback`` refuses them. This writes each missing one from its up SQL
with the inference ``generate`` uses (``generate.infer_down``), the same note at its
top for what it cannot invert (a rollback refuses the file until a person has written
those and deleted the note), in the place the layout's reader looks for it:

- drizzle-kit 0.x (and a flat drizzle-kit 1.0 folder): ``NNNN_name.down.sql`` beside
  ``NNNN_name.sql``;
- drizzle-kit 1.0: ``<folder>/down.sql`` beside ``<folder>/migration.sql``;
- golang-migrate: ``N_title.down.sql`` beside ``N_title.up.sql``.

Flyway's undo scripts and dbmate's down sections are not written (see
``refuse_format``).

A down file that exists is never touched, whatever it holds. Each migration is done on
its own: one whose up SQL ``generate`` would refuse gets nothing, the others get theirs,
and the result lists every one, as a batch report does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubemigrate.domain import versions
from kubemigrate.domain.errors import UsageError
from kubemigrate.domain.migrations import NO_TRANSACTION_DIRECTIVE, NOTHING_TO_UNDO, Migration
from kubemigrate.domain.planning import NewDown, has_statement, new_down, usable_down
from kubemigrate.engine import sources
from kubemigrate.engine.generate import MixedSql, UnparsedSql, infer_down

if TYPE_CHECKING:
    from kubemigrate.domain.migrations import AppliedMigration


class Result(StrEnum):
    WRITTEN = "written"
    """Every statement inverted: a rollback runs the file as it is."""
    WRITTEN_WITH_NOTE = "written-with-note"
    """Written with the note of what it could not invert: a rollback refuses it until a
    person has written those and deleted the note."""
    SKIPPED = "skipped"
    """It has a down file already, never overwritten."""
    REFUSED = "refused"
    """Its up SQL is what generate refuses (does not parse, mixes transactional and
    non-transactional statements, holds no statement): nothing written for it."""


@dataclass(frozen=True)
class DownResult:
    """What became of one migration's down file."""

    migration: str
    result: Result
    down: Path
    """Where its down file is (or would be)."""
    uninvertible: tuple[str, ...] = ()
    message: str = ""
    """Why it was skipped or refused."""
    hint: str = ""
    rollback: NewDown | None = None
    """What a rollback runs once the file is written: the tracking table decides, so
    only known when a database was given."""
    sql: str = field(default="", repr=False)
    """The down file's text, written or (dry run) to be written."""

    @property
    def written(self) -> bool:
        return self.result in (Result.WRITTEN, Result.WRITTEN_WITH_NOTE)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.migration,
            "result": str(self.result),
            "down": str(self.down),
        }
        if self.uninvertible:
            data["uninvertible"] = list(self.uninvertible)
        if self.message:
            data["message"] = self.message
        if self.hint:
            data["hint"] = self.hint
        if self.rollback is not None:
            data["rollback"] = str(self.rollback)
            data["rollbackNote"] = rollback_note(self)
        return data


@dataclass(frozen=True)
class DownsWritten:
    """The result of one ``generate-downs``."""

    results: tuple[DownResult, ...]
    dry_run: bool = False
    checked: bool = False
    """Whether the tracking table was read (a database was given), so each written
    file says what a rollback will run."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def refused(self) -> tuple[DownResult, ...]:
        return tuple(r for r in self.results if r.result is Result.REFUSED)

    def count(self, *results: Result) -> int:
        return sum(1 for r in self.results if r.result in results)

    def text(self) -> str:
        out: list[str] = []
        verb = "Would write" if self.dry_run else "Wrote"
        for r in self.results:
            if r.result is Result.WRITTEN:
                out.append(f"📝 {verb} {r.down}")
            elif r.result is Result.WRITTEN_WITH_NOTE:
                out.append(
                    f"📝 {verb} {r.down}, with a note at its top; not inverted "
                    "automatically (write these in the down file by hand, then delete the "
                    "note: a rollback refuses the file until then):"
                )
                out += [f"  - {line}" for line in r.uninvertible]
            elif r.result is Result.SKIPPED:
                out.append(f"⏭️  Skipped {r.migration}: {r.message}")
            else:
                out.append(f"❌ Refused {r.migration}: {r.message}")
                if r.hint:
                    out.append(f"  hint: {r.hint}")
            if r.written and r.rollback is not None:
                out.append(f"  rollback: {rollback_note(r)}")
        out.append(self.summary())
        if not self.checked and any(r.written for r in self.results):
            out.append(
                "ℹ️  A migration applied with a down file that has since been deleted keeps the "
                "rollback SQL stored then, and a rollback runs that, not its new file: pass "
                "--database-url to have each applied one checked (`kubemigrate status` "
                "warns of any whose stored SQL differs from its file)."
            )
        return "\n".join(out) + "\n"

    def summary(self) -> str:
        written = self.count(Result.WRITTEN, Result.WRITTEN_WITH_NOTE)
        noted = self.count(Result.WRITTEN_WITH_NOTE)
        skipped, refused = self.count(Result.SKIPPED), self.count(Result.REFUSED)
        if not written and not refused:
            if skipped == 1:
                return f"Nothing to write: {self.results[0].migration} has a down file."
            return f"Nothing to write: each of the {skipped} migrations has a down file."
        parts = [
            f"{written} down file(s) {'would be written' if self.dry_run else 'written'}"
            + (f" ({noted} with a note)" if noted else "")
        ]
        if skipped:
            parts.append(f"{skipped} skipped (a down file already)")
        if refused:
            parts.append(f"{refused} refused (nothing written for them)")
        ending = "; nothing was written." if self.dry_run else "."
        return ("Dry run: " if self.dry_run else "") + ", ".join(parts) + ending

    def to_dict(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "migrations": [r.to_dict() for r in self.results],
            "counts": {
                "written": self.count(Result.WRITTEN),
                "writtenWithNote": self.count(Result.WRITTEN_WITH_NOTE),
                "skipped": self.count(Result.SKIPPED),
                "refused": self.count(Result.REFUSED),
            },
            "warnings": list(self.warnings),
        }


def rollback_note(r: DownResult) -> str:
    """What a rollback of ``r``'s migration runs now that its down file is written."""
    tag = r.migration.removesuffix(".sql")
    unfinished = (
        ", once its note's statements are written" if r.result is Result.WRITTEN_WITH_NOTE else ""
    )
    if r.rollback is NewDown.PENDING:
        return (
            "not recorded as applied: migrate (or baseline) stores this file as its rollback SQL"
            + (" (finish it first)" if unfinished else "")
        )
    if r.rollback is NewDown.USED:
        return (
            "applied, with no rollback SQL stored (it had no down file then): a rollback "
            f"runs this file{unfinished}"
        )
    if r.rollback is NewDown.SAME:
        return "applied, with this very SQL stored as its rollback SQL: a rollback runs it"
    return (
        "applied, with other rollback SQL stored when it was applied (from a down file "
        "since deleted): a rollback runs that, not this file; to run this file instead, "
        f"{'finish it, then ' if unfinished else ''}record it with `kubemigrate repair "
        f"--accept-down {tag}`"
    )


#: Layouts whose downs are no file of their own beside the up file.
_NOT_WRITTEN = {
    "flyway": (
        "generate-downs does not write Flyway undo scripts (U<version>__<description>.sql): "
        "undo is a Flyway Teams feature, and Flyway Community, which may still read this "
        "folder, warns about every undo script it finds; nothing was written.",
        "write the U scripts you want by hand (kubemigrate reads them as the rollback); "
        "to see the down kubemigrate infers for a script, run `kubemigrate generate NAME "
        "--sql V<version>__<description>.sql --dir SCRATCH_FOLDER` and copy its .down.sql",
    ),
    "dbmate": (
        "generate-downs does not write dbmate downs: a dbmate migration keeps its rollback "
        "in the '-- migrate:down' section of its own file, and kubemigrate does not rewrite "
        "migration files; nothing was written.",
        "write the '-- migrate:down' sections by hand; to see the down kubemigrate infers "
        "for a file, put its up section in a file and run `kubemigrate generate NAME --sql "
        "FILE --dir SCRATCH_FOLDER`, then copy its .down.sql",
    ),
}


def refuse_format(fmt: str) -> None:
    """A UsageError for a layout whose downs this does not write, before anything is
    read or connected to."""
    if fmt in _NOT_WRITTEN:
        message, hint = _NOT_WRITTEN[fmt]
        raise UsageError(message, hint=hint)


def chosen(source: sources.Source, names: Iterable[str]) -> list[Migration]:
    """The migrations ``names`` name (file names or versions, as --target takes them),
    in the folder's order; every one with no names. An unknown name is refused before
    anything is written."""
    wanted = list(names)
    if not wanted:
        return list(source.migrations)
    by_name = [m.name for m in source.migrations]
    picked: set[str] = set()
    for name in wanted:
        found = versions.the_one(name, by_name, said=f"{name!r}")
        if found is None:
            example = by_name[-1] if by_name else "0003_add_orders.sql"
            raise UsageError(
                f"{name!r} is not a migration in {source.directory}; nothing was written.",
                hint=f"name migrations as `kubemigrate status` lists them (e.g. {example}), "
                "or by version",
            )
        picked.add(found)
    return [m for m in source.migrations if m.name in picked]


def write_downs(
    source: sources.Source,
    names: Iterable[str] = (),
    *,
    dry_run: bool = False,
    applied: Sequence[AppliedMigration] | None = None,
) -> DownsWritten:
    """Write the down file of each migration of ``source`` (those ``names`` names) that
    has none. ``applied``: the tracking table's rows, when a database was given, so
    each written file says what a rollback will run."""
    refuse_format(source.fmt)
    results = []
    for migration in chosen(source, names):
        result = _one(source.directory, migration, dry_run=dry_run)
        if result.written and applied is not None:
            result = replace(result, rollback=new_down(migration.name, result.sql, applied))
        results.append(result)
    return DownsWritten(
        results=tuple(results),
        dry_run=dry_run,
        checked=applied is not None,
        warnings=source.warnings,
    )


def _one(directory: Path, migration: Migration, *, dry_run: bool) -> DownResult:
    path = directory / migration.down_file
    name = migration.name
    if migration.down_sql is not None:
        return _skipped(name, path, migration.down_sql)
    up = migration.up_sql
    if not has_statement(up.replace(";", " ")):
        return DownResult(
            name,
            Result.REFUSED,
            path,
            message=f"{migration.up_file} holds no SQL statement (only comments), so there "
            "is nothing to invert yet.",
            hint="write the migration's SQL first (a `drizzle-kit generate --custom` file "
            "is empty until then), then run generate-downs again; if it is meant to change "
            f"nothing, write the line `{NOTHING_TO_UNDO}` in {migration.down_file}",
        )
    try:
        text, uninvertible = infer_down(up)
    except UnparsedSql as exc:
        return DownResult(
            name,
            Result.REFUSED,
            path,
            message=exc.message,
            hint=f"fix {migration.up_file} if the SQL is wrong (migrate would fail on it "
            f"too), then run generate-downs again; or write {migration.down_file} by hand",
        )
    except MixedSql as exc:
        return DownResult(
            name,
            Result.REFUSED,
            path,
            message=exc.message.replace("so nothing was written", "so no down was written"),
            hint="split it into two migrations, or, if running the others outside a "
            f"transaction too is fine, add the line `{NO_TRANSACTION_DIRECTIVE}` to it (a "
            "failure midway then leaves the database marked dirty until a person checks "
            f"it); then run generate-downs again, or write {migration.down_file} by hand",
        )
    result = Result.WRITTEN_WITH_NOTE if uninvertible else Result.WRITTEN
    if not dry_run:
        try:
            # "x": a down file made since the folder was read (an editor, a second run)
            # is never overwritten
            with path.open("x", encoding="utf-8") as f:
                f.write(text)
        except FileExistsError:
            return _skipped(name, path, None)
    return DownResult(name, result, path, uninvertible=uninvertible, sql=text)


def _skipped(name: str, path: Path, down: str | None) -> DownResult:
    message = f"{path} exists (a down file is never overwritten)"
    if down is not None and not usable_down(down):
        message += (
            "; it holds no statement, so a rollback counts it as none: write the rollback in "
            "it, or delete it and run generate-downs again"
        )
    return DownResult(name, Result.SKIPPED, path, message=message)
