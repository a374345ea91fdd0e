"""`Idempotency-Key` on every POST: the HTTP side of `services.idempotency`.

`endpoint.operation` sends every POST that carries the header here instead of straight to its
handler, so each create and action gets the behaviour without any handler knowing of it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from patron.api.bodies import read_body
from patron.api.errors import error_response
from patron.api.versions import VERSION_HEADER
from patron.domain.errors import PatronError
from patron.domain.idempotency import (
    KEY_HEADER,
    IdempotencyKeyInUse,
    RequestPrint,
    StoredResponse,
    check_key,
)

if TYPE_CHECKING:
    from patron.api.endpoint import Call, Handler

REPLAYED_HEADER = "Idempotent-Replayed"
# Computed per response by Starlette; replays compute their own.
_UNSTORED_HEADERS = frozenset({"content-length"})


def idempotency_key(request: Request) -> str | None:
    """The key of a POST that sent one. Other methods are idempotent by definition: ignored."""
    if request.method != "POST":
        return None
    return request.headers.get(KEY_HEADER)


async def answer_once(call: Call, key: str, handler: Handler) -> Response:
    """Run `handler` for the first request with `key`; answer its repeats with its answer.

    Only successful answers are kept. An error answer (4xx) rolls the key back with the rest of
    the transaction, so a retry (the same request or a corrected one) runs afresh. A crash (5xx)
    rolls everything back too."""
    check_key(key)
    body = await read_body(call.request, call.services.settings.max_body_bytes)
    call = dataclasses.replace(call, prefetched_body=body)
    request = RequestPrint.of(call.request.method, _target(call.request), body)
    try:
        async with call.services.idempotency.once(call.account_id, key, request) as claim:
            if claim.replay is not None:
                return _replayed(claim.replay)
            try:
                response = await handler(call)
            except PatronError as error:
                return error_response(error)
            if response.status_code < 400:
                claim.keep(_stored(response, call.version.name))
            return response
    except IdempotencyKeyInUse as error:
        return error_response(error)


def _target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _stored(response: Response, version: str) -> StoredResponse:
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        # A streamed answer cannot be kept; failing here rolls the operation back with the key.
        raise TypeError(f"{type(response).__name__} cannot be replayed: answer keyed POSTs whole")
    headers = [(k, v) for k, v in response.headers.items() if k not in _UNSTORED_HEADERS]
    return StoredResponse(response.status_code, body, headers, version)


def _replayed(stored: StoredResponse) -> Response:
    response = Response(stored.body, status_code=stored.status)
    for name, value in stored.headers:
        response.headers.append(name, value)
    response.headers[VERSION_HEADER] = stored.version
    response.headers[REPLAYED_HEADER] = "true"
    return response
