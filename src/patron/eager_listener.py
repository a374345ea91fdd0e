"""A listener that takes every waiting connection each time its socket is readable.

uvicorn runs on uvloop, whose libuv (1.45 on, libuv pull request #3696) accepts one connection
per turn of the event loop. On a server busy with requests a turn lasts as long as the requests
ready in it (15 to 25 ms at full load on SQLite), so 32 clients connecting at once waited up to
~0.4 s for the last of them to be taken (docs/performance.md, "Session 8: the SQLite list
tail"). This one accepts up to the backlog at once, as asyncio's own loop does, and hands each
connection to the loop with `connect_accepted_socket`: the same transports and protocols as the
loop's own server.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Sequence

log = logging.getLogger("patron.server")

# What accept() says when the process or the system is out of descriptors or memory: the socket
# stays readable, so accepting again at once would spin. asyncio waits a second as well.
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_RETRY_SECONDS = 1.0


class EagerListener:
    """Serves `protocol_factory` on the listening `sockets` (which it owns from now on); has the
    part of `asyncio.Server` that uvicorn's shutdown uses."""

    def __init__(
        self,
        sockets: Sequence[socket.socket],
        protocol_factory: Callable[[], asyncio.Protocol],
        backlog: int,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._factory = protocol_factory
        self._backlog = backlog
        self.sockets = list(sockets)
        self._closed = False
        self._connecting: set[asyncio.Task[None]] = set()
        for sock in self.sockets:
            sock.setblocking(False)
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(self._backlog):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                log.error("cannot accept connections now, retrying in 1 s: %s", exc)
                self._loop.remove_reader(sock.fileno())
                self._loop.call_later(_RETRY_SECONDS, self._resume, sock)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._connect(conn))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    def _resume(self, sock: socket.socket) -> None:
        if not self._closed:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            # The transport owns the socket from here, and closes it.
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:
            conn.close()  # the client left before the transport was set up

    def is_serving(self) -> bool:
        return not self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()

    async def wait_closed(self) -> None:
        return None


def take_over(server: asyncio.AbstractServer) -> list[socket.socket]:
    """The listening sockets of a server the loop made, as sockets of their own, and that
    server closed: the sockets keep listening (and the connections waiting in them) through
    the duplicated descriptors."""
    sockets = [
        socket.socket(fileno=socket.dup(s.fileno())) for s in getattr(server, "sockets", None) or ()
    ]
    server.close()
    return sockets
