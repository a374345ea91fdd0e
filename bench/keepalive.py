"""One keep-alive client against Patron served by one and by several uvicorn worker processes.

    python bench/keepalive.py [--workers 2] [--seconds 5]

Each server answers `GET /healthz` over one kept-alive connection, one request after another, for
`--seconds`. Without TCP_NODELAY each response's second write waits for the client's delayed ACK
(~40 ms). uvicorn's `--workers` mode leaves TCP_NODELAY unset on the asyncio event loop (issue
#3149; uvloop, Patron's default, sets it anyway); Patron's protocol sets it itself
(patron/server.py). Printed: requests/s and mean latency per server, and the ratio to the first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.servers import free_port

UVICORN = [
    *(sys.executable, "-m", "uvicorn", "patron.app:create_app", "--factory"),
    *("--no-access-log", "--log-level", "warning"),
]
PATRON_PROTOCOL = "patron.server:GuardedHttpToolsProtocol"


def servers(workers: int) -> list[tuple[str, list[str]]]:
    n = str(workers)
    return [
        ("uvicorn httptools, asyncio, 1 process", [*UVICORN, "--loop", "asyncio"]),
        (
            f"uvicorn httptools, asyncio, --workers {n}",
            [*UVICORN, "--loop", "asyncio", "--workers", n],
        ),
        (
            f"Patron protocol, asyncio, --workers {n}",
            [*UVICORN, "--loop", "asyncio", "--workers", n, "--http", PATRON_PROTOCOL],
        ),
        (f"patron serve --workers {n} (uvloop)", [sys.executable, "-m", "patron", "serve"]),
    ]


def measure(command: list[str], workers: int, seconds: float, database_url: str) -> float:
    port = free_port()
    if command[2] == "patron":
        command = [*command, "--workers", str(workers)]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, "PATRON_DATABASE_URL": database_url, "PATRON_LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        with httpx.Client(timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get(url)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            count = 0
            began = time.perf_counter()
            while (elapsed := time.perf_counter() - began) < seconds:
                client.get(url).raise_for_status()
                count += 1
        return count / elapsed
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/keepalive.db"
        subprocess.run(
            [sys.executable, "-m", "patron", "--database-url", url, "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        first = None
        for name, command in servers(args.workers):
            rate = measure(command, args.workers, args.seconds, url)
            first = first or rate
            print(
                f"{name:45} {rate:8.0f} requests/s {1000 / rate:8.2f} ms each"
                f"  ratio {rate / first:.2f}"
            )


if __name__ == "__main__":
    main()
