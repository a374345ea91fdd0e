"""How `patron serve` behaves as one of several processes behind a load balancer: TCP_NODELAY
on every connection whatever socket uvicorn was handed, health and readiness without credentials,
and a SIGTERM that lets the request in flight finish while new connections go elsewhere."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from patron.server import GuardedHttpToolsProtocol
from tests.factories import customer_body
from tests.servers import ServerProcess, issue_credential


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _nodelay_on_accepted_socket(protocol: type[HttpToolsProtocol]) -> int:
    """TCP_NODELAY as set on the server's side of a connection, when uvicorn serves a listening
    socket it was handed (as each `--workers` process is), not one it opened itself."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    config = uvicorn.Config(
        _ok, fd=listener.fileno(), http=protocol, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection(*listener.getsockname())
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await reader.readuntil(b"ok")
        (connection,) = server.server_state.connections
        value: int = connection.transport.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY
        )
        writer.close()
        return value
    finally:
        server.should_exit = True
        await serving
        listener.close()


class TestNoDelay:
    async def test_patron_sets_tcp_nodelay_where_uvicorn_leaves_it_unset(self) -> None:
        # uvicorn's own protocol shows the upstream gap (issue #3149): should uvicorn fix it,
        # this line fails and Patron's guard can go.
        assert await _nodelay_on_accepted_socket(HttpToolsProtocol) == 0
        assert await _nodelay_on_accepted_socket(GuardedHttpToolsProtocol) == 1


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(database_url, tmp_path / "server.log") as running:
        yield running


class TestHealth:
    def test_healthz_and_readyz_answer_without_credentials(self, server: ServerProcess) -> None:
        root = f"http://127.0.0.1:{server.port}"
        health = httpx.get(f"{root}/healthz", timeout=10)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = httpx.get(f"{root}/readyz", timeout=10)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        # Nothing that says what runs behind it.
        assert "server" not in health.headers
        assert "server" not in ready.headers


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


class TestDrain:
    def test_sigterm_finishes_the_request_in_flight_and_takes_no_new_one(
        self, database_url: str, server: ServerProcess
    ) -> None:
        client_id, secret = issue_credential(database_url, "drain")
        auth = httpx.BasicAuth(client_id, secret)
        header = dict(next(auth.auth_flow(httpx.Request("GET", "http://x"))).headers)
        body = json.dumps(customer_body(legalName="Drained Ltd")).encode()
        head = (
            "POST /api/customers HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"authorization: {header['authorization']}\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()

        in_flight = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        in_flight.sendall(head + body[:10])  # the request has begun; its body is on the way
        time.sleep(0.2)
        assert server.process is not None
        server.process.terminate()  # SIGTERM
        deadline = time.monotonic() + 20
        while not _refused(server.port):  # the listener closes: new requests go elsewhere
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        assert server.process.poll() is None  # it is still finishing the request

        in_flight.sendall(body[10:])
        answer = b""
        while chunk := in_flight.recv(65536):
            answer += chunk
        in_flight.close()
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 201 Created", answer
        assert b"connection: close" in rest.lower()
        assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["legalName"] == "Drained Ltd"
        # Having drained, uvicorn re-raises the signal so a supervisor sees why it ended.
        assert server.process.wait(timeout=30) == -signal.SIGTERM
