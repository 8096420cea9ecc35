"""A proxy between an operator and the local cluster's API server that stops the operator
at an exact point: right after the API server applied a chosen write, before the
operator hears back, where a crash (an OOM kill, a node going away) could stop it.

Everything else passes through untouched, watches streamed as they come, so the
operator is the real one, run as it always is; only its kubeconfig points here.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

# hop-by-hop headers, and those the streamed reply sets again
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def server_of(kubeconfig: Path) -> str:
    """The API server's URL in ``kubeconfig`` (the local cluster's has one cluster)."""
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


class StoppingProxy:
    """Forwards to ``upstream``; the first write that ``stops_after(method, path)`` picks and
    the API server accepts (2xx) calls ``stop`` before its answer is relayed."""

    def __init__(
        self,
        upstream: str,
        *,
        stops_after: Callable[[str, str], bool],
        stop: Callable[[], None],
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.stops_after = stops_after
        self.stop = stop
        self.stopped = threading.Event()
        self.url = ""
        self._session: aiohttp.ClientSession  # made on the proxy's own loop
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="stopping-proxy", daemon=True)

    def __enter__(self) -> StoppingProxy:
        self._thread.start()
        if not self._ready.wait(timeout=30) or not self.url:
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def kubeconfig(self, original: Path, path: Path) -> Path:
        """``original`` with its cluster's server replaced by this proxy, written to ``path``."""
        config = yaml.safe_load(original.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = self.url
        path.write_text(yaml.safe_dump(config))
        return path

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = self._loop.run_until_complete(self._start())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            # requests still forwarded (watches) end here, not with the interpreter
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(runner.cleanup())
            self._loop.run_until_complete(self._session.close())
            self._loop.close()

    async def _start(self) -> web.AppRunner:
        # no timeout (watches last minutes); the body passed on as it came (gzip included)
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        runner = web.AppRunner(app)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return runner

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body or None
        ) as answer:
            if (
                200 <= answer.status < 300
                and not self.stopped.is_set()
                and self.stops_after(request.method, request.path)
            ):
                self.stopped.set()
                self.stop()  # the write is applied; the operator never learns it was
                return web.Response(status=503)
            reply = web.StreamResponse(
                status=answer.status,
                headers={
                    k: v for k, v in answer.headers.items() if k.lower() not in _NOT_FORWARDED
                },
            )
            await reply.prepare(request)
            try:
                async for chunk in answer.content.iter_any():
                    await reply.write(chunk)
                await reply.write_eof()
            except ConnectionResetError:
                pass  # the operator is gone (stopped here): its watches end with it
            return reply
