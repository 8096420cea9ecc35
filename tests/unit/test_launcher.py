"""The console script's start-up: collection off while a command loads, back on for
the long-running commands (an operator without its cyclic collector would grow)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROGRAM = """
import gc, sys
import {module} as target

def fake(**kwargs):
    print("collecting", gc.isenabled(), "frozen", gc.get_freeze_count() > 0, flush=True)
    return 0

target.{function} = fake
sys.argv = ["kubemigrate", "{command}"]
from kubemigrate import launcher
launcher.main()
"""


@pytest.mark.parametrize(
    ("command", "module", "function"),
    [
        ("operator", "kubemigrate.controller.main", "run_operator"),
        ("demo", "kubemigrate.devcluster.demo", "run_demo"),
    ],
)
def test_long_running_commands_run_with_the_collector_on(
    command: str, module: str, function: str
) -> None:
    program = PROGRAM.format(module=module, function=function, command=command)
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "collecting True frozen True"


def test_a_command_starts_with_the_collector_off() -> None:
    program = (
        "import gc, sys\n"
        "import kubemigrate.cli as cli\n"
        "cli.main = lambda: print('collecting', gc.isenabled(), flush=True)\n"
        "from kubemigrate import launcher\n"
        "launcher.main()\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stdout.strip() == "collecting False"


def test_the_python_api_s_hints_name_its_keywords_and_keep_commands_whole() -> None:
    """`kubemigrate baseline --target NAME` became `kubemigrate baseline target=NAME`."""
    from kubemigrate import _in_api_terms

    hint = "run `kubemigrate baseline --target NAME`; or raise --lock-wait; pass --format dbmate"
    assert _in_api_terms(hint) == (
        "run `kubemigrate baseline --target NAME`; or raise lock_wait_s; pass fmt=dbmate"
    )


def test_the_first_interruption_is_the_one_handled() -> None:
    """A second Ctrl-C or SIGTERM landed in the middle of the first one's cancel, which
    then never reached the server (migrations sent ahead committed, unreported)."""
    import signal

    from kubemigrate import cli

    signals = (signal.SIGINT, signal.SIGTERM)
    saved = {s: signal.getsignal(s) for s in signals}
    try:
        with pytest.raises(KeyboardInterrupt):
            cli._interrupt(signal.SIGTERM, None)
        for s in signals:
            assert signal.getsignal(s) is cli._already_stopping
        cli._already_stopping(signal.SIGINT, None)  # and it raises nothing
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def test_ctrl_c_while_the_command_loads_exits_130_without_a_traceback() -> None:
    """Pressed during the imports (a third of a second on a small machine): a
    KeyboardInterrupt traceback, for a run that had done nothing."""
    program = """
import sys
class Stop:
    def find_spec(self, name, path=None, target=None):
        if name == "kubemigrate.cli":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Stop())
from kubemigrate import launcher
launcher.main()
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 130
    assert "Traceback" not in done.stderr


def test_an_interruption_lost_in_a_finaliser_is_raised_again() -> None:
    """A SIGTERM that landed in a weakref callback (importlib's module locks have one):
    Python printed "Exception ignored" and dropped the KeyboardInterrupt, the run went
    on to the end (exit 0), and every later SIGTERM was ignored as a second one."""
    import os
    import signal
    import weakref

    from kubemigrate import cli

    signals = (signal.SIGINT, signal.SIGTERM)
    saved = {s: signal.getsignal(s) for s in signals}
    hook = sys.unraisablehook
    try:
        cli._take_signals()

        class Held:
            pass

        def stopped_inside(_ref: object) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs here, inside the callback
                pass

        def drop_and_go_on() -> None:
            held = Held()
            ref = weakref.ref(held, stopped_inside)
            del held  # the callback runs, its KeyboardInterrupt is dropped
            assert ref() is None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # ... and raised again out here
                pass

        with pytest.raises(KeyboardInterrupt):
            drop_and_go_on()
        for s in signals:
            assert signal.getsignal(s) is cli._already_stopping
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        sys.unraisablehook = hook


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_stop_while_the_command_loads_is_told_as_its_result(signum: str, tmp_path: Path) -> None:
    """A cancelled CI job's SIGTERM in the first few hundred milliseconds killed the
    process (143) with nothing on stdout and no result file; Ctrl-C gave 130 the same
    way. Noted while it loads, it is the command's result: JSON, result file, 130."""
    result = tmp_path / "result.json"
    program = f"""
import os, signal, sys
class Stop:
    def find_spec(self, name, path=None, target=None):
        if name == "kubemigrate.cli":
            os.kill(os.getpid(), signal.{signum})
        return None
sys.meta_path.insert(0, Stop())
sys.argv = ["kubemigrate", "status", "--json", "--result-file", {str(result)!r},
            "--database-url", "postgresql://nobody@127.0.0.1:1/none", "--dir", {str(tmp_path)!r}]
from kubemigrate import launcher
launcher.main()
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 130, done.stderr
    printed = json.loads(done.stdout)
    assert (printed["ok"], printed["error"]["reason"]) == (False, "Interrupted")
    assert printed["error"]["message"] == "Interrupted: nothing was changed."
    assert json.loads(result.read_text())["error"]["reason"] == "Interrupted"
