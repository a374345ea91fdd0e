"""What every operation does around its handler: authenticate, pick the version, read the body,
render the result or the error. A keyed POST goes through api/idempotency.py."""

from __future__ import annotations

import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from patron.api.bodies import read_body
from patron.api.decoding import text_problem
from patron.api.errors import UnsupportedMediaType, error_response
from patron.api.idempotency import answer_once, idempotency_key
from patron.api.logfields import log_fields
from patron.api.state import Services
from patron.api.versions import VERSION_HEADER, ApiVersion, resolve
from patron.domain.accounts import Credential
from patron.domain.errors import Invalid, NotFound, PatronError, Unauthenticated, Unavailable
from patron.storage.routing import standby_reads


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated call: who makes it, in which version, against which services."""

    request: Request
    credential: Credential
    version: ApiVersion
    services: Services
    # The body when something read it before the handler (idempotency keys hash it): a request's
    # body can be read from the network only once.
    prefetched_body: bytes | None = None

    @property
    def account_id(self) -> str:
        return self.credential.account_id

    async def body(self) -> bytes:
        """The raw JSON body, refused when not JSON or over the size cap."""
        media = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise UnsupportedMediaType(
                "Send the request body as JSON: Content-Type: application/json"
            )
        body = self.prefetched_body
        if body is None:
            body = await read_body(self.request, self.services.settings.max_body_bytes)
        if not body.strip():
            raise Invalid("Request body is required")
        return body


def json_response(body: Any, status_code: int = 200) -> Response:
    return Response(
        msgspec.json.encode(body), status_code=status_code, media_type="application/json"
    )


def _basic_credentials(header: str | None) -> tuple[str, str]:
    if not header:
        raise Unauthenticated(
            "Missing credentials: send Authorization: Basic base64(clientId:secret)"
        )
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthenticated("Unsupported authorization scheme: use HTTP Basic")
    try:
        # What b64decode(validate=True) accepts, checked in C: it checks with a regular
        # expression, ~2 % of a GET by id's CPU. ValueError covers binascii.Error and the
        # non-ASCII text it refuses.
        decoded = binascii.a2b_base64(encoded.strip(), strict_mode=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthenticated("Malformed Basic credentials") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret or text_problem(decoded) is not None:
        raise Unauthenticated("Malformed Basic credentials: expected clientId:secret")
    return client_id, secret


# Where a request's credential is kept once authenticated, for the rest of its way in: a path
# that authenticated it (api/stored.py) and then hands it on must not count it twice against its
# rate limit. Only Patron's own middleware writes scope keys; a client cannot.
AUTHENTICATED = "patron.credential"


async def authenticate(
    header: str | None, host: str, fields: dict[str, Any], services: Services
) -> Credential:
    """The credential of an `Authorization` header, within its rate limit. Failures are answered
    slower and slower when one client keeps failing (api/throttle.py). `host` is the client's
    address, `fields` the request's access-log fields."""
    try:
        client_id, secret = _basic_credentials(header)
        credential = await services.credentials.authenticate(client_id, secret)
    except Unauthenticated:
        presented = _presented_client_id(header)
        await services.auth_failures.failed(
            f"ip:{host}", *([f"id:{presented}"] if presented else [])
        )
        raise
    services.auth_failures.succeeded(f"id:{credential.client_id}")
    fields["client_id"] = credential.client_id
    if services.rate_limiter is not None:
        services.rate_limiter.take(credential.client_id)
    return credential


async def _authenticate(request: Request, services: Services) -> Credential:
    known: Credential | None = request.scope.get(AUTHENTICATED)
    if known is not None:
        return known
    host = request.client.host if request.client else "unknown"
    return await authenticate(
        request.headers.get("authorization"), host, log_fields(request), services
    )


def _presented_client_id(header: str | None) -> str | None:
    try:
        return _basic_credentials(header)[0][:64]
    except Unauthenticated:
        return None


Handler = Callable[[Call], Awaitable[Response]]


async def _from_standby(call: Call, handler: Handler) -> Response:
    """A GET answered from the standby (PATRON_DATABASE_READ_URL); from the primary when the
    standby cannot answer. A GET writes nothing, so running it twice is harmless."""
    try:
        with standby_reads():
            return await handler(call)
    except Unavailable:
        return await handler(call)


def operation(operation_id: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running `handler` as the contract's `operation_id`."""

    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        version_name = None
        try:
            credential = await _authenticate(request, services)
            version = resolve(request.headers.get(VERSION_HEADER), credential.api_version)
            version_name = version.name
            if operation_id not in version.operations:
                raise NotFound(
                    f"{request.method} {request.url.path} does not exist in API version"
                    f" {version.name}"
                )
            if any(text_problem(str(v)) for v in request.path_params.values()):
                # No record's id holds a control character (and PostgreSQL cannot compare NUL).
                raise NotFound(f"No record at {request.url.path}")
            call = Call(request, credential, version, services)
            key = idempotency_key(request)
            if key is not None:
                response = await answer_once(call, key, handler)
            elif request.method == "GET" and services.settings.database_read_url:
                response = await _from_standby(call, handler)
            else:
                response = await handler(call)
        except PatronError as error:
            response = error_response(error)
        if version_name is not None and VERSION_HEADER not in response.headers:
            # A replayed answer keeps the version it was rendered in.
            response.headers[VERSION_HEADER] = version_name
        return response

    endpoint.__name__ = operation_id
    return endpoint
