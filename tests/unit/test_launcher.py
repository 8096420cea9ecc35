"""The console script's start-up: collection off while a command loads, back on for
the long-running commands (an operator without its cyclic collector would grow)."""

from __future__ import annotations

import subprocess
import sys

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
