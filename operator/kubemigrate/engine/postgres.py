"""The PostgreSQL store: tracking tables, the advisory lock, and running SQL.

A small store interface in golang-migrate's spirit (lock, unlock, run, record,
read). Errors from psycopg become domain errors here and nowhere else in the
engine, with the connection string scrubbed from every message; the two readers
the store delegates to (``database_url`` for the URL before libpq connects,
``tool_histories`` for other tools' tables) raise domain errors of their own.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import make_conninfo

from kubemigrate.domain.errors import (
    AuthenticationFailed,
    DatabaseUnreachable,
    KubemigrateError,
    LockTimeout,
    MigrationFailed,
    PermissionDenied,
    UsageError,
)
from kubemigrate.domain.histories import DrizzleRows, TableName
from kubemigrate.domain.migrations import AppliedMigration, DirtyState, RollbackRecord, Step
from kubemigrate.domain.secrets import scrub, secret_values, unencoded_password
from kubemigrate.engine import database_url
from kubemigrate.engine.report import iso_utc

if TYPE_CHECKING:
    from kubemigrate.domain.sql import IndexBuild
    from kubemigrate.engine.tool_histories import ToolHistory


@contextmanager
def _pipeline_noise_dropped() -> Iterator[None]:
    """psycopg logs "error ignored terminating <Pipeline>" when a statement of a
    pipeline failed; we report that failure ourselves, once, with its file and
    position. Dropped for this thread, while its pipeline runs, and nowhere else: a
    logger switched off at import silenced an application's own psycopg warnings
    once it had imported kubemigrate to migrate on start-up."""
    me = threading.get_ident()

    def other(record: logging.LogRecord) -> bool:
        return record.thread != me or not str(record.msg).startswith("error ignored")

    logger = logging.getLogger("psycopg")
    logger.addFilter(other)
    try:
        yield
    finally:
        logger.removeFilter(other)


TRACKING_TABLE = "__migration_tracking"
HISTORY_TABLE = "__migration_history"
DIRTY_TABLE = "__migration_dirty"

# The tracking table exactly as users of the original system know it.
TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS {tracking} (
  id SERIAL PRIMARY KEY,
  migration_name VARCHAR(255) UNIQUE NOT NULL,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  rollback_sql TEXT,
  checksum VARCHAR(64),
  batch_number INTEGER DEFAULT 1
)"""

HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS {history} (
  id BIGSERIAL PRIMARY KEY,
  migration_name VARCHAR(255),
  action VARCHAR(32) NOT NULL,
  batch_number INTEGER,
  checksum VARCHAR(64),
  at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  duration_ms DOUBLE PRECISION,
  run_id TEXT,
  actor TEXT,
  sql_state VARCHAR(5),
  error TEXT
)"""

DIRTY_DDL = """
CREATE TABLE IF NOT EXISTS {dirty} (
  migration_name VARCHAR(255) PRIMARY KEY,
  statement_index INTEGER NOT NULL,
  total_statements INTEGER NOT NULL,
  error TEXT,
  marked_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""

_TABLES_DDL = (TRACKING_DDL, HISTORY_DDL, DIRTY_DDL)

# A connection refused for a setting it carries, not for the network: invalid
# parameter value (22023), unknown parameter (42704), and libpq's own checks of
# sslmode, target_session_attrs and the like, which it reports before connecting.
_SETTING_STATES = ("22023", "42704")
_BAD_SETTING = re.compile(
    r"invalid \S+ value|is outside the valid range for parameter|"
    r"unrecognized configuration parameter|invalid value for parameter",
    re.IGNORECASE,
)


# libpq's refusals of a TLS setting the server cannot meet: permanent, unlike the
# network trouble a retry cures ("SSL SYSCALL error: EOF detected" is not among them)
_TLS_SETTING = re.compile(
    r"does not support SSL, but SSL was required|root certificate file .* does not exist|"
    r"certificate verify failed|does not match host name|sslmode value .* invalid|"
    r"could not read root certificate|SSL error: (?:tlsv1 alert|unsupported protocol)",
    re.IGNORECASE,
)

# duplicate table, object, column, schema, function: what a database that was
# migrated before kubemigrate tracked it answers to its first migration
_ALREADY_THERE = ("42P07", "42710", "42701", "42P06", "42723")

# active_sql_transaction (cannot run inside a transaction block), invalid transaction
# termination (COMMIT in a DO block or procedure called in one)
_OUTSIDE_A_TRANSACTION = ("25001", "2D000")

# How often (ms) the server checks that a run's client is still there; see _watch_client.
CLIENT_CHECK_MS = 1000

# TCP keepalives, each side's, where nobody chose others: a network partition or a lost
# node leaves no one to close the connection, and without them the server's session
# kept the migration lock, and this process waited, for the kernel's default of two
# hours; with them, about a minute. libpq's parameters unless the URL gives them; the
# server's settings only where they are at the server's default (not the URL's, the
# role's, the database's or postgresql.conf's), set once the lock is held: as startup
# options, PgBouncer refuses them.
_KEEPALIVES = {"idle": 30, "interval": 10, "count": 3}
CLIENT_KEEPALIVES = {f"keepalives_{name}": str(value) for name, value in _KEEPALIVES.items()}
SERVER_KEEPALIVES = {f"tcp_keepalives_{name}": str(value) for name, value in _KEEPALIVES.items()}


def _where_default(settings: Mapping[str, str]) -> bytes:
    """One statement setting each of ``settings`` for the session, but where someone chose
    its value (the URL's options or PGOPTIONS, the role's, the database's,
    postgresql.conf's): only a setting still at the server's default is ours to set."""
    values = ", ".join(f"('{name}', '{value}')" for name, value in settings.items())
    return (
        "SELECT k.name, pg_catalog.set_config(k.name, k.value, false) "
        f"FROM (VALUES {values}) AS k (name, value) "
        "JOIN pg_catalog.pg_settings s USING (name) WHERE s.source = 'default'"
    ).encode()


# Advisory lock keys: a constant class ("km") and the tracking table's hash, so two
# schemas (or two databases' tracking tables) never block each other.
LOCK_CLASS = 0x6B6D

# SQLSTATEs a retry can cure: connection trouble, server starting/stopping, lock and
# serialization conflicts, too many connections.
_RETRYABLE_STATES = ("08", "57P0", "53300", "55P03", "40001", "40P01")


# A migration's bookkeeping in one statement (the pipeline's cost is per statement):
# the tracking row, the history row, and whether this commit waits for the WAL flush.
_RECORD_HISTORY = """
INSERT INTO {history} (migration_name, action, batch_number, checksum, duration_ms,
                             run_id, actor)
SELECT %(name)s, %(action)s, %(batch)s, %(checksum)s,
       EXTRACT(EPOCH FROM clock_timestamp() - now()) * 1000, %(run_id)s, %(actor)s
FROM (SELECT set_config('synchronous_commit', %(sync)s, true)) AS commit_mode, tracking
RETURNING duration_ms"""
_RECORD_UP = (
    "WITH tracking AS (INSERT INTO {tracking} "
    "(migration_name, rollback_sql, checksum, batch_number) "
    "VALUES (%(name)s, %(rollback_sql)s, %(checksum)s, %(batch)s) RETURNING 1)"
    + _RECORD_HISTORY.replace("%(action)s", "'applied'")
)
_RECORD_DOWN = (
    "WITH tracking AS (DELETE FROM {tracking} WHERE migration_name = %(name)s "
    "RETURNING 1)" + _RECORD_HISTORY.replace("%(action)s", "'rolled_back'")
)

# Tracking rows (name, batch) that baseline wrote, followed back through repair's
# renames ("was OLD"; rows before renames carried a batch have none), so a baselined
# migration renamed to drizzle-kit 1.0's layout keeps needing --force to be undone.
_BASELINED = """
WITH RECURSIVE names(name, batch, wanted) AS (
  SELECT p.name, p.batch, p.name FROM unnest(%s::text[], %s::int[]) AS p(name, batch)
  UNION
  SELECT substr(h.error, 5), n.batch, n.wanted FROM {history} h
  JOIN names n ON h.migration_name = n.name AND h.action = 'renamed'
   AND h.error LIKE 'was %%' AND (h.batch_number = n.batch OR h.batch_number IS NULL)
)
SELECT DISTINCT n.wanted FROM names n JOIN {history} h
  ON h.migration_name = n.name AND h.batch_number = n.batch AND h.action = 'baselined'"""

# The INVALID indexes of the builds given as arrays (see IndexBuild's kinds), each with
# the build's position and its name as DROP INDEX takes it, schema and all. A named
# CREATE INDEX's index is looked for by name in its table's schema, where IF NOT EXISTS
# looked; a REINDEX INDEX's with the _ccnew/_ccold copies failed rebuilds leave beside it.
# Only invalid rows are joined: with none (the usual case) nothing else is evaluated.
_INVALID_BUILT = """
SELECT DISTINCT b.n, format('%%I.%%I', ns.nspname, c.relname)
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
JOIN unnest(%s::int[], %s::text[], %s::text[], %s::text[]) AS b(n, kind, rel, idx) ON CASE
  WHEN b.kind = 'table' AND b.idx IS NOT NULL THEN c.relname = b.idx AND c.relnamespace =
    (SELECT t.relnamespace FROM pg_catalog.pg_class t WHERE t.oid = to_regclass(b.rel))
  WHEN b.kind = 'table' THEN i.indrelid = to_regclass(b.rel)
  WHEN b.kind = 'index' THEN i.indexrelid = to_regclass(b.rel) OR (
    i.indrelid = (SELECT x.indrelid FROM pg_catalog.pg_index x
                  WHERE x.indexrelid = to_regclass(b.rel))
    AND left(c.relname, length(b.idx)) = b.idx
    AND substr(c.relname, length(b.idx) + 1) ~ '^_cc(new|old)[0-9]*$')
  WHEN b.kind = 'schema' THEN ns.nspname = b.rel
  ELSE ns.nspname NOT LIKE 'pg\\_%%' AND ns.nspname <> 'information_schema' END
WHERE NOT i.indisvalid
ORDER BY 1, 2"""

# Whether any index outside the system schemas is INVALID: one scan of pg_index, which
# holds a row per index; a column of read_state's last query, which takes no parameters
# (so its LIKE has a plain %, not psycopg's %%).
_ANY_INVALID_INDEX = """EXISTS (SELECT 1 FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
  WHERE NOT i.indisvalid AND ns.nspname NOT LIKE 'pg\\_%'
  AND ns.nspname <> 'information_schema')"""


def _holder_sql(key: str) -> str:
    """Who holds the migration lock of ``key`` (an SQL expression of its value), but this
    session, as people read it: which process, since when, and what it is doing (active
    for how long, waiting for a table's lock), never its statement's text (a migration's
    CREATE ROLE ... PASSWORD would be read out)."""
    return (
        "(SELECT format('pid %s (%s, connected since %s, %s%s)', a.pid, "
        "COALESCE(NULLIF(a.application_name, ''), 'no application_name'), "
        "COALESCE(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
        "|| ' UTC', 'unknown'), a.state, "
        "CASE WHEN a.state = 'active' THEN format(' for %s s%s', "
        "round(extract(epoch FROM now() - a.query_start)), "
        "CASE WHEN a.wait_event_type = 'Lock' THEN ', waiting for a table''s lock' "
        "ELSE '' END) ELSE '' END) "
        "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
        f"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {LOCK_CLASS} "
        f"AND l.objid = ({key})::bigint::oid AND l.objsubid = 2 "
        "AND l.pid <> pg_backend_pid() LIMIT 1)"
    )


# ExecStatus EMPTY_QUERY (a statement of comments alone: drizzle-kit's --custom file
# left empty), COMMAND_OK, TUPLES_OK
_OK = (0, 1, 2)


# The schema kubemigrate's tables live in: the first on the search_path (current_schema),
# and the first along it already holding a tracking table, if any.
_SCHEMA_SQL = """
SELECT current_schema(),
       (SELECT n.nspname FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = %s AND c.relkind IN ('r', 'p')
          AND n.nspname = ANY (current_schemas(false))
        ORDER BY array_position(current_schemas(false), n.nspname) LIMIT 1),
       current_setting('search_path')"""


def _moved(holding: str, current: str, search_path: str) -> UsageError:
    """A tracking table further along the search_path than its first schema: a schema
    created since (one named like the user, which ``"$user", public`` puts first) took
    the lead, and a run would start a second, empty tracking table there and apply
    every migration again."""
    return UsageError(
        f"{TRACKING_TABLE} is in schema {holding}, but the first schema on the search_path "
        f"({search_path}) is now {current}: kubemigrate would start an empty tracking "
        f"table in {current} and apply every migration again; nothing was run.",
        hint=f"name the schema the migrations belong to first in the URL's options: "
        f"?options=-csearch_path%3D{holding} keeps the existing table (unqualified names in "
        f"the migrations then go to {holding} too)",
    )


def _no_schema(search_path: str) -> UsageError:
    """current_schema() is NULL: no schema on the search_path exists, so the tracking
    table has nowhere to go (and every table reads as not there yet)."""
    return UsageError(
        f"No schema on the search_path ({search_path}) exists, so there is nowhere to keep "
        f"{TRACKING_TABLE} or to create the migrations' tables.",
        hint="create the schema first (CREATE SCHEMA name), or fix search_path in the "
        "database URL's options",
    )


def _retryable(exc: psycopg.Error, state: str) -> bool:
    """Connection trouble and conflicts a retry can cure (``_RETRYABLE_STATES``), and a
    client-side failure with no SQLSTATE (the connection went away)."""
    return state.startswith(_RETRYABLE_STATES) or (
        isinstance(exc, psycopg.OperationalError) and not state
    )


def _succeeded(cursor: psycopg.Cursor[Any]) -> bool:
    return cursor.pgresult is not None and cursor.pgresult.status in _OK


def _record_params(step: StepSql, run_id: str | None) -> dict[str, Any]:
    return {
        "name": step.name,
        "rollback_sql": step.rollback_sql,
        "checksum": step.checksum,
        "batch": step.batch,
        "run_id": run_id,
        "actor": actor(),
        "sync": "on" if step.durable else "off",
    }


def _nobody() -> str | None:
    return None


def _duration(record: psycopg.Cursor[Any]) -> float:
    row = record.fetchone()
    return round(float(row[0]), 3) if row and row[0] is not None else 0.0


@dataclass(frozen=True)
class StepSql:
    """One transactional migration as the store runs it."""

    statements: tuple[str, ...]
    up: bool
    name: str
    rollback_sql: str | None
    checksum: str | None
    batch: int
    durable: bool


class StepFailed(Exception):
    """Step ``step`` failed at its statement ``index`` (0-based; one past the last
    statement: the bookkeeping; two past: its COMMIT); ``durations_ms`` are those of
    the steps before it, all committed."""

    def __init__(
        self,
        error: psycopg.Error,
        step: int,
        index: int,
        durations_ms: list[float],
        *,
        unconfirmed: bool = False,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.step = step
        self.index = index
        self.durations_ms = durations_ms
        self.unconfirmed = unconfirmed
        """The connection was lost and no new one could tell which commits the server
        kept: those that did not wait for the WAL flush may be lost with a crash."""


class StepsInterrupted(Exception):
    """Ctrl-C or SIGTERM while steps ran; ``durations_ms`` are those that committed."""

    def __init__(
        self,
        durations_ms: list[float],
        *,
        unconfirmed: bool = False,
        stop: BaseException | None = None,
    ) -> None:
        super().__init__("interrupted")
        self.durations_ms = durations_ms
        self.stop = stop if stop is not None else KeyboardInterrupt()
        """What stopped them, raised again once they are reported: a KeyboardInterrupt,
        or the SystemExit an embedding application's own SIGTERM handler raised."""
        self.unconfirmed = unconfirmed
        """No connection could tell which commits the server kept (a network partition,
        the signal a Job's deadline or an eviction sends): ``durations_ms`` is empty,
        not "none committed"."""


@dataclass(frozen=True)
class StoreState:
    """Everything a plan needs from the database, read after taking the lock."""

    applied: tuple[AppliedMigration, ...]
    dirty: tuple[DirtyState, ...]
    next_batch: int
    rollbacks: tuple[RollbackRecord, ...] = ()
    running: tuple[DirtyState, ...] = ()
    """Marks of a non-transactional migration another session is applying right now."""
    holder: str | None = None
    """That session (it holds the migration lock)."""
    invalid_indexes: bool = False
    """Some index outside the system schemas is INVALID (asked for by ``status`` and
    ``verify`` only; whose it is, is for them to find out)."""


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    action: str
    migration: str | None
    batch: int | None
    duration_ms: float | None
    run_id: str | None
    actor: str | None
    error: str | None
    sql_state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``history --json`` form, named like every other JSON output (camelCase)."""
        return {
            "at": iso_utc(self.at),
            "action": self.action,
            "migration": self.migration,
            "batch": self.batch,
            "durationMs": self.duration_ms,
            "runId": self.run_id,
            "actor": self.actor,
            "sqlState": self.sql_state,
            "error": self.error,
        }


@dataclass(frozen=True)
class DoneRecord:
    """A migration a run applied or rolled back, as the history table recorded it."""

    name: str
    batch: int | None
    checksum: str | None
    duration_ms: float | None


@functools.cache
def actor() -> str:
    """Who ran it: the pod (its hostname) in Kubernetes, user@host elsewhere."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class PostgresStore:
    """One session on the target database, autocommit unless a step opens a transaction."""

    def __init__(
        self,
        url: str,
        *,
        application_name: str = "kubemigrate",
        lock_timeout_ms: int | None = None,
        statement_timeout_s: float | None = None,
        connect_timeout_s: int = 10,
    ) -> None:
        # A URL written to a file or a Secret from one ends in a newline, which libpq
        # keeps in the database name ("database "shop\n" does not exist")
        self._url = url.strip()
        self._secrets = secret_values(self._url)
        self._application_name = application_name[:63]
        self._watching: tuple[bytes, ...] = ()  # the settings _watch_client made
        # settings of ours where the server's default stands (see default_lock_timeout)
        self._at_default: dict[str, str] = dict(SERVER_KEEPALIVES)
        self._ours: dict[str, str] = {}  # those of them set: nobody had chosen a value
        self._lock_timeout_ms = lock_timeout_ms
        self._statement_timeout_s = statement_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None
        self._locked = False  # this session holds the migration lock
        self._lock_key: int | None = None
        self._history_mark = 0  # the newest history row before this run wrote any
        # the tracking tables' qualified names, once the schema is pinned (see _resolve)
        self._names: dict[str, str] | None = None
        self._schema = ""
        self.server_version_num = 0
        # which migration the server answers now, for its notices (see notices_to)
        self._noticing: Callable[[], str | None] = _nobody

    # -- connection ----------------------------------------------------------

    def _conninfo(self) -> str:
        params = database_url.parameters(self._url, self.scrub)
        # libpq reads PGOPTIONS only when no options are given, and we always give some
        options = [str(params.get("options") or os.environ.get("PGOPTIONS", ""))]
        options.append("-c TimeZone=UTC")
        if self._lock_timeout_ms is not None:
            options.append(f"-c lock_timeout={int(self._lock_timeout_ms)}")
        if self._statement_timeout_s is not None:
            options.append(f"-c statement_timeout={int(self._statement_timeout_s * 1000)}")
        params["options"] = " ".join(o for o in options if o)
        params.setdefault("application_name", self._application_name)
        params.setdefault("connect_timeout", str(self._connect_timeout_s))
        for name, value in CLIENT_KEEPALIVES.items():
            params.setdefault(name, value)
        return make_conninfo("", **params)

    def connect(self) -> None:
        try:
            self._conn = psycopg.connect(self._conninfo(), autocommit=True)
        except psycopg.Error as exc:
            raise self._connection_error(exc) from None
        self.server_version_num = self._conn.info.server_version

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("PostgresStore used before connect()")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _connection_error(self, exc: psycopg.Error) -> KubemigrateError:
        # libpq's text spans lines ("\n\tIs the server running ...") and starts with
        # psycopg's own "connection is bad:"; one line reads better after our prefix.
        if unencoded_password(self._url):
            # libpq's words quote the host it read from inside the password, whose pieces
            # too short to blank everywhere ("k9" of "Xy7Tq@k9") would show: none of them
            return UsageError(
                "The database URL is malformed: its password holds an unencoded @, / or #, "
                "so the host name was read from inside it.",
                hint="percent-encode them in the password (@ as %40, / as %2F, # as %23)",
            )
        message = " ".join(self.scrub(str(exc)).split()).removeprefix("connection is bad: ")
        state = getattr(exc, "sqlstate", None) or ""
        lowered = message.lower()
        if (
            isinstance(exc, psycopg.ProgrammingError)
            or "invalid dsn" in lowered
            or ("invalid" in lowered and "option" in lowered)
            or "invalid port number" in lowered  # 0, or past 65535: no server listens there
        ):
            return UsageError(
                f"The database URL is malformed: {database_url.unquoted(message)}",
                hint="use the form postgresql://USER:PASSWORD@HOST:5432/DBNAME",
            )
        if state in _SETTING_STATES or _BAD_SETTING.search(message):
            return UsageError(
                f"The connection settings are invalid: {message}",
                hint="fix the parameter named above (in the URL, PGOPTIONS or a --*-timeout "
                "flag); retrying will not help",
            )
        if state == "28P01" or "password authentication failed" in lowered or state == "28000":
            return AuthenticationFailed(
                f"The database refused the credentials: {message}",
                hint="check the user and password in the database URL (or its Secret)",
            )
        if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
            return UsageError(
                f"The database does not exist: {message}",
                hint="create it first, or fix the database name in the URL",
            )
        if _TLS_SETTING.search(message):
            return UsageError(
                f"The connection's TLS settings do not fit the server: {message}",
                hint="check sslmode and sslrootcert in the database URL (sslmode=require needs "
                "a server with SSL on; verify-ca and verify-full need the server's CA as "
                "sslrootcert, or sslrootcert=system); retrying will not help",
            )
        return DatabaseUnreachable(
            f"Cannot reach the database: {message}",
            hint="check host, port and network; this is temporary if the server is starting",
        )

    def database_error(self, exc: psycopg.Error) -> KubemigrateError | None:
        """A failure of kubemigrate's own queries (tables, lock, state, bookkeeping) as
        the user can act on it; None for what only a bug of ours explains."""
        state = getattr(exc, "sqlstate", None) or ""
        primary = self.scrub(
            (exc.diag.message_primary if exc.diag else None) or " ".join(str(exc).split())
        )
        if state == "42501":
            return PermissionDenied(
                f"The database user may not do what kubemigrate needs: {primary} "
                f"(SQLSTATE {state}).",
                hint=f"kubemigrate keeps {TRACKING_TABLE}, {HISTORY_TABLE} and {DIRTY_TABLE} "
                "in the first schema on the search_path and writes them with every "
                "migration: run it as that schema's owner (the user the migrations need "
                "anyway), or GRANT CREATE on the schema and write access to those tables",
            )
        if state == "25006":
            return UsageError(
                f"The database is read-only: {primary}.",
                hint="connect to the primary server, not a standby or a read-only replica",
            )
        if _retryable(exc, state):
            return DatabaseUnreachable(
                f"The database connection failed: {primary}",
                hint="retry; what a migration had not committed was rolled back",
            )
        return None

    # -- tables and state ----------------------------------------------------

    def _resolve(self) -> bool:
        """Pin the schema of kubemigrate's tables for this session; whether the tracking
        table is there already.

        Pinned once and written into every statement of ours, so that a migration's
        ``SET search_path`` cannot send the bookkeeping into another schema's table, and
        a schema created since (named like the user) cannot start a second one.
        """
        row = self.conn.execute(_SCHEMA_SQL, (TRACKING_TABLE,)).fetchone()
        assert row is not None
        current, holding, search_path = row
        if current is None:
            raise _no_schema(search_path)
        if holding is not None and holding != current:
            raise _moved(holding, current, search_path)
        quoted = '"' + str(current).replace('"', '""') + '"'
        self._schema = str(current)
        self._names = {
            "tracking": f"{quoted}.{TRACKING_TABLE}",
            "history": f"{quoted}.{HISTORY_TABLE}",
            "dirty": f"{quoted}.{DIRTY_TABLE}",
        }
        return holding is not None

    def _sql(self, template: str) -> str:
        """``template`` with the tracking tables' qualified names in it."""
        if self._names is None:
            self._resolve()
        assert self._names is not None
        return template.format(**self._names)

    def tables_exist(self) -> bool:
        if self._names is None:
            return self._resolve()
        row = self.conn.execute("SELECT to_regclass(%s)", (self._names["tracking"],)).fetchone()
        return bool(row and row[0])

    def ensure_tables(self) -> None:
        """Create the tracking tables; called under the lock, so no creation race.

        One message, which PostgreSQL runs as one implicit transaction, and a commit
        that does not wait for the WAL flush: every later commit that depends on the
        tables flushes the WAL past them, and tables lost with an unflushed commit are
        simply created again by the next run. It runs before every changing command,
        once nothing refuses it: a refused run leaves no tables behind. In a transaction
        already (a repair's) they are part of it, gone if it is rolled back, and its
        commit waits for the flush as it would have.
        """
        statements: tuple[str, ...] = _TABLES_DDL
        if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            statements = ("SELECT set_config('synchronous_commit', 'off', true)", *statements)
        self.conn.execute(self._sql(";".join(statements)))

    def read_state(
        self,
        *,
        with_rollbacks: bool = False,
        with_invalid_indexes: bool = False,
        with_holder: bool = False,
    ) -> StoreState:
        """The tracking tables' state. ``with_holder``: who else holds the migration lock
        now, in the query read anyway (a status run beside a migrate: its transaction's
        work shows only once it commits, so the report says a run is under way)."""
        if not self.tables_exist():
            return StoreState(applied=(), dirty=(), next_batch=1)
        has_extra = self._has_extra_tables()
        applied = tuple(
            AppliedMigration(
                name=r[0], applied_at=r[1], checksum=r[2], batch=r[3] or 1, rollback_sql=r[4]
            )
            for r in self.conn.execute(
                self._sql(
                    "SELECT migration_name, applied_at, checksum, batch_number, rollback_sql "
                    "FROM {tracking} ORDER BY id"
                )
            )
        )
        dirty: tuple[DirtyState, ...] = ()
        rollbacks: tuple[RollbackRecord, ...] = ()
        batch_sql = "SELECT COALESCE(MAX(batch_number), 0) FROM {tracking}"
        mark_sql = "0"
        if has_extra:
            dirty = tuple(
                DirtyState(
                    migration=r[0],
                    statement=r[1],
                    total_statements=r[2],
                    error=r[3] or "",
                    marked_at=r[4],
                )
                for r in self.conn.execute(
                    self._sql(
                        "SELECT migration_name, statement_index, total_statements, error, "
                        "marked_at FROM {dirty} ORDER BY marked_at"
                    )
                )
            )
            batch_sql = (
                f"SELECT GREATEST(({batch_sql}), "
                "(SELECT COALESCE(MAX(batch_number), 0) FROM {history}))"
            )
            if self._locked:  # only a run under the lock needs it (see _committed)
                mark_sql = "(SELECT COALESCE(MAX(id), 0) FROM {history})"
            if with_rollbacks:
                rollbacks = tuple(
                    RollbackRecord(migration=r[0], at=r[1])
                    for r in self.conn.execute(
                        self._sql(
                            "SELECT migration_name, at FROM {history} "
                            "WHERE action = 'rolled_back' ORDER BY id DESC LIMIT 5"
                        )
                    )
                )
        # a column of the query read anyway, not a round trip: status and verify pay for
        # finding the migrations behind an INVALID index only when there is one
        invalid_sql = _ANY_INVALID_INDEX if with_invalid_indexes else "false"
        asked = with_holder and not self._locked
        holder_sql = _holder_sql(self._key_sql()) if asked else "NULL"
        row = self.conn.execute(
            self._sql(f"SELECT ({batch_sql}), {mark_sql}, {invalid_sql}") + f", {holder_sql}"
        ).fetchone()
        if self._locked and row:  # where this run's history starts (see _committed)
            self._history_mark = int(row[1])
        # Only a lock holder writes a mark, and a crashed holder's lock goes with its
        # session: a mark while another session holds the lock is a migration in
        # progress, not a dirty database (a lock-free status or verify sees it so).
        holder = str(row[3]) if row and row[3] is not None else None
        if dirty and not asked and not self._locked:
            holder = self.lock_holder()
        return StoreState(
            applied=applied,
            dirty=() if holder else dirty,
            next_batch=int(row[0] if row else 0) + 1,
            rollbacks=rollbacks,
            running=dirty if holder else (),
            holder=holder,
            invalid_indexes=bool(row and row[2]),
        )

    def _has_extra_tables(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
            (self._sql("{history}"), self._sql("{dirty}")),
        ).fetchone()
        return bool(row and row[0])

    def history(self, limit: int = 100) -> list[HistoryRow]:
        if not self._has_extra_tables():
            return []
        rows = self.conn.execute(
            self._sql(
                "SELECT at, action, migration_name, batch_number, duration_ms, run_id, actor, "
                "error, sql_state FROM {history} ORDER BY id DESC LIMIT %s"
            ),
            (limit,),
        ).fetchall()
        return [HistoryRow(*r) for r in reversed(rows)]

    def baselined(self, rows: Sequence[tuple[str, int]]) -> frozenset[str]:
        """Of these (migration, batch) tracking rows, the ones ``baseline`` wrote (batches
        are never reused, so the pair picks out the row): their SQL never ran here."""
        if not rows or not self._has_extra_tables():
            return frozenset()
        found = self.conn.execute(
            self._sql(_BASELINED), ([n for n, _ in rows], [b for _, b in rows])
        )
        return frozenset(r[0] for r in found.fetchall())

    # -- the advisory lock ---------------------------------------------------

    def _key_hash(self) -> str:
        """The lock key as SQL: the tracking table's qualified name, hashed."""
        if self._names is None:  # the schema pinned: the lock is per tracking table
            self._resolve()
        name = sql.Literal(f"{self._schema}.{TRACKING_TABLE}").as_string(self.conn)
        return f"hashtext(current_database() || '.' || {name})"

    def _key(self) -> int:
        if self._lock_key is None:
            row = self.conn.execute(f"SELECT {self._key_hash()}").fetchone()
            assert row is not None
            self._lock_key = int(row[0])
        return self._lock_key

    def try_lock(self) -> bool:
        row = self.conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, self._key())
        ).fetchone()
        self._locked = bool(row and row[0])
        return self._locked

    def lock_holder(self) -> str | None:
        row = self.conn.execute(f"SELECT {_holder_sql(self._key_sql())}").fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def _key_sql(self) -> str:
        """``_key()`` as pg_locks' objid holds it (its unsigned 32 bits), an SQL expression
        for a query that asks for it anyway when the key is not known yet."""
        if self._lock_key is not None:
            return str(self._lock_key & 0xFFFFFFFF)
        return f"{self._key_hash()}::bigint & 4294967295"

    def acquire_lock(
        self, wait_seconds: float, on_wait: Callable[[str | None], None] | None = None
    ) -> None:
        """Poll ``pg_try_advisory_lock`` until ``wait_seconds`` pass.

        Never a blocking ``pg_advisory_lock``: a waiter blocked on it would deadlock
        with a holder running CREATE INDEX CONCURRENTLY, which waits for every
        transaction (the waiter's included) to finish.
        """
        deadline = time.monotonic() + wait_seconds
        delay = 0.02
        told = False
        while not self.try_lock():
            holder = self.lock_holder()
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    "Another migration run holds the lock: "
                    f"{holder or 'a session that just ended'}; "
                    f"waited {wait_seconds:g} s.",
                    hint="let it finish and retry, or raise --lock-wait; a crashed run's lock "
                    "is released as soon as its database session ends",
                    holder=holder,
                )
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.5)
        self._watch_client()

    def _watch_client(self) -> None:
        """Have the server stop our statement if this process dies (PostgreSQL >= 14),
        and end our session if the network between us does (``SERVER_KEEPALIVES``);
        and the settings of ours that stand where nobody chose others (``_where_default``).

        Statements go out in pipelines, ahead of their results: without this, a run
        killed (SIGKILL, an OOM kill, a Job's deadline) during a long statement would
        leave the server to finish it and run the COMMIT already sent, so the
        migration would be applied after its run was reported dead. With it, the
        server notices the closed connection within a second and rolls back. A value
        the URL's ``options`` sets is left alone.
        """
        given = self._url + os.environ.get("PGOPTIONS", "")
        watching = [_where_default(self._at_default)]
        if self.server_version_num >= 140000 and "client_connection_check_interval" not in given:
            watching.append(f"SET client_connection_check_interval = {CLIENT_CHECK_MS}".encode())
        self._watching = tuple(watching)
        ours = self.conn.execute(self._watching[0]).fetchall()
        self._ours = {name: self._at_default[name] for name, _ in ours}
        for statement in self._watching[1:]:
            self.conn.execute(statement)

    def default_lock_timeout(self, ms: int) -> None:
        """Have the migrations wait at most ``ms`` for a lock where nobody chose a
        ``lock_timeout`` (not the run's --lock-timeout, the URL's options or PGOPTIONS,
        the role's, the database's or postgresql.conf's). A migration waiting for a lock
        queues every later query on that table behind it: an ALTER TABLE behind a long
        report stopped the application until the report ended. Set with the keepalives
        once the lock is held (asked for before), and again after each migration's
        RESET ALL."""
        if self._lock_timeout_ms is None:
            self._at_default["lock_timeout"] = str(int(ms))

    @contextmanager
    def lock_timeout_lifted(self) -> Iterator[None]:
        """No lock timeout meanwhile, where the one in force is ours (``default_lock_timeout``).

        For a statement building, rebuilding or dropping an index CONCURRENTLY: it waits
        for every transaction in the database with an older snapshot, whatever table
        that transaction uses, and the lock timeout counts those waits. A report running
        for more than 3 s stopped the build halfway, its index left INVALID and the
        database dirty, for a person to drop it and repair. The wait blocks none of the
        application's reads and writes, which is what the default timeout is for. A
        timeout someone chose (--lock-timeout, the URL's, the role's ...) stands."""
        ours = self._ours.get("lock_timeout")
        if ours is None:
            yield
            return
        self.conn.execute(b"SET lock_timeout = 0")
        try:
            yield
        finally:
            with suppress(psycopg.Error):  # a session gone has no setting to put back
                self.conn.execute(f"SET lock_timeout = {int(ours)}".encode())

    def session_resets(self, statements: Sequence[str]) -> tuple[bytes, ...]:
        """What puts the session back as it connected after a migration that may have
        changed it: each migration starts from the URL's settings and ours, as Flyway
        restores them, whichever batch it runs in.

        A migration's ``SET`` outlives its transaction: a pg_dump-made first migration
        (``set_config('search_path', '', false)``, ``SET lock_timeout = 0``) left every
        later migration of its batch without a schema to create in and without the
        lock timeout production runs with; a ``SET ROLE`` ran the bookkeeping as a
        role without rights on the tracking table. Run one by one, the same files
        worked. Only a migration that says "set" can change settings (SET, RESET,
        set_config); RESET ALL keeps the values given at connection, and the role and
        session user are reset apart, as it leaves them. Temporary tables go too (a
        backfill's ``CREATE TEMP TABLE ids`` made the next backfill's fail, and a temp
        table named like a real one took the next migration's ALTER TABLE).
        """
        text = " ".join(statements).lower()
        resets = [b"DISCARD TEMP"] if "temp" in text else []
        if "set" not in text:
            return tuple(resets)
        resets.append(b"RESET ALL")
        if "authorization" in text:
            resets.insert(-1, b"RESET SESSION AUTHORIZATION")
        if "role" in text:
            resets.append(b"RESET ROLE")
        resets += self._watching
        return tuple(resets)

    def reset_session(self, statements: Sequence[str]) -> None:
        """``session_resets`` run now (after a migration run outside a transaction)."""
        for reset in self.session_resets(statements):
            self.conn.execute(reset)

    def release_lock(self) -> None:
        """Unlock, even after an interrupted statement left the transaction aborted; an
        error here must not hide the one that ended the run (the lock ends with the
        session anyway, which is closed next)."""
        if self._conn is not None and not self._conn.closed:
            self.rollback_quietly()
            with suppress(psycopg.Error):
                self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, self._key()))
        self._locked = False

    # -- running SQL ---------------------------------------------------------

    @contextmanager
    def notices_to(self, callback: Callable[[str, str, str | None], None]) -> Iterator[None]:
        """The server's notices, (severity, message, migration), passed to ``callback``
        meanwhile: the migration whose statement raised it, as ``noticing`` says, where
        that is certain. A statement run alone is; in a pipeline of several migrations
        psycopg reads a burst of results before it hands any to its cursor, so which
        one a notice came with cannot be told (None) rather than told wrong."""

        def handler(diagnostic: psycopg.errors.Diagnostic) -> None:
            callback(
                diagnostic.severity or "NOTICE", diagnostic.message_primary or "", self._noticing()
            )

        self.conn.add_notice_handler(handler)
        try:
            yield
        finally:
            self.conn.remove_notice_handler(handler)

    @contextmanager
    def noticing(self, source: Callable[[], str | None]) -> Iterator[None]:
        """``source`` names the migration the server is answering, meanwhile."""
        previous, self._noticing = self._noticing, source
        try:
            yield
        finally:
            self._noticing = previous

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def begin(self) -> None:
        self.conn.execute(b"BEGIN")

    def commit(self) -> None:
        self.conn.execute(b"COMMIT")

    def rollback_quietly(self) -> None:
        """End a failed transaction; a dead connection has nothing left to roll back."""
        try:
            if not self.conn.closed and self.conn.info.transaction_status != 0:
                self.conn.execute(b"ROLLBACK")
        except psycopg.Error:
            pass

    def run_steps(
        self,
        steps: Sequence[StepSql],
        *,
        run_id: str | None,
        while_running: Callable[[], None] | None = None,
    ) -> list[float]:
        """Migrations, each in its own transaction with its bookkeeping, in one pipeline.

        Each step is ``BEGIN; statements; tracking + history row; COMMIT``, and the
        whole group goes out before any result is read (one round trip, the server
        never waits for us). PostgreSQL skips everything after a failed statement up
        to the pipeline's sync, so a failure in one step leaves the earlier steps
        committed and the later ones never started: the same outcome as running them
        one by one. A non-durable step's commit skips the WAL flush wait; the batch's
        last commit is durable and flushes the WAL up to itself, so a server crash
        can lose whole migrations with their tracking rows, never half of one.
        ``while_running`` is called once everything is sent, while the server works.
        Returns each step's duration (server time, ms); raises ``StepFailed``.
        """
        # per step, as it goes out: its statements' cursors, the bookkeeping's, COMMIT's
        sent: list[list[psycopg.Cursor[Any]]] = []
        record_up, record_down = self._sql(_RECORD_UP), self._sql(_RECORD_DOWN)
        try:
            with (
                _pipeline_noise_dropped(),
                self.noticing(lambda: steps[0].name if len(steps) == 1 else None),
                self.conn.pipeline(),
                self._cancelled_when_interrupted(),
            ):
                for step in steps:
                    self.conn.execute(b"BEGIN")
                    cursors: list[psycopg.Cursor[Any]] = []
                    sent.append(cursors)
                    for statement in step.statements:
                        cursors.append(self.conn.execute(statement.encode()))
                    # before the bookkeeping, which then runs as the run connected; a
                    # failure here leaves the bookkeeping's cursor without a result
                    for reset in self.session_resets(step.statements):
                        self.conn.execute(reset)
                    cursors.append(
                        self.conn.execute(
                            record_up if step.up else record_down, _record_params(step, run_id)
                        )
                    )
                    cursors.append(self.conn.execute(b"COMMIT"))
                if while_running is not None:
                    while_running()
        except psycopg.Error as exc:
            # A failure can surface while later steps are still being sent: the step being
            # sent then has fewer cursors than it will have, and the first one missing or
            # without a good result is where it stopped.
            done: list[float] = []
            unconfirmed = False
            if self.conn.broken:
                committed = self._committed(steps[: len(sent)], run_id, patience_s=10.0)
                if committed is not None and len(committed) < len(sent):
                    # the server's word: the next step did not commit, whatever its
                    # cursors say (a commit that skipped the WAL flush wait, then a crash)
                    lost = len(committed)
                    where = next(
                        (i for i, c in enumerate(sent[lost]) if not _succeeded(c)),
                        len(steps[lost].statements) + 1,
                    )
                    raise StepFailed(exc, lost, where, committed) from None
                done, unconfirmed = committed or [], committed is None
            for number, cursors in enumerate(sent[len(done) :], start=len(done)):
                complete = len(cursors) == len(steps[number].statements) + 2
                failed = next(
                    (i for i, c in enumerate(cursors) if not _succeeded(c)),
                    None if complete else len(cursors),
                )
                if failed is not None:
                    self.rollback_quietly()
                    raise StepFailed(exc, number, failed, done, unconfirmed=unconfirmed) from None
                done.append(_duration(cursors[-2]))
            self.rollback_quietly()
            raise StepFailed(exc, len(sent), 0, done, unconfirmed=unconfirmed) from None
        except (KeyboardInterrupt, SystemExit) as stop:  # psycopg cancelled the statement
            self.rollback_quietly()
            committed = self._committed(steps[: len(sent)], run_id)
            raise StepsInterrupted(
                committed or [], unconfirmed=committed is None, stop=stop
            ) from None
        return [_duration(cursors[-2]) for cursors in sent]

    @contextmanager
    def _cancelled_when_interrupted(self) -> Iterator[None]:
        """Cancel the statement running on the server when Ctrl-C or SIGTERM lands while
        we are not waiting on it (sending, or logging while the server works): psycopg
        cancels only an interruption of its own wait, and leaving the pipeline waits
        for everything sent, a 30-minute statement included. A SystemExit too: an
        application's own SIGTERM handler raises one around the Python API."""
        try:
            yield
        except (KeyboardInterrupt, SystemExit):
            with suppress(psycopg.Error):
                self.conn.cancel_safe(timeout=5)
            raise

    def _committed(
        self, steps: Sequence[StepSql], run_id: str | None, *, patience_s: float = 0.0
    ) -> list[float] | None:
        """The durations of the leading ``steps`` that committed, asked on a new
        connection (tried again for ``patience_s``: a server restarting after a crash
        answers once its recovery is done); None if that cannot be known.

        After a lost connection or an interruption, results the server sent may never
        have been read, so the cursors cannot tell a committed step from one that never
        ran; the history row each step commits with can. Without this, a migration
        committed just before a failover would be reported as failed and rolled back,
        and after a crash one whose commit had not reached the disk reported as kept.
        """
        if run_id is None:
            return None
        deadline = time.monotonic() + patience_s
        while True:
            found = self._committed_once(steps, run_id)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(0.5)  # a new connection a moment later, not a wait on our own work

    def _committed_once(self, steps: Sequence[StepSql], run_id: str) -> list[float] | None:
        """What the server keeps, asked once. Read in a transaction that takes an id and
        commits waiting for the WAL flush: the flush reaches past every commit it saw,
        those that skipped the wait included. Read on its own, a server still going down
        showed a commit its crash then lost, and the report named a migration the
        database did not have."""
        try:
            with psycopg.connect(self._conninfo(), connect_timeout=5) as conn:
                conn.execute("SET LOCAL synchronous_commit = on")
                conn.execute("SELECT txid_current()")
                rows = conn.execute(
                    self._sql(
                        "SELECT migration_name, action, duration_ms FROM {history} "
                        "WHERE run_id = %s AND action IN ('applied', 'rolled_back') "
                        "AND migration_name = ANY(%s) AND id > %s"
                    ),
                    # rows of this run only: a run id may be reused (a CI commit's SHA)
                    (run_id, [step.name for step in steps], self._history_mark),
                ).fetchall()
                conn.commit()  # returns once the WAL is on disk up to here
        except psycopg.Error:
            return None
        committed = {(name, action): float(ms or 0.0) for name, action, ms in rows}
        durations: list[float] = []
        for step in steps:
            key = (step.name, "applied" if step.up else "rolled_back")
            if key not in committed:
                break
            durations.append(round(committed[key], 3))
        return durations

    def execute(self, statement: str) -> None:
        self.conn.execute(statement.encode())

    def insert_tracking(
        self, name: str, rollback_sql: str | None, checksum: str | None, batch: int
    ) -> None:
        self.conn.execute(
            self._sql(
                "INSERT INTO {tracking} (migration_name, rollback_sql, checksum, batch_number) "
                "VALUES (%s, %s, %s, %s)"
            ),
            (name, rollback_sql, checksum, batch),
        )

    def delete_tracking(self, name: str) -> None:
        self.conn.execute(self._sql("DELETE FROM {tracking} WHERE migration_name = %s"), (name,))

    def tool_histories(self, tool: str) -> list[ToolHistory]:
        """Another tool's histories here: ``tool_histories.tool_histories``."""
        from kubemigrate.engine import tool_histories

        return tool_histories.tool_histories(self.conn, tool)

    def has_history(self) -> bool:
        """Whether kubemigrate ever recorded anything here (applied, baselined ...); a
        database with the original system's tracking table alone has no history table."""
        row = self.conn.execute("SELECT to_regclass(%s)", (self._sql("{history}"),)).fetchone()
        if not row or not row[0]:
            return False
        row = self.conn.execute(self._sql("SELECT EXISTS (SELECT 1 FROM {history})")).fetchone()
        return bool(row and row[0])

    def batches_undone_by(self, run_id: str) -> set[int]:
        """The batches whose migrations run ``run_id`` rolled back (an earlier attempt of
        the same run: a Job's Pod before the one running now)."""
        return {row.batch for row in self.done_by(run_id, "rolled_back") if row.batch is not None}

    def rolled_back(self, names: Sequence[str]) -> frozenset[str]:
        """Of ``names``, those kubemigrate last rolled back (after applying or baselining
        them): another tool's history still lists such a migration as run, as that tool
        never learnt of the rollback, and it must not be taken for run again."""
        if not names or not self._has_extra_tables():
            return frozenset()
        rows = self.conn.execute(
            self._sql(
                "SELECT DISTINCT ON (migration_name) migration_name, action FROM {history} "
                "WHERE migration_name = ANY(%s) "
                "AND action IN ('applied', 'baselined', 'rolled_back') "
                "ORDER BY migration_name, id DESC"
            ),
            (list(names),),
        ).fetchall()
        return frozenset(str(name) for name, action in rows if action == "rolled_back")

    def done_by(self, run_id: str, action: str) -> list[DoneRecord]:
        """What run ``run_id`` recorded as ``action`` (``applied``, ``rolled_back``), in
        order, one record per migration (its latest): read before a run executes, the
        work of its earlier attempts. A Job retries its Pod with the same command and
        run id, and only the last Pod's result reaches the run's status and metrics."""
        if not self._has_extra_tables():
            return []
        rows = self.conn.execute(
            self._sql(
                "SELECT migration_name, batch_number, checksum, duration_ms, action "
                "FROM {history} WHERE run_id = %s AND action IN ('applied', 'rolled_back') "
                "AND migration_name IS NOT NULL ORDER BY id"
            ),
            (run_id,),
        ).fetchall()
        # attempts of this run follow the id's last row of the other direction: a CI job
        # reusing one id for migrate, rollback, migrate, rollback is four runs, and its
        # last rollback took the first one's work for its own and undid nothing
        since = max((i + 1 for i, row in enumerate(rows) if row[4] != action), default=0)
        latest: dict[str, DoneRecord] = {}
        for name, batch, checksum, duration_ms, _ in rows[since:]:
            latest.pop(name, None)  # its latest record, in that record's place
            latest[name] = DoneRecord(name, batch, checksum, duration_ms)
        return list(latest.values())

    def tracking_elsewhere(self, names: Sequence[str]) -> str | None:
        """A schema off the search_path whose tracking table records some of ``names``:
        runs that connected with another search_path made it, and this one would start
        a second. One that records none of them is another team's."""
        from psycopg import sql

        schemas = self.conn.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND c.relkind IN ('r', 'p') "
            "AND NOT n.nspname = ANY (current_schemas(false)) ORDER BY 1",
            (TRACKING_TABLE,),
        ).fetchall()
        for (schema,) in schemas:
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE migration_name = ANY(%s))")
            table = sql.Identifier(str(schema), TRACKING_TABLE)
            try:
                row = self.conn.execute(query.format(table), (list(names),)).fetchone()
            except psycopg.errors.InsufficientPrivilege:
                continue  # not ours to read: another team's
            if row and row[0]:
                return str(schema)
        return None

    def search_path_chosen(self) -> bool:
        """Whether this connection's schema was chosen for it: named by its URL's options
        (or PGOPTIONS), or anything but ``public``. A role's or database's setting of
        ``"$user", public``, which managed services give the application's role, is
        the default all the same."""
        row = self.conn.execute(
            "SELECT source, current_schema() FROM pg_catalog.pg_settings WHERE name = 'search_path'"
        ).fetchone()
        return row is not None and (row[0] == "client" or row[1] != "public")

    def drizzle_tables(self) -> list[TableName]:
        """Tables shaped as drizzle's history: ``tool_histories.drizzle_tables``."""
        from kubemigrate.engine import tool_histories

        return tool_histories.drizzle_tables(
            self.conn, ours=(TRACKING_TABLE, HISTORY_TABLE, DIRTY_TABLE)
        )

    def drizzle_rows(self, table: TableName) -> DrizzleRows | None:
        """What drizzle's history ``table`` records: ``tool_histories.drizzle_rows``."""
        from kubemigrate.engine import tool_histories

        return tool_histories.drizzle_rows(self.conn, table)

    def invalid_indexes(self, name: str | None) -> list[str]:
        """INVALID indexes (a failed CREATE INDEX CONCURRENTLY's): the one named as SQL
        writes it (``"Idx"``, ``app.idx``), or every one outside the system schemas."""
        if name is not None:
            rows = self.conn.execute(
                "SELECT i.indexrelid::regclass::text FROM pg_catalog.pg_index i "
                "WHERE NOT i.indisvalid AND i.indexrelid = to_regclass(%s)",
                (name,),
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT i.indexrelid::regclass::text FROM pg_catalog.pg_index i "
                "JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT i.indisvalid AND n.nspname NOT LIKE 'pg\\_%%' "
                "AND n.nspname <> 'information_schema' ORDER BY 1"
            ).fetchall()
        return [str(row[0]) for row in rows]

    def invalid_built(self, builds: Sequence[IndexBuild]) -> list[tuple[int, str]]:
        """The INVALID indexes among those ``builds`` name, as (the build's position in
        ``builds``, the index's schema-qualified name as ``DROP INDEX`` takes it), in
        one query. Names resolve as the statements' did: run before a migration's
        ``SET search_path`` is reset, or, for applied ones, with the connection's."""
        if not builds:
            return []
        rows = self.conn.execute(
            _INVALID_BUILT,
            (
                list(range(len(builds))),
                [b.kind for b in builds],
                [b.relation_sql if b.kind != "schema" else b.relation[0] for b in builds],
                [b.index for b in builds],
            ),
        ).fetchall()
        return [(int(n), str(name)) for n, name in rows]

    def rename_tracking(self, old: str, new: str) -> bool:
        return self._update_tracking(old, "migration_name", new)

    def update_rollback_sql(self, name: str, rollback_sql: str) -> bool:
        return self._update_tracking(name, "rollback_sql", rollback_sql)

    def update_checksum(self, name: str, checksum: str) -> bool:
        return self._update_tracking(name, "checksum", checksum)

    def _update_tracking(self, name: str, column: str, value: str) -> bool:
        """Set one column of ``name``'s tracking row; False when it has none (not applied)."""
        cur = self.conn.execute(
            self._sql(f"UPDATE {{tracking}} SET {column} = %s WHERE migration_name = %s"),
            (value, name),
        )
        return cur.rowcount > 0

    def record(
        self,
        action: str,
        *,
        migration: str | None = None,
        batch: int | None = None,
        checksum: str | None = None,
        duration_ms: float | None = None,
        run_id: str | None = None,
        sql_state: str | None = None,
        error: str | None = None,
    ) -> None:
        """One history row; the audit trail of applies, rollbacks, failures, repairs."""
        self.conn.execute(
            self._sql(
                "INSERT INTO {history} (migration_name, action, batch_number, checksum, "
                "duration_ms, run_id, actor, sql_state, error) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ),
            (
                migration,
                action,
                batch,
                checksum,
                duration_ms,
                run_id,
                actor(),
                sql_state,
                self.scrub(error) if error else None,
            ),
        )

    def mark_dirty(self, name: str, statement: int, total: int, error: str | None) -> None:
        self.conn.execute(
            self._sql(
                "INSERT INTO {dirty} (migration_name, statement_index, total_statements, error) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (migration_name) DO UPDATE SET "
                "statement_index = EXCLUDED.statement_index, "
                "total_statements = EXCLUDED.total_statements, "
                "error = EXCLUDED.error, marked_at = CURRENT_TIMESTAMP"
            ),
            (name, statement, total, self.scrub(error) if error else None),
        )

    def clear_dirty(self, name: str | None = None) -> list[str]:
        if name is None:
            rows = self.conn.execute(
                self._sql("DELETE FROM {dirty} RETURNING migration_name")
            ).fetchall()
        else:
            rows = self.conn.execute(
                self._sql("DELETE FROM {dirty} WHERE migration_name = %s RETURNING migration_name"),
                (name,),
            ).fetchall()
        return [r[0] for r in rows]

    def statement_error(
        self,
        exc: psycopg.Error,
        *,
        step: Step,
        statement_index: int,
        offset: int,
        where: str | None = None,
    ) -> KubemigrateError:
        """A failed statement (at character ``offset`` of the step's SQL) as a domain
        error: file, SQLSTATE, line/column, message; ``where`` replaces the statement's
        place when it failed elsewhere (at COMMIT). The line and column are the file's a
        person opens (``Step.place``), not the text's as run: a dbmate section's counted
        from its header, a Flyway script's without the directive kubemigrate put first."""
        diag = exc.diag
        migration = step.name
        state = diag.sqlstate or getattr(exc, "sqlstate", None) or ""
        primary = self.scrub(diag.message_primary or str(exc).strip())
        position = file = None
        if where is None:
            # PostgreSQL's cursor counts characters (not bytes) of the statement sent, from 1
            cursor = int(diag.statement_position or 0)
            at = step.place(offset + max(cursor - 1, 0))
            file = at.file or None
            if cursor:
                position = f"line {at.line}, column {at.column}"
                where = f" at {position}{at.of}"
            else:  # a run-time error: the statement's line, where a person starts looking
                position = f"line {at.line}"
                where = f" in statement {statement_index} ({position}{at.of})"
        # where in a DO block or function, as psql's CONTEXT says (its other lines can
        # quote data: a COPY's row); the DETAIL (a failing row, the key that clashed)
        # stays in details, which the CLI prints, not in the message a MigrationRun's
        # status and Events carry to everyone who may read them
        place = next(
            (x for x in (diag.context or "").splitlines() if x.startswith("PL/pgSQL")), None
        )
        if place:
            primary += f" (in {self.scrub(place)})"
        details: dict[str, Any] = {
            "migration": migration,
            "sqlState": state or None,
            "position": position,
            "file": file,
            "statement": statement_index,
            "detail": self.scrub(diag.message_detail) if diag.message_detail else None,
        }
        if isinstance(exc, pg_errors.QueryCanceled) and "statement timeout" in primary:
            return MigrationFailed(
                f"{migration}{where}: {primary} (SQLSTATE {state})",
                hint="raise --statement-timeout, or split the migration",
                **details,
            )
        if isinstance(exc, pg_errors.LockNotAvailable):
            return LockTimeout(
                f"{migration}{where}: {primary} (SQLSTATE {state}); "
                "its transaction was rolled back.",
                hint="another session held a lock this migration needs (a long transaction, "
                "autovacuum); retry once it has finished: while a migration waits for a lock, "
                "the application's queries on that table wait behind it, so a longer "
                "--lock-timeout holds them up as long",
                **details,
            )
        if _retryable(exc, state):
            return DatabaseUnreachable(
                f"{migration}{where}: the database connection failed: {primary}",
                hint="retry; the migration's transaction was rolled back",
                **details,
            )
        hint = self.scrub(diag.message_hint) if diag.message_hint else None
        if state in _OUTSIDE_A_TRANSACTION and not hint:
            hint = (
                "this migration's changes were rolled back. The statement cannot run inside a "
                "transaction here (PostgreSQL decides some cases only when it runs them: a "
                "REINDEX of a partitioned table, a COMMIT in a DO block); add the line "
                "`-- kubemigrate:no-transaction` to the file (it then runs statement by "
                "statement, and a failure midway marks the database dirty)"
            )
        if state in _ALREADY_THERE and not hint:
            hint = (
                "this migration's changes were rolled back. If the database was set up before "
                "kubemigrate tracked it (drizzle-kit migrate, another tool, by hand), record "
                "the migrations it already has with `kubemigrate baseline --target NAME` "
                "instead of running them again"
            )
        return MigrationFailed(
            f"{migration}{where}: {primary} (SQLSTATE {state})",
            hint=hint or "fix the statement; this migration's changes were rolled back",
            **details,
        )
