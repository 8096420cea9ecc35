"""The console script's entry point: the command loads with the cyclic collector off,
and a stop asked while it loads is kept for the command to tell.

A command's start-up imports some 350 modules (psycopg, typer, the engine) and
allocates a few hundred thousand objects that live until the process ends. While
they load, the collector makes some 80 passes over them and frees next to nothing:
about 30 ms of a 0.3 s ``status`` on a small machine (measured with ``bench/``).
So collection stays off until the command has imported what it runs, and then
comes back on with everything loaded so far frozen out of its passes
(``cli.loaded``, which every command calls), as the long-running ``operator`` and
``demo`` need. What exits before that (``--help``, a usage error) is short. The
Python API and in-process callers of ``cli.app`` never pass through here and keep
the interpreter's collector as it is.

A SIGTERM (a cancelled CI job, a deleted Job's pod) or Ctrl-C in those first few
hundred milliseconds killed the process with no result (143, nothing on stdout, no
result file), or cut an import short. Until the command takes over the signals
(``cli._engine``), they are only noted (``stop_requested``): the command, once loaded,
says it was interrupted before anything ran, as every result is told (JSON, result
file, exit 130); a command that runs no engine leaves at once (``settle``).
"""

from __future__ import annotations

import gc
import signal
from types import FrameType

_STOPS = (signal.SIGINT, signal.SIGTERM)
_asked: list[int] = []


def _note(signum: int, _frame: FrameType | None) -> None:
    _asked.append(signum)


def stop_requested() -> bool:
    """A SIGINT or SIGTERM arrived while the command loaded."""
    return bool(_asked)


def settle() -> None:
    """For a command that takes no run's signals (``generate``, ``operator``, ``demo``):
    the signals' usual effect from now on, and a stop already asked for ends it (130)
    before it does anything."""
    if signal.getsignal(signal.SIGTERM) is not _note:
        return  # not started here, or the command has its own handlers already
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _asked:
        raise SystemExit(130)


def main() -> None:
    gc.disable()
    try:
        for signum in _STOPS:
            signal.signal(signum, _note)
        from kubemigrate import cli
    except KeyboardInterrupt:  # Ctrl-C before the handler was in: nothing ran
        raise SystemExit(130) from None
    cli.main()
