"""squawk's migration rules over migration files, as kubemigrate will run them.

squawk (PostgreSQL's migration linter) judges a file by how it runs: whether a
transaction wraps it (a CREATE INDEX CONCURRENTLY inside one fails; outside one, a
statement without IF NOT EXISTS cannot be re-run after a failure midway), and whether
lock_timeout and statement_timeout are set. kubemigrate decides the first per file
(its own analysis, the one ``migrate`` uses) and sets the second as connection
options, so those are told to squawk and its timeout findings dropped when the run
will set them. The user's ``.squawk.toml`` is left in charge of the rest: squawk's
``--exclude`` would replace its excluded rules, so no rule is excluded here.

A file kubemigrate itself would refuse (a syntax error, BEGIN/COMMIT, a mixed file)
is reported as its refusal, the same words ``migrate`` would say, and not passed on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from kubemigrate.domain import versions
from kubemigrate.domain.errors import KubemigrateError, UsageError
from kubemigrate.domain.migrations import Direction, Environment, Migration, Step
from kubemigrate.engine.preparing import BREAKPOINT, prepare

#: Rules about settings kubemigrate makes itself when told to (--lock-timeout,
#: --statement-timeout): the option that covers each, for the hint.
TIMEOUT_RULES = {
    "require-lock-timeout": "--lock-timeout MS (spec.timeouts.lockTimeoutMs in a MigrationRun)",
    "require-statement-timeout": (
        "--statement-timeout SECONDS (spec.timeouts.statementTimeoutSeconds in a MigrationRun)"
    ),
}
RULES_URL = "https://squawkhq.com/docs/rules"


def timeouts_set(
    environment: Environment, lock_timeout_ms: int | None, statement_timeout_s: float | None
) -> dict[str, bool]:
    """Which timeouts a run with these options sets (``lint``'s keyword arguments): a
    value above 0, or for the lock timeout none given in staging or production, whose
    default of 3 s (``Environment.lock_timeout_ms``) applies. 0 is no timeout at all:
    counted as one, --lock-timeout 0 silenced the very finding it should bring back."""
    return {
        "lock_timeout": bool(
            lock_timeout_ms if lock_timeout_ms is not None else environment.lock_timeout_ms
        ),
        "statement_timeout": bool(statement_timeout_s),
    }


@dataclass(frozen=True)
class Finding:
    """One problem in one migration, where squawk (or kubemigrate) found it."""

    migration: str
    line: int
    """1-based, in ``file``."""
    column: int
    rule: str
    """squawk's rule name (``adding-required-field``), or ``kubemigrate`` for a file
    kubemigrate would refuse to run."""
    level: str
    message: str
    help: str | None = None
    file: str = ""
    """The file, relative to the folder (``0003_x.sql``, ``<folder>/migration.sql``,
    ``db/migrations/...`` for dbmate); ``line`` counts in it."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Linted:
    migrations: tuple[str, ...]
    findings: tuple[Finding, ...]
    squawk: str
    """squawk's version, for a reader who looks a rule up."""


def chosen(migrations: Sequence[Migration], names: Sequence[str]) -> list[Migration]:
    """The migrations ``names`` stand for (file names or versions), in their order;
    every one when none is named."""
    if not names:
        return list(migrations)
    known = [m.name for m in migrations]
    wanted = set()
    for name in names:
        found = versions.the_one(name, known, said=f"{name!r}")
        if found is None:
            raise UsageError(
                f"{name!r} is not a migration in the directory.",
                hint="use a file name as `kubemigrate status` lists it, or its version",
            )
        wanted.add(found)
    return [m for m in migrations if m.name in wanted]


def squawk_binary() -> str:
    """squawk from the interpreter's own bin directory (the squawk-cli wheel puts it
    there), else from PATH."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("squawk")
    if found is None:
        raise UsageError(
            "squawk, the migration linter `kubemigrate lint` runs, is not installed.",
            hint="install it with `pip install squawk-cli` (kubemigrate depends on it; a "
            "partial install may have left it out)",
        )
    return found


def lint_folder(
    directory: Path,
    fmt: str = "drizzle",
    names: Sequence[str] = (),
    *,
    lock_timeout: bool = False,
    statement_timeout: bool = False,
) -> Linted:
    """``kubemigrate lint`` and ``lint_migrations``: the folder's migrations (those
    ``names`` stand for, or all) linted, no database read."""
    from kubemigrate.engine import sources

    source = sources.load(directory, fmt)
    return lint(
        chosen(source.migrations, names),
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
    )


def lint(
    migrations: Sequence[Migration],
    *,
    server_version_num: int = 0,
    lock_timeout: bool = False,
    statement_timeout: bool = False,
) -> Linted:
    """Lint each migration's up SQL; ``lock_timeout``/``statement_timeout``: the run will
    set them (their squawk findings are then dropped)."""
    squawk = squawk_binary()
    findings: list[Finding] = []
    in_transaction: dict[str, bool] = {}
    texts: dict[str, str] = {}
    by_name = {m.name: m for m in migrations}
    for migration in migrations:
        step = Step(
            migration.name,
            Direction.UP,
            migration.up_sql,
            migration.checksum,
            0,
            written=migration.up_written,
        )
        try:
            prepared = prepare(step, server_version_num)
        except KubemigrateError as refused:
            findings.append(_refusal(migration, refused))
            continue
        in_transaction[migration.name] = prepared.transactional
        texts[migration.name] = _without(prepared.unwrapped, _as_squawk_reads_it(migration.up_sql))
    covered = {
        rule
        for rule, on in (
            ("require-lock-timeout", lock_timeout),
            ("require-statement-timeout", statement_timeout),
        )
        if on
    }
    for wrapped in (True, False):
        names = [name for name, inside in in_transaction.items() if inside is wrapped]
        if names:
            found = _run(squawk, {n: texts[n] for n in names}, wrapped, server_version_num)
            findings += [_in_file(f, by_name[f.migration]) for f in found if f.rule not in covered]
    order = {m.name: n for n, m in enumerate(migrations)}
    findings.sort(key=lambda f: (order.get(f.migration, 0), f.line, f.column))
    return Linted(
        migrations=tuple(m.name for m in migrations),
        findings=tuple(findings),
        squawk=_version(squawk),
    )


def _in_file(finding: Finding, migration: Migration) -> Finding:
    """A finding at its place in the file a person opens (``Written``: a dbmate file's up
    section starts below its header, a directive kubemigrate put first is no line of it,
    and a drizzle-kit 1.0 migration is its folder's migration.sql), as ``migrate``'s
    failures are."""
    written = migration.up_written
    line, column = written.place_line(migration.up_sql, finding.line, finding.column)
    return replace(finding, file=written.file, line=line, column=column)


def _as_squawk_reads_it(sql: str) -> str:
    """The text as drizzle and kubemigrate split it: when it does not parse whole (a
    drizzle custom file's statements may lack the ``;`` the breakpoint stands for), a
    ``;`` at the start of each breakpoint line, where no trailing comment can swallow
    it and lines and columns stay."""
    from kubemigrate.domain.sql import SqlSyntaxError, check_syntax

    try:
        check_syntax(sql)
        return sql
    except SqlSyntaxError:
        pass
    return BREAKPOINT.sub(lambda m: ";" + m[0], sql)


def _without(statements: Sequence[tuple[str, int]], sql: str) -> str:
    """``sql`` with ``statements`` blanked, lines and columns kept: the BEGIN/COMMIT a
    file is wrapped in do not run (kubemigrate's transaction stands for them), and
    squawk called them a transaction nested in the one it was told of."""
    for text, offset in statements:
        sql = sql[:offset] + re.sub(r"\S", " ", text) + sql[offset + len(text) :]
    return sql


def _refusal(migration: Migration, refused: KubemigrateError) -> Finding:
    """The refusal ``migrate`` would give, at the line it names (in the file already:
    the step it refused was placed there)."""
    said = re.search(r"\bline (\d+)\b", f"{refused.details.get('position')} {refused.message}")
    line = int(said[1]) if said else 1
    message = refused.message.replace("; nothing was run.", ".")  # lint runs nothing
    return Finding(
        migration.name, line, 1, "kubemigrate", "error", message, refused.hint, migration.up_file
    )


def _run(
    squawk: str, texts: dict[str, str], wrapped: bool, server_version_num: int
) -> list[Finding]:
    """One squawk run over ``texts`` (by migration name), each written to a numbered
    file of a temporary folder (migrations may be named after folders) and squawk's
    report mapped back to the migration."""
    flag = "--assume-in-transaction" if wrapped else "--no-assume-in-transaction"
    with tempfile.TemporaryDirectory(prefix="kubemigrate-lint-") as folder:
        paths: dict[str, str] = {}
        for number, (name, text) in enumerate(texts.items()):
            # a name of its own per file: layouts name migrations after folders too
            path = Path(folder) / f"{number:05d}.sql"
            path.write_text(text, encoding="utf-8")
            paths[str(path)] = name
        cmd = [squawk, "--reporter", "json", flag, *paths]
        if server_version_num >= 100000:  # the server's own, over a .squawk.toml's guess
            cmd[1:1] = ["--pg-version", "{}.{}".format(*divmod(server_version_num, 10000))]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KubemigrateError(f"squawk did not run: {exc}.") from None
    try:
        reported = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        reported = None
    if done.returncode not in (0, 1) or not isinstance(reported, list):
        said = (done.stderr or done.stdout).strip().splitlines()
        raise KubemigrateError(
            f"squawk failed (exit {done.returncode}): {said[-1] if said else 'no output'}.",
            hint="check the .squawk.toml squawk read (in this directory or above it)",
        )
    return [
        Finding(
            migration=paths.get(item.get("file", ""), item.get("file", "?")),
            line=int(item.get("line", 0)) + 1,
            column=int(item.get("column", 0)) + 1,
            rule=str(item.get("rule_name", "?")),
            level=str(item.get("level", "Warning")).lower(),
            message=str(item.get("message", "")),
            help=_help(item),
        )
        for item in reported
    ]


def _help(item: dict[str, object]) -> str | None:
    rule, said = str(item.get("rule_name")), item.get("help")
    if rule in TIMEOUT_RULES:
        return f"run with {TIMEOUT_RULES[rule]}, which kubemigrate sets for each migration"
    return str(said) if said else None


def _version(squawk: str) -> str:
    try:
        done = subprocess.run([squawk, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip().removeprefix("squawk ").strip() or "unknown"
