"""Shared helpers for the integration tests: drizzle folders, database probes, polling.

Migration folders are written the way drizzle-kit writes them (``NNNN_name.sql``,
``--> statement-breakpoint`` between statements, ``meta/_journal.json``), with our
``.down.sql`` siblings. Database probes open their own short psycopg session, so
they see only what the kubemigrate process committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row

from kubemigrate.devcluster import postgres
from kubemigrate.domain.planning import UNFINISHED_DOWN
from tests.conftest import BIN, cli_env

BREAKPOINT = "\n--> statement-breakpoint\n"

Spec = tuple[str, str, str | None]
"""(tag without .sql, up SQL, down SQL or None)."""


# -- migration folders --------------------------------------------------------


def journal_entry(idx: int, tag: str) -> dict[str, Any]:
    return {
        "idx": idx,
        "version": "7",
        "when": 1700000000000 + idx,
        "tag": tag,
        "breakpoints": True,
    }


def write_journal(directory: Path, tags: Sequence[str]) -> Path:
    path = directory / "meta" / "_journal.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [journal_entry(i, tag) for i, tag in enumerate(tags)]
    path.write_text(
        json.dumps({"version": "7", "dialect": "postgresql", "entries": entries}, indent=2)
    )
    return path


def write_drizzle(directory: Path, migrations: Sequence[Spec]) -> Path:
    """Write ``migrations`` as a drizzle folder (journal in the given order); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for tag, up, down in migrations:
        (directory / f"{tag}.sql").write_text(up)
        if down is not None:
            (directory / f"{tag}.down.sql").write_text(down)
    write_journal(directory, [tag for tag, _, _ in migrations])
    return directory


def add_migration(directory: Path, tag: str, up: str, down: str | None = None) -> None:
    """Append one migration to an existing folder and its journal."""
    journal = directory / "meta" / "_journal.json"
    data = json.loads(journal.read_text())
    data["entries"].append(journal_entry(len(data["entries"]), tag))
    journal.write_text(json.dumps(data, indent=2))
    (directory / f"{tag}.sql").write_text(up)
    if down is not None:
        (directory / f"{tag}.down.sql").write_text(down)


def create_table(name: str) -> Spec:
    """A tiny reversible migration: ``NNNN_<name>`` creating table ``name``."""
    return (name, f"CREATE TABLE {name} (id integer PRIMARY KEY);", f"DROP TABLE {name};")


def numbered(*specs: Spec) -> list[Spec]:
    """Prefix each tag with its position: ``0000_``, ``0001_`` ..."""
    return [(f"{i:04d}_{tag}", up, down) for i, (tag, up, down) in enumerate(specs)]


def sha256_normalised(path: Path) -> str:
    data = path.read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


# -- database probes ----------------------------------------------------------


@contextmanager
def connect(url: str, **kwargs: Any) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(url, autocommit=True, **kwargs) as conn:
        yield conn


def query(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(url: str, sql: str, params: Sequence[Any] = ()) -> Any:
    rows = query(url, sql, params)
    return rows[0][0] if rows else None


def table_exists(url: str, name: str) -> bool:
    return scalar(url, "SELECT to_regclass(%s) IS NOT NULL", (name,)) is True


def column_exists(url: str, table: str, column: str) -> bool:
    return bool(
        query(
            url,
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s AND column_name = %s",
            (table, column),
        )
    )


def index_state(url: str, name: str) -> bool | None:
    """None when the index does not exist, else pg_index.indisvalid."""
    rows = query(
        url, "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)", (name,)
    )
    return rows[0][0] if rows else None


def tracking(url: str) -> list[dict[str, Any]]:
    """The rows of __migration_tracking in id order ([] when the table does not exist)."""
    if not table_exists(url, "__migration_tracking"):
        return []
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, migration_name, applied_at, rollback_sql, checksum, batch_number "
            "FROM __migration_tracking ORDER BY id"
        )
        return list(cur.fetchall())


def applied_names(url: str) -> list[str]:
    return [row["migration_name"] for row in tracking(url)]


def history(url: str) -> list[dict[str, Any]]:
    """The rows of __migration_history in id order ([] when the table does not exist)."""
    if not table_exists(url, "__migration_history"):
        return []
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM __migration_history ORDER BY id")
        return list(cur.fetchall())


def history_actions(url: str) -> list[tuple[str, str | None]]:
    return [(row["action"], row["migration_name"]) for row in history(url)]


def user_tables(url: str) -> set[str]:
    """Tables of the current schema, our own bookkeeping left out."""
    rows = query(
        url,
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename NOT LIKE '\\_\\_migration\\_%%'",
    )
    return {r[0] for r in rows}


# -- processes and polling ----------------------------------------------------


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)  # polling interval, not synchronisation
        delay = min(delay * 2, 0.2)


def popen_cli(*args: str, database_url: str | None = None, **env: str) -> subprocess.Popen[str]:
    """Start the real ``kubemigrate`` console script without waiting for it."""
    extra = dict(env)
    if database_url is not None:
        extra["DATABASE_URL"] = database_url
    return subprocess.Popen(
        [str(BIN / "kubemigrate"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(**extra),
    )


def output(result: subprocess.CompletedProcess[str] | tuple[str, str]) -> str:
    """stdout and stderr together, for assertions on what a user sees."""
    if isinstance(result, tuple):
        return result[0] + result[1]
    return result.stdout + result.stderr


def backends(url: str, where: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """pid, application_name, query of other sessions matching ``where`` on any database."""
    return query(
        url,
        "SELECT pid, application_name, query FROM pg_stat_activity "
        f"WHERE pid <> pg_backend_pid() AND ({where})",
        params,
    )


# -- the drizzle-kit fixtures' downs, finished by hand -----------------------

# What a person writes by hand where the inference left a note: the enum value
# 'delivered' goes by rebuilding the type, as PostgreSQL cannot drop an enum value.
ENUM_BACK = BREAKPOINT.join(
    [
        'ALTER TYPE "public"."order_status" RENAME TO "order_status_old";',
        "CREATE TYPE \"public\".\"order_status\" AS ENUM('pending', 'paid', 'shipped', "
        "'cancelled');",
        'ALTER TABLE "orders" ALTER COLUMN "status" DROP DEFAULT;',
        'ALTER TABLE "orders" ALTER COLUMN "status" TYPE "public"."order_status" '
        'USING "status"::text::"public"."order_status";',
        'ALTER TABLE "orders" ALTER COLUMN "status" SET DEFAULT \'pending\';',
        'DROP TYPE "public"."order_status_old";',
    ]
)
# ... and the index and foreign key 0003 dropped, whose definitions are in 0000 and 0001
CATALOG_BACK = BREAKPOINT.join(
    [
        'CREATE UNIQUE INDEX "products_sku_idx" ON "products" USING btree ("sku");',
        'ALTER TABLE "order_items" ADD CONSTRAINT "order_items_product_id_products_id_fk" '
        'FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action '
        "ON UPDATE no action;",
    ]
)


def finish_by_hand(path: Path, statements: str) -> None:
    """What a person does with a noted down: delete the note, write what it lists."""
    text = path.read_text()
    assert text.startswith(UNFINISHED_DOWN)
    body = text.split("\n\n", 1)[1]
    path.write_text(body.rstrip("\n") + BREAKPOINT + statements + "\n")


def pg_dump_schema(url: str, *options: str) -> list[str]:
    """``pg_dump --schema-only`` of ``url`` with ``options``, by the server's own pg_dump
    (client and server versions match), less the ``\\restrict KEY`` / ``\\unrestrict
    KEY`` lines recent releases wrap it in with a random key per run: its lines."""
    result = subprocess.run(
        [str(postgres.find_bindir() / "pg_dump"), "--schema-only", *options, "--dbname", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [
        line
        for line in result.stdout.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict"))
    ]


def schema_dump(url: str) -> str:
    """The schema with comments, privileges and owners, as pg_dump prints it, less
    kubemigrate's own tables and the lines that differ between any two dumps: what a
    rollback must leave exactly as it was."""
    lines = pg_dump_schema(url, "--exclude-table=__migration_*")
    return "\n".join(line for line in lines if not line.startswith("--"))


class Partition:
    """A TCP relay to the server that can go silent both ways, as a network partition
    does: nothing is closed, nothing arrives, and a new connection is accepted and never
    answered. ``cut()`` starts it; ``close()`` ends every connection (the server then
    sees its sessions end)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
        self.url = urlunsplit(parts._replace(netloc=netloc))
        self._cut = threading.Event()
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self._cut.set()

    def close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            if self._cut.is_set():
                continue  # the handshake the kernel made, and then silence
            upstream = socket.create_connection(self._upstream)
            self._sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    if not self._cut.is_set():
                        sink.shutdown(socket.SHUT_WR)
                    return
                if not self._cut.is_set():
                    sink.sendall(data)
            except OSError:
                return
