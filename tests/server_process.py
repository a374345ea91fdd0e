"""A real Patron server process on the test database, for tests that need real concurrency:
several requests in flight at once, each on its own connection, against one uvicorn process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

STARTUP_SECONDS = 20
REQUEST_SECONDS = 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server_process(database_url: str) -> Iterator[str]:
    """Starts `python -m patron serve` on a free port; yields its API base URL; stops it."""
    port = _free_port()
    env = {**os.environ, "PATRON_DATABASE_URL": database_url, "PATRON_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "patron", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"server exited with {process.returncode}: {err}")
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr:
            process.stderr.close()


Call = Callable[[httpx.Client], httpx.Response]


def posting(path: str, body: Any = None) -> Call:
    """A call that POSTs `body` (or nothing) to `path`."""
    return lambda client: client.post(path, json=body)


def at_once(base: str, headers: dict[str, str], calls: list[Call]) -> list[httpx.Response]:
    """Runs each call on its own thread and client (own connection), released together."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=REQUEST_SECONDS) as client:
            client.get("/customer-custom-property-keys")  # connect (and authenticate) first
            barrier.wait(timeout=REQUEST_SECONDS)
            try:
                results[i] = calls[i](client)
            except Exception as exc:
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=REQUEST_SECONDS * 2)
    for r in results:
        if not isinstance(r, httpx.Response):
            raise AssertionError(f"a concurrent call failed: {r!r}")
    return results
