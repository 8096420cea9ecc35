"""kubemigrate: PostgreSQL schema migrations the Kubernetes way.

The Python API for scripts (the original system's integration examples)::

    import kubemigrate

    outcome = kubemigrate.apply_migrations("postgresql://...", "./drizzle")
    report = kubemigrate.show_status("postgresql://...", "./drizzle")

Imports stay lazy so that ``import kubemigrate`` (and the CLI a Job runs) costs
nothing until an engine function is called.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from kubemigrate.domain.migrations import Action, Environment
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.engine.linting import Linted
    from kubemigrate.engine.report import StatusReport

__all__ = [
    "AuthenticationFailed",
    "ConfirmationRequired",
    "DatabaseUnreachable",
    "DirtyDatabaseError",
    "IntegrityError",
    "Interrupted",
    "InvalidIndexError",
    "KubemigrateError",
    "LockTimeout",
    "MigrationFailed",
    "NotAdopted",
    "Outcome",
    "PermissionDenied",
    "SafetyRefusal",
    "SourceError",
    "StatusReport",
    "UsageError",
    "apply_migrations",
    "lint_migrations",
    "rollback_migrations",
    "show_status",
]
__version__ = "0.1.0"

# What a caller catches and reads, loaded on first use (PEP 562) to keep the import free:
# ``except kubemigrate.domain.errors.KubemigrateError`` raised AttributeError in a
# process where no call had imported that module yet.
_LAZY = {
    "Outcome": "kubemigrate.domain.outcome",
    "StatusReport": "kubemigrate.engine.report",
    **{
        name: "kubemigrate.domain.errors"
        for name in __all__
        if name[0].isupper() and name not in ("Outcome", "StatusReport")
    },
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "domain":  # kubemigrate.domain.errors.KubemigrateError, as the README had it
        importlib.import_module("kubemigrate.domain.errors")
        return importlib.import_module("kubemigrate.domain")
    raise AttributeError(f"module 'kubemigrate' has no attribute {name!r}")


def _environment(name: str | None) -> Environment:
    """As the CLI reads ``--env`` (any case or a short form), and without one from
    KUBEMIGRATE_ENV, then NODE_ENV; a bad name is a usage error."""
    import os
    import warnings

    from kubemigrate.domain.migrations import Environment

    environment, warning = Environment.resolve(name, os.environ, flag="environment")
    if warning:
        warnings.warn(warning, stacklevel=4)  # the caller of apply_/rollback_migrations
    return environment


def apply_migrations(
    database_url: str,
    directory: str | Path = "./drizzle",
    *,
    environment: str | None = None,
    target: str | None = None,
    dry_run: bool = False,
    lock_wait_s: float = 60.0,
    lock_timeout_ms: int | None = None,
    statement_timeout_s: float | None = None,
    run_id: str | None = None,
    fmt: str = "drizzle",
    drizzle_table: str | None = None,
) -> Outcome:
    """Apply every pending migration as one batch; raises a ``KubemigrateError`` on failure.

    The options are the CLI's (``--lock-wait``, ``--lock-timeout``, ...); without
    ``environment``, KUBEMIGRATE_ENV then NODE_ENV decide, as for the CLI.
    ``drizzle_table`` (``"SCHEMA.TABLE"``) is where drizzle's own migrator keeps its
    history, if kubemigrate cannot find it (``--drizzle-table``): a first migrate on a
    database drizzle migrated is refused until ``kubemigrate baseline``.
    """
    arguments = dict(locals())  # the function's own, before the import below adds one
    from kubemigrate.domain.migrations import Action

    return _run(Action.MIGRATE, **arguments)


def rollback_migrations(
    database_url: str,
    directory: str | Path = "./drizzle",
    *,
    environment: str | None = None,
    steps: int | None = None,
    target: str | None = None,
    confirm: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    lock_wait_s: float = 60.0,
    lock_timeout_ms: int | None = None,
    statement_timeout_s: float | None = None,
    run_id: str | None = None,
    fmt: str = "drizzle",
) -> Outcome:
    """Undo the last batch (or ``steps`` batches, or down to ``target``); ``force`` as the
    CLI's --force (undo migrations ``baseline`` recorded)."""
    arguments = dict(locals())  # the function's own, before the import below adds one
    from kubemigrate.domain.migrations import Action

    return _run(Action.ROLLBACK, **arguments)


def _run(
    action: Action,
    database_url: str,
    directory: str | Path,
    *,
    fmt: str,
    environment: str | None,
    lock_timeout_ms: int | None,
    statement_timeout_s: float | None,
    **options: Any,
) -> Outcome:
    """One changing run for the functions above, given their own arguments (the rest
    of them are ``RunOptions``' fields)."""
    from kubemigrate.domain.migrations import Action
    from kubemigrate.domain.outcome import timed
    from kubemigrate.engine.runner import RunOptions
    from kubemigrate.engine.session import open_runner

    started = time.perf_counter()
    given = {k: v for k, v in options.items() if v is not None}
    with _told_in_api_terms():
        _check_arguments(
            database_url,
            lock_timeout_ms=lock_timeout_ms,
            statement_timeout_s=statement_timeout_s,
            **given,
        )
        if "drizzle_table" in given:
            from kubemigrate.domain.histories import parse_table_name

            given["drizzle_table"] = parse_table_name(given["drizzle_table"], flag="drizzle_table")
    run_options = RunOptions(environment=_environment(environment), **given)
    with (
        _interrupts_kept(),  # outermost: the Interrupted it keeps has the API's hint
        _told_in_api_terms(),
        open_runner(
            database_url,
            Path(directory),
            fmt=fmt,
            command=str(action),
            run_id=options.get("run_id"),
            lock_timeout_ms=lock_timeout_ms,
            statement_timeout_s=statement_timeout_s,
            allow_empty=action is not Action.MIGRATE,
        ) as runner,
    ):
        outcome = runner.run(action, run_options)
    _log_warnings(outcome.warnings)
    return timed(outcome, started, time.perf_counter())


def _check_arguments(database_url: Any, **given: Any) -> None:
    """What the CLI's option types refuse, refused here too, before any connection: a
    connection object where the URL goes failed with AttributeError, ``steps=0`` undid
    nothing without a word, and a statement timeout under a millisecond became
    PostgreSQL's 0, no timeout at all."""
    from kubemigrate.domain.errors import UsageError
    from kubemigrate.domain.migrations import wait_problem

    _check_url(database_url)
    if given.get("steps") is not None and given["steps"] < 1:
        raise UsageError(f"steps must be 1 or more, not {given['steps']}.", hint="or leave it out")
    for name, unit, per_second in (
        ("lock_wait_s", "seconds", 1.0),
        ("statement_timeout_s", "seconds", 1.0),
        ("lock_timeout_ms", "milliseconds", 1000.0),
    ):
        value = given.get(name)
        if value is None:
            continue
        if value < 0:
            raise UsageError(f"{name} must be 0 or more, not {value}.")
        problem = wait_problem(value, unit=unit, per_second=per_second)
        if problem is not None:
            raise UsageError(f"{name}={value} {problem}.")


def _check_url(database_url: Any) -> str:
    """The URL, a str: a connection object failed with AttributeError."""
    from kubemigrate.domain.errors import UsageError

    if not isinstance(database_url, str):
        raise UsageError(
            f"database_url must be the URL, a str, not {type(database_url).__name__}: "
            "kubemigrate opens its own connection (a session-level lock, its own settings).",
            hint="pass the URL the connection or pool was made with",
        )
    return database_url


@contextmanager
def _interrupts_kept() -> Iterator[None]:
    """Ctrl-C stays a KeyboardInterrupt for the application: the engine's report of it
    (what committed, what was rolled back) is its cause. As an ``Interrupted``, an
    Exception, an app's ``except Exception`` at start-up caught it and carried on."""
    from kubemigrate.domain.errors import Interrupted

    try:
        yield
    except Interrupted as stopped:
        raise KeyboardInterrupt(str(stopped)) from stopped


def _log_warnings(warnings: Sequence[str]) -> None:
    """The run's warnings (a file the journal does not list, never run) on the
    ``kubemigrate`` logger, where an application's logging shows them; only in
    ``outcome.warnings``, they went unseen."""
    if warnings:
        import logging

        log = logging.getLogger("kubemigrate")
        for warning in warnings:
            log.warning("%s", warning)


# The CLI's flags in a hint, as this API's keyword arguments.
_API_TERMS = (
    ("pass --database-url or set DATABASE_URL", "pass database_url"),
    ("--database-url", "database_url"),
    ("pass --dir ", "pass directory= "),
    ("--dir ", "directory= "),
    ("--confirm ", "confirm="),
    ("--force", "force=True"),
    ("--lock-wait", "lock_wait_s"),
    ("--lock-timeout", "lock_timeout_ms"),
    ("--statement-timeout", "statement_timeout_s"),
    ("--target ", "target="),
    ("--steps ", "steps="),
    ("--dry-run", "dry_run=True"),
    ("--drizzle-table ", "drizzle_table="),
    ("pass --format ", "pass fmt="),
    ("--format ", "fmt="),
)


@contextmanager
def _told_in_api_terms() -> Iterator[None]:
    """The engine's errors as this API's caller acts on them: their hints speak to the
    CLI's user."""
    from kubemigrate.domain.errors import KubemigrateError

    try:
        yield
    except KubemigrateError as error:
        if error.hint:
            error.hint = _in_api_terms(error.hint)
        raise


def _in_api_terms(hint: str) -> str:
    """The flags in ``hint`` as keyword arguments; a quoted `kubemigrate ...` command
    stays a command, which is what it is."""
    pieces = hint.split("`")
    for i in range(0, len(pieces), 2):  # outside backticks
        for flag, keyword in _API_TERMS:
            pieces[i] = pieces[i].replace(flag, keyword)
    return "`".join(pieces)


def show_status(
    database_url: str,
    directory: str | Path = "./drizzle",
    *,
    fmt: str = "drizzle",
    print_report: bool = True,
) -> StatusReport:
    """The status report; printed like ``kubemigrate status`` unless ``print_report=False``."""
    from kubemigrate.engine.session import open_runner

    with (
        _told_in_api_terms(),
        open_runner(
            _check_url(database_url), Path(directory), fmt=fmt, command="status", allow_empty=True
        ) as runner,
    ):
        result, _ = runner.report()
    _log_warnings(result.warnings)
    if print_report:
        _print(result.text())
    return result


def _print(text: str) -> None:
    """The report on stdout, its emoji replaced where stdout cannot encode them (an
    ASCII locale): the UnicodeEncodeError came after the database work, as a failure."""
    import sys

    try:
        print(text, end="")
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        print(text.encode(encoding, "replace").decode(encoding), end="")


def lint_migrations(
    directory: str | Path = "./drizzle",
    names: Sequence[str] = (),
    *,
    fmt: str = "drizzle",
    lock_timeout_ms: int | None = None,
    statement_timeout_s: float | None = None,
    environment: str | None = None,
) -> Linted:
    """squawk's findings for the migrations ``names`` (file names or versions; every one
    by default), as ``kubemigrate lint`` gives them; reads no database. The timeouts
    are those the migrations will run with (squawk's rules asking for them are met;
    staging's and production's lock timeout by default)."""
    from kubemigrate.engine import linting

    if isinstance(names, str):  # one name, not its characters
        names = (names,)
    with _told_in_api_terms():
        timeouts = linting.timeouts_set(
            _environment(environment), lock_timeout_ms, statement_timeout_s
        )
        return linting.lint_folder(Path(directory), fmt, names, **timeouts)
