"""GET /api/customers/{id} in the latest API version, answered from the stored document.

The yardstick of issue 5 (bench/yardstick.py) looks a pre-rendered document up and sends it;
rendering a customer per request (one statement with its collections, JSON decoding, domain
objects, wire structs, msgspec) costs several times that (docs/performance.md, "Session 4: GET
by id"). So the normal GET stores what it answers (`keep_document`, called by
`api.customers.get_customer`: one rendering path), and this layer, in front of the whole app
(`app.PatronApp`; the request id, the JSON 500 and the access line as `RequestContext` gives
them), answers the next GET of the customer with those bytes: authentication by the shared
`endpoint.authenticate` (its failure delay and rate limit included), one keyed read, the ETag and
`If-None-Match` by `api.conditional`, errors by `api.errors`. Migration 0010's triggers delete a
document in the transaction of any write that changes what it shows.

Everything else goes on to the normal path, unchanged: other methods and paths, another version
named by `Sequence-Version` (before authenticating) or pinned on the credential (after: the
credential is handed on in the scope, so it is not counted twice), an id with a control
character, and a customer without a stored document (which is how the normal path gets to store
one; another account's customer always ends there, as the normal path's 404).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from pathlib import Path

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

import patron
from patron.api.conditional import etag_of, none_match
from patron.api.decoding import text_problem
from patron.api.endpoint import AUTHENTICATED, Call, authenticate
from patron.api.errors import error_response
from patron.api.logfields import fields_of_scope
from patron.api.middleware import in_context, log_access, request_id_of
from patron.api.state import Services
from patron.api.versions import LATEST
from patron.domain.errors import PatronError, Unavailable
from patron.storage.database import LockTimeoutError
from patron.storage.routing import standby_reads

_PREFIX = "/api/customers/"
_VERSION = LATEST.name.encode()
_JSON = b"application/json"


def document_format() -> str:
    """A tag of the code that renders documents: Patron's source and msgspec's version. Any
    change to either (a new release, an edit) makes every stored document unknown to it, so it
    renders afresh; no one has to remember to invalidate anything."""
    digest = hashlib.sha256(msgspec.__version__.encode())
    root = Path(patron.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


async def keep_document(call: Call, customer_id: str, revision: int, body: bytes) -> None:
    """Store the GET answer `body` for the next GET. Best effort: a database that cannot take the
    write now (or a customer being written) only means the next GET renders again."""
    with contextlib.suppress(Unavailable, LockTimeoutError):
        await call.services.documents.keep(call.account_id, customer_id, revision, body)


class StoredCustomers:
    """In front of the whole app (`app.PatronApp`), ahead of Starlette's own layers and
    `RequestContext`: a GET it answers pays for none of them, each of which wraps `send`. What
    `RequestContext` adds to a response it adds itself (the request id, the access line); any
    answer but the stored document (an error, the logged 500) goes through `in_context`, the
    same code `RequestContext` runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            path: str = scope["path"]
            # Exactly what the router gives getCustomersById: a non-empty segment after
            # /api/customers/ (tests/api/test_stored_get.py checks the route table agrees).
            if path.startswith(_PREFIX):
                customer_id = path[len(_PREFIX) :]
                wanted = customer_id and "/" not in customer_id
                if wanted and await self._answer(scope, receive, send, customer_id):
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, customer_id: str) -> bool:
        """Answer from the stored document; False (and nothing sent) to leave it to the normal
        path."""
        began = time.perf_counter()
        authorization = asked = if_none_match = None
        given = b""
        for name, value in scope["headers"]:
            # The first of each, as Starlette's `Headers.get` reads them on the normal path.
            if name == b"authorization":
                authorization = authorization or value.decode("latin-1")
            elif name == b"sequence-version":
                asked = asked if asked is not None else value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = (
                    if_none_match if if_none_match is not None else value.decode("latin-1")
                )
            elif name == b"x-request-id":
                given = value  # the last, as `RequestContext` reads it
        if asked is not None and asked.strip() != LATEST.name:
            return False
        try:
            found = await self._found(scope, authorization, asked is None, customer_id)
        except Exception as error:
            await in_context(_answering(error), scope, receive, send, began=began)
            return True
        if found is None:
            return False
        revision, body = found
        request_id = request_id_of(given)
        tag = etag_of(revision, LATEST.name)
        status = 200
        try:
            if none_match(if_none_match, tag):
                status = 304
                headers = [
                    (b"etag", tag.encode()),
                    (b"sequence-version", _VERSION),
                    (b"x-request-id", request_id.encode()),
                ]
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return True
            headers = [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", _JSON),
                (b"etag", tag.encode()),
                (b"sequence-version", _VERSION),
                (b"x-request-id", request_id.encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return True
        finally:
            log_access(scope, request_id, status, began)

    async def _found(
        self, scope: Scope, authorization: str | None, unversioned: bool, customer_id: str
    ) -> tuple[int, bytes] | None:
        """The stored document and its revision after authenticating, None to leave the request
        to the normal path."""
        services: Services = scope["app"].state.services
        client = scope.get("client")
        credential = await authenticate(
            authorization, client[0] if client else "unknown", fields_of_scope(scope), services
        )
        scope[AUTHENTICATED] = credential
        pinned = credential.api_version
        if unversioned and pinned is not None and pinned.strip() != LATEST.name:
            return None
        if text_problem(customer_id) is not None:
            return None
        return await self._stored(services, credential.account_id, customer_id)

    @staticmethod
    async def _stored(
        services: Services, account_id: str, customer_id: str
    ) -> tuple[int, bytes] | None:
        if not services.settings.database_read_url:
            return await services.documents.stored(account_id, customer_id)
        # As endpoint._from_standby: the standby when it answers, else the primary.
        try:
            with standby_reads():
                return await services.documents.stored(account_id, customer_id)
        except Unavailable:
            return await services.documents.stored(account_id, customer_id)


def _answering(error: Exception) -> ASGIApp:
    """What `in_context` runs for an error met before answering: the error's own response, or
    the error again, which it logs and answers with the 500."""
    if isinstance(error, PatronError):
        return error_response(error)

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise error

    return failing
