"""The emulator as a process: readiness line, kubeconfig, clean exit on SIGTERM."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import yaml

from kubemigrate.devcluster.apiserver import ApiServerProcess


def test_ready_kubeconfig_and_clean_sigterm_with_an_open_watch() -> None:
    server = ApiServerProcess()
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        config = yaml.safe_load(server.kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == server.url
        assert config["current-context"] == config["contexts"][0]["name"]
        parts = urlsplit(server.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        conn.request("GET", "/api/v1/configmaps?watch=true")
        response = conn.getresponse()
        assert response.status == 200
        server.stop()  # SIGTERM while the watch is open
        assert response.read() == b""  # the stream ended cleanly
        conn.close()
        assert server.exit_code == 0
        assert "Traceback" not in server.log_text()
