"""Outermost layer: a request id on every response, the version header on every response, any
unexpected error turned into a logged 500 that reveals nothing, and one JSON access log line per
request (patron.logs)."""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.api.errors import envelope
from patron.api.logfields import fields_of_scope
from patron.api.versions import LATEST, VERSIONS
from patron.domain.errors import Unavailable

log = logging.getLogger("patron.api")
access = logging.getLogger("patron.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        # 128 random bits as 32 hex digits, as uuid4().hex gave, at a fifth of its cost.
        request_id = given if given and _REQUEST_ID.match(given) else os.urandom(16).hex()
        asked = headers.get(b"sequence-version", b"").decode("latin-1").strip()
        default_version = asked if asked in VERSIONS else LATEST.name
        started = False
        status = 500
        began = time.perf_counter()
        fields = fields_of_scope(scope)

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
            await self.app(scope, receive, send_with_context)
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
                f"Something went wrong on our side. Quote request id {request_id} when reporting"
                " it.",
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            if access.isEnabledFor(logging.INFO):
                self._log(scope, request_id, status, began, fields)

    @staticmethod
    def _log(
        scope: Scope, request_id: str, status: int, began: float, fields: dict[str, object]
    ) -> None:
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
