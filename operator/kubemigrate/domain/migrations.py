"""The values the engine plans with: files on disk, rows in the tracking table.

Frozen dataclasses, so a plan computed from them cannot be changed behind the
planner's back, and so tests can build them with no files and no database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from kubemigrate.domain.checksums import checksum as _checksum
from kubemigrate.domain.errors import UsageError

#: The comment that declares a file must run outside a transaction (here, not with the
#: parser, so the layouts' readers can write it without importing pglast).
NO_TRANSACTION_DIRECTIVE = "-- kubemigrate:no-transaction"

#: The comment that makes a down file with no statement a deliberate no-op: the up
#: changed no schema (VACUUM, ANALYZE, REINDEX), so a rollback only removes its row.
#: Without it such a file is taken for a rollback nobody wrote, and refused.
NOTHING_TO_UNDO = "-- kubemigrate:nothing-to-undo"


#: The end of a production rollback's confirmation phrase when it undoes migrations
#: ``baseline`` recorded without running.
BASELINED_PHRASE = "-with-baselined"


def wait_problem(value: float, *, unit: str = "seconds", per_second: float = 1.0) -> str | None:
    """Why a wait or timeout of ``value`` (in ``unit``, ``per_second`` of them a second)
    cannot be given to the server; None when it can (0 is no limit). nan and inf reached
    the engine as a bug's traceback, and a timeout under a millisecond became
    PostgreSQL's 0, no timeout at all, without a word. The CLI and the Python API ask."""
    if value == 0:
        return None
    if not math.isfinite(value):
        return f"is not a number of {unit}"
    if value / per_second < 0.001:
        return "is under a millisecond (0 means no limit)"
    return None


DEFAULT_LOCK_TIMEOUT_MS = 3000
"""Staging's and production's ``lock_timeout`` unless one is set (``Environment``): long
enough for a lock held by a short transaction, short enough that the queries queued
behind a waiting migration do not time out in turn."""


class Environment(StrEnum):
    """Where a run happens; production adds confirmations and refusals."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def lock_timeout_ms(self) -> int | None:
        """How long a migration waits for a lock where nobody set a ``lock_timeout``:
        while it waits, the application's queries on the table queue behind it. None in
        development, where a laptop's database has no traffic to stop and a wait is
        easier to understand than a timeout."""
        return None if self is Environment.DEVELOPMENT else DEFAULT_LOCK_TIMEOUT_MS

    @classmethod
    def parse(cls, value: str) -> Environment | None:
        """A name as people write it (any case, or a short form such as ``prod``), or
        None. ``NODE_ENV=prod`` read as development would let a reset through."""
        word = value.strip().lower()
        return _ENVIRONMENT_WORDS.get(word) or next((e for e in cls if e.value == word), None)

    @classmethod
    def resolve(
        cls, explicit: str | None, environ: Mapping[str, str], *, flag: str
    ) -> tuple[Environment, str | None]:
        """The environment a run is in, and a warning to show: ``explicit`` (the CLI's
        --env, the API's argument), then KUBEMIGRATE_ENV, then NODE_ENV. NODE_ENV is
        other tools' too, so a value of its own is not an error: it means development,
        with a warning. A script that sets KUBEMIGRATE_ENV=production for the CLI gets
        the same rules from the API."""
        for name, value in (
            (flag, explicit),
            ("KUBEMIGRATE_ENV", environ.get("KUBEMIGRATE_ENV")),
            ("NODE_ENV", environ.get("NODE_ENV")),
        ):
            if not value:
                continue
            environment = cls.parse(value)
            if environment is not None:
                return environment, None
            if name != "NODE_ENV":
                raise UsageError(
                    f"Unknown environment {value!r} ({name}).",
                    hint="use development, staging or production",
                )
            return cls.DEVELOPMENT, (
                f"NODE_ENV={value!r} is not development, staging or production; "
                "using development (set KUBEMIGRATE_ENV to say which)"
            )
        return cls.DEVELOPMENT, None

    @classmethod
    def strictest(cls, *envs: Environment | None) -> Environment:
        """The strictest of several opinions (a production namespace wins)."""
        order = [cls.DEVELOPMENT, cls.STAGING, cls.PRODUCTION]
        present = [e for e in envs if e is not None]
        return max(present, key=order.index) if present else cls.DEVELOPMENT


_ENVIRONMENT_WORDS = {
    "prod": Environment.PRODUCTION,
    "prd": Environment.PRODUCTION,
    "stage": Environment.STAGING,
    "stg": Environment.STAGING,
    "dev": Environment.DEVELOPMENT,
    "test": Environment.DEVELOPMENT,  # NODE_ENV=test, as test runners set it
    "local": Environment.DEVELOPMENT,
}


class Action(StrEnum):
    """What a run does; the CLI commands and MigrationRun.spec.action share these."""

    MIGRATE = "migrate"
    ROLLBACK = "rollback"
    STATUS = "status"
    VERIFY = "verify"
    PLAN = "plan"
    RESET = "reset"
    REPAIR = "repair"
    BASELINE = "baseline"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Written:
    """Where a text kubemigrate runs stands in the file a person opens.

    Editors and CI annotations follow ``file:line:column``, so failures and lint findings
    point there, not into the text as run: a dbmate section starts below its header (its
    first line without its indentation), and a directive kubemigrate puts first (for a
    Flyway script's configuration, a dbmate header's ``transaction:false``) is no line
    of the file.
    """

    file: str
    """Relative to the migrations folder; "" when no file holds the text (``label``
    says what does)."""
    line: int = 1
    """The file's line of the text's first character that is the file's."""
    column: int = 1
    """That character's column."""
    added: int = 0
    """How many characters kubemigrate put before the file's text (its directive line)."""
    label: str = ""
    """What messages call a text no file holds (the rollback SQL stored at apply time,
    its down file changed or gone since)."""

    def place(self, text: str, offset: int) -> tuple[int, int]:
        """The line and column (1-based) of character ``offset`` of ``text``, ``text``
        being what this describes."""
        offset = max(offset, self.added)
        newlines = text.count("\n", self.added, offset)
        if not newlines:
            return self.line, self.column + offset - self.added
        return self.line + newlines, offset - text.rfind("\n", 0, offset)

    def place_line(self, text: str, line: int, column: int = 1) -> tuple[int, int]:
        """``place`` of the character at ``line``/``column`` (1-based) of ``text``."""
        start = 0
        for _ in range(line - 1):
            start = text.find("\n", start) + 1
            if not start:
                start = len(text)
                break
        return self.place(text, start + column - 1)

    def of(self, name: str) -> str:
        """What follows a position in a message about migration ``name``: the file, or
        what holds the text, unless it is the file ``name`` says."""
        if self.label:
            return f" of {self.label}"
        return "" if self.file in ("", name) else f" of {self.file}"


@dataclass(frozen=True)
class Place:
    """Where a failure is, as messages and ``--json`` give it."""

    line: int
    column: int
    file: str
    """Relative to the migrations folder; "" when no file holds the text run."""
    of: str
    """For a message, after the position: ``Written.of``."""


@dataclass(frozen=True)
class Migration:
    """One migration file as found in the source directory."""

    name: str
    """The file name, e.g. ``0003_add_orders.sql``: the key in the tracking table."""
    up_sql: str
    down_sql: str | None = None
    """The sibling ``.down.sql``; None when there is none (the rollback is then refused)."""
    checksum: str = field(default="")
    """SHA-256 of the normalised up SQL; computed from ``up_sql`` when not given."""
    down_file: str = field(default="")
    """Where the down SQL is written, for messages that send people to it: the layout's
    reader knows (Flyway's ``U`` file, a dbmate file's down section); drizzle's from the
    name when not given."""
    up_written: Written = field(default=Written(""))
    """Where the up SQL stands, for messages that point into it (``<folder>/migration.sql``
    in drizzle-kit 1.0's layout, a dbmate file's up section); the file ``name`` when not
    given."""
    down_written: Written = field(default=Written(""))
    """Where the down SQL stands (a Flyway ``U`` script, a dbmate file's down section);
    ``down_file`` when not given."""

    def __post_init__(self) -> None:
        if not self.checksum:
            object.__setattr__(self, "checksum", _checksum(self.up_sql))
        if not self.down_file:
            object.__setattr__(self, "down_file", default_down_file(self.name))
        if not self.up_written.file:
            object.__setattr__(self, "up_written", replace(self.up_written, file=self.name))
        if not self.down_written.file:
            written = replace(self.down_written, file=self.down_file)
            object.__setattr__(self, "down_written", written)

    @property
    def up_file(self) -> str:
        """The file holding the up SQL, relative to the folder."""
        return self.up_written.file


def default_down_file(name: str) -> str:
    """Where ``name``'s down SQL lives in drizzle's layouts: ``NNNN_x.down.sql``, or
    ``<folder>/down.sql`` in drizzle-kit 1.0's (whose migrations are named after their
    folders)."""
    tag = name.removesuffix(".sql")
    return f"{tag}/down.sql" if re.match(r"\d{14}_", tag) else f"{tag}.down.sql"


@dataclass(frozen=True)
class Unlisted:
    """An up file in a drizzle-kit 0.x folder that its journal does not list. drizzle's
    migrator runs only what the journal lists, and so does kubemigrate: a hand-made file
    left out of it, or one whose entry a merge lost, never runs."""

    name: str
    checksum: str
    """Of its up SQL, as a Migration's: a copy of another migration is told apart."""
    journal: str
    """The journal's path in the folder (``meta/_journal.json``)."""
    entry: str
    """The journal entry that would list it after the last one, as JSON."""


@dataclass(frozen=True)
class AppliedMigration:
    """One row of ``__migration_tracking``."""

    name: str
    applied_at: datetime | None
    checksum: str | None
    batch: int
    rollback_sql: str | None


@dataclass(frozen=True)
class DirtyState:
    """A non-transactional migration that stopped midway: nothing runs until repaired."""

    migration: str
    statement: int
    """1-based index of the statement that failed (earlier ones were committed)."""
    total_statements: int
    error: str
    marked_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Every statement ran; the run stopped before its bookkeeping (the mark then
        names the statement after the last)."""
        return self.statement > self.total_statements


@dataclass(frozen=True)
class RollbackRecord:
    """A past rollback, for the status report's "Recent Rollbacks" section."""

    migration: str
    at: datetime


@dataclass(frozen=True)
class Step:
    """One migration to run in one direction, with the exact SQL that will run."""

    name: str
    direction: Direction
    sql: str
    checksum: str | None
    batch: int
    rollback_sql: str | None = None
    """For an UP step: the SQL stored in the tracking row for a later rollback."""
    written: Written | None = None
    """Where ``sql`` stands in a file a person opens; None: in the file ``name``, as
    written."""

    def place(self, offset: int) -> Place:
        """Where character ``offset`` of ``sql`` is, for a message that points at it."""
        written = self.written or Written(self.name)
        line, column = written.place(self.sql, offset)
        return Place(line, column, written.file, written.of(self.name))


@dataclass(frozen=True)
class Plan:
    """What a run will do, computed before anything runs."""

    action: Action
    steps: tuple[Step, ...]
    batch: int | None = None
    """The batch the steps create (migrate) or undo (rollback of one batch)."""
    batches: tuple[int, ...] = ()
    """Every batch a rollback touches, newest first."""
    baselined: tuple[str, ...] = ()
    """Steps of a rollback whose migrations ``baseline`` recorded without running: their
    down SQL removes what the database had before kubemigrate."""
    warnings: tuple[str, ...] = ()
    """What people should hear before it runs (in production: the data it destroys)."""

    @property
    def is_empty(self) -> bool:
        return not self.steps

    @property
    def confirmation_phrase(self) -> str | None:
        """The phrase a production rollback must be confirmed with.

        It names the batches it undoes; batch numbers are never reused, so a
        phrase seen for one batch cannot confirm a different one later.
        """
        if self.action not in (Action.ROLLBACK, Action.RESET) or not self.batches:
            return None
        if len(self.batches) == 1:
            phrase = f"rollback-batch-{self.batches[0]}"
        else:
            phrase = f"rollback-batches-{min(self.batches)}-to-{max(self.batches)}"
        # undoing what baseline recorded removes what predates kubemigrate: typing it
        # is the consent --force gives elsewhere
        return phrase + (BASELINED_PHRASE if self.baselined else "")
