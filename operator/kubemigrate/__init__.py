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
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubemigrate.domain.migrations import Environment
    from kubemigrate.domain.outcome import Outcome
    from kubemigrate.engine.report import StatusReport

__all__ = ["apply_migrations", "rollback_migrations", "show_status"]
__version__ = "0.1.0"


def _environment(name: str) -> Environment:
    """As the CLI reads ``--env``: any case or a short form; a bad name is a usage error."""
    from kubemigrate.domain.errors import UsageError
    from kubemigrate.domain.migrations import Environment

    environment = Environment.parse(name)
    if environment is None:
        raise UsageError(
            f"Unknown environment {name!r}.", hint="use development, staging or production"
        )
    return environment


def apply_migrations(
    database_url: str,
    directory: str | Path = "./drizzle",
    *,
    environment: str = "development",
    target: str | None = None,
    dry_run: bool = False,
    lock_wait_s: float = 60.0,
    fmt: str = "drizzle",
) -> Outcome:
    """Apply every pending migration as one batch; raises a ``KubemigrateError`` on failure."""
    from kubemigrate.domain.migrations import Action
    from kubemigrate.domain.outcome import timed
    from kubemigrate.engine.runner import RunOptions
    from kubemigrate.engine.session import open_runner

    started = time.perf_counter()
    options = RunOptions(
        environment=_environment(environment),
        target=target,
        dry_run=dry_run,
        lock_wait_s=lock_wait_s,
    )
    with open_runner(database_url, Path(directory), fmt=fmt, command="migrate") as runner:
        outcome = runner.run(Action.MIGRATE, options)
    return timed(outcome, started, time.perf_counter())


def rollback_migrations(
    database_url: str,
    directory: str | Path = "./drizzle",
    *,
    environment: str = "development",
    steps: int | None = None,
    target: str | None = None,
    confirm: str | None = None,
    fmt: str = "drizzle",
) -> Outcome:
    """Undo the last batch (or ``steps`` batches, or down to ``target``)."""
    from kubemigrate.domain.errors import ConfirmationRequired
    from kubemigrate.domain.migrations import Action
    from kubemigrate.domain.outcome import timed
    from kubemigrate.engine.runner import RunOptions
    from kubemigrate.engine.session import open_runner

    started = time.perf_counter()
    options = RunOptions(
        environment=_environment(environment), steps=steps, target=target, confirm=confirm
    )
    try:
        with open_runner(
            database_url, Path(directory), fmt=fmt, command="rollback", allow_empty=True
        ) as runner:
            outcome = runner.run(Action.ROLLBACK, options)
    except ConfirmationRequired as error:  # its hint speaks to the CLI's user
        error.hint = (error.hint or "").replace("--confirm ", "confirm=")
        raise
    return timed(outcome, started, time.perf_counter())


def show_status(
    database_url: str,
    directory: str | Path = "./drizzle",
    *,
    fmt: str = "drizzle",
    print_report: bool = True,
) -> StatusReport:
    """The status report; printed like ``kubemigrate status`` unless ``print_report=False``."""
    from kubemigrate.engine.session import open_runner

    with open_runner(
        database_url, Path(directory), fmt=fmt, command="status", allow_empty=True
    ) as runner:
        result, _ = runner.report()
    if print_report:
        print(result.text(), end="")
    return result
