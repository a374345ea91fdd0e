"""`EagerListener`: every connection waiting in the listening socket is taken in one go (uvloop's
own server takes one per turn of the loop), connections are served as by the loop's server, and
the single-process server (`DrainingServer`) listens through it."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from patron import eager_listener
from patron import server as server_module
from patron.eager_listener import EagerListener, take_over
from patron.server import DrainingServer


class Echo(asyncio.Protocol):
    def __init__(self, made: list[Echo]) -> None:
        made.append(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert isinstance(self.transport, asyncio.Transport)
        self.transport.write(data.upper())


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield sock
    sock.close()


def _waiting(sock: socket.socket) -> bool:
    """Whether a connection is waiting to be accepted (a blocking-free peek by accept)."""
    sock.setblocking(False)
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


class TestEagerListener:
    async def test_one_readiness_takes_every_waiting_connection(
        self, listening: socket.socket
    ) -> None:
        made: list[Echo] = []
        listener = EagerListener([listening], lambda: Echo(made), backlog=64)
        clients = [socket.create_connection(listening.getsockname()) for _ in range(20)]
        try:
            listener._accept(listening)  # what the loop calls when the socket turns readable
            assert not _waiting(listening)
            for _ in range(100):
                if len(made) == 20:
                    break
                await asyncio.sleep(0.01)
            assert len(made) == 20
            # Served as by the loop's own server: bytes in, bytes out.
            reader, writer = await asyncio.open_connection(*listening.getsockname())
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"PING"
            writer.close()
            await writer.wait_closed()
        finally:
            listener.close()
            for client in clients:
                client.close()
            for served in made:
                served.transport.close()

    async def test_close_stops_listening(self, listening: socket.socket) -> None:
        address = listening.getsockname()
        listener = EagerListener([listening], lambda: Echo([]), backlog=64)
        assert listener.is_serving()
        listener.close()
        listener.close()  # uvicorn's shutdown closes it again
        await listener.wait_closed()
        assert not listener.is_serving()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=1).close()

    async def test_out_of_descriptors_pauses_instead_of_spinning(
        self, listening: socket.socket, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(eager_listener, "_RETRY_SECONDS", 0.05)
        loop = asyncio.get_running_loop()
        listener = EagerListener([listening], lambda: Echo([]), backlog=64)

        class Exhausted:
            def fileno(self) -> int:
                return listening.fileno()

            def accept(self) -> None:
                raise OSError(errno.EMFILE, "Too many open files")

        try:
            listener._accept(Exhausted())  # type: ignore[arg-type]
            # No longer watched (the socket stays readable: watching it would spin)...
            assert not loop.remove_reader(listening.fileno())
            await asyncio.sleep(0.2)
            # ...and watched again once the pause is over.
            assert loop.remove_reader(listening.fileno())
        finally:
            listener.close()

    async def test_take_over_keeps_the_socket_listening(self) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        (sock,) = take_over(server)
        try:
            assert not server.is_serving()
            client = socket.create_connection(sock.getsockname())
            assert _waiting(sock)
            client.close()
        finally:
            sock.close()


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


class TestDrainingServerListens:
    async def test_through_an_eager_listener(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Its shutdown marks the process as draining: undone afterwards for the other tests.
        monkeypatch.setattr(server_module._drain, "started", False)
        config = uvicorn.Config(_ok, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
        server = DrainingServer(config, drain_seconds=0.1)
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            (listener,) = server.servers
            assert isinstance(listener, EagerListener)
            port = listener.sockets[0].getsockname()[1]
            answers = await asyncio.gather(*(_get(port) for _ in range(32)))
            assert answers == [b"ok"] * 32
        finally:
            server.should_exit = True
            await serving
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def _get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    body = await reader.readexactly(2)
    writer.close()
    await writer.wait_closed()
    return body
