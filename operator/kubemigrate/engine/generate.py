"""``kubemigrate generate``: the next migration file, its inferred down file, its journal entry.

The down file is written from the up SQL where every statement has a safe
inverse; whatever cannot be inverted is listed at the top of the down file and in
the command's output, so nobody learns it during an incident.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubemigrate.domain.errors import SourceError, UsageError
from kubemigrate.engine.sources import drizzle, read_text

TEMPLATE = (
    "-- Write the migration's SQL here; separate statements with a line\n"
    "-- --> statement-breakpoint\n"
)


@dataclass(frozen=True)
class Generated:
    up: Path
    down: Path
    journal: Path
    uninvertible: tuple[str, ...]

    def text(self) -> str:
        out = [f"📝 Created {self.up}", f"📝 Created {self.down}", f"📝 Updated {self.journal}"]
        if self.uninvertible:
            out.append("⚠️  Not inverted automatically (write these in the down file by hand):")
            out += [f"  - {line}" for line in self.uninvertible]
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "up": str(self.up),
            "down": str(self.down),
            "journal": str(self.journal),
            "uninvertible": list(self.uninvertible),
        }


def slug(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if not cleaned:
        raise UsageError(
            f"{name!r} cannot name a migration.", hint="use letters and digits, e.g. add_orders"
        )
    return cleaned[:60]


def _read_up(sql_file: Path | None) -> str:
    if sql_file is None:
        return TEMPLATE
    if str(sql_file) == "-":
        return sys.stdin.read()
    if not sql_file.is_file():
        raise UsageError(f"--sql {sql_file}: no such file.")
    return read_text(sql_file)


def _down_for(up: str) -> tuple[str, tuple[str, ...]]:
    from kubemigrate.domain.sql import SqlSyntaxError
    from kubemigrate.domain.sql.rollback import infer_rollback

    try:
        inferred = infer_rollback(up)
    except SqlSyntaxError as exc:
        raise UsageError(
            f"The up SQL does not parse: {exc.message} at line {exc.line}.",
            hint="fix the SQL and run generate again",
        ) from None
    header = ""
    if inferred.uninvertible:
        header = "-- kubemigrate could not invert these statements; write their rollback by hand:\n"
        header += "".join(f"--   {line}\n" for line in inferred.uninvertible)
        header += "\n"
    body = inferred.sql.strip()
    return header + (body + "\n" if body else ""), inferred.uninvertible


def generate_migration(directory: Path, name: str, sql_file: Path | None = None) -> Generated:
    tag_name = slug(name)
    up = _read_up(sql_file)
    journal_path = drizzle.journal_path(directory) or directory / "meta" / "_journal.json"
    if journal_path.exists():
        journal = drizzle.read_journal(journal_path)
    else:
        journal = {"version": "7", "dialect": "postgresql", "entries": []}
    index = drizzle.next_index(directory) if directory.exists() else 0
    tag = f"{index:04d}_{tag_name}"
    up_path, down_path = directory / f"{tag}.sql", directory / f"{tag}.down.sql"
    if up_path.exists():
        raise SourceError(
            f"{up_path} already exists.",
            hint="the journal and the files disagree; check meta/_journal.json",
        )
    uninvertible: tuple[str, ...] = ()
    if up == TEMPLATE:
        down = "-- Write the SQL that undoes the up migration here\n"
    else:
        down, uninvertible = _down_for(up)
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    up_path.write_text(up if up.endswith("\n") else up + "\n")
    down_path.write_text(down)
    journal["entries"].append(
        {
            "idx": index,
            "version": "7",
            "when": int(time.time() * 1000),
            "tag": tag,
            "breakpoints": True,
        }
    )
    journal_path.write_text(json.dumps(journal, indent=2) + "\n")
    return Generated(up=up_path, down=down_path, journal=journal_path, uninvertible=uninvertible)
