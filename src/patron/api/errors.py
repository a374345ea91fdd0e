"""The one table from error to HTTP status, and the envelope every error is answered in:
`{"error": {"type": ..., "message": ..., "errors": [{"field": ..., "message": ...}]}}`; an answer
to retry later (429, 503) also says when, as `retryAfter` (seconds) and in `Retry-After`."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from patron.api.throttle import RateLimited
from patron.api.versions import UnrecognisedApiVersion
from patron.domain.errors import (
    Conflict,
    Invalid,
    NotFound,
    PatronError,
    PreconditionFailed,
    Unauthenticated,
    Unavailable,
)


class PayloadTooLarge(PatronError):
    type = "PayloadTooLarge"


class UnsupportedMediaType(PatronError):
    type = "UnsupportedMediaType"


class MethodNotAllowed(PatronError):
    type = "MethodNotAllowed"


class RequestTimeout(PatronError):
    type = "RequestTimeout"


STATUS: dict[type[PatronError], int] = {
    Invalid: 400,
    UnrecognisedApiVersion: 400,
    Unauthenticated: 401,
    NotFound: 404,
    MethodNotAllowed: 405,
    RequestTimeout: 408,
    Conflict: 409,
    PreconditionFailed: 412,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    RateLimited: 429,
    Unavailable: 503,
}


def status_of(error: PatronError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


class FieldErrorOut(msgspec.Struct):
    field: str
    message: str


class ErrorBody(msgspec.Struct, omit_defaults=True):
    type: str
    message: str
    errors: list[FieldErrorOut] | None = None
    retryAfter: int | None = None  # noqa: N815 (the wire's name)


class ErrorEnvelope(msgspec.Struct):
    error: ErrorBody


def envelope(
    error_type: str,
    message: str,
    errors: list[FieldErrorOut] | None = None,
    *,
    retry_after: int | None = None,
) -> bytes:
    return msgspec.json.encode(ErrorEnvelope(ErrorBody(error_type, message, errors, retry_after)))


def retry_after_of(error: PatronError) -> int | None:
    """Seconds to wait before trying again, for the errors worth retrying as they are (those with
    a `retry_after`: rate limited, key in use, database unavailable)."""
    seconds = getattr(error, "retry_after", None)
    return None if seconds is None else int(seconds)


def error_response(error: PatronError, headers: dict[str, str] | None = None) -> Response:
    field_errors = None
    if isinstance(error, Invalid) and error.errors:
        field_errors = [FieldErrorOut(e.field, e.message) for e in error.errors]
    headers = dict(headers or {})
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Basic realm="patron", charset="UTF-8"'
    retry_after = retry_after_of(error)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(
        envelope(error.type, error.message, field_errors, retry_after=retry_after),
        status_code=status_of(error),
        media_type="application/json",
        headers=headers,
    )
