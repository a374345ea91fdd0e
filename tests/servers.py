"""Real `patron serve` processes for tests: start, wait until ready, kill, restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def issue_credential(database_url: str, account: str) -> tuple[str, str]:
    """(clientId, clientSecret) of a new credential, made with the CLI."""
    result = subprocess.run(
        [sys.executable, "-m", "patron", "credentials", "create", "--account", account, "--json"],
        env={**os.environ, "PATRON_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    issued = json.loads(result.stdout)
    return issued["clientId"], issued["clientSecret"]


class ServerProcess:
    """One `patron serve` on a free port; its stdout and stderr go to `log`."""

    def __init__(self, database_url: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api"
        self.log = log
        self.env = {
            **os.environ,
            "PATRON_DATABASE_URL": database_url,
            "PATRON_AUTH_CACHE_SECONDS": "0",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ServerProcess:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "patron", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.base}/openapi.json", timeout=1)
                return self
            except httpx.TransportError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(self.log.read_text()) from exc
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
