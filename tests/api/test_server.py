"""A real `patron serve` process: the CLI, the server and the database working together."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import customer_body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def patron(database_url: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "patron", *args],
        env={**os.environ, "PATRON_DATABASE_URL": database_url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PATRON_DATABASE_URL": database_url, "PATRON_AUTH_CACHE_SECONDS": "0"}
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "patron", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()) from exc
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


class TestServer:
    def test_cli_credentials_work_against_a_running_server(
        self, server: str, database_url: str
    ) -> None:
        issued = json.loads(
            patron(database_url, "credentials", "create", "--account", "srv", "--json")
        )
        auth = (issued["clientId"], issued["clientSecret"])
        with httpx.Client(base_url=server, auth=auth, timeout=10) as http:
            created = http.post("/customers", json=customer_body(customerAliases=["srv-1"]))
            assert created.status_code == 201
            assert created.headers["sequence-version"] == "2024-07-30"
            fetched = http.get(f"/customers/{created.json()['id']}")
            assert fetched.json() == created.json()
            listed = http.get("/customers", params={"alias": "srv-1"}).json()
            assert [c["id"] for c in listed["items"]] == [created.json()["id"]]
            patron(database_url, "credentials", "revoke", issued["clientId"])
            refused = http.get("/customers")
            assert refused.status_code == 401
            assert refused.json()["error"]["type"] == "Unauthorized"
