"""Structured logs: JSON lines with the original system's fields, or console text.

Every line passes through a scrubber that removes the database URL and its
password, whatever code logged it. Engine lines carry ``type:
"database_migration"``, ``migration``, ``action`` (applied | rolled_back |
failed | ...), ``duration`` (ms) and ``checksum``, as log pipelines built for
the original system expect.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

from kubemigrate.domain.errors import KubemigrateError
from kubemigrate.domain.migrations import Action, Direction, Plan, Step
from kubemigrate.domain.secrets import scrub


@contextmanager
def _rich_unless_loaded() -> Iterator[None]:
    """Keep structlog from loading rich when nothing else has.

    ``structlog.dev`` imports rich at once (some 70 ms here: a quarter of a Job's
    start-up) only to offer rich tracebacks in its console renderer, and kubemigrate
    never logs a traceback: errors are translated into one line at one point. A
    ``None`` in ``sys.modules`` makes that optional import fail the documented way.
    When rich is already loaded (a progress bar on a terminal) structlog uses it.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        yield
        return
    sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        del sys.modules["rich"]


with _rich_unless_loaded():
    import structlog

MIGRATION_TYPE = "database_migration"


class _Scrubber:
    """A structlog processor that blanks secrets in every string value."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if isinstance(value, str):
                event[key] = scrub(value, self.secrets)
        return event


_FIRST = ("level", "time", "type")


def _drop_empty(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """No ``run_id=None`` on every line of a run that has none."""
    return {k: v for k, v in event.items() if v is not None}


def _order(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Put level, time and type first, as the original's lines read."""
    ordered = {k: event[k] for k in _FIRST if k in event}
    ordered.update((k, v) for k, v in event.items() if k not in ordered)
    return ordered


def _renderer(*, json_lines: bool, colors: bool) -> list[Any]:
    """The last processors of every line, ours and stdlib's (psycopg's, kopf's) alike, so
    one stream has one shape."""
    if json_lines:
        return [
            structlog.processors.EventRenamer("msg"),
            _drop_empty,
            _order,
            structlog.processors.JSONRenderer(),
        ]
    return [_drop_empty, structlog.dev.ConsoleRenderer(colors=colors)]


def configure(
    fmt: str | None = None,
    *,
    secrets: list[str] | None = None,
    stream: TextIO | None = None,
    level: str = "info",
) -> None:
    """Route structlog (and stdlib logging, e.g. kopf's) to ``stream`` as JSON or text.

    ``fmt=None`` picks JSON when stdout is not a terminal: a Job or CI log is read
    by machines, a laptop's by people.
    """
    stream = stream or sys.stderr
    if fmt is None:
        fmt = "console" if sys.stdout.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        _Scrubber(secrets or []),
        _drop_empty,
    ]
    renderer = _renderer(json_lines=fmt == "json", colors=stream.isatty())
    numeric = getattr(logging, level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # the driver's own warnings ("query cancellation failed" when a signal lands while
    # the server cannot be reached) came out as bare text between the JSON lines
    driver = logging.getLogger("psycopg")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter(secrets or [], json_lines=fmt == "json", kind=MIGRATION_TYPE))
    driver.handlers[:] = [handler]
    driver.propagate = False


def _kubernetes_ref(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """kopf's per-object loggers carry ``k8s_ref``: turn it into namespace + run/job fields."""
    record = event.get("_record")
    ref = getattr(record, "k8s_ref", None)
    if isinstance(ref, dict):
        event["namespace"] = ref.get("namespace")
        kind = str(ref.get("kind") or "object")
        event["run" if kind == "MigrationRun" else kind.lower()] = ref.get("name")
    if record is not None:
        event.setdefault("logger", record.name)
    return event


def _formatter(
    secrets: list[str], *, json_lines: bool = True, kind: str | None = None
) -> logging.Formatter:
    """stdlib log records rendered as structlog renders our own lines (``kind``: their
    ``type``, where every line of the stream has one)."""

    def typed(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if kind is not None:
            event.setdefault("type", kind)
        return event

    renderer = _renderer(json_lines=json_lines, colors=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            _kubernetes_ref,
            typed,
            _Scrubber(secrets),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def route_stdlib(level: str = "info", *, secrets: list[str] | None = None) -> None:
    """Send stdlib logging (kopf, the kubernetes client) through the same JSON lines.

    One shape for every line of the operator's log, so a log pipeline needs one
    parser, and kopf's lines name the run like ours do.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("asyncio", "kubernetes", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(**context: Any) -> Any:
    return structlog.get_logger(**context)


class LogObserver:
    """One log line per migration (and per lock wait), for the engine's observers."""

    def __init__(self, **context: Any) -> None:
        self.log = structlog.get_logger(type=MIGRATION_TYPE, **context)

    def lock_wait(self, holder: str | None) -> None:
        self.log.info("waiting for the migration lock", action="lock_wait", holder=holder)

    def plan_ready(self, plan: Plan) -> None:
        doing = "to record without running" if plan.action is Action.BASELINE else "to run"
        self.log.info(
            f"{len(plan.steps)} migration(s) {doing}",
            action="planned",
            batch=plan.batch,
            migrations=[s.name for s in plan.steps],
        )
        for warning in plan.warnings:  # before the first statement, not in the summary
            self.log.warning(warning, action="planned")

    def step_started(self, step: Step, index: int, total: int) -> None:
        pass

    def step_finished(self, step: Step, duration_ms: float) -> None:
        action = "applied" if step.direction is Direction.UP else "rolled_back"
        self.log.info(
            f"{step.name} {action.replace('_', ' ')}",
            migration=step.name,
            action=action,
            duration=round(duration_ms, 3),
            checksum=step.checksum,
            batch=step.batch,
        )

    def notice(self, severity: str, message: str, migration: str | None = None) -> None:
        """A migration's RAISE NOTICE/WARNING (and the server's own, e.g. "does not
        exist, skipping"), as psql would show it, with the migration that raised it."""
        log = self.log.warning if severity.upper() == "WARNING" else self.log.info
        log(message, migration=migration, action="notice", severity=severity)

    def step_failed(self, step: Step, error: KubemigrateError, duration_ms: float) -> None:
        self.log.error(
            error.message,
            migration=step.name,
            action="failed",
            duration=round(duration_ms, 3),
            checksum=step.checksum,
            batch=step.batch,
            reason=error.reason,
            sqlState=error.details.get("sqlState"),
        )
