"""The one table from error to HTTP status, and the envelope every error is answered in:
`{"error": {"type": ..., "message": ..., "errors": [{"field": ..., "message": ...}]}}`."""

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


class ErrorEnvelope(msgspec.Struct):
    error: ErrorBody


def envelope(error_type: str, message: str, errors: list[FieldErrorOut] | None = None) -> bytes:
    return msgspec.json.encode(ErrorEnvelope(ErrorBody(error_type, message, errors)))


def error_response(error: PatronError, headers: dict[str, str] | None = None) -> Response:
    field_errors = None
    if isinstance(error, Invalid) and error.errors:
        field_errors = [FieldErrorOut(e.field, e.message) for e in error.errors]
    headers = dict(headers or {})
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Basic realm="patron", charset="UTF-8"'
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    return Response(
        envelope(error.type, error.message, field_errors),
        status_code=status_of(error),
        media_type="application/json",
        headers=headers,
    )
