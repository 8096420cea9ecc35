"""The ``kubemigrate`` command: engine commands, ``operator`` and ``demo``.

Kept light on purpose: a Job's pod and a CI step run this module, so kopf,
kubernetes, rich and pydantic are imported only by the commands that need them.
Every error leaves through ``_fail``: one message, one hint, one exit code, no
traceback and no connection string.
"""

import functools
import gc
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from kubemigrate import launcher
from kubemigrate.domain.errors import ExitCode, Interrupted, KubemigrateError, UsageError
from kubemigrate.domain.histories import TableName, parse_table_name
from kubemigrate.domain.migrations import Action, Environment, wait_problem
from kubemigrate.domain.outcome import (
    FORMAT_VERSION,
    TERMINATION_MESSAGE_LIMIT,
    Outcome,
    compact_json,
    done_note,
    timed,
)
from kubemigrate.domain.secrets import scrub, scrub_json, secret_values

if TYPE_CHECKING:
    from kubemigrate.engine.linting import Linted

app = typer.Typer(
    name="kubemigrate",
    help="PostgreSQL schema migrations with tracking, checksums, batch rollback and safety rules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        show_default=False,
        show_envvar=True,
        help="libpq URL of the target database (never printed).",
    ),
]
Dir = Annotated[Path, typer.Option("--dir", help="Migration directory.")]
Fmt = Annotated[
    str, typer.Option("--format", help="Directory format: drizzle, golang-migrate, flyway, dbmate.")
]
Env = Annotated[
    str | None,
    typer.Option(
        "--env",
        show_default=False,
        help="development | staging | production "
        "(default: KUBEMIGRATE_ENV, NODE_ENV, development).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _log_format(value: str | None) -> str | None:
    """json or console, in any case: anything else gave console lines where a log
    shipper expected JSON."""
    if value is None or value.lower() in ("json", "console"):
        return value.lower() if value else None
    raise typer.BadParameter(f"{value!r} is not json or console.")


LogFormat = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="json | console (default: json unless a terminal).",
        callback=_log_format,
    ),
]

ResultFile = Annotated[
    Path | None,
    typer.Option(
        "--result-file", help="Also write the JSON result here (a Job's termination message)."
    ),
]
RunId = Annotated[str | None, typer.Option("--run-id", help="Id recorded in the history table.")]


def _seconds(value: float | None) -> float | None:
    """A number of seconds a run can wait (``wait_problem``)."""
    problem = None if value is None else wait_problem(value)
    if problem is not None:
        raise typer.BadParameter(f"{value} {problem}.")
    return value


LockWait = Annotated[
    float,
    typer.Option(
        "--lock-wait",
        min=0,
        callback=_seconds,
        help="Seconds to wait for another run's migration lock.",
    ),
]
LockTimeout = Annotated[
    int | None,
    typer.Option("--lock-timeout", min=0, help="PostgreSQL lock_timeout in ms for each statement."),
]
StatementTimeout = Annotated[
    float | None,
    typer.Option(
        "--statement-timeout",
        min=0,
        callback=_seconds,
        help="PostgreSQL statement_timeout in seconds.",
    ),
]
Target = Annotated[
    str | None,
    typer.Option(
        "--target", help="A migration: its file name or version (0003, 20240101120000, 1.10)."
    ),
]


def _drizzle_table(value: str | TableName | None) -> TableName | None:
    """``SCHEMA.TABLE``, parsed now: a malformed name is a usage error before anything
    connects."""
    if value is None or isinstance(value, TableName):
        return value
    try:
        return parse_table_name(value)
    except KubemigrateError as error:
        raise typer.BadParameter(f"{value!r} is not SCHEMA.TABLE: {error.hint}.") from None


DrizzleTable = Annotated[
    TableName | None,
    typer.Option(
        "--drizzle-table",
        metavar="SCHEMA.TABLE",
        show_default=False,
        parser=_drizzle_table,
        help="Where drizzle's migrator keeps its history (its migrationsSchema and "
        "migrationsTable), when kubemigrate cannot find it: by default "
        "drizzle.__drizzle_migrations, or the one table of drizzle's shape that records "
        "these migrations.",
    ),
]


@dataclass
class Context:
    """The options every engine command shares, named as the commands' parameters."""

    database_url: str
    directory: Path
    fmt: str
    env: str | None
    as_json: bool
    log_format: str | None
    result_file: Path | None = None
    run_id: str | None = None
    lock_timeout: int | None = None
    statement_timeout: float | None = None
    dry_run: bool = False
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def of(cls, params: dict[str, Any]) -> "Context":
        """From a command's parameters (its ``locals()``): the shared ones, by name."""
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})

    @functools.cached_property
    def environment(self) -> Environment:
        """--env, then KUBEMIGRATE_ENV, then NODE_ENV, as the Python API reads them; a
        NODE_ENV of another kind is warned about once, as stderr's other lines are."""
        environment, warning = Environment.resolve(self.env, os.environ, flag="--env")
        if warning:
            _stderr(self, "warning", warning)
        return environment

    @property
    def json_logs(self) -> bool:
        """--log-format json was asked for: stderr then holds JSON lines only."""
        return self.log_format == "json"  # the option's callback made it lower case

    @property
    def secrets(self) -> list[str]:
        return secret_values(self.database_url)


# -- output -------------------------------------------------------------------


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def _timed(ctx: Context, outcome: Outcome) -> Outcome:
    """The outcome with the command's run time so far (see ``Outcome.durationMs``)."""
    return timed(outcome, ctx.started, time.perf_counter())


def _write_result(ctx: Context, outcome: Outcome) -> None:
    if ctx.result_file is None:
        return
    text = scrub_json(outcome.to_json(TERMINATION_MESSAGE_LIMIT), ctx.secrets)
    try:
        ctx.result_file.write_text(text)
    except OSError as exc:
        _stderr(ctx, "warning", f"cannot write the result to {ctx.result_file}: {exc.strerror}")


def _fail(ctx: Context, action: str, error: KubemigrateError) -> NoReturn:
    done = error.partial or Outcome(action=action, ok=False)
    outcome = _timed(
        ctx,
        replace(
            done,
            ok=False,
            exitCode=int(error.exit_code),
            error=error.to_dict(),
            drift=error.reason == "IntegrityCheckFailed",
            # refused for a mark, or left one (a migration outside a transaction failed)
            dirty=error.reason == "DirtyDatabase" or error.details.get("dirty") is True,
            confirmation=error.details.get("confirmation"),
        ),
    )
    _write_result(ctx, outcome)
    if ctx.as_json:
        print(scrub_json(outcome.to_json(), ctx.secrets))
    kept = ", ".join(m.name for m in outcome.migrations)
    batch = done_note(outcome)  # with what an earlier attempt of the run (--run-id) did
    _stderr(
        ctx,
        "error",
        str(error.message),
        # psql's DETAIL: the key that clashed, a failing row
        ("detail", "detail", error.details.get("detail")),
        ("hint", "hint", error.hint),
        ("kept", f"done before it, and kept{batch}", kept),
    )
    raise typer.Exit(int(error.exit_code))


def _stderr(ctx: Context, level: str, message: str, *more: tuple[str, str, Any]) -> None:
    """A line for people on stderr (``error: ...``, then each ``(key, label, value)`` of
    ``more`` indented), or, when --log-format json was asked for, one JSON log line like
    the rest of stderr: a log shipper reading a Job's output choked on the plain text
    between its JSON lines."""
    told = [(key, label, scrub(str(value), ctx.secrets)) for key, label, value in more if value]
    message = scrub(message, ctx.secrets)
    if ctx.json_logs:
        # as structlog writes the run's own lines (``observability.logging``), whose
        # module this short path does not import
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        line = {"level": level, "time": now, "type": "database_migration", "msg": message}
        line.update({key: value for key, _, value in told})
        print(json.dumps(line), file=sys.stderr)
        return
    print(f"{level}: {message}", file=sys.stderr)
    for _, label, value in told:
        print(f"  {label}: {value}", file=sys.stderr)


@dataclass(frozen=True)
class Reply:
    """What an engine command prints and how it exits."""

    outcome: Outcome
    text: str | None = None
    exit_code: int = 0
    json: Any = None
    """What ``--json`` prints when it is not the Outcome (the status report, history)."""
    note: str | None = None
    """A line for stderr after the text (why the exit code is not 0)."""
    warned: bool = False
    """The text says the outcome's warnings itself (a plan's): stderr does not repeat them."""


def _finish(ctx: Context, reply: Reply) -> NoReturn:
    outcome = _timed(ctx, reply.outcome)
    _write_result(ctx, outcome)
    try:
        if ctx.as_json:
            payload = outcome.to_json() if reply.json is None else compact_json(reply.json)
            print(scrub_json(payload, ctx.secrets))
        elif reply.text:
            text = reply.text
            print(scrub(text, ctx.secrets), end="" if text.endswith("\n") else "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head -1`); the run's result stands
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if reply.note and not ctx.as_json:
        _stderr(ctx, "error", reply.note)
    # the report and a plan's text list them themselves
    if not ctx.as_json and outcome.action != "status" and not reply.warned:
        for warning in outcome.warnings:  # files ignored, no journal: never in silence
            _stderr(ctx, "warning", warning)
    raise typer.Exit(reply.exit_code)


class _DeferredLog:
    """The log observer, created on the first line to log: a no-op run never imports structlog."""

    def __init__(self, ctx: Context, command: str) -> None:
        self.ctx, self.command = ctx, command
        self.observer: Any = None

    def _log(self) -> Any:
        if self.observer is None:
            from kubemigrate.observability.logging import LogObserver, configure

            configure(self.ctx.log_format, secrets=self.ctx.secrets)
            # a dry run's lines say so: an audit of the logs took its "planned" for a run's
            self.observer = LogObserver(
                command=self.command, run_id=self.ctx.run_id, dry_run=self.ctx.dry_run or None
            )
        return self.observer

    def lock_wait(self, holder: str | None) -> None:
        self._log().lock_wait(holder)

    def plan_ready(self, plan: Any) -> None:
        if plan.steps:
            self._log().plan_ready(plan)

    def step_started(self, step: Any, index: int, total: int) -> None:
        pass

    def step_finished(self, step: Any, duration_ms: float) -> None:
        self._log().step_finished(step, duration_ms)

    def step_failed(self, step: Any, error: KubemigrateError, duration_ms: float) -> None:
        self._log().step_failed(step, error, duration_ms)

    def notice(self, severity: str, message: str, migration: str | None = None) -> None:
        self._log().notice(severity, message, migration)


def _observer(ctx: Context, command: str) -> Any:
    """Log lines always; a progress bar too when a person watches."""
    from kubemigrate.engine.runner import Observers

    observers: list[Any] = [_DeferredLog(ctx, command)]
    if not ctx.as_json and sys.stdout.isatty():
        from kubemigrate.progress import ProgressObserver

        observers.append(ProgressObserver())
    return Observers(*observers)


def _offline(ctx: Context, command: str, work: Callable[[], Reply]) -> NoReturn:
    """A command's work without a database (lint without --pending, generate-downs
    without a URL): its errors told through ``_fail`` as ``_engine``'s are."""
    if launcher.stop_requested():  # while it loaded: nothing done yet
        _fail(ctx, command, Interrupted("Interrupted: nothing was changed."))
    loaded()
    try:
        reply = work()
    except KubemigrateError as error:
        _fail(ctx, command, error)
    _finish(ctx, reply)


def _engine(
    ctx: Context,
    command: str,
    body: Callable[[Any], Reply],
    *,
    observe: bool = True,
    allow_empty: bool = False,
    read_source: bool = True,
    preview_of: Action | None = None,
) -> NoReturn:
    """Open source + database, run ``body``, print and exit; errors go through ``_fail``,
    a ``plan``'s (``preview_of``) said as its success is: the action, previewed."""
    from kubemigrate.engine.session import open_runner

    _take_signals()
    loaded()
    try:
        if launcher.stop_requested():  # while the command loaded: nothing ran yet
            raise KeyboardInterrupt
        # every command, not only those that change something: `status --env prodution`
        # is a typo the next `migrate` would refuse, and a report it seemed to accept
        Environment.resolve(ctx.env, os.environ, flag="--env")
        observer = _observer(ctx, command) if observe else None
        with open_runner(
            ctx.database_url,
            ctx.directory,
            fmt=ctx.fmt,
            command=command,
            run_id=ctx.run_id,
            lock_timeout_ms=ctx.lock_timeout,
            statement_timeout_s=ctx.statement_timeout,
            observer=observer,
            allow_empty=allow_empty,
            read_source=read_source,
        ) as runner:
            reply = body(runner)
    except KubemigrateError as error:
        if preview_of is not None and error.partial is None:
            error.partial = Outcome(action=str(preview_of), ok=False, dryRun=True)
        _fail(ctx, command, error)
    except KeyboardInterrupt:  # outside a run (connecting, reading, waiting for the lock)
        _fail(ctx, command, Interrupted("Interrupted: nothing was changed."))
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("KUBEMIGRATE_DEBUG"):
            raise
        _fail(
            ctx,
            command,
            KubemigrateError(
                f"Unexpected {type(exc).__name__}: {scrub(str(exc), ctx.secrets)}",
                hint="this is a bug in kubemigrate; re-run with KUBEMIGRATE_DEBUG=1 for a "
                "traceback "
                "and report it",
            ),
        )
    _finish(ctx, reply)


def _take_signals() -> None:
    """Ctrl-C and SIGTERM stop the run (``_interrupt``), also when the first lands where
    Python cannot raise it (``_interrupt_lost``)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    if sys.unraisablehook is not _interrupt_lost:
        _hooks.append(sys.unraisablehook)
        sys.unraisablehook = _interrupt_lost


_hooks: list[Callable[[Any], object]] = []


def _interrupt_lost(unraisable: Any) -> None:
    """The KeyboardInterrupt ``_interrupt`` raised, lost: it landed in a finaliser or a
    weakref callback (importlib's module locks have one), whose exceptions Python prints
    and drops. The run went on to the end and exited 0, and every later SIGTERM was
    taken for a second one and ignored, so only SIGKILL stopped it. Raised again a
    moment later (an alarm: raised from here, it would be dropped here), out of the
    callback, where the run's code can handle it."""
    if (
        unraisable.exc_type is KeyboardInterrupt
        and signal.getsignal(signal.SIGTERM) is _already_stopping
    ):
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
            signal.signal(signum, _interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        return
    _hooks[-1](unraisable)


def _interrupt(_signum: int, _frame: Any) -> None:
    """SIGTERM (a Job deleted or past its deadline, ``docker stop``) ends a run the way
    Ctrl-C does: the statement running is cancelled on the server and the run reports
    what it did, instead of dying in the middle with nothing said.

    Only the first one: a second (Ctrl-C pressed twice, a SIGTERM then a Ctrl-C) landed
    in the middle of that cancel, which never reached the server: the migrations sent
    ahead went on committing after the process had left, and the report named fewer
    than the database had. SIGKILL still ends it at once.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        # a Python handler, not SIG_IGN: one already pending would then raise OSError
        signal.signal(signum, _already_stopping)
    raise KeyboardInterrupt


def _already_stopping(_signum: int, _frame: Any) -> None:
    """A second Ctrl-C or SIGTERM: the first one's cancel and report are under way."""


def _options(**kwargs: Any) -> Any:
    from kubemigrate.engine.runner import RunOptions

    clean = {k: v for k, v in kwargs.items() if v is not None}
    return RunOptions(**clean)


def _done_line(migration: Any) -> str:
    earlier = ", by an earlier attempt of this run" if migration.earlierAttempt else ""
    return f"  - {migration.name} ({migration.durationMs or 0:.0f} ms{earlier})"


def _summary(outcome: Outcome, verb: str) -> str:
    if outcome.dryRun:
        return ""
    if not outcome.migrations:
        counts = outcome.counts
        doing = "roll back" if verb == "rollback" else verb
        return f"Nothing to {doing}: {counts.applied} applied, {counts.pending} pending."
    shown = outcome.migrations[:20]
    names = "\n".join(_done_line(m) for m in shown)
    if len(outcome.migrations) > len(shown):
        more = len(outcome.migrations) - len(shown)
        names += f"\n  ... and {more} more (`kubemigrate history` lists them)"
    batch = done_note(outcome)
    past = {"migrate": "Applied", "rollback": "Rolled back", "reset": "Rolled back"}.get(verb, verb)
    return f"✅ {past} {len(outcome.migrations)} migration(s){batch}:\n{names}\n"


def _planned(outcome: Outcome, plan: Any, environment: Environment) -> Reply:
    return Reply(outcome, _dry_run_text(plan, environment, outcome.warnings), 0, warned=True)


def _previewed(runner: Any, action: Action, options: Any, environment: Environment) -> Reply:
    """A command's --dry-run: its plan, printed, nothing changed."""
    outcome, plan = runner.preview(action, options)
    return _planned(outcome, plan, environment)


def _dry_run_text(plan: Any, environment: Environment, warnings: Sequence[str] = ()) -> str:
    """The plan as people read it, in a terminal or pasted into a pull request: its
    warnings (what a production migrate destroys above all) first, on stdout with the
    rest, where on stderr a PR comment made from stdout lost them. A rollback's phrase
    says which environment the plan was made for: whether KUBEMIGRATE_ENV or NODE_ENV
    took effect was nowhere to be seen."""
    told = [f"warning: {w}" for w in warnings]
    if not plan.steps:
        return "\n".join([*told, "Dry run: nothing to do."]) + "\n"
    if plan.action in (Action.ROLLBACK, Action.RESET):
        what = "would be rolled back, newest first"
        if plan.batches:
            label = "batch" if len(plan.batches) == 1 else "batches"
            what += f" ({label} {', '.join(str(b) for b in plan.batches)})"
    else:
        what = "would run" + (f" as batch {plan.batch}" if plan.batch else "")
    out = [*told, f"Dry run: {len(plan.steps)} migration(s) {what}:"]
    for step in plan.steps:
        out += ["", f"-- {step.name} ({step.direction})", step.sql.rstrip()]
    if plan.action is Action.RESET:  # no phrase: refused in production, --force in staging
        out += ["", "A reset needs --force in staging and is refused in production."]
    elif plan.confirmation_phrase and environment is Environment.PRODUCTION:
        out += ["", f"Confirmation phrase (production): {plan.confirmation_phrase}"]
    elif plan.confirmation_phrase:
        asked = f"asked for in production; this is {environment.value}"
        out += ["", f"Confirmation phrase ({asked}): {plan.confirmation_phrase}"]
    return "\n".join(out) + "\n"


# -- commands -----------------------------------------------------------------


@app.command()
def migrate(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    target: Target = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and its SQL; change nothing.")
    ] = False,
    lock_wait: LockWait = 60.0,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
    drizzle_table: DrizzleTable = None,
) -> None:
    """Apply every pending migration as one new batch."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        options = _options(
            environment=ctx.environment,
            target=target,
            dry_run=dry_run,
            lock_wait_s=lock_wait,
            run_id=run_id,
            drizzle_table=drizzle_table,
        )
        if dry_run:
            return _previewed(runner, Action.MIGRATE, options, ctx.environment)
        outcome = runner.run(Action.MIGRATE, options)
        return Reply(outcome, _summary(outcome, "migrate"), 0)

    _engine(ctx, "migrate", body)


def _ask_confirmation(plan: Any) -> str | None:
    """On a terminal, show what would be undone, then ask for the phrase."""
    if not sys.stdin.isatty():
        return None
    names = "\n".join(f"  - {step.name}" for step in plan.steps)
    print(f"Rolling back in production would undo, newest first:\n{names}", file=sys.stderr)
    if plan.baselined:
        from kubemigrate.domain.planning import baselined_warning

        print(f"Note: {baselined_warning(plan)}.", file=sys.stderr)
    # the prompt goes with the list, to stderr: stdout may be a pipe (`| tee run.log`)
    print(f"Type {plan.confirmation_phrase} to confirm: ", end="", file=sys.stderr, flush=True)
    try:
        return input().strip() or None
    except EOFError:  # Ctrl-D: no answer, so the run is refused as unconfirmed
        print(file=sys.stderr)
        return None


@app.command()
def rollback(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Undo this many batches.", min=1)
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", help="Undo every migration after this one (file name or version)."
        ),
    ] = None,
    confirm: Annotated[
        str | None, typer.Option("--confirm", help="Production: the phrase naming the batch.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be undone.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Also undo migrations `baseline` recorded without running."),
    ] = False,
    lock_wait: LockWait = 60.0,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
) -> None:
    """Undo the last batch (or N batches, or down to a target), newest first."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        options = _options(
            environment=ctx.environment,
            steps=steps,
            target=target,
            confirm=confirm,
            force=force,
            dry_run=dry_run,
            lock_wait_s=lock_wait,
            run_id=run_id,
        )
        if dry_run:
            return _previewed(runner, Action.ROLLBACK, options, ctx.environment)
        if confirm is None and ctx.environment is Environment.PRODUCTION and not ctx.as_json:
            plan, _ = runner.plan(Action.ROLLBACK, options)
            if plan.confirmation_phrase:
                answer = _ask_confirmation(plan)
                if answer:
                    options = _options(**{**options.__dict__, "confirm": answer})
        outcome = runner.run(Action.ROLLBACK, options)
        return Reply(outcome, _summary(outcome, "rollback"), 0)

    _engine(ctx, "rollback", body, allow_empty=True)


@app.command()
def status(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    fail_on_pending: Annotated[
        bool, typer.Option("--fail-on-pending", help="Exit 3 when anything is pending.")
    ] = False,
    metadata_file: Annotated[
        Path | None, typer.Option("--metadata-file", help="Also write the JSON report here.")
    ] = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
) -> None:
    """The status report: applied, pending, recent rollbacks, integrity warnings."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        rep, _ = runner.report()
        if metadata_file is not None:
            try:
                metadata_file.write_text(json.dumps(rep.to_dict(), indent=2) + "\n")
            except OSError as exc:
                raise UsageError(
                    f"Cannot write --metadata-file {metadata_file}: {exc.strerror}.",
                    hint="give a file path in a folder that exists and is writable",
                ) from None
        code = ExitCode.PENDING if fail_on_pending and rep.pending else ExitCode.OK
        # a gate that failed says so in every form (`jq -e .ok`, the result file)
        outcome = Outcome(
            action="status",
            ok=not code,
            exitCode=int(code),
            counts=rep.counts,
            drift=bool(rep.findings),
            dirty=bool(rep.dirty),
            warnings=(*rep.warning_lines(), *rep.warnings),  # the report's own, source's too
        )
        # the report's own document (the original's metadata format), under the fields
        # every command's JSON starts with
        envelope: dict[str, Any] = {
            "action": "status",
            "ok": not code,
            "counts": outcome.counts.__dict__,
            "v": FORMAT_VERSION,
        }
        note = None
        if code:  # a CI log should say why the step failed, not only show the report
            envelope["exitCode"] = int(code)
            note = f"{rep.pending} migration(s) pending (--fail-on-pending)"
        return Reply(outcome, rep.text(), int(code), json={**envelope, **rep.to_dict()}, note=note)

    _engine(ctx, "status", body, observe=False, allow_empty=True)


@app.command()
def verify(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
) -> None:
    """The integrity checks alone, for CI: edited, missing, renamed, out-of-order files, files
    the journal does not list, migrations ahead of the folder, and a dirty database."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        outcome = runner.verify()
        if not outcome.ok:
            error = outcome.error or {}
            text = f"❌ {error.get('message')}\n  hint: {error.get('hint')}\n"
            if not ctx.as_json and ctx.json_logs:  # a Job's log: JSON lines only
                _stderr(
                    ctx, "error", str(error.get("message")), ("hint", "hint", error.get("hint"))
                )
                text = ""
            elif not ctx.as_json:
                print(scrub(text, ctx.secrets), file=sys.stderr)
                text = ""
            return Reply(outcome, text, outcome.exitCode)
        return Reply(
            outcome,
            f"✅ Integrity verified: {outcome.counts.applied} applied migration(s) "
            "match their files.",
        )

    _engine(ctx, "verify", body, observe=False, allow_empty=True)


@app.command()
def lint(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Migrations to lint: file names or versions (default: every one).",
            show_default=False,
        ),
    ] = None,
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    pending: Annotated[
        bool, typer.Option("--pending", help="Only those not yet applied to --database-url.")
    ] = False,
    database_url: DatabaseUrl = "",
    lock_timeout: Annotated[
        int | None,
        typer.Option("--lock-timeout", min=0, help="The lock_timeout (ms) migrate will run with."),
    ] = None,
    statement_timeout: Annotated[
        float | None,
        typer.Option(
            "--statement-timeout", min=0, help="The statement_timeout (s) migrate will run with."
        ),
    ] = None,
    env: Env = None,
    as_json: Json = False,
) -> None:
    """Check migrations against squawk's rules for safe PostgreSQL changes; exit 1 on a finding."""
    from kubemigrate.engine import linting

    ctx = Context(database_url, directory, fmt, env, as_json, None)
    if pending and names:
        _fail(
            ctx,
            "lint",
            UsageError("Name migrations or pass --pending, not both.", hint="drop one of them"),
        )

    def timeouts() -> dict[str, bool]:
        return linting.timeouts_set(ctx.environment, lock_timeout, statement_timeout)

    if pending:

        def body(runner: Any) -> Reply:
            from kubemigrate.domain import planning

            waiting = planning.pending(runner.source.migrations, runner.state().applied)
            version = runner.store.server_version_num
            return _lint_reply(linting.lint(waiting, server_version_num=version, **timeouts()))

        _engine(ctx, "lint", body, observe=False, allow_empty=True)
    _offline(
        ctx,
        "lint",
        lambda: _lint_reply(linting.lint_folder(directory, fmt, names or (), **timeouts())),
    )


def _lint_reply(found: "Linted") -> Reply:
    """The findings as compilers print theirs (``file:line:column``), which editors and
    CI annotations read, then a summary; exit 1 on any."""
    findings = found.findings
    lines = []
    for f in findings:
        lines.append(f"{f.file}:{f.line}:{f.column}: {f.level} {f.rule}: {f.message}")
        if f.help:
            lines.append(f"  help: {f.help}")
    count = len(found.migrations)
    if findings:
        files = len({f.migration for f in findings})
        lines.append(
            f"❌ {len(findings)} problem(s) in {files} of {count} migration(s) "
            f"(squawk {found.squawk}; rules: https://squawkhq.com/docs/rules)"
        )
    else:
        lines.append(f"✅ No problems in {count} migration(s) (squawk {found.squawk}).")
    code = 1 if findings else 0
    outcome = Outcome(action="lint", ok=not findings, exitCode=code)
    payload = {
        "action": "lint",
        "ok": not findings,
        "exitCode": code,
        "migrations": list(found.migrations),
        "findings": [f.to_dict() for f in findings],
        "squawk": found.squawk,
        "v": FORMAT_VERSION,
    }
    return Reply(outcome, "\n".join(lines) + "\n", code, json=payload)


@app.command()
def plan(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    for_action: Annotated[
        str, typer.Option("--for", help="migrate | rollback | reset")
    ] = "migrate",
    steps: Annotated[
        int | None,
        typer.Option("--steps", min=1, help="With --for rollback: the batches it would undo."),
    ] = None,
    target: Target = None,
    lock_wait: LockWait = 60.0,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
    drizzle_table: DrizzleTable = None,
) -> None:
    """What migrate, rollback or reset would do now, with the confirmation phrase; read-only."""
    del lock_wait  # accepted for symmetry with the Job's flags; a plan takes no lock
    ctx = Context.of(locals())
    try:
        action = Action(for_action)
        if action not in (Action.MIGRATE, Action.ROLLBACK, Action.RESET):
            raise ValueError
    except ValueError:
        _fail(
            ctx,
            "plan",
            UsageError(
                f"--for {for_action!r} is not plannable.", hint="use migrate, rollback or reset"
            ),
        )

    def body(runner: Any) -> Reply:
        options = _options(
            environment=ctx.environment,
            steps=steps,
            target=target,
            dry_run=True,
            drizzle_table=drizzle_table,
        )
        return _previewed(runner, action, options, ctx.environment)

    _engine(ctx, "plan", body, observe=False, allow_empty=True, preview_of=action)


@app.command()
def reset(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    reapply: Annotated[bool, typer.Option("--reapply", help="Migrate again afterwards.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Needed in staging.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be undone.")] = False,
    lock_wait: LockWait = 60.0,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
) -> None:
    """Development: roll back everything, newest first. Refused in production."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        options = _options(
            environment=ctx.environment,
            force=force,
            dry_run=dry_run,
            lock_wait_s=lock_wait,
            run_id=run_id,
        )
        if dry_run:
            reply = _previewed(runner, Action.RESET, options, ctx.environment)
            if not reapply or not reply.outcome.migrations:
                return reply
            return replace(reply, text=f"{reply.text}--reapply would then apply them again.\n")
        undone = runner.run(Action.RESET, options)
        text = _summary(undone, "reset")
        if not reapply:
            return Reply(undone, text, 0)
        # one result for both halves: --json and --result-file told the migrate alone
        try:
            applied = runner.run(Action.MIGRATE, options)
        except KubemigrateError as error:
            if error.partial is not None:
                both = (*undone.migrations, *error.partial.migrations)
                error.partial = replace(error.partial, action="reset", migrations=both)
            raise
        text += _summary(applied, "migrate")
        both = (*undone.migrations, *applied.migrations)
        return Reply(replace(applied, action="reset", migrations=both), text, 0)

    _engine(ctx, "reset", body, allow_empty=True)


@app.command()
def repair(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    accept_checksum: Annotated[
        list[str] | None,
        typer.Option("--accept-checksum", help="Re-record this edited file's checksum."),
    ] = None,
    accept_down: Annotated[
        list[str] | None,
        typer.Option(
            "--accept-down", help="Store this applied migration's current .down.sql for rollback."
        ),
    ] = None,
    accept_renames: Annotated[
        bool,
        typer.Option(
            "--accept-renames",
            help="Record applied migrations whose files were renamed (same SQL) under the new "
            "names, as after `drizzle-kit up`.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Clear a dirty mark although an index its migration builds CONCURRENTLY "
            "is INVALID.",
        ),
    ] = False,
    lock_wait: LockWait = 60.0,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
) -> None:
    """Clear a dirty mark once fixed by hand; accept an edited file's new checksum or a
    corrected down file's SQL for rollback."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        options = _options(lock_wait_s=lock_wait, run_id=run_id, force=force)
        outcome = runner.repair(
            accept_checksum or [], options, accept_down or [], accept_renames=accept_renames
        )
        if not outcome.migrations:
            return Reply(outcome, "Nothing to repair: no dirty mark, no checksum to accept.", 0)
        done = {
            "accept-down": "new rollback SQL recorded",
            "renamed": "recorded under its new file name (the history keeps the old one)",
        }
        lines = [
            f"  - {m.name}: "
            + done.get(m.direction, "new checksum recorded" if m.checksum else "dirty mark cleared")
            for m in outcome.migrations
        ]
        return Reply(outcome, "🔧 Repaired:\n" + "\n".join(lines) + "\n", 0)

    _engine(ctx, "repair", body, allow_empty=True)


@app.command()
def baseline(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    target: Target = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be recorded; change nothing.")
    ] = False,
    lock_wait: LockWait = 60.0,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    result_file: ResultFile = None,
    run_id: RunId = None,
    drizzle_table: DrizzleTable = None,
) -> None:
    """Record migrations as applied without running them: up to --target, or what
    drizzle's own migrations table records (required in production: one of the two)."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        options = _options(
            environment=ctx.environment,
            target=target,
            dry_run=dry_run,
            lock_wait_s=lock_wait,
            run_id=run_id,
            drizzle_table=drizzle_table,
        )
        outcome = runner.run(Action.BASELINE, options)
        if not outcome.migrations:
            return Reply(outcome, _summary(outcome, "baseline"))
        names = "\n".join(f"  - {m.name}" for m in outcome.migrations)
        verb = "Would baseline" if dry_run else "Baselined"
        text = f"📌 {verb} {len(outcome.migrations)} migration(s) without running them:\n{names}\n"
        left = outcome.counts.pending - (len(outcome.migrations) if dry_run else 0)
        if left > 0:
            text += f"{left} migration(s) stay pending, to be run by migrate.\n"
        return Reply(outcome, text)

    _engine(ctx, "baseline", body)


@app.command()
def history(
    database_url: DatabaseUrl = "",
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    env: Env = None,
    as_json: Json = False,
    log_format: LogFormat = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
) -> None:
    """The audit trail: applies, rollbacks, failures, repairs, baselines."""
    ctx = Context.of(locals())

    def body(runner: Any) -> Reply:
        from kubemigrate.engine.report import fmt_time

        rows = runner.store.history(limit)
        lines = ["🕘 Migration History", "================================"]
        for row in rows:
            extra = f" ({row.duration_ms:.0f} ms)" if row.duration_ms is not None else ""
            batch = f" batch {row.batch}" if row.batch is not None else ""
            err = f" - {row.error}" if row.error else ""
            run = f" [run {row.run_id}]" if row.run_id else ""
            lines.append(
                f"  {fmt_time(row.at)} {row.action:<17} {row.migration or '-'}{batch}{extra}"
                f" by {row.actor}{run}{err}"
            )
        if not rows:
            lines.append("  (no history yet)")
        # under the fields every command's JSON starts with
        entries = [row.to_dict() for row in rows]
        as_data = {"action": "history", "ok": True, "entries": entries, "v": FORMAT_VERSION}
        return Reply(Outcome(action="history", ok=True), "\n".join(lines) + "\n", json=as_data)

    _engine(ctx, "history", body, observe=False, read_source=False)


@app.command()
def generate(
    name: Annotated[str, typer.Argument(help="What the migration does, e.g. add_orders.")],
    directory: Dir = Path("./drizzle"),
    sql_file: Annotated[
        Path | None, typer.Option("--sql", help="Take the up SQL from this file ('-' for stdin).")
    ] = None,
    as_json: Json = False,
    log_format: LogFormat = None,
) -> None:
    """Write the next NNNN_name.sql and NNNN_name.down.sql and their journal entry (the
    downs of existing migrations: generate-downs)."""
    from kubemigrate.engine.generate import generate_migration

    loaded()
    # generate logs nothing; --log-format is taken as every command takes it (scripts
    # pass it to all), and shapes its error line on stderr
    ctx = Context("", directory, "drizzle", None, as_json, log_format)
    try:
        created = generate_migration(directory, name, sql_file)
    except KubemigrateError as error:
        _fail(ctx, "generate", error)
    if as_json:
        print(
            compact_json(
                {"action": "generate", "ok": True, **created.to_dict(), "v": FORMAT_VERSION}
            )
        )
        raise typer.Exit(0)
    print(created.text(), end="")


@app.command("generate-downs")
def generate_downs(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Migrations to write downs for: file names or versions (default: every one "
            "without a down file).",
            show_default=False,
        ),
    ] = None,
    directory: Dir = Path("./drizzle"),
    fmt: Fmt = "drizzle",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be written; write nothing.")
    ] = False,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            envvar="DATABASE_URL",
            show_default=False,
            show_envvar=True,
            help="Optional, read only: say for each applied migration whether a rollback "
            "will run its new down file or the rollback SQL stored when it was applied.",
        ),
    ] = "",
    as_json: Json = False,
    log_format: LogFormat = None,
) -> None:
    """Write the missing down files of existing migrations (drizzle-kit generate writes
    none), inferred from their up SQL as generate infers them; exit 2 if any is refused."""
    from kubemigrate.engine import downs, sources

    ctx = Context(database_url, directory, fmt, None, as_json, log_format)
    try:
        downs.refuse_format(fmt)  # before a connection is made
    except KubemigrateError as error:
        _fail(ctx, "generate-downs", error)

    def reply(done: "downs.DownsWritten") -> Reply:
        refused = done.refused
        code = int(ExitCode.USAGE) if refused else 0
        outcome = Outcome(
            action="generate-downs",
            ok=not refused,
            exitCode=code,
            dryRun=dry_run,
            warnings=done.warnings,
        )
        payload = {
            "action": "generate-downs",
            "ok": not refused,
            "exitCode": code,
            **done.to_dict(),
            "v": FORMAT_VERSION,
        }
        note = None
        if refused:
            note = f"{len(refused)} migration(s) refused, nothing written for them: " + ", ".join(
                r.migration for r in refused
            )
        return Reply(outcome, done.text(), code, json=payload, note=note)

    if database_url:

        def body(runner: Any) -> Reply:
            applied = runner.state().applied
            return reply(
                downs.write_downs(runner.source, names or (), dry_run=dry_run, applied=applied)
            )

        _engine(ctx, "generate-downs", body, observe=False)
    _offline(
        ctx,
        "generate-downs",
        lambda: reply(
            downs.write_downs(sources.load(directory, fmt), names or (), dry_run=dry_run)
        ),
    )


@app.command("operator")
def operator_command(
    log_format: LogFormat = None,
) -> None:
    """Run the MigrationRun operator (kopf), with metrics and health endpoints."""
    from kubemigrate.controller.main import run_operator

    loaded()
    try:
        run_operator(log_format=log_format)
    except KubemigrateError as error:
        _fail(Context("", Path("."), "drizzle", None, False, log_format), "operator", error)


@app.command()
def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Leave the local cluster running.")] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop a cluster left by --keep.")] = False,
) -> None:
    """Start the local cluster and show a MigrationRun end to end."""
    from kubemigrate.devcluster.demo import run_demo

    loaded()
    raise typer.Exit(run_demo(keep=keep, stop=stop))


def loaded() -> None:
    """The command's modules are in: collection back on, what they loaded frozen.

    ``kubemigrate.launcher`` starts a command with the cyclic collector off (its
    passes over the modules being loaded free nothing); the objects loaded so far live
    until exit, so ``gc.freeze`` keeps them out of later passes. Called by each
    command once it has imported what it runs; a no-op when collection was never off
    (the Python API, tests calling ``app``). The signals noted while it loaded get
    their usual effect back (``launcher.settle``) unless the command took them.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
    launcher.settle()


def main() -> None:
    """The console script: run the command, then leave without the interpreter's teardown.

    Freeing every module psycopg, typer and the engine loaded takes a short-lived CLI
    50-70 ms on a small machine (measured), after its work is done; ``status`` in CI
    and in alert scripts pays it on every call. Once the output is flushed nothing is
    left to do, so the process exits at once, unless a thread is still running (the
    operator and demo commands), which gets the ordinary exit.
    """
    _usable_stdio()
    code: int | str | None
    try:
        # not standalone: a command line click cannot parse comes back here, to be told
        # as every other error is (see _command_line_error)
        code = app(standalone_mode=False)
    except SystemExit as done:
        code = done.code
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        code = 1
    except BrokenPipeError:  # the reader went away (`kubemigrate history | head`)
        code = 1
    except _CLICK_ERROR as error:
        code = _command_line_error(error, sys.argv[1:])
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    if threading.active_count() > 1:
        raise SystemExit(code)
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away (`kubemigrate history | head`): the work stands
        pass
    os._exit(code)


# click's base of the errors it raises for a command line it cannot parse (typer
# re-exports only one subclass, BadParameter)
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _split_password(argv: list[str]) -> set[str]:
    """The words of an unquoted password with spaces, which the shell split off its URL
    (``postgresql://app:correct horse battery@db/shop``): click names them as
    unexpected extra arguments, up to the one with the host after its ``@``."""
    words: set[str] = set()
    for n, token in enumerate(argv):
        rest = token.partition("://")[2]
        # user:password cut short: no @ yet, and no / or ? of a URL without a password
        if "://" not in token or ":" not in rest or any(c in rest for c in "@/?"):
            continue
        for word in argv[n + 1 :]:
            if word.startswith("-"):
                break
            if "@" in word:
                words.add(word.rpartition("@")[0])
                break
            words.add(word)
    return {w for w in words if w}


def _command_line_error(error: Exception, argv: list[str]) -> int:
    """A command line click could not parse, told as every other error is: on stderr
    (a JSON line under --log-format json), as the JSON result on stdout with --json,
    and in --result-file, with any password in it blanked.

    Click printed its usage text and nothing on stdout, so a CI step piping --json into
    jq failed on empty input, a Job's result file stayed empty ("left no result"), and a
    URL passed where no option takes it (``kubemigrate migrate $DATABASE_URL``) was
    printed whole, password and all, into the CI log.
    """
    ctx = getattr(error, "ctx", None)
    if type(error).__name__ == "NoArgsIsHelpError":  # bare `kubemigrate`: the help
        error.show()  # type: ignore[attr-defined]
        return int(getattr(error, "exit_code", ExitCode.USAGE))
    action = ctx.info_name if ctx is not None and ctx.parent is not None else ""
    if not action:  # an option missing its value can fail before the command is known
        commands = {
            info.name or (info.callback.__name__ if info.callback else "")
            for info in app.registered_commands
        }
        action = next((word for word in argv if word in commands), "")
    told_as = f"kubemigrate {action}".strip()
    secrets = sorted(
        {s for token in argv if "://" in token or "=" in token for s in secret_values(token)}
        | _split_password(argv),
        key=len,
        reverse=True,
    )
    message = scrub(error.format_message(), secrets)  # type: ignore[attr-defined]
    result_file = _option_value(argv, "--result-file")
    command_line = Context(
        database_url=os.environ.get("DATABASE_URL", ""),
        directory=Path("."),
        fmt="drizzle",
        env=None,
        as_json="--json" in argv,
        log_format=(_option_value(argv, "--log-format") or "").lower() or None,
        result_file=Path(result_file) if result_file else None,
    )
    try:
        _fail(
            command_line,
            action,
            UsageError(message, hint=f"see `{told_as} --help`"),
        )
    except typer.Exit as done:
        return int(done.exit_code)


def _option_value(argv: list[str], option: str) -> str | None:
    """The value given to ``option`` in a command line that did not parse."""
    for i, token in enumerate(argv):
        if token == option and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(option + "="):
            return token.partition("=")[2]
    return None


def _usable_stdio() -> None:
    """Standard streams a command can always write to and ask ``isatty`` of.

    A stream closed at start (``>&-``, a supervisor without stdin) is None in Python:
    a run crashed half-way through its batch on its first log line, and with stderr
    closed the log lines went to stdout, into the JSON. Such a stream becomes
    /dev/null. A locale that cannot encode the report's symbols
    (``PYTHONIOENCODING=latin-1``) gets them replaced: the run's work is done by then,
    and a traceback would call it failed.
    """
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115
        elif mode == "w" and isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
