"""Outermost layer: a request id on every response, the version header on every response, any
unexpected error turned into a logged 500 that reveals nothing, and one JSON access log line per
request (patron.logs)."""

from __future__ import annotations

import logging
import re
import time
from random import getrandbits

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.api.errors import envelope
from patron.api.logfields import fields_of_scope
from patron.api.versions import LATEST, VERSIONS
from patron.domain.errors import Unavailable

log = logging.getLogger("patron.api")
access = logging.getLogger("patron.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_of(given: bytes) -> str:
    """The request's id: the client's `X-Request-Id` when it is a sane token, else a new one."""
    text = given.decode("latin-1")
    # 128 random bits as 32 hex digits, as uuid4().hex gave. An id names a request in the logs;
    # it guards nothing, so Python's own generator (reseeded in a forked worker) serves: the
    # system's costs a system call on every request (docs/performance.md, Session 9).
    return text if text and _REQUEST_ID.match(text) else f"{getrandbits(128):032x}"


def log_access(scope: Scope, request_id: str, status: int, began: float) -> None:
    """The request's access line, when the access logger is on."""
    if not access.isEnabledFor(logging.INFO):
        return
    fields = fields_of_scope(scope)
    access.info(
        "request",
        extra={
            "request_id": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - began) * 1000, 3),
            "client_id": fields.get("client_id"),
            "client": scope["client"][0] if scope.get("client") else None,
        },
    )


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await in_context(self.app, scope, receive, send, began=time.perf_counter())


async def in_context(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, began: float
) -> None:
    """Run `app` for the HTTP request `scope` as this layer does; `began` is when the request
    came in (api/stored.py calls this for the requests it does not answer itself)."""
    headers = dict(scope["headers"])
    request_id = request_id_of(headers.get(b"x-request-id", b""))
    asked = headers.get(b"sequence-version", b"").decode("latin-1").strip()
    default_version = asked if asked in VERSIONS else LATEST.name
    started = False
    status = 500

    async def send_with_context(message: Message) -> None:
        nonlocal started, status
        if message["type"] == "http.response.start":
            started = True
            status = message["status"]
            out = list(message.get("headers", []))
            versioned = any(name.lower() == b"sequence-version" for name, _ in out)
            out.append((b"x-request-id", request_id.encode()))
            if not versioned:
                out.append((b"sequence-version", default_version.encode()))
            message = {**message, "headers": out}
        await send(message)

    try:
        await app(scope, receive, send_with_context)
    except Unavailable as error:
        # Operations answer it themselves; this catches it anywhere else (never a 500).
        if started:
            raise
        retry = str(error.retry_after).encode()
        await send_with_context(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", retry)],
            }
        )
        body = envelope(error.type, error.message, retry_after=error.retry_after)
        await send({"type": "http.response.body", "body": body})
    except Exception:
        log.exception(
            "unhandled error, request id %s", request_id, extra={"request_id": request_id}
        )
        if started:
            raise
        await send_with_context(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        body = envelope(
            "InternalServerError",
            f"Something went wrong on our side. Quote request id {request_id} when reporting it.",
        )
        await send({"type": "http.response.body", "body": body})
    finally:
        log_access(scope, request_id, status, began)
