"""Running the app under uvicorn, with the two connection guards uvicorn's httptools protocol
lacks (docs/security.md), and one setting it misses:

- a cap on a request's head (request line and headers): over `max_header_bytes` is a 431;
- TCP_NODELAY on every connection, which uvicorn's multi-process mode leaves unset;
- a deadline for each request to arrive whole: a connection must deliver a request's head and body
  within `request_read_timeout_seconds` of connecting or of the request's first byte, else it is
  answered 408 and closed. uvicorn's only timer is keep-alive, armed after a response, so without
  this a client that connects and sends nothing, or sends its headers a byte at a time
  (slowloris), holds a connection forever.

And two savings: a response's head and body leave in one write (`_OneWrite`), where uvicorn writes
them separately; and the single-process server takes every waiting connection at once
(`patron.eager_listener`), where uvloop takes one per turn of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from functools import lru_cache
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from patron.api.errors import envelope
from patron.config import Settings
from patron.eager_listener import EagerListener, take_over
from patron.logs import log_config


@lru_cache(maxsize=1)
def _settings() -> Settings:
    # Worker processes build everything from the environment (see cli.cmd_serve).
    return Settings.from_env()


def _response(status: bytes, error_type: str, message: str) -> bytes:
    body = envelope(error_type, message)
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


def _no_delay(transport: asyncio.Transport) -> None:
    """Send small responses at once (TCP_NODELAY). The event loops set it only on sockets whose
    protocol number says TCP, and the listening socket uvicorn binds for `--workers` (or takes by
    `--fd`) says 0, so without this every keep-alive response waits ~40 ms for the client's
    delayed ACK (uvicorn issue #3149)."""
    sock = transport.get_extra_info("socket")
    # Not by the socket object's family: for `--fd` uvicorn wraps the descriptor as AF_UNIX
    # whatever it is. A socket that is not TCP refuses the option, which is all that is needed.
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# A body up to this size is joined to the head (one copy, one buffer); a larger one is handed over
# beside it (`writelines`: one vectored write, no copy).
_JOIN_BELOW = 64 * 1024


class _OneWrite:
    """The transport a request's cycle writes through: it holds the response's head (status line
    and headers) and sends it with the response's first body write, one write to the socket and
    one TCP segment instead of two. uvicorn writes the head when the app sends
    `http.response.start` and the body when it sends `http.response.body`; on this VM a write
    that wakes the client costs more than the Python around it (docs/performance.md, Session 6).

    Only the head of a response of known length (`content-length`) is held: its body follows
    (Starlette's `Response` sends it in the same step), and the client needs it before it can use
    the head. A chunked (streamed) response's head goes at once, as under uvicorn alone: its first
    chunk may be a long time coming. A `100 Continue` (written before the response starts) and
    the head of a HEAD response (no body write follows; not wrapped at all) are not held either.
    Holding until the next turn of the event loop instead costs more than it saves: a callback
    per response, ~8 µs of CPU under uvloop against ~6 µs saved by the write."""

    __slots__ = ("_cycle", "_head", "transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self.transport = transport
        # Until the head is written: the first write after the response started.
        self._cycle: RequestResponseCycle | None = cycle
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if len(data) < _JOIN_BELOW:
                self.transport.write(head + data)
            else:
                self.transport.writelines((head, data))
            return
        cycle = self._cycle
        if cycle is not None and cycle.response_started:
            # Let go of the cycle, which holds this as its transport: a reference cycle would
            # leave each request's objects to the garbage collector (~5 % of a GET by id's CPU,
            # docs/performance.md, Session 9) instead of being freed when the request ends.
            self._cycle = None
            if cycle.chunked_encoding is False:  # a body of known length follows
                self._head = data
                return
        self.transport.write(data)

    def flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if not self.transport.is_closing():
                self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # Anything else a cycle might use (none in uvicorn 0.54) is the transport's.
        return getattr(self.transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # The parser callbacks below call HttpToolsProtocol's by name, not through super(): they run
    # several times for every request, and super() cost ~3 % of a GET by id's instructions.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self._max_head = settings.max_header_bytes
        self._read_timeout = settings.request_read_timeout_seconds
        self._head_bytes = 0
        self._head_too_large = False
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_at: float | None = None
        # Raw bytes received since the current head began. httptools hands over a header only
        # once it ends, so a header that never ends is caught here, not in on_header.
        self._in_head = True
        self._raw_head_bytes = 0

    # -- the deadline -----------------------------------------------------------------------------

    def _arm(self) -> None:
        """Give the request `request_read_timeout_seconds` from now. One timer per connection,
        re-aimed when it fires: a timer scheduled and cancelled for every request cost ~3 % of a
        GET by id's instructions (docs/performance.md, Session 5)."""
        if self._read_timeout > 0:
            self._deadline_at = self.loop.time() + self._read_timeout
            if self._deadline is None:
                self._deadline = self.loop.call_at(self._deadline_at, self._on_deadline)

    def _disarm(self) -> None:
        self._deadline_at = None

    def _on_deadline(self) -> None:
        self._deadline = None
        due = self._deadline_at
        if due is None:
            return  # no request is arriving now
        if self.loop.time() < due:
            # A later request moved the deadline.
            self._deadline = self.loop.call_at(due, self._on_deadline)
            return
        self._too_slow()

    def _too_slow(self) -> None:
        self._deadline_at = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            # Nothing started yet (or only a partial head arrived): answer it ourselves.
            self.transport.write(
                _response(b"408 Request Timeout", "RequestTimeout", "The request took too long")
            )
        # Otherwise the app is reading a body that stalled: closing makes its read fail.
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._head_bytes = 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        HttpToolsProtocol.on_headers_complete(self)
        cycle = self.cycle
        if cycle is None or cycle.transport is not self.transport:
            return  # an upgrade (no new cycle), or a cycle already given its writer
        if _drain.started:
            cycle.keep_alive = False  # answered with `Connection: close`, then closed
        if cycle.scope["method"] != "HEAD":  # a HEAD response has no body write to join
            # The cycle types its transport as asyncio's; _OneWrite has what a cycle uses of it.
            cycle.transport = _OneWrite(self.transport, cycle)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head, self._raw_head_bytes = True, 0
        HttpToolsProtocol.on_message_complete(self)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._raw_head_bytes += len(data)
            # Slack for a body (or the next request) arriving in the same read as the head.
            if self._raw_head_bytes > self._max_head + 64 * 1024:
                self._head_too_large = True
                self.send_400_response("")
                return
        HttpToolsProtocol.data_received(self, data)

    # -- the head cap -----------------------------------------------------------------------------

    # Counted inline (no helper call): these run for every header of every request.
    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self._max_head:
            self._too_large()
        HttpToolsProtocol.on_url(self, url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self._max_head:
            self._too_large()
        HttpToolsProtocol.on_header(self, name, value)

    def _too_large(self) -> None:
        self._head_too_large = True
        raise ValueError("request head too large")  # the parser turns this into an error

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        self._disarm()
        self.transport.write(
            _response(
                b"431 Request Header Fields Too Large",
                "RequestHeaderFieldsTooLarge",
                f"The request line and headers are over the {self._max_head}-byte limit",
            )
        )
        self.transport.close()


class _Drain:
    started = False


_drain = _Drain()


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before its shutdown, so that a proxy in front loses nothing
    when this process gets SIGTERM (docs/deploy.md).

    uvicorn alone stops listening, then closes idle keep-alive connections at once. A request the
    proxy writes onto such a connection in that instant is lost, and a proxy does not resend a
    POST it has sent. Here, after it stops listening (new connections are refused, and a proxy
    retries a refused connect elsewhere), requests arriving on open connections are still served,
    each answered with `Connection: close`; connections left idle are closed by the proxy itself
    once idle for its keep-alive time. Only after `drain_seconds` (the keep-alive time, which the
    proxy's must be below), or once no connection is left, does uvicorn's own shutdown run."""

    def __init__(self, config: uvicorn.Config, *, drain_seconds: float) -> None:
        super().__init__(config)
        self._drain_seconds = drain_seconds

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started or self.config.ssl is not None:
            return
        # The loop's own listeners accept one connection per turn of the loop under uvloop: the
        # same sockets, served by a listener that takes every waiting connection at once.
        config, state = self.config, self.server_state

        def protocol() -> asyncio.Protocol:
            # As uvicorn's startup makes them.
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )

        listeners: list[Any] = [
            EagerListener(take_over(server), protocol, config.backlog) for server in self.servers
        ]
        self.servers = listeners

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        _drain.started = True
        # Requests already begun are answered with `Connection: close` too, as uvicorn would.
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is not None and not cycle.response_complete:
                cycle.keep_alive = False
        deadline = time.monotonic() + self._drain_seconds
        while self.server_state.connections and not self.force_exit:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        await super().shutdown(sockets=[])


def serve(settings: Settings) -> None:
    # Worker processes build their app and protocol from the environment.
    os.environ["PATRON_DATABASE_URL"] = settings.database_url
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "http": GuardedHttpToolsProtocol,
        "log_config": log_config(settings.log_level),
        "log_level": settings.log_level,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections or None,
        "timeout_graceful_shutdown": 30,
    }
    if settings.workers == 1:
        # One process (what docs/deploy.md runs behind nginx): drains on SIGTERM.
        config = uvicorn.Config("patron.app:create_app", **options)
        DrainingServer(config, drain_seconds=settings.keep_alive_seconds).run()
        return
    uvicorn.run("patron.app:create_app", **options)
