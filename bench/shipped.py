"""kubemigrate installed for the benchmark the way users get it.

The image (``Dockerfile``) installs a wheel into a venv on ``python:3.11-slim``,
whose CPython is built with profile-guided and link-time optimisation, and pip
compiles every module's bytecode at install time; distribution Pythons (Debian's
``/usr/bin/python3``) are built the same way. A development venv may sit on an
interpreter built without those optimisations (pyenv's default build: start-up
about 30% slower here, measured) and runs the editable source, whose bytecode goes
stale under ``PYTHONDONTWRITEBYTECODE`` and is then compiled again on every start.
Timing that would measure the workstation, not kubemigrate.

So the benchmark installs the working tree as a wheel, with the development venv's
exact library versions, into a venv of its own on an optimised interpreter:
``$BENCH_PYTHON`` if set, else the system's ``/usr/bin/python3`` when it is 3.11 or
newer and can make a venv, else the interpreter running the benchmark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CACHE = BENCH_DIR / ".cache"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _version(python: Path) -> tuple[int, int] | None:
    probe = subprocess.run(
        [str(python), "-c", "import sys, venv, ensurepip; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return None
    major, minor = probe.stdout.split()
    return int(major), int(minor)


def interpreter() -> Path:
    """The interpreter the benchmark installs kubemigrate on (see the module's doc)."""
    chosen = os.environ.get("BENCH_PYTHON")
    if chosen:
        return Path(chosen)
    found = _version(SYSTEM_PYTHON) if SYSTEM_PYTHON.exists() else None
    return SYSTEM_PYTHON if found is not None and found >= (3, 11) else Path(sys.executable)


def describe(python: Path) -> str:
    """``3.11.2 (/usr/bin/python3.11)``: what the machine table says the CLI ran on."""
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import platform, sys; print(platform.python_version(), sys.executable)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{out[0]} ({os.path.realpath(out[1])})"


def _source_tree(into: Path) -> Path:
    """The working tree's package sources, copied: a build in place would leave
    ``build/`` behind, whose stale modules a later wheel would carry."""
    root = into / "kubemigrate"
    root.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(
        REPO / "operator",
        root / "operator",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return root


def install(python: Path) -> Path:
    """A venv on ``python`` with the working tree installed as a wheel; its CLI."""
    venv = CACHE / f"venv-{os.path.realpath(python).strip('/').replace('/', '-')}"
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    if not (venv / "bin" / "python").exists():
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    constraints = venv / "constraints.txt"
    constraints.write_text(frozen)
    with tempfile.TemporaryDirectory() as tmp:
        tree = str(_source_tree(Path(tmp)))
        _quietly([*pip, "-c", str(constraints), tree])
        # same version number as the last install: pip would keep that one
        _quietly([*pip, "--no-deps", "--force-reinstall", tree])
    return venv / "bin" / "kubemigrate"


def _quietly(cmd: list[str]) -> None:
    """pip's output only when it fails (this machine's pip config warns on every call)."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise subprocess.CalledProcessError(done.returncode, cmd)
