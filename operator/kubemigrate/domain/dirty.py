"""A dirty mark, said as a person acts on it: what ran, and the way out.

A mark left by a migrate, by a rollback (its migration still recorded as applied),
before the first statement or after the last, each has its own way out; every place
that shows a mark (a refused run, ``verify``, the status report) says the same one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kubemigrate.domain.errors import DirtyDatabaseError
from kubemigrate.domain.migrations import DirtyState


def dirty_error(dirty: Sequence[DirtyState], applied: Iterable[str] = ()) -> DirtyDatabaseError:
    """The refusal a dirty mark gives. A migration still tracked as applied was being
    rolled back (a migrate writes its tracking row only once the file is done): the
    way out differs, and the migrate's (undo it, then ``baseline``) left a tracking row
    without its schema change."""
    state = dirty[0]
    name, total = state.migration, state.total_statements
    where = (
        f"ran all {total} statements, then stopped before recording it"
        if state.finished
        else f"stopped at statement {state.statement} of {total}"
        if state.statement
        else f"was interrupted before its first statement finished ({total} in all)"
    )
    cause = f" ({state.error})" if state.error else ""
    if name in set(applied):  # the names recorded as applied
        done = (
            " The down's statements before that one were committed."
            if 0 < state.statement <= total
            else ""
        )
        return DirtyDatabaseError(
            f"The database is dirty: the rollback of {name} ran outside a transaction and "
            f"{where}{cause}.{done} The migration is still recorded as applied; nothing runs "
            "until a person has checked.",
            hint=(
                "inspect what the down's statements left (an INVALID index from DROP INDEX "
                "CONCURRENTLY shows in `SELECT indexrelid::regclass FROM pg_index WHERE NOT "
                "indisvalid`); make each statement of its down SQL safe to run again (IF "
                f"EXISTS), store it with `kubemigrate repair --accept-down {name}` (a rollback "
                "runs the SQL stored at apply time; this also clears the mark), then roll back "
                "again: the whole down runs once more"
            ),
            migration=name,
            statement=state.statement,
        )
    if state.finished:
        return DirtyDatabaseError(
            f"The database is dirty: {name} ran all {total} of its statements outside a "
            f"transaction, then the run stopped before recording it as applied{cause}.",
            hint="check its changes are all there, then run `kubemigrate repair` and "
            f"`kubemigrate baseline --target {name}`, which records it as applied without "
            "running it again",
            migration=name,
            statement=state.statement,
        )
    return DirtyDatabaseError(
        f"The database is dirty: {name} ran outside a transaction and {where}{cause}. "
        "Statements before that one were committed; nothing runs until a person has checked.",
        hint=(
            "inspect what the file's statements left behind (an INVALID index from CREATE INDEX "
            "CONCURRENTLY shows in `SELECT indexrelid::regclass FROM pg_index WHERE NOT "
            "indisvalid`). Either undo it and run `kubemigrate repair` to clear the mark: the "
            "next migrate runs the whole file again; or finish the file's remaining statements "
            f"by hand, run `kubemigrate repair`, then `kubemigrate baseline --target "
            f"{name}` records it as applied without running it"
        ),
        migration=name,
        statement=state.statement,
    )
