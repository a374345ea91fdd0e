"""Reading a request body under the size cap."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from patron.api.errors import PayloadTooLarge, RequestTimeout


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body as sent (possibly empty), refused with 413 once it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"Request body is over the {limit}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect as exc:
        # The client went away, or the server closed a body that was too slow to arrive.
        raise RequestTimeout("The request body did not arrive in time") from exc
    return b"".join(chunks)
