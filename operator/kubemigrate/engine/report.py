"""The status report: the original system's text, word for word, and its JSON form.

Users grep this output and paste it into incident channels, so the wording and
symbols stay as they were; integrity warnings follow the original sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubemigrate.domain import planning
from kubemigrate.domain.dirty import dirty_error
from kubemigrate.domain.migrations import (
    AppliedMigration,
    DirtyState,
    Migration,
    RollbackRecord,
    Unlisted,
)
from kubemigrate.domain.outcome import Counts

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def iso_utc(value: datetime) -> str:
    """ISO 8601 with its offset. The tracking tables' TIMESTAMP columns hold UTC (every
    session runs with TimeZone=UTC) but carry no zone, and a reader must not take
    ``2025-01-29T10:15:23`` for local time."""
    return (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def fmt_time(value: datetime | None) -> str:
    if value is None:
        return "never"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(TIME_FORMAT)


@dataclass(frozen=True)
class MigrationLine:
    name: str
    status: str
    """applied | pending | missing | ahead (applied after the folder's last file) |
    delisted (applied, its file on disk but not in the journal)"""
    applied_at: datetime | None = None
    checksum: str | None = None
    batch: int | None = None


@dataclass(frozen=True)
class StatusReport:
    lines: tuple[MigrationLine, ...]
    rollbacks: tuple[RollbackRecord, ...] = ()
    warnings: tuple[str, ...] = ()
    findings: tuple[planning.Finding, ...] = ()
    dirty: tuple[DirtyState, ...] = ()
    running: tuple[DirtyState, ...] = ()
    holder: str | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def total(self) -> int:
        return sum(1 for line in self.lines if line.status in ("applied", "pending"))

    @property
    def applied(self) -> int:
        return sum(1 for line in self.lines if line.status == "applied")

    @property
    def pending(self) -> int:
        return sum(1 for line in self.lines if line.status == "pending")

    @property
    def counts(self) -> Counts:
        """The same counts as ``Runner.counts``, from lines already built."""
        return Counts(total=self.total, applied=self.applied, pending=self.pending)

    @property
    def last_applied(self) -> datetime | None:
        times = [line.applied_at for line in self.lines if line.applied_at is not None]
        return max(times) if times else None

    @property
    def healthy(self) -> bool:
        return not self.findings and not self.dirty

    def text(self) -> str:
        out = [
            "📊 Migration Status Report",
            "================================",
            f"Total migration files: {self.total}",
            f"Applied migrations: {self.applied}",
            f"Pending migrations: {self.pending}",
            f"Last applied: {fmt_time(self.last_applied)}",
            "",
            "📋 Migration Details:",
        ]
        for line in self.lines:
            if line.status == "applied":
                out.append(f"  ✅ Applied {line.name} {fmt_time(line.applied_at)}")
            elif line.status == "pending":
                out.append(f"  ⏳ Pending {line.name}")
            elif line.status == "ahead":
                out.append(f"  ✅ Applied {line.name} {fmt_time(line.applied_at)} (newer version)")
            elif line.status == "delisted":
                out.append(
                    f"  ❌ Delisted {line.name} {fmt_time(line.applied_at)} "
                    "(applied; its file is on disk, but not in the journal)"
                )
            else:
                out.append(f"  ❌ Missing {line.name} {fmt_time(line.applied_at)}")
        if self.rollbacks:
            out += ["", "🔄 Recent Rollbacks:"]
            out += [f"  {fmt_time(r.at)} - {r.migration}" for r in self.rollbacks]
        notes = [*self.warning_lines(), *self.warnings]
        if notes:
            out += ["", "⚠️  Warnings:"]
            out += [f"  - {note}" for note in notes]
        return "\n".join(out) + "\n"

    def warning_lines(self) -> list[str]:
        lines = [str(f) for f in self.findings]
        applied = [line.name for line in self.lines if line.status in ("applied", "ahead")]
        for d in self.dirty:
            what = (
                f"ran all {d.total_statements} statements outside a transaction, then "
                "stopped before recording it"
                if d.finished
                else f"stopped at statement {d.statement} of {d.total_statements} outside "
                "a transaction"
                if d.statement
                else f"interrupted before the first of its {d.total_statements} statements "
                "finished, outside a transaction"
            )
            # the way out the refused run gives: a bare repair ran a finished file again
            lines.append(f"{d.migration}: dirty: {what}; {dirty_error([d], applied).hint}")
        for d in self.running:
            lines.append(
                f"{d.migration}: being applied now outside a transaction "
                f"(statement {max(d.statement, 1)} of {d.total_statements}) by {self.holder}"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the original kept it in drizzle/migration-metadata.json)."""
        return {
            "generatedAt": iso_utc(self.generated_at),
            "totalMigrations": self.total,
            "appliedMigrations": self.applied,
            "pendingMigrations": self.pending,
            "lastApplied": iso_utc(self.last_applied) if self.last_applied else None,
            "migrations": [
                {
                    "name": line.name,
                    "status": line.status,
                    "appliedAt": iso_utc(line.applied_at) if line.applied_at else None,
                    "checksum": line.checksum,
                    "batch": line.batch,
                }
                for line in self.lines
            ],
            "recentRollbacks": [
                {"migration": r.migration, "rolledBackAt": iso_utc(r.at)} for r in self.rollbacks
            ],
            "drift": [
                {"kind": str(f.kind), "migration": f.migration, "detail": f.detail}
                for f in self.findings
            ],
            "dirty": [
                {
                    "migration": d.migration,
                    "statement": d.statement,
                    "of": d.total_statements,
                    "error": d.error,
                }
                for d in self.dirty
            ],
            "running": [
                {"migration": d.migration, "statement": d.statement, "of": d.total_statements}
                for d in self.running
            ],
            "warnings": [*self.warnings],
        }


def build(
    available: tuple[Migration, ...],
    applied: tuple[AppliedMigration, ...],
    *,
    rollbacks: tuple[RollbackRecord, ...] = (),
    dirty: tuple[DirtyState, ...] = (),
    running: tuple[DirtyState, ...] = (),
    holder: str | None = None,
    warnings: tuple[str, ...] = (),
    unlisted: tuple[Unlisted, ...] = (),
) -> StatusReport:
    rows = {row.name: row for row in applied}
    moved = planning.renamed(available, applied)  # applied under an old name (drizzle-kit up)
    rows.update((new, rows[old]) for old, new in moved)
    lines = []
    for m in available:
        row = rows.get(m.name)
        if row is None:
            lines.append(MigrationLine(name=m.name, status="pending", checksum=m.checksum))
        else:
            lines.append(
                MigrationLine(
                    name=m.name,
                    status="applied",
                    applied_at=row.applied_at,
                    checksum=row.checksum,
                    batch=row.batch,
                )
            )
    names = {m.name for m in available} | {old for old, _ in moved}
    newer = set(planning.ahead(available, applied, unlisted))
    on_disk = {u.name for u in unlisted}
    lines += [
        MigrationLine(
            name=row.name,
            status="ahead"
            if row.name in newer
            else "delisted"
            if row.name in on_disk
            else "missing",
            applied_at=row.applied_at,
            checksum=row.checksum,
            batch=row.batch,
        )
        for row in applied
        if row.name not in names
    ]
    return StatusReport(
        lines=tuple(lines),
        rollbacks=rollbacks,
        warnings=warnings,
        findings=tuple(planning.check_integrity(available, applied, unlisted=unlisted)),
        dirty=dirty,
        running=running,
        holder=holder,
    )
