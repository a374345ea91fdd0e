"""SIGTERM on a real `patron serve`: it stops listening at once, still answers requests arriving
on connections already open (each with `Connection: close`, so a proxy drops the connection
rather than reuse it), and exits once none is left (docs/deploy.md)."""

from __future__ import annotations

import http.client
import signal
import socket
import time
from pathlib import Path

from tests.servers import ServerProcess


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


class TestDrainOnSigterm:
    def test_open_connections_are_answered_then_closed(
        self, tmp_path: Path, database_url: str
    ) -> None:
        server = ServerProcess(database_url, tmp_path / "serve.log").start()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/api/openapi.json")
            first = conn.getresponse()
            first.read()
            assert first.status == 200
            assert first.getheader("connection") != "close"

            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            # The listener goes first: a proxy's next connect is refused and retried elsewhere.
            for _ in range(100):
                if refused(server.port):
                    break
                time.sleep(0.02)
            assert refused(server.port)

            # A request on the connection already open is still served, and told to close.
            conn.request("GET", "/api/openapi.json")
            second = conn.getresponse()
            second.read()
            assert second.status == 200
            assert second.getheader("connection") == "close"
            conn.close()
            # uvicorn, done, re-raises the signal it caught: an exit "by SIGTERM" is the clean one.
            assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        finally:
            server.stop()
