"""The histories other migration tools left in a database, read as kubemigrate needs them.

A database kubemigrate is about to migrate for the first time may have been migrated by
dbmate, golang-migrate, Flyway or drizzle's own migrator. Their tables say which of the
folder's migrations already ran, so that a first ``migrate`` refuses to run them again
and ``baseline`` records them instead. Each tool's table is read here, on the store's
connection; what to make of it is the runner's (and the domain's) business.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from kubemigrate.domain import histories, planning
from kubemigrate.domain.errors import DirtyDatabaseError, PermissionDenied, UsageError
from kubemigrate.domain.histories import DrizzleRows, TableName


def left_unfinished(tool: str, what: str) -> DirtyDatabaseError:
    return DirtyDatabaseError(
        f"This database was migrated by {tool}, whose history says {what}: it is half-way "
        "through that migration, which a baseline cannot record; nothing was recorded.",
        hint=f"finish or undo that migration with {tool} (or by hand and its history table), "
        "then baseline",
    )


def flyway_state(rows: list[tuple[Any, Any, Any]]) -> tuple[list[str], str | None, str | None]:
    """The versions Flyway's history leaves applied, and its baseline version, from its
    rows in the order Flyway wrote them: an ``UNDO_*`` row undoes its version (Flyway
    then shows it pending), a ``DELETE`` row (``flyway repair``) removes it, a
    ``BASELINE`` row stands for every version up to it; and the version it left failed,
    if any (what follows it is not read: the database is half-way through it)."""
    applied: dict[str, None] = {}
    below: str | None = None
    for version, kind, success in rows:
        version, kind = str(version), str(kind or "SQL").upper()
        if not success:
            return list(applied), below, f"version {version} failed"
        if kind in ("BASELINE", "SQL_BASELINE", "JDBC_BASELINE"):  # B__ scripts: the same
            below = version
        elif kind.startswith("UNDO") or kind == "DELETE":
            applied.pop(version, None)
        else:
            applied[version] = None
    return list(applied), below, None


# The columns each tool's migrator creates (name: ``format_type``'s type, or its start):
# golang-migrate's `version bigint, dirty boolean`; dbmate's `version varchar(128)`
# (Rails' schema_migrations has this shape too: its versions match no file here);
# Flyway's ten. Looked for under any name and in any schema: golang-migrate's
# x-migrations-table, dbmate's --migrations-table and Flyway's flyway.table and
# flyway.schemas move them.
_SHAPES: dict[str, dict[str, str]] = {
    "golang-migrate": {"version": "bigint", "dirty": "boolean"},
    "dbmate": {"version": "character varying"},
    "flyway": {
        "installed_rank": "integer",
        "version": "character varying",
        "description": "character varying",
        "type": "character varying",
        "script": "character varying",
        "checksum": "integer",
        "installed_by": "character varying",
        "installed_on": "timestamp",
        "execution_time": "integer",
        "success": "boolean",
    },
}
DEFAULT_TABLES = {
    "golang-migrate": "schema_migrations",
    "dbmate": "schema_migrations",
    "flyway": "flyway_schema_history",
}


@dataclass(frozen=True)
class ToolHistory:
    """What one table of another tool's says it ran."""

    tool: str
    table: TableName
    shown: str
    """As messages name it: unqualified where the search_path finds it by that name."""
    versions: list[str]
    below: str | None = None
    """Flyway's baseline version: every version up to it counts as run."""
    unfinished: str | None = None
    """A version it left failed or dirty ("version 2 is dirty"): the database is half-way
    through it, and no baseline can say so."""
    checksums: dict[str, int] = field(default_factory=dict)
    """Flyway's checksum of each version's script as it ran (its latest row's)."""

    def refuse_unfinished(self) -> None:
        if self.unfinished is not None:
            raise left_unfinished(planning.tool_name(self.tool), self.unfinished)


def tool_histories(conn: psycopg.Connection[Any], tool: str) -> list[ToolHistory]:
    """The histories ``tool`` (dbmate, golang-migrate or Flyway) kept in this database:
    every table of its shape, in any schema this role may read, with what it records;
    the one the search_path finds under the tool's default name first."""
    shape = _SHAPES[tool]
    rows = conn.execute(
        "SELECT n.nspname, c.relname, "
        "array_agg(a.attname::text ORDER BY a.attnum), "
        "array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum), "
        "c.oid = to_regclass(%s) "
        "FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
        "AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%%' "
        "AND n.nspname <> 'information_schema' "
        "AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute v WHERE v.attrelid = c.oid "
        "AND v.attname = 'version' AND NOT v.attisdropped) "
        "AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') "
        "GROUP BY n.nspname, c.relname, c.oid ORDER BY 5 DESC, 1, 2",
        (DEFAULT_TABLES[tool],),
    ).fetchall()
    found = []
    for schema, name, columns, types, visible in rows:
        have = dict(zip(columns, types, strict=True))
        if set(have) != set(shape) or not all(
            have[column].startswith(kind) for column, kind in shape.items()
        ):
            continue
        table = TableName(str(schema), str(name))
        shown = histories.quote_ident(table.name) if visible else str(table)
        with suppress(psycopg.errors.InsufficientPrivilege):
            found.append(_read(conn, tool, table, shown))
    return found


def _read(conn: psycopg.Connection[Any], tool: str, table: TableName, shown: str) -> ToolHistory:
    name = sql.Identifier(table.schema, table.name)
    if tool == "flyway":
        rows = conn.execute(
            sql.SQL(
                "SELECT version, type, success, checksum FROM {} "
                "WHERE version IS NOT NULL AND type <> 'SCHEMA' ORDER BY installed_rank"
            ).format(name)
        ).fetchall()
        versions, below, unfinished = flyway_state([row[:3] for row in rows])
        checksums = {
            str(version): int(crc)
            for version, kind, success, crc in rows
            if success and crc is not None and str(kind).upper() == "SQL"
        }
        return ToolHistory(tool, table, shown, versions, below, unfinished, checksums)
    if tool == "golang-migrate":
        got = conn.execute(sql.SQL("SELECT version, dirty FROM {}").format(name)).fetchone()
        if got is None:
            return ToolHistory(tool, table, shown, [])
        # golang-migrate keeps the newest version only: every one up to it ran
        dirty = f"version {got[0]} is dirty" if got[1] else None
        return ToolHistory(tool, table, shown, [str(int(got[0]))], unfinished=dirty)
    versions = conn.execute(sql.SQL("SELECT version FROM {}").format(name)).fetchall()
    return ToolHistory(tool, table, shown, [str(r[0]) for r in versions])


def drizzle_tables(conn: psycopg.Connection[Any], *, ours: Sequence[str]) -> list[TableName]:
    """The tables in any schema whose columns are exactly one of drizzle's shapes
    (``histories.DRIZZLE_SHAPES``) and which this role may read; kubemigrate's own
    tables, the system's schemas and another session's temporary tables are not
    looked at. Where drizzle-orm's ``migrationsSchema`` / ``migrationsTable`` sent
    its history, when they were set."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, "
        "array_agg(a.attname::text ORDER BY a.attnum), "
        "array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) "
        "FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
        "AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%%' "
        "AND n.nspname <> 'information_schema' AND NOT c.relname = ANY (%s) "
        "AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute h WHERE h.attrelid = c.oid "
        "AND h.attname = 'hash' AND NOT h.attisdropped) "
        "AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') "
        "GROUP BY n.nspname, c.relname ORDER BY 1, 2",
        (list(ours),),
    ).fetchall()
    return [
        TableName(str(schema), str(name))
        for schema, name, columns, types in rows
        if histories.shape_matches(dict(zip(columns, types, strict=True)))
    ]


def drizzle_rows(conn: psycopg.Connection[Any], table: TableName) -> DrizzleRows | None:
    """The hashes (and ``created_at`` times) in drizzle's migrations table ``table``
    (SHA-256 of each applied file, as drizzle-orm's migrator records them), or None
    when there is no such table. A table without a ``hash`` column is not drizzle's."""
    columns = {
        str(name)
        for (name,) in conn.execute(
            "SELECT a.attname FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 "
            "AND NOT a.attisdropped",
            (table.schema, table.name),
        ).fetchall()
    }
    if not columns:
        return None
    if "hash" not in columns:
        raise UsageError(
            f"{table} has no hash column: it is not a drizzle migrations table "
            f"(its columns: {', '.join(sorted(columns))}); nothing was run.",
            hint="drizzle's has id, hash and created_at (drizzle-orm 1.0 adds name and "
            f"applied_at); name the one drizzle's migrator writes with {histories.FLAG}",
        )
    times = "created_at" in columns
    query = sql.SQL("SELECT hash, {} FROM {}").format(
        sql.Identifier("created_at") if times else sql.NULL,
        sql.Identifier(table.schema, table.name),
    )
    try:
        rows = conn.execute(query).fetchall()
    except psycopg.errors.InsufficientPrivilege:
        raise PermissionDenied(
            f"The database user may not read {table}, drizzle's migrations table: "
            "kubemigrate cannot tell what drizzle ran; nothing was run.",
            hint=f"GRANT USAGE ON SCHEMA {histories.quote_ident(table.schema)} and "
            f"SELECT ON {table} to this user, or connect as the one drizzle's "
            "migrator used",
        ) from None
    return DrizzleRows(
        hashes=frozenset(str(h) for h, _ in rows if h is not None),
        times=frozenset(int(t) for _, t in rows if isinstance(t, int)),
    )
