"""Opening a run: the source directory first, then the database.

Shared by the CLI and the Python API so both refuse bad input the same way:
the directory is read (and its errors reported) before any connection is made.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from kubemigrate.domain.errors import KubemigrateError
from kubemigrate.engine import sources
from kubemigrate.engine.postgres import PostgresStore
from kubemigrate.engine.runner import Observer, Runner


def application_name(command: str, run_id: str | None = None) -> str:
    """What ``pg_stat_activity`` shows, so a blocked run can name the holder.

    The host comes before the run id, which the 63-character limit may cut: in a Job's
    pod the host name is the pod's, and so names the MigrationRun (``HOSTNAME``, which
    Kubernetes sets to it, is read first).
    """
    host = os.environ.get("HOSTNAME") or socket.gethostname()
    return f"kubemigrate {command} {host}:{os.getpid()}{' ' + run_id if run_id else ''}"[:63]


@contextmanager
def open_runner(
    database_url: str,
    directory: Path,
    *,
    fmt: str = "drizzle",
    command: str = "migrate",
    run_id: str | None = None,
    lock_timeout_ms: int | None = None,
    statement_timeout_s: float | None = None,
    observer: Observer | None = None,
    allow_empty: bool = False,
    read_source: bool = True,
) -> Iterator[Runner]:
    """``read_source=False`` for commands that read only the database (``history``)."""
    if read_source:
        source = sources.load(directory, fmt, allow_empty=allow_empty)
    else:
        source = sources.Source(directory=directory, migrations=())
    store = PostgresStore(
        database_url,
        application_name=application_name(command, run_id),
        lock_timeout_ms=lock_timeout_ms,
        statement_timeout_s=statement_timeout_s,
    )
    try:
        store.connect()
        try:
            yield Runner(store, source, observer)
        except psycopg.Error as exc:  # the store's own queries; migrations report their own
            raise (store.database_error(exc) or exc) from None
        finally:
            store.close()
    except KubemigrateError as error:
        # ``from None`` hides the driver's error from tracebacks, but it stays on the
        # error as __context__, and libpq's messages quote the connection string: a
        # script's error reporter that walks the chain would print the password
        error.__context__ = None
        raise
