"""The operator's Kubernetes client against an HTTP server answering as the API does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from kubemigrate.controller.kube import Kube

# what a real API server answers for each Secret, by name
ANSWERS = {"shop-db": 200, "gone": 404, "hidden": 403}


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = ANSWERS[self.path.rsplit("/", 1)[-1]]
        body: dict[str, object] = {"kind": "PartialObjectMetadata", "metadata": {"name": "shop-db"}}
        if code != 200:
            body = {"kind": "Status", "status": "Failure", "code": code}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kube() -> Iterator[Kube]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield Kube(client.ApiClient(configuration))
    finally:
        server.shutdown()
        server.server_close()


def test_a_secret_the_operator_may_not_read_does_not_stop_the_run(kube: Kube) -> None:
    """With the chart's rbac.secretsGet false, the 403 failed the run's start for good
    and the run sat with no status: it goes ahead, a missing Secret then showing as its
    Job's pod unable to start."""
    assert kube.exists("secrets", "shop", "hidden") is True
    assert kube.exists("secrets", "shop", "shop-db") is True
    assert kube.exists("secrets", "shop", "gone") is False
