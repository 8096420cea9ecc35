"""Raw HTTP helpers for the emulator's tests: what the API answers, no client library between."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

CRD_PATH = Path(__file__).parent / "data" / "crd.yaml"


@dataclass
class Reply:
    status: int
    body: Any
    headers: http.client.HTTPMessage

    @property
    def warnings(self) -> list[str]:
        return self.headers.get_all("Warning") or []


class Http:
    """A tiny raw HTTP client: what the API answers, byte for byte, no client library between."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80

    def connect(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Reply:
        if query:
            path = f"{path}?{urlencode(query)}"
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        conn = self.connect()
        try:
            conn.request(
                method, path, body=data, headers={"Content-Type": content_type, "Accept": accept}
            )
            response = conn.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode()
            return Reply(response.status, parsed, response.headers)
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("PUT", path, body, **kwargs)

    def patch(
        self,
        path: str,
        body: Any,
        content_type: str = "application/merge-patch+json",
        **kwargs: Any,
    ) -> Reply:
        return self.request("PATCH", path, body, content_type=content_type, **kwargs)

    def delete(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, body, **kwargs)

    def watch(
        self, path: str, query: dict[str, str], *, until: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Read watch events until ``until`` events arrived or the stream ends."""
        conn = self.connect(timeout=timeout)
        events: list[dict[str, Any]] = []
        try:
            conn.request("GET", f"{path}?{urlencode({'watch': 'true', **query})}")
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Type", "").startswith("application/json")
            while len(events) < until:
                line = response.readline()
                if not line:
                    break
                if line.strip():
                    events.append(json.loads(line))
        finally:
            conn.close()
        return events

    def watch_until(
        self,
        path: str,
        query: dict[str, str],
        last: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 20.0,
    ) -> list[dict[str, Any]]:
        """Read watch events up to and including the first that ``last`` accepts.

        Fails if the stream ends first or ``timeout`` passes (the socket's deadline),
        so a test waits on the event it needs and never on the clock.
        """
        conn = self.connect(timeout=timeout)
        events: list[dict[str, Any]] = []
        try:
            params = {"watch": "true", "timeoutSeconds": str(int(timeout)), **query}
            conn.request("GET", f"{path}?{urlencode(params)}")
            response = conn.getresponse()
            assert response.status == 200
            while True:
                line = response.readline()
                if not line:
                    raise AssertionError(f"the watch ended first; events: {events}")
                if not line.strip():
                    continue
                events.append(json.loads(line))
                if last(events[-1]):
                    return events
        finally:
            conn.close()


def run_body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubemigrate.io/v1alpha1",
        "kind": "MigrationRun",
        "metadata": {"name": name},
        "spec": {
            "database": {"secretRef": {"name": "db"}},
            "source": {"configMap": {"name": "m"}},
            **spec,
        },
    }


def runs_path(namespace: str, name: str = "") -> str:
    base = f"/apis/kubemigrate.io/v1alpha1/namespaces/{namespace}/migrationruns"
    return f"{base}/{name}" if name else base
