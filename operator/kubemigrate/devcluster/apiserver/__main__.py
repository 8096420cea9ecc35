"""``python -m kubemigrate.devcluster.apiserver --port PORT [--host H] [--kubeconfig PATH]
[--pod-logs-dir DIR]``.

Prints ``READY <url>`` on stdout once serving; exits cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from .server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubemigrate.devcluster.apiserver", description=__doc__
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="write a kubeconfig here")
    parser.add_argument(
        "--pod-logs-dir",
        type=Path,
        default=None,
        help="the kubelet stand-in's --workdir, to serve pods/<name>/log from",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def ready(url: str) -> None:
        sys.stdout.write(f"READY {url}\n")
        sys.stdout.flush()

    logs = args.pod_logs_dir.resolve() if args.pod_logs_dir is not None else None
    asyncio.run(serve(args.host, args.port, args.kubeconfig, ready, pod_logs_dir=logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
