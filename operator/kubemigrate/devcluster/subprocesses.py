"""Child processes of the local cluster: waiting for their READY line, stopping them.

The API server emulator and the kubelet stand-in both announce readiness with a
line on stdout and stop cleanly on SIGTERM; one implementation serves both.
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import time


def wait_for_line(process: subprocess.Popen[bytes], prefix: str, timeout: float) -> str | None:
    """The first stdout line starting with ``prefix``; None on exit or timeout."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                continue
            line = process.stdout.readline().decode().strip()
            if line.startswith(prefix):
                return line
            if not line and process.poll() is not None:
                return None
    return None


def terminate(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; closes the stdout pipe either way."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
