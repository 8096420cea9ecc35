"""A realistic, deterministic migration history for benchmarks, in three tools' layouts.

A benchmark of N empty ``CREATE TABLE`` files says nothing about a migration engine:
real histories mix DDL of every kind with small data changes, and engines differ in
how they split, parse, checksum and record them. This module generates N migrations
that look like a product's history (tables with foreign keys, indexes, column adds,
renames, enums, views, plpgsql triggers, small ``INSERT ... SELECT generate_series``
backfills), each with a down that really undoes it, from a seed, so every run and
every tool sees the very same SQL.

Layouts written from one history:

* drizzle-kit's (kubemigrate's native format): ``NNNN_name.sql`` with statements
  ended by ``--> statement-breakpoint`` the way drizzle-kit writes them, the down in
  ``NNNN_name.down.sql``, the order in ``meta/_journal.json``;
* dbmate's: ``db/migrations/NNNN_name.sql`` with ``-- migrate:up`` / ``-- migrate:down``;
* one concatenated file for ``psql -1 -f`` (the floor every engine is measured against).

``python -m bench.history --count 50 --verify`` applies the ups in order and the downs
in reverse on a throwaway server and checks, at checkpoints, that the downs bring the
database back to exactly the dump taken on the way up.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BREAKPOINT = "--> statement-breakpoint"
JOURNAL_EPOCH_MS = 1_700_000_000_000

NOUNS = [
    "accounts", "invoices", "payments", "shipments", "warehouses", "suppliers", "coupons",
    "reviews", "sessions", "devices", "tickets", "projects", "tasks", "comments", "tags",
    "teams", "plans", "refunds", "carts", "addresses", "events", "webhooks", "reports",
    "audits", "regions", "stores", "contracts", "licenses", "quotes", "vendors",
]  # fmt: skip
ATTRS = [
    "title", "code", "amount", "notes", "priority", "score", "region", "currency", "rating",
    "weight", "channel", "reference", "summary", "quantity", "label_text", "external_id",
    "version", "source_ip", "metadata", "deadline", "discount", "margin", "locale", "slug",
]  # fmt: skip
# (SQL type, DEFAULT expression or None, expression used to backfill existing rows)
COLUMN_TYPES: list[tuple[str, str | None, str]] = [
    ("text", None, "'n/a'"),
    ("varchar(120)", "''", "left(md5(id::text), 12)"),
    ("integer", "0", "id % 97"),
    ("bigint", None, "id * 1000"),
    ("numeric(12, 2)", "0", "round((id % 1000) / 7.0, 2)"),
    ("boolean", "false", "id % 2 = 0"),
    ("timestamp with time zone", None, "now()"),
    ("jsonb", "'{}'::jsonb", "jsonb_build_object('n', id)"),
    ("uuid", "gen_random_uuid()", "gen_random_uuid()"),
    ("date", None, "current_date"),
]
ENUM_VALUES = ["draft", "active", "paused", "archived", "deleted", "pending", "done"]


@dataclass(frozen=True)
class Migration:
    """One step of the history: its drizzle tag (``0042_add_...``) and its SQL both ways."""

    index: int
    tag: str
    up: tuple[str, ...]
    down: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"{self.tag}.sql"


@dataclass
class _Table:
    """The generator's model of one table, so later steps only touch what exists."""

    name: str
    columns: list[str] = field(default_factory=list)
    renamable: list[str] = field(default_factory=list)  # columns nothing refers to by name
    indexed: set[str] = field(default_factory=set)
    has_touch_trigger: bool = False
    backfills: int = 0


class _Generator:
    """Builds the history one step at a time over a model of the schema.

    Every operation reads the model to pick targets that exist now, updates it, and
    returns the up and down statements. Reverse order of the downs is what makes them
    valid: anything that depends on an object was created after it, so it is undone
    before it.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tables: list[_Table] = []
        self.counter = 0
        self.views = 0

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _pick(self) -> _Table:
        return self.rng.choice(self.tables)

    def step(self) -> tuple[str, list[str], list[str]]:
        """One migration: (name suffix, up statements, down statements)."""
        if len(self.tables) < 3:
            return self.create_table()
        ops = [
            (self.create_table, 14),
            (self.add_column, 22),
            (self.create_index, 14),
            (self.rename_column, 8),
            (self.rename_table, 4),
            (self.backfill, 12),
            (self.touch_trigger, 8),
            (self.enum_column, 7),
            (self.create_view, 7),
            (self.add_foreign_key, 4),
        ]
        while True:
            op = self.rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
            result = op()
            if result is not None:
                return result

    def create_table(self) -> tuple[str, list[str], list[str]]:
        name = f"{self.rng.choice(NOUNS)}_{self._next()}"
        table = _Table(name, columns=["id", "label", "source", "created_at", "updated_at"])
        lines = [
            '\t"id" serial PRIMARY KEY NOT NULL',
            '\t"label" text NOT NULL',
            '\t"source" varchar(32)',
            '\t"created_at" timestamp with time zone DEFAULT now() NOT NULL',
            '\t"updated_at" timestamp with time zone DEFAULT now() NOT NULL',
        ]
        for _ in range(self.rng.randint(1, 4)):
            col = f"{self.rng.choice(ATTRS)}_{self._next()}"
            sql_type, default, _ = self.rng.choice(COLUMN_TYPES)
            lines.append(f'\t"{col}" {sql_type}' + (f" DEFAULT {default}" if default else ""))
            table.columns.append(col)
            table.renamable.append(col)
        up: list[str] = []
        if self.tables and self.rng.random() < 0.6:
            parent = self._pick()
            fk_col = f"{parent.name}_id"
            lines.append(f'\t"{fk_col}" integer')
            fk, idx = f"{name}_{fk_col}_fk"[:63], f"{name}_{fk_col}_idx"[:63]
            up.append(
                f'ALTER TABLE "{name}" ADD CONSTRAINT "{fk}" FOREIGN KEY ("{fk_col}") '
                f'REFERENCES "public"."{parent.name}"("id") ON DELETE set null ON UPDATE no action'
            )
            up.append(f'CREATE INDEX "{idx}" ON "{name}" USING btree ("{fk_col}")')
            table.columns.append(fk_col)
            table.indexed.add(fk_col)
        up.insert(0, f'CREATE TABLE "{name}" (\n' + ",\n".join(lines) + "\n)")
        self.tables.append(table)
        return f"create_{name}", up, [f'DROP TABLE "{name}"']

    def add_column(self) -> tuple[str, list[str], list[str]]:
        table = self._pick()
        col = f"{self.rng.choice(ATTRS)}_{self._next()}"
        sql_type, default, backfill = self.rng.choice(COLUMN_TYPES)
        clause = f" DEFAULT {default}" if default else ""
        up = [f'ALTER TABLE "{table.name}" ADD COLUMN "{col}" {sql_type}{clause}']
        if self.rng.random() < 0.4:  # the common "add, then fill existing rows" pair
            up.append(f'UPDATE "{table.name}" SET "{col}" = {backfill}')
        table.columns.append(col)
        table.renamable.append(col)
        return f"add_{table.name}_{col}", up, [f'ALTER TABLE "{table.name}" DROP COLUMN "{col}"']

    def create_index(self) -> tuple[str, list[str], list[str]] | None:
        table = self._pick()
        candidates = [c for c in table.columns if c not in table.indexed and c != "id"]
        if not candidates:
            return None
        col = self.rng.choice(candidates)
        table.indexed.add(col)
        name = f"{table.name}_{col}_idx"[:63]
        columns = f'"{col}","created_at"' if self.rng.random() < 0.3 else f'"{col}"'
        up = f'CREATE INDEX "{name}" ON "{table.name}" USING btree ({columns})'
        return f"index_{table.name}_{col}", [up], [f'DROP INDEX "{name}"']

    def rename_column(self) -> tuple[str, list[str], list[str]] | None:
        table = self._pick()
        if not table.renamable:
            return None
        old = self.rng.choice(table.renamable)
        new = f"{self.rng.choice(ATTRS)}_{self._next()}"
        for names in (table.columns, table.renamable):
            names[names.index(old)] = new
        if old in table.indexed:
            table.indexed.discard(old)
            table.indexed.add(new)
        up = f'ALTER TABLE "{table.name}" RENAME COLUMN "{old}" TO "{new}"'
        down = f'ALTER TABLE "{table.name}" RENAME COLUMN "{new}" TO "{old}"'
        return f"rename_{table.name}_{old}", [up], [down]

    def rename_table(self) -> tuple[str, list[str], list[str]]:
        table = self._pick()
        old, new = table.name, f"{self.rng.choice(NOUNS)}_{self._next()}"
        table.name = new
        return (
            f"rename_{old}_to_{new}",
            [f'ALTER TABLE "{old}" RENAME TO "{new}"'],
            [f'ALTER TABLE "{new}" RENAME TO "{old}"'],
        )

    def backfill(self) -> tuple[str, list[str], list[str]]:
        table = self._pick()
        table.backfills += 1
        tag = f"m{self.counter}_{table.backfills}"[:32]
        rows = self.rng.randint(5, 200)
        up = (
            f'INSERT INTO "{table.name}" ("label", "source") '
            f"SELECT 'item ' || g, '{tag}' FROM generate_series(1, {rows}) AS g"
        )
        down = f'DELETE FROM "{table.name}" WHERE "source" = \'{tag}\''
        self._next()
        return f"seed_{table.name}", [up], [down]

    def touch_trigger(self) -> tuple[str, list[str], list[str]] | None:
        candidates = [t for t in self.tables if not t.has_touch_trigger]
        if not candidates:
            return None
        table = self.rng.choice(candidates)
        table.has_touch_trigger = True
        k = self._next()
        fn, trigger = f"touch_updated_at_{k}", f"touch_{k}"
        function = (
            f'CREATE FUNCTION "{fn}"() RETURNS trigger\n'
            "LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "  IF NEW.label IS DISTINCT FROM OLD.label THEN\n"
            "    NEW.updated_at := now();\n"
            "  END IF;\n"
            "  RETURN NEW;\n"
            "END;\n"
            "$$"
        )
        create = (
            f'CREATE TRIGGER "{trigger}" BEFORE UPDATE ON "{table.name}"\n'
            f'FOR EACH ROW EXECUTE FUNCTION "{fn}"()'
        )
        down = [f'DROP TRIGGER "{trigger}" ON "{table.name}"', f'DROP FUNCTION "{fn}"()']
        return f"touch_trigger_{table.name}", [function, create], down

    def enum_column(self) -> tuple[str, list[str], list[str]]:
        table = self._pick()
        k = self._next()
        type_name, col = f"status_{k}", f"status_{k}"
        values = self.rng.sample(ENUM_VALUES, self.rng.randint(2, 5))
        listed = ", ".join(f"'{v}'" for v in values)
        up = [
            f'CREATE TYPE "public"."{type_name}" AS ENUM({listed})',
            f'ALTER TABLE "{table.name}" ADD COLUMN "{col}" "{type_name}" '
            f"DEFAULT '{values[0]}' NOT NULL",
        ]
        table.columns.append(col)  # not renamable: the index/view logic may refer to it
        down = [
            f'ALTER TABLE "{table.name}" DROP COLUMN "{col}"',
            f'DROP TYPE "public"."{type_name}"',
        ]
        return f"enum_{table.name}_{col}", up, down

    def create_view(self) -> tuple[str, list[str], list[str]]:
        table = self._pick()
        self.views += 1
        name = f"recent_{table.name}_v{self.views}"[:63]
        extra = [c for c in table.columns if c not in {"id", "label", "created_at"}]
        shown = ", ".join(f"t.{c}" for c in ["id", "label", "created_at", *extra[:2]])
        up = (
            f'CREATE VIEW "{name}" AS\n'
            f'SELECT {shown}\nFROM "{table.name}" AS t\n'
            "WHERE t.created_at > now() - interval '30 days'"
        )
        # The view pins the columns it shows: never rename or drop them afterwards.
        for c in extra[:2]:
            if c in table.renamable:
                table.renamable.remove(c)
        return f"view_{name}", [up], [f'DROP VIEW "{name}"']

    def add_foreign_key(self) -> tuple[str, list[str], list[str]] | None:
        child, parent = self._pick(), self._pick()
        fk_col = f"{parent.name}_ref_{self._next()}"[:55]
        fk = f"{child.name}_{fk_col}_fk"[:63]
        idx = f"{child.name}_{fk_col}_idx"[:63]
        up = [
            f'ALTER TABLE "{child.name}" ADD COLUMN "{fk_col}" integer',
            f'ALTER TABLE "{child.name}" ADD CONSTRAINT "{fk}" FOREIGN KEY ("{fk_col}") '
            f'REFERENCES "public"."{parent.name}"("id") ON DELETE set null ON UPDATE no action',
            f'CREATE INDEX "{idx}" ON "{child.name}" USING btree ("{fk_col}")',
        ]
        child.columns.append(fk_col)
        child.indexed.add(fk_col)
        down = [f'ALTER TABLE "{child.name}" DROP COLUMN "{fk_col}"']
        return f"fk_{child.name}_{parent.name}", up, down


def generate(count: int, seed: int = 20240601) -> list[Migration]:
    """The first ``count`` migrations of the history for ``seed`` (a prefix is stable)."""
    gen = _Generator(seed)
    history = []
    for index in range(count):
        suffix, up, down = gen.step()
        tag = f"{index:04d}_{suffix}"[:80]
        history.append(Migration(index, tag, tuple(up), tuple(down)))
    return history


def render(statements: Sequence[str]) -> str:
    """Statements as drizzle-kit writes them: each ends ``;--> statement-breakpoint``."""
    return f";{BREAKPOINT}\n".join(statements) + ";\n"


def write_drizzle(history: Sequence[Migration], directory: Path) -> Path:
    """kubemigrate's native (drizzle-kit) layout, with ``.down.sql`` siblings."""
    (directory / "meta").mkdir(parents=True, exist_ok=True)
    entries = []
    for m in history:
        (directory / m.file_name).write_text(render(m.up))
        (directory / f"{m.tag}.down.sql").write_text(render(m.down))
        entries.append(
            {
                "idx": m.index,
                "version": "7",
                "when": JOURNAL_EPOCH_MS + m.index * 60_000,
                "tag": m.tag,
                "breakpoints": True,
            }
        )
    journal = {"version": "7", "dialect": "postgresql", "entries": entries}
    (directory / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2) + "\n")
    return directory


def write_dbmate(history: Sequence[Migration], directory: Path) -> Path:
    """dbmate's layout: one file per migration with ``-- migrate:up`` / ``-- migrate:down``."""
    directory.mkdir(parents=True, exist_ok=True)
    for m in history:
        up = ";\n".join(m.up) + ";\n"
        down = ";\n".join(m.down) + ";\n"
        (directory / m.file_name).write_text(f"-- migrate:up\n{up}\n-- migrate:down\n{down}")
    return directory


def write_concatenated(
    history: Sequence[Migration], path: Path, *, down: bool = False, each_alone: bool = False
) -> Path:
    """Every up (or every down, newest first) in one file, for ``psql -1 -f``; with
    ``each_alone``, each migration in its own BEGIN ... COMMIT, for plain ``psql -f``:
    the floor for tools that commit migration by migration, as the issue asks. Its
    commits skip the WAL flush wait but the last, as kubemigrate's do: a floor that
    waited at every commit would flatter kubemigrate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = list(reversed(history) if down else history)
    with path.open("w") as out:
        if each_alone:
            out.write("SET synchronous_commit = off;\n")
        for n, m in enumerate(steps):
            out.write(f"-- {m.file_name}\n")
            body = ";\n".join(m.down if down else m.up) + ";\n"
            if not each_alone:
                out.write(body)
                continue
            last = "SET synchronous_commit = on;\n" if n == len(steps) - 1 else ""
            out.write(f"{last}BEGIN;\n{body}COMMIT;\n")
    return path


def _psql(psql: Path, url: str, sql: str) -> None:
    """Run ``sql`` in one transaction, stopping at the first error (and showing it)."""
    result = subprocess.run(
        [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", url, "-f", "-"],
        input=sql,
        text=True,
        check=False,
        capture_output=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")


def _dump(pg_dump: Path, url: str) -> list[str]:
    """Schema and data as sorted lines, minus what legitimately differs after an undo.

    Sequence positions move on after a backfill is deleted, and an UPDATE moves rows
    physically, so COPY's row order changes: compare the lines as a multiset.
    """
    out = subprocess.run(
        [str(pg_dump), "--no-owner", "--no-privileges", "-d", url],
        text=True,
        check=True,
        capture_output=True,
    ).stdout
    skip = ("\\restrict", "\\unrestrict", "SELECT pg_catalog.setval")
    return sorted(line for line in out.splitlines() if not line.startswith(skip))


def verify(history: Sequence[Migration], url: str, bindir: Path, checkpoints: int = 4) -> None:
    """Apply all ups in order, then all downs in reverse, on the database at ``url``.

    A dump is taken at each checkpoint on the way up and compared with the dump at the
    same point on the way down, so a down that leaves anything behind (a column, an
    index, rows of a backfill) is caught, not only a down that fails.
    """
    psql, pg_dump = bindir / "psql", bindir / "pg_dump"
    cuts = sorted({len(history) * k // checkpoints for k in range(checkpoints)})
    bounds = list(zip(cuts, [*cuts[1:], len(history)], strict=True))
    expected: dict[int, list[str]] = {}
    for start, stop in bounds:
        expected[start] = _dump(pg_dump, url)
        _psql(psql, url, "".join(_sql(m.up) for m in history[start:stop]))
    for start, stop in reversed(bounds):
        _psql(psql, url, "".join(_sql(m.down) for m in reversed(history[start:stop])))
        if _dump(pg_dump, url) != expected[start]:
            raise AssertionError(f"the downs back to migration {start} do not restore it")


def _sql(statements: Sequence[str]) -> str:
    return ";\n".join(statements) + ";\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write a history in all three layouts; ``--verify`` checks it on a throwaway server."""
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, help="write drizzle/, dbmate/ and all.sql here")
    parser.add_argument("--verify", action="store_true", help="apply ups and downs with psql")
    args = parser.parse_args(argv)
    history = generate(args.count, args.seed)
    if args.out:
        write_drizzle(history, args.out / "drizzle")
        write_dbmate(history, args.out / "dbmate" / "db" / "migrations")
        write_concatenated(history, args.out / "all.sql")
        print(f"wrote {len(history)} migrations to {args.out}")
    if args.verify:
        from kubemigrate.devcluster import postgres

        with postgres.running() as server:
            url = server.create_database("history_check")
            verify(history, url, postgres.find_bindir())
        print(f"verified: {len(history)} ups in order, downs in reverse restore each checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
