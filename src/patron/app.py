"""The composition root: settings → database → store → services → HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from patron.api.cursors import CursorCodec
from patron.api.endpoint import json_response
from patron.api.errors import MethodNotAllowed, error_response
from patron.api.health import healthz, readyz
from patron.api.hotpaths import HOT_OPERATIONS, HotPaths
from patron.api.middleware import RequestContext
from patron.api.openapi import document
from patron.api.routes import allowed_methods, api_routes
from patron.api.state import Services
from patron.api.stored import StoredCustomers, document_format
from patron.api.throttle import FailedAuthDelay, RateLimiter
from patron.api.wire.snapshots import WireSnapshots
from patron.config import Settings
from patron.domain.errors import NotFound, PatronError
from patron.services.aliases import AliasService
from patron.services.contacts import ContactService
from patron.services.credentials import CredentialService
from patron.services.customers import CustomerService
from patron.services.dispatcher import Dispatcher, DispatchSettings
from patron.services.documents import CustomerDocuments
from patron.services.events import EventService
from patron.services.health import Health
from patron.services.history import History
from patron.services.idempotency import IdempotencyService
from patron.services.notifications import NotificationService
from patron.services.organizations import OrganizationService
from patron.services.payment_settings import PaymentSettingsService
from patron.storage import open_database
from patron.storage.accounts import AccountStore
from patron.storage.database import Database
from patron.storage.queue import DeliveryQueue
from patron.storage.unit import Store
from patron.webhook_sender import HttpSender

# Expired keys are only dead weight (a request ignores them), so a slow, steady purge is enough.
IDEMPOTENCY_PURGE_SECONDS = 60.0


async def connect(
    settings: Settings,
    url: str,
    *,
    pool_min: int | None = None,
    pool_max: int | None = None,
    bounded: bool = True,
) -> Database:
    """A database at `url` with the settings' pool size, timeouts and statement cache.
    `bounded=False` lifts the statement timeout, for commands whose statements may run long
    (an import's COPY)."""
    return await open_database(
        url,
        pool_min=settings.pool_min if pool_min is None else pool_min,
        pool_max=settings.pool_max if pool_max is None else pool_max,
        connect_timeout=settings.database_connect_timeout_seconds,
        command_timeout=(settings.database_command_timeout_seconds or None) if bounded else None,
        statement_cache_size=settings.database_statement_cache_size,
    )


async def build_services(
    settings: Settings, *, password_hasher: PasswordHasher | None = None
) -> tuple[Services, Store]:
    """`password_hasher` overrides Argon2's default cost (the test suite makes it cheap). The
    databases are closed by `close_databases`."""
    db = await connect(settings, settings.database_url)
    standby = None
    if settings.database_read_url:
        # No connection at start: a standby that is down must not keep the API from serving.
        standby = await connect(settings, settings.database_read_url, pool_min=0)
    accounts = AccountStore(db)
    store = Store(db, standby)
    history = History(WireSnapshots())
    services = Services(
        settings=settings,
        credentials=CredentialService(
            accounts, cache_seconds=settings.auth_cache_seconds, hasher=password_hasher
        ),
        customers=CustomerService(store, history),
        cursors=CursorCodec(await accounts.instance_secret("cursor_key")),
        organizations=OrganizationService(store, history),
        payment_settings=PaymentSettingsService(store, history),
        contacts=ContactService(store, history),
        aliases=AliasService(store, history),
        events=EventService(store),
        notifications=NotificationService(store, deny_private=settings.webhook_deny_private),
        delivery_queue=DeliveryQueue(db),
        health=Health(db),
        documents=CustomerDocuments(store, document_format()),
        idempotency=IdempotencyService(
            store,
            ttl_seconds=settings.idempotency_ttl_seconds,
            wait_seconds=settings.idempotency_wait_seconds,
        ),
        rate_limiter=RateLimiter(settings.rate_limit_per_minute)
        if settings.rate_limit_per_minute > 0
        else None,
        auth_failures=FailedAuthDelay(max_seconds=settings.auth_failure_delay_max_seconds),
    )
    return services, store


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: PatronError
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if not allowed:
            # The path exists only in other API versions.
            return error_response(
                NotFound(f"No such endpoint: {request.method} {request.url.path}")
            )
        headers["Allow"] = ", ".join(allowed)
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    elif exc.status_code == 404:
        error = NotFound(f"No such endpoint: {request.method} {request.url.path}")
    else:
        error = PatronError(str(exc.detail))
    response = error_response(error)
    response.status_code = exc.status_code
    response.headers.update(headers)
    return response


def dispatch_settings(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        timeout_seconds=settings.webhook_timeout_seconds,
        backoff_base_seconds=settings.webhook_backoff_base_seconds,
        backoff_max_seconds=settings.webhook_backoff_max_seconds,
        retry_seconds=settings.webhook_retry_seconds,
        poll_seconds=settings.webhook_poll_seconds,
        concurrency=settings.webhook_concurrency,
    )


@asynccontextmanager
async def delivering(settings: Settings, queue: DeliveryQueue) -> AsyncIterator[Dispatcher]:
    """A webhook dispatcher running in the background for as long as the block lasts."""
    sender = HttpSender(
        timeout_seconds=settings.webhook_timeout_seconds,
        deny_private=settings.webhook_deny_private,
    )
    dispatcher = Dispatcher(queue, sender, dispatch_settings(settings))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop), name="webhook-dispatcher")
    try:
        yield dispatcher
    finally:
        stop.set()
        # An attempt in flight is given its timeout to finish; if cut short, its claim's lease
        # ends and it is sent again (at least once).
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=settings.webhook_timeout_seconds + 1)
        await sender.close()


@asynccontextmanager
async def _housekeeping(services: Services) -> AsyncIterator[None]:
    """Background work for as long as the app serves: purging expired idempotency keys, and
    delivering webhooks unless a separate `patron worker` does (PATRON_WEBHOOK_DISPATCHER)."""
    purger = asyncio.create_task(
        services.idempotency.purge_periodically(IDEMPOTENCY_PURGE_SECONDS), name="purge-keys"
    )
    try:
        async with contextlib.AsyncExitStack() as stack:
            if services.settings.webhook_dispatcher:
                await stack.enter_async_context(
                    delivering(services.settings, services.delivery_queue)
                )
            yield
    finally:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger


async def _openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)


def _settle_heap() -> None:
    """Make the cyclic garbage collector cheap for a serving process. Measured under a create
    load (docs/performance.md, "Session 5"), it took ~10 % of the worker's CPU: the default
    threshold (700 allocations) ran a young collection every few requests, each walking every
    in-flight request's objects, and each full collection walked the ~90,000 objects of the
    loaded code. Those are moved out of its sight (`gc.freeze`), and young collections run a
    tenth as often. Requests free almost everything by reference counting; only cyclic garbage
    waits longer. Start-up's own garbage is collected first, or it would be kept for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(7_000, 10, 10)


class PatronApp(Starlette):
    """Starlette with GET-by-id from stored documents (api/stored.py) in front of everything,
    its own middleware included: the hottest request, kept from layers it does not need."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stored = StoredCustomers(super().__call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await self._stored(scope, receive, send)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> PatronApp:
    """The ASGI app. Given `services`, it uses them (tests); otherwise it opens the database
    named by `settings` on startup and closes it on shutdown."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            async with _housekeeping(services):
                yield
            return
        built, store = await build_services(settings)
        app.state.services = built
        _settle_heap()
        try:
            async with _housekeeping(built):
                yield
        finally:
            await store.close()

    api = Mount("/api", routes=api_routes())
    app = PatronApp(
        routes=[
            Route("/api/openapi.json", _openapi, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            api,
        ],
        middleware=[
            Middleware(RequestContext),
            Middleware(HotPaths, mount=api, operations=HOT_OPERATIONS),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.openapi = document()
    if services is not None:
        app.state.services = services
    return app
