"""A response's head and body leave in one write (`patron.server._OneWrite`), while streamed
responses, HEAD, `100 Continue` and an app failing after its head behave as under uvicorn alone.

Served in-process by uvicorn on the test's asyncio loop, whose socket transport's `write` is
recorded (uvloop's cannot be patched); the client is a raw socket."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from patron.server import GuardedHttpToolsProtocol

BODY = b'{"ok":true}'


@asynccontextmanager
async def serving(app: Any, protocol: type[HttpToolsProtocol]) -> AsyncIterator[int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    config = uvicorn.Config(
        app, fd=listener.fileno(), http=protocol, lifespan="off", log_level="critical"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write of the server's asyncio socket transports from now on (writelines' parts
    joined); the client's writes are not recorded."""
    from asyncio import selector_events

    transport = selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    seen: list[bytes] = []
    original_write = transport.write

    def write(self: Any, data: bytes) -> None:
        if isinstance(self._protocol, HttpToolsProtocol):
            seen.append(bytes(data))
        original_write(self, data)

    def writelines(self: Any, parts: Any) -> None:
        data = b"".join(parts)
        if isinstance(self._protocol, HttpToolsProtocol):
            seen.append(data)
        original_write(self, data)

    monkeypatch.setattr(transport, "write", write)
    monkeypatch.setattr(transport, "writelines", writelines)
    return seen


async def exchange(port: int, request: bytes, *, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.readuntil(until), 5)
    finally:
        writer.close()


async def fixed(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY if scope["method"] != "HEAD" else b""})


GET = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"


class TestOneWrite:
    @pytest.mark.parametrize("size", [len(BODY), 200_000], ids=["small", "large"])
    async def test_head_and_body_leave_in_one_write(self, writes: list[bytes], size: int) -> None:
        body = b"x" * (size - 3) + b"end"

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            headers = [(b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        async with serving(app, GuardedHttpToolsProtocol) as port:
            answer = await exchange(port, GET, until=b"end")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        (only,) = writes
        assert only == answer

    async def test_uvicorn_alone_writes_twice(self, writes: list[bytes]) -> None:
        # What the change saves; should uvicorn join them itself, this fails and _OneWrite can go.
        async with serving(fixed, HttpToolsProtocol) as port:
            await exchange(port, GET, until=BODY)
        assert len(writes) == 2
        assert writes[1] == BODY

    async def test_a_streamed_head_is_not_held_for_its_first_chunk(self) -> None:
        first_chunk = asyncio.Event()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await first_chunk.wait()  # until the client has the head
            for part in (b"one", b"two"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

        async with serving(app, GuardedHttpToolsProtocol) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(GET)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert b"transfer-encoding: chunked" in head
            first_chunk.set()
            rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
            writer.close()
        assert rest == b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"

    async def test_a_body_in_parts_joins_the_head_to_the_first(self, writes: list[bytes]) -> None:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            headers = [(b"content-length", b"6")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b"def"})

        async with serving(app, GuardedHttpToolsProtocol) as port:
            answer = await exchange(port, GET, until=b"abcdef")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert len(writes) == 2
        assert writes[0].endswith(b"\r\n\r\nabc")
        assert writes[1] == b"def"

    async def test_head_request(self, writes: list[bytes]) -> None:
        async with serving(fixed, GuardedHttpToolsProtocol) as port:
            answer = await exchange(port, b"HEAD / HTTP/1.1\r\nhost: x\r\n\r\n", until=b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"content-length: 11" in answer

    async def test_100_continue_goes_before_the_response(self) -> None:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            message = await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": message["body"]})

        async with serving(app, GuardedHttpToolsProtocol) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n"
            )
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"hello")
            answer = await asyncio.wait_for(reader.readuntil(b"hello\r\n0\r\n\r\n"), 5)
            writer.close()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")

    async def test_an_app_failing_after_its_head_sends_the_head_and_closes(self) -> None:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            headers = [(b"content-length", b"10")]  # a head that is held
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            raise RuntimeError("boom")

        async with serving(app, GuardedHttpToolsProtocol) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(GET)
            answer = await asyncio.wait_for(reader.read(), 5)  # to the close
            writer.close()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"\r\n\r\n")

    async def test_keep_alive_requests_each_in_one_write(self, writes: list[bytes]) -> None:
        async with serving(fixed, GuardedHttpToolsProtocol) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(3):
                writer.write(GET)
                await asyncio.wait_for(reader.readuntil(BODY), 5)
            writer.write(GET + GET)  # pipelined
            await asyncio.wait_for(reader.readuntil(BODY), 5)
            await asyncio.wait_for(reader.readuntil(BODY), 5)
            writer.close()
        assert len(writes) == 5
        assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(BODY) for w in writes)


class TestFreedWithoutTheCollector:
    @pytest.mark.parametrize("app", [fixed, "streamed"])
    async def test_finished_requests_leave_no_reference_cycle(self, app: Any) -> None:
        # The writer holds its cycle only until the head goes: a cycle that is its writer's
        # transport and holds it back would wait for the garbage collector, with its scope,
        # headers and task, after every request (docs/performance.md, Session 9).
        async def streamed(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": BODY, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

        gc.collect()
        gc.disable()
        try:
            async with serving(
                streamed if app == "streamed" else app, GuardedHttpToolsProtocol
            ) as port:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                for _ in range(20):
                    writer.write(GET)
                    await asyncio.wait_for(reader.readuntil(BODY), 5)
                alive = sum(isinstance(o, RequestResponseCycle) for o in gc.get_objects())
                writer.close()
        finally:
            gc.enable()
        assert alive <= 1  # the connection's current cycle
