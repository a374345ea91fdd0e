"""A real `patron serve` process: the CLI, the server and the database working together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import customer_body
from tests.servers import ServerProcess


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
    with ServerProcess(database_url, tmp_path / "server.log") as process:
        yield process.base


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
