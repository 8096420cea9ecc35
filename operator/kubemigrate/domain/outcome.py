"""The result of one engine run, as the CLI prints it and the operator reads it.

A Job's pod writes this JSON to its termination message, which Kubernetes caps
at 4096 bytes; ``to_json`` therefore drops per-migration detail (never the
counts or the error) until it fits, and says so with ``truncated``. What the
operator reports from it must not depend on how much detail survived: the
number of migrations done is written as a field of its own before the list is
cut, and so are the flags that say whether anything changed (``dryRun``) or
the files disagree with the database (``drift``, ``dirty``).

A run has one id (a MigrationRun's uid) however many times its Job starts a Pod
for it: a Pod evicted, a lock timeout's exit 75. Each new Pod runs the engine again
under that id, and only the last Pod's result is read, so a result reports what
earlier attempts of its run did too (from the history table), each marked
``earlierAttempt``: the status lists, and the metrics count, every migration the
run applied or rolled back, once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

TERMINATION_MESSAGE_LIMIT = 4096
FORMAT_VERSION = 1

#: The direction of an action's migrations, for those cut from a truncated list.
_ACTION_DIRECTION = {
    "migrate": "up",
    "rollback": "down",
    "reset": "down",
    "baseline": "baseline",
    "repair": "repair",
}
#: Kept by the last-resort shrink: what the operator's status, message and metrics need.
_ESSENTIALS = (
    "v",
    "action",
    "ok",
    "exitCode",
    "batch",
    "counts",
    "migrationCount",
    "earlierCount",
    "drift",
    "dirty",
    "confirmation",
    "dryRun",
    "durationMs",
)


@dataclass(frozen=True)
class MigrationResult:
    """One migration that ran (or would run, in a dry run / plan)."""

    name: str
    direction: str
    checksum: str | None = None
    durationMs: float | None = None
    earlierAttempt: bool | None = None
    """True when an earlier attempt of the run did it (a Pod of its Job before the one
    that reported): the history table's record, under the same run id."""


@dataclass(frozen=True)
class Counts:
    total: int = 0
    applied: int = 0
    pending: int = 0


@dataclass(frozen=True)
class Outcome:
    """Everything a caller needs to know about one run."""

    action: str
    ok: bool
    exitCode: int = 0
    batch: int | None = None
    """The one batch the run recorded (migrate) or undid (rollback); see ``batches``."""
    batches: tuple[int, ...] = ()
    """Every batch, oldest first, when the run touched several (``batch`` is then left
    out): a rollback of several batches, or a run whose Job retried it after an earlier
    attempt had recorded a batch of its own (each attempt of a migrate records one)."""
    migrations: tuple[MigrationResult, ...] = ()
    counts: Counts = field(default_factory=Counts)
    drift: bool = False
    """True when the integrity checks found edited, missing or out-of-order files."""
    dirty: bool = False
    confirmation: str | None = None
    """The phrase a production rollback must be confirmed with (plan / refusal)."""
    dryRun: bool = False
    error: dict[str, Any] | None = None
    """``{reason, message, hint?, migration?, sqlState?, position?, ...}``."""
    warnings: tuple[str, ...] = ()
    truncated: bool = False
    migrationCount: int | None = None
    """How many migrations the run did (or would do); written only when ``migrations``
    had to be cut to fit, so the count survives the cut. Read it as
    :attr:`migration_count`."""
    earlierCount: int | None = None
    """How many of the migrations earlier attempts of the run did; written only when
    ``migrations`` had to be cut to fit, as ``migrationCount`` is. Read it as
    :attr:`earlier_count`."""
    durationMs: float | None = None
    """The engine's own run time, lock wait included. The Job's startTime and
    completionTime have whole-second resolution: a duration histogram fed from them
    would put every quick run at 0 s or 1 s."""

    @property
    def migration_count(self) -> int:
        """How many migrations the run did (or would do), whether or not all are listed."""
        return max(self.migrationCount or 0, len(self.migrations))

    @property
    def earlier_count(self) -> int:
        """How many of the migrations earlier attempts of the run did, whether or not
        all are listed."""
        listed = sum(1 for m in self.migrations if m.earlierAttempt)
        return max(self.earlierCount or 0, listed)

    def migration_counts(self) -> dict[str, int]:
        """How many migrations went each way (``up``, ``down``, ``baseline`` ...).

        Those cut from a truncated list went the way of the ones listed (one run
        goes one way), or, when none is listed, the way of the action.
        """
        counts = Counter(m.direction for m in self.migrations)
        omitted = self.migration_count - len(self.migrations)
        if omitted:
            direction = (
                next(iter(counts)) if len(counts) == 1 else _ACTION_DIRECTION.get(self.action)
            )
            if direction is not None:
                counts[direction] += omitted
        return dict(counts)

    @property
    def observed_database(self) -> bool:
        """Whether the run saw the database's state, so its counts and drift are facts.

        A run that could not connect (or failed before reading the tracking table)
        reports zero counts; publishing those would claim "nothing pending, no drift"
        for a database nobody looked at.
        """
        return self.ok or self.counts.total > 0 or self.drift or self.dirty

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # a migration's empty fields too: every byte counts in a termination message
        data["migrations"] = [
            {k: v for k, v in m.items() if v is not None} for m in data["migrations"]
        ]
        data["v"] = FORMAT_VERSION
        if not self.observed_database:
            del data["counts"]  # unknown, not zero: a CI script read "nothing pending"
        return {k: v for k, v in data.items() if v not in (None, (), [], False) or k == "ok"}

    def to_json(self, limit: int | None = None) -> str:
        """Compact JSON; with ``limit``, shrunk (detail first) to fit that many bytes."""
        text = compact_json(self.to_dict())
        if limit is None or len(text.encode()) <= limit:
            return text
        data = json.loads(text)
        data["truncated"] = True
        if self.migration_count:
            data["migrationCount"] = self.migration_count
        if self.earlier_count:
            data["earlierCount"] = self.earlier_count
        for shrink in (_drop_durations, _drop_migrations, _clip_warnings, _clip_error):
            shrink(data, limit)
            text = compact_json(data)
            if len(text.encode()) <= limit:
                return text
        # Last resort: the essentials only, still valid JSON the operator can read.
        error = data.get("error") or {}
        essentials = {key: data[key] for key in _ESSENTIALS if key in data}
        essentials["truncated"] = True
        if error:
            essentials["error"] = {
                "reason": error.get("reason"),
                "message": str(error.get("message", ""))
                .encode()[: limit // 2]
                .decode(errors="ignore"),
            }
        return compact_json(essentials)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        # fields a newer engine adds are left out, not a reason to lose the whole result
        fields = set(MigrationResult.__dataclass_fields__)
        migrations = tuple(
            MigrationResult(**{k: v for k, v in m.items() if k in fields})
            for m in data.get("migrations", ())
        )
        counts = Counts(**data.get("counts", {}))
        known = set(cls.__dataclass_fields__) - {"migrations", "counts"}
        rest = {k: v for k, v in data.items() if k in known}
        for key in ("warnings", "batches"):
            if key in rest:
                rest[key] = tuple(rest[key])
        return cls(migrations=migrations, counts=counts, **rest)

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        return cls.from_dict(json.loads(text))


def batches_said(batches: tuple[int, ...] | list[int]) -> str:
    """``batch 4``, ``batches 2 and 3``, ``batches 5, 6 and 7``."""
    if len(batches) == 1:
        return f"batch {batches[0]}"
    listed = [str(b) for b in sorted(batches)]
    return f"batches {', '.join(listed[:-1])} and {listed[-1]}"


def done_note(outcome: Outcome) -> str:
    """What a run's summary says after "applied 5 migration(s)": its batches, and how
    many of them earlier attempts of the run did (a Job's Pods before the last one),
    `` (batches 2 and 3; 3 of them by an earlier attempt of this run)``.

    Each attempt of a migrate records a batch of its own, and a rollback undoes one
    batch at a time: "applied 5 (batch 3)" would have a person roll back batch 3
    expecting all five to go.
    """
    batches = outcome.batches or ((outcome.batch,) if outcome.batch is not None else ())
    parts = [batches_said(batches)] if batches else []
    earlier, count = outcome.earlier_count, outcome.migration_count
    if earlier:
        share = "all" if earlier >= count else f"{earlier} of them"
        parts.append(f"{share} by an earlier attempt of this run")
    return f" ({'; '.join(parts)})" if parts else ""


def timed(outcome: Outcome, started: float, ended: float) -> Outcome:
    """``outcome`` with the run time between two ``time.perf_counter()`` readings."""
    return replace(outcome, durationMs=round((ended - started) * 1000, 1))


def compact_json(data: Any) -> str:
    """The one form of every document ``--json`` prints: compact, whatever the command."""
    return json.dumps(data, separators=(",", ":"), default=str)


def _fits(data: dict[str, Any], limit: int) -> bool:
    return len(compact_json(data).encode()) <= limit


def _drop_durations(data: dict[str, Any], limit: int) -> None:
    for m in data.get("migrations", []):
        m.pop("durationMs", None)
        m.pop("checksum", None)


def _most_that_fit(count: int, fits: Callable[[int], bool]) -> int:
    """The largest ``n < count`` with ``fits(n)`` (0 when none does), by bisection:
    one serialisation per step rather than one per entry dropped, which for a batch
    of a thousand migrations would be a million entries serialised."""
    low, high = 0, count - 1
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _drop_migrations(data: dict[str, Any], limit: int) -> None:
    """Keep the first and the last migrations, as many as fit, and drop the middle."""
    migrations = data.get("migrations") or []
    if not migrations or _fits(data, limit):
        return

    def keep(n: int) -> list[Any]:
        return migrations[: n - n // 2] + migrations[len(migrations) - n // 2 :]

    def fits(n: int) -> bool:
        return _fits({**data, "migrations": keep(n), "migrationsOmitted": True}, limit)

    data["migrations"] = keep(_most_that_fit(len(migrations), fits))
    data["migrationsOmitted"] = True


def _clip_warnings(data: dict[str, Any], limit: int) -> None:
    """Keep the first warnings that fit, and say how many more there were."""
    warnings = data.get("warnings") or []
    if not warnings or _fits(data, limit):
        return

    def keep(n: int) -> list[str]:
        more = len(warnings) - n
        return [*warnings[:n], f"... and {more} more warning(s), left out to fit {limit} bytes"]

    def fits(n: int) -> bool:
        return _fits({**data, "warnings": keep(n)}, limit)

    kept = _most_that_fit(len(warnings), fits)
    if fits(kept):
        data["warnings"] = keep(kept)
    else:
        data.pop("warnings")


def _clip_error(data: dict[str, Any], limit: int) -> None:
    error = data.get("error")
    if error:
        for key in ("findings", "completed", "planned", "detail"):
            error.pop(key, None)
        for key in ("message", "hint"):
            if isinstance(error.get(key), str):
                error[key] = error[key].encode()[:1024].decode(errors="ignore")
