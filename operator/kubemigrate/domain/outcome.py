"""The result of one engine run, as the CLI prints it and the operator reads it.

A Job's pod writes this JSON to its termination message, which Kubernetes caps
at 4096 bytes; ``to_json`` therefore drops per-migration detail (never the
counts or the error) until it fits, and says so with ``truncated``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

TERMINATION_MESSAGE_LIMIT = 4096
FORMAT_VERSION = 1


@dataclass(frozen=True)
class MigrationResult:
    """One migration that ran (or would run, in a dry run / plan)."""

    name: str
    direction: str
    checksum: str | None = None
    durationMs: float | None = None


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
    durationMs: float | None = None
    """The engine's own run time, lock wait included. The Job's startTime and
    completionTime have whole-second resolution: a duration histogram fed from them
    would put every quick run at 0 s or 1 s."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["v"] = FORMAT_VERSION
        return {k: v for k, v in data.items() if v not in (None, (), [], False) or k == "ok"}

    def to_json(self, limit: int | None = None) -> str:
        """Compact JSON; with ``limit``, shrunk (detail first) to fit that many bytes."""
        text = json.dumps(self.to_dict(), separators=(",", ":"), default=str)
        if limit is None or len(text.encode()) <= limit:
            return text
        data = json.loads(text)
        data["truncated"] = True
        for shrink in (_drop_durations, _drop_migrations, _drop_warnings, _clip_error):
            shrink(data)
            text = json.dumps(data, separators=(",", ":"), default=str)
            if len(text.encode()) <= limit:
                return text
        # Last resort: the essentials only, still valid JSON the operator can read.
        error = data.get("error") or {}
        essentials = {
            key: data[key]
            for key in ("v", "action", "ok", "exitCode", "batch", "counts", "durationMs")
            if key in data
        }
        essentials["truncated"] = True
        if error:
            essentials["error"] = {
                "reason": error.get("reason"),
                "message": str(error.get("message", ""))
                .encode()[: limit // 2]
                .decode(errors="ignore"),
            }
        return json.dumps(essentials, separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        migrations = tuple(MigrationResult(**m) for m in data.get("migrations", ()))
        counts = Counts(**data.get("counts", {}))
        known = set(cls.__dataclass_fields__) - {"migrations", "counts"}
        rest = {k: v for k, v in data.items() if k in known}
        if "warnings" in rest:
            rest["warnings"] = tuple(rest["warnings"])
        return cls(migrations=migrations, counts=counts, **rest)

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        return cls.from_dict(json.loads(text))


def timed(outcome: Outcome, started: float, ended: float) -> Outcome:
    """``outcome`` with the run time between two ``time.perf_counter()`` readings."""
    return replace(outcome, durationMs=round((ended - started) * 1000, 1))


def _drop_durations(data: dict[str, Any]) -> None:
    for m in data.get("migrations", []):
        m.pop("durationMs", None)
        m.pop("checksum", None)


def _drop_migrations(data: dict[str, Any]) -> None:
    migrations = data.get("migrations", [])
    while migrations and len(json.dumps(data).encode()) > TERMINATION_MESSAGE_LIMIT:
        migrations.pop(len(migrations) // 2)
    data["migrationsOmitted"] = True


def _drop_warnings(data: dict[str, Any]) -> None:
    data.pop("warnings", None)


def _clip_error(data: dict[str, Any]) -> None:
    error = data.get("error")
    if error:
        for key in ("findings", "completed", "planned", "detail"):
            error.pop(key, None)
        for key in ("message", "hint"):
            if isinstance(error.get(key), str):
                error[key] = error[key].encode()[:1024].decode(errors="ignore")
