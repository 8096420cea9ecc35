"""``python -m kubemigrate.devcluster.kubelet --kubeconfig PATH [-n NS ...] [--workdir DIR]``.

Prints ``READY`` on stdout once its watches have listed everything, then runs the Job
controller and the kubelet until SIGTERM or SIGINT (a graceful node shutdown).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .client import Client, Kubeconfig
from .controller import ControllerSettings
from .node import Node, NodeSettings
from .runtime import RuntimeSettings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kubemigrate.devcluster.kubelet", description=__doc__
    )
    parser.add_argument("--kubeconfig", type=Path, required=True, help="the cluster to serve")
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="watch only this namespace (repeatable)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="logs, volumes (default: a temp dir)"
    )
    parser.add_argument(
        "--backoff-base",
        type=float,
        default=10.0,
        help="seconds before a failed Job Pod is replaced; doubles per failure (Kubernetes: 10)",
    )
    parser.add_argument(
        "--max-grace",
        type=float,
        default=2.0,
        help="cap on the grace period between SIGTERM and SIGKILL when a Pod is stopped",
    )
    parser.add_argument(
        "--retry-interval",
        type=float,
        default=1.0,
        help="how often a container waiting for a missing Secret/ConfigMap tries again",
    )
    parser.add_argument(
        "--pod-nice",
        type=int,
        default=RuntimeSettings.pod_nice,
        help="container processes run in the background of the node's own (an idle cpu "
        "cgroup, else this nice); 0 = at the kubelet's own priority (see RuntimeSettings)",
    )
    parser.add_argument("--workers", type=int, default=16, help="Jobs synced concurrently")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace, workdir: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Pods' file system work (volumes, pid and exit files) runs in worker threads: when
    # fifty Pods start at once, asyncio's default of cores + 4 threads queues them.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="pod-fs"))
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    settings = NodeSettings(
        namespaces=tuple(args.namespace),
        workers=args.workers,
        controller=ControllerSettings(backoff_base=args.backoff_base),
        runtime=RuntimeSettings(
            max_grace=args.max_grace,
            retry_interval=args.retry_interval,
            pod_nice=args.pod_nice,
        ),
    )
    client = Client(Kubeconfig.load(args.kubeconfig))

    def ready() -> None:
        sys.stdout.write(f"READY {workdir}\n")
        sys.stdout.flush()

    try:
        await Node(client, workdir, settings).run(stop, ready)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(_serve(args, args.workdir.resolve()))
        return 0
    with tempfile.TemporaryDirectory(prefix="kubemigrate-kubelet-") as tmp:
        asyncio.run(_serve(args, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
