"""The console script's entry point: the command loads with the cyclic collector off.

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
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from kubemigrate import cli
    except KeyboardInterrupt:  # Ctrl-C while the command loads: nothing ran, no traceback
        raise SystemExit(130) from None
    cli.main()
