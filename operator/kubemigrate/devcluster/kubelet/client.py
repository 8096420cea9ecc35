"""A small asyncio client for the Kubernetes API: what the kubelet stand-in needs, nothing more.

aiohttp rather than the ``kubernetes`` package: the stand-in runs many Pods and
watches at once in one event loop, and the official client is synchronous. Only
bearer-token or credential-less kubeconfigs (the emulator's) and optional TLS are
understood.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

JsonDict = dict[str, Any]


class ApiError(Exception):
    """A non-2xx answer, with the Status body's reason and message."""

    def __init__(self, code: int, body: Any) -> None:
        self.code = code
        self.body = body
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        self.reason = body.get("reason", "") if isinstance(body, dict) else ""
        super().__init__(f"{code} {self.reason}: {message}")


@dataclass(frozen=True)
class Kubeconfig:
    server: str
    token: str | None = None
    ssl_context: ssl.SSLContext | bool | None = None

    @classmethod
    def load(cls, path: Path) -> Kubeconfig:
        """The current context's cluster and user from a kubeconfig file."""
        doc = yaml.safe_load(path.read_text()) or {}
        context_name = doc.get("current-context")
        contexts = {c["name"]: c.get("context") or {} for c in doc.get("contexts") or []}
        context = contexts.get(context_name) or next(iter(contexts.values()), {})
        clusters = {c["name"]: c.get("cluster") or {} for c in doc.get("clusters") or []}
        users = {u["name"]: u.get("user") or {} for u in doc.get("users") or []}
        cluster = clusters.get(context.get("cluster", "")) or next(iter(clusters.values()), {})
        user = users.get(context.get("user", "")) or {}
        server = str(cluster.get("server", "")).rstrip("/")
        if not server:
            raise ValueError(f"{path}: no cluster server in the current context")
        ssl_context: ssl.SSLContext | bool | None = None
        if server.startswith("https://"):
            if cluster.get("insecure-skip-tls-verify"):
                ssl_context = False
            elif cluster.get("certificate-authority-data"):
                ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
                ssl_context = ssl.create_default_context(cadata=ca)
            elif cluster.get("certificate-authority"):
                ssl_context = ssl.create_default_context(cafile=cluster["certificate-authority"])
            if user.get("client-certificate-data") and isinstance(ssl_context, ssl.SSLContext):
                with tempfile.TemporaryDirectory() as tmp:
                    cert, key = Path(tmp) / "cert", Path(tmp) / "key"
                    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
                    key.write_bytes(base64.b64decode(user["client-key-data"]))
                    ssl_context.load_cert_chain(cert, key)
        return cls(server=server, token=user.get("token"), ssl_context=ssl_context)


def resource_path(
    api_version: str, plural: str, namespace: str | None = None, name: str | None = None
) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = base + (f"/namespaces/{namespace}" if namespace else "") + f"/{plural}"
    return path + (f"/{name}" if name else "")


class Client:
    """JSON over HTTP; raises :class:`ApiError` on any non-2xx answer."""

    def __init__(self, config: Kubeconfig) -> None:
        self.config = config
        headers = {"Accept": "application/json", "User-Agent": "kubemigrate-devcluster-kubelet"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        ssl = config.ssl_context if config.ssl_context is not None else True
        # The API server answers one request at a time: more connections than this
        # only cost their set-up on both sides when a burst of Pods starts. Watches,
        # which hold theirs for minutes, have a pool of their own with no limit.
        self._session = aiohttp.ClientSession(
            config.server, headers=headers, connector=aiohttp.TCPConnector(limit=16, ssl=ssl)
        )
        self._watches = aiohttp.ClientSession(
            config.server, headers=headers, connector=aiohttp.TCPConnector(limit=0, ssl=ssl)
        )

    async def close(self) -> None:
        await self._session.close()
        await self._watches.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> JsonDict:
        data = None if body is None else orjson.dumps(body)
        async with self._session.request(
            method,
            path,
            data=data,
            params=dict(params or {}),
            headers={"Content-Type": content_type},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            raw = await response.read()
            try:
                parsed = orjson.loads(raw) if raw else {}
            except ValueError:
                parsed = raw.decode(errors="replace")
            if response.status >= 400:
                raise ApiError(response.status, parsed)
            return parsed if isinstance(parsed, dict) else {}

    async def get(self, path: str, **params: str) -> JsonDict:
        return await self.request("GET", path, params=params)

    async def find(self, path: str) -> JsonDict | None:
        """GET, with None for 404."""
        try:
            return await self.get(path)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def watch(
        self, path: str, params: Mapping[str, str], timeout: float
    ) -> AsyncIterator[JsonDict]:
        """The events of one watch request, until the server ends it."""
        query = {**params, "watch": "true", "timeoutSeconds": str(int(timeout))}
        async with self._watches.get(
            path, params=query, timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout + 30)
        ) as response:
            if response.status >= 400:
                raw = await response.read()
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                raise ApiError(response.status, body)
            buffer = b""  # own line splitting: aiohttp's readline caps lines at 64 KiB
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = orjson.loads(line)
                        if isinstance(event, dict):
                            yield event
