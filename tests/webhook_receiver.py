"""A real HTTP webhook receiver on 127.0.0.1 for tests, and independent signature checks.

It answers only its own path (a random token), so a stale delivery from another test that happens
to reach a reused port is refused and never counted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """Records every POST to its URL and answers `status` (a callable may decide per request).
    `hold()` makes requests wait until `release()`; `stop()` and `start()` take it down and up
    again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.path = f"/hook/{uuid.uuid4().hex}"
        self.received: list[Received] = []
        self.status: int | Callable[[Received], int] = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        self._gate = threading.Event()
        self._gate.set()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != receiver.path:
                    self.send_response(410)
                    self.end_headers()
                    return
                got = Received({k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.received.append(got)
                receiver._gate.wait(timeout=60)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                code = status(got) if callable(status) else status
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> Receiver:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    async def until(self, check: Callable[[list[Received]], bool], timeout: float = 20) -> None:
        """`wait_until` for tests whose event loop runs the dispatcher: it keeps running."""
        deadline = time.monotonic() + timeout
        while not check(self.snapshot()):
            if time.monotonic() > deadline:
                got = [(r.webhook_id, r.json["notificationType"]) for r in self.snapshot()]
                raise AssertionError(f"receiver did not get what was expected in time: {got}")
            await asyncio.sleep(0.02)

    def wait_until(self, check: Callable[[list[Received]], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.snapshot()):
            if time.monotonic() > deadline:
                got = [(r.webhook_id, r.json["notificationType"]) for r in self.snapshot()]
                raise AssertionError(f"receiver did not get what was expected in time: {got}")
            time.sleep(0.02)


# -- verification, written from the two specifications, not from Patron's code ------------------


def verify_sequence(secret: str, received: Received) -> bool:
    """`Sequence-Signature: t=<unix ms>,s=<hex HMAC-SHA256 of "t.body" keyed with the secret>`."""
    parts = dict(p.split("=", 1) for p in received.headers["sequence-signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["s"])


def verify_standard(secret: str, received: Received, tolerance: float = 300) -> bool:
    """Standard Webhooks: key = base64 after `whsec_`; signed `id.timestamp.body`; header holds
    space-separated `v1,<base64>` signatures; the timestamp is Unix seconds, recent."""
    msg_id = received.headers["webhook-id"]
    timestamp = received.headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{msg_id}.{timestamp}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in received.headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False
