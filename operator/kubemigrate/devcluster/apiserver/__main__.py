"""``python -m kubemigrate.devcluster.apiserver --port PORT [--host H] [--kubeconfig PATH]
[--pod-logs-dir DIR] [--watch-cache-size N] [--watch-cache-fresh-seconds S]
[--watch-bookmark-seconds S]``.

Prints ``READY <url>`` on stdout once serving; exits cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from .server import serve
from .watchcache import WatchCacheSettings


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
    defaults = WatchCacheSettings()
    parser.add_argument(
        "--watch-cache-size",
        type=int,
        default=defaults.lower_bound,
        help="events of a resource a watch can always resume from",
    )
    parser.add_argument(
        "--watch-cache-fresh-seconds",
        type=float,
        default=defaults.fresh_seconds,
        help="younger events are kept too",
    )
    parser.add_argument(
        "--watch-bookmark-seconds",
        type=float,
        default=defaults.bookmark_seconds,
        help="between BOOKMARKs to watches that allow them",
    )
    args = parser.parse_args(argv)
    watch_cache = WatchCacheSettings(
        lower_bound=args.watch_cache_size,
        fresh_seconds=args.watch_cache_fresh_seconds,
        bookmark_seconds=args.watch_bookmark_seconds,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def ready(url: str) -> None:
        sys.stdout.write(f"READY {url}\n")
        sys.stdout.flush()

    logs = args.pod_logs_dir.resolve() if args.pod_logs_dir is not None else None
    asyncio.run(
        serve(
            args.host,
            args.port,
            args.kubeconfig,
            ready,
            pod_logs_dir=logs,
            watch_cache=watch_cache,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
