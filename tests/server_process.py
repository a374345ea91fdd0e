"""A real Patron server process on the test database, for tests that need real concurrency:
several requests in flight at once, each on its own connection, against one uvicorn process."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.servers import ServerProcess

REQUEST_SECONDS = 15


@contextmanager
def server_process(database_url: str) -> Iterator[str]:
    """Starts `python -m patron serve` on a free port; yields its API base URL; stops it."""
    with (
        tempfile.TemporaryDirectory() as folder,
        ServerProcess(
            database_url,
            Path(folder) / "server.log",
            {"PATRON_AUTH_CACHE_SECONDS": "10", "PATRON_LOG_LEVEL": "warning"},
        ) as process,
    ):
        yield process.base


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
