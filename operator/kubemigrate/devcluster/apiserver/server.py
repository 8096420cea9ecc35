"""Serve the emulator on a TCP port until told to stop, and write a kubeconfig for it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import kmock
import yaml

from .api import Api
from .cluster import Cluster
from .emulator import Emulator
from .gc import Collector
from .store import Store
from .watchcache import WatchCache, WatchCacheSettings

CONTEXT = "devcluster"


def kubeconfig(url: str, namespace: str = "default") -> dict[str, object]:
    """A kubeconfig with one cluster, one credential-less user and one context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: Path, url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(kubeconfig(url), sort_keys=False))
    tmp.replace(path)  # atomic: a reader never sees half a file


async def serve(
    host: str,
    port: int,
    kubeconfig_path: Path | None,
    on_ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
    pod_logs_dir: Path | None = None,
    watch_cache: WatchCacheSettings | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT arrive, when ``stop`` is not given).

    ``pod_logs_dir`` is the kubelet stand-in's work directory, from which ``pods/log``
    is served (None: no node, so no Pod ever has logs). ``watch_cache``: the windows
    and bookmarks of watches (the real server's when not given).
    """
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    cluster = Cluster(store=Store(watch_cache=WatchCache(watch_cache or WatchCacheSettings())))
    api = Api(cluster, pod_logs_dir=pod_logs_dir)
    emulator = Emulator(api)
    async with emulator, kmock.Server(emulator, host=host, port=port) as server, Collector(cluster):
        url = f"http://{host}:{server.port}"
        api.server_address = f"{host}:{server.port}"
        if kubeconfig_path is not None:
            write_kubeconfig(kubeconfig_path, url)
        on_ready(url)
        await stop.wait()
        cluster.store.close_watches()
        await asyncio.sleep(0)  # let the streams see the end before the server closes
