"""A shorter way in for the hottest operations (GET a customer, list customers, create and
replace a customer).

Starlette routes every request through its exception middleware, the router, the mount and the
route's request/response wrapper; each layer wraps `send` and costs a few microseconds, which is a
noticeable share of a GET that the database answers in well under 100 µs (docs/performance.md),
and of the server's work for a create. This middleware sits inside `RequestContext` (so request
ids, the version header, the JSON 500 and the access line are unchanged) and, for the listed
operations only, finds the route exactly as Starlette's router would (the mount, then the first
route that fully matches, in order) and calls that route's own endpoint: the same
`operation(...)` code path, without the layers. Anything else, including a path whose first full
match is another operation, goes through Starlette as before.

What the layers add is the answer to an `HTTPException` (the app's handler, `_http_error`); any
other exception goes through them unchanged, up to `RequestContext`. The listed endpoints raise
none: domain errors are answered by `operation` itself, and reading a body raises only
`ClientDisconnect`, which `read_body` turns into one; Starlette raises `HTTPException` only when
parsing a form, which Patron never does. A HEAD goes through Starlette as before: nothing to gain
there.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.requests import Request
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

HOT_OPERATIONS = frozenset(
    {"getCustomersById", "getCustomers", "postCustomers", "putCustomersById"}
)


class HotPaths:
    def __init__(self, app: ASGIApp, mount: Mount, operations: Collection[str]) -> None:
        self.app = app
        self.mount = mount
        self.operations = frozenset(operations)
        self.prefix = mount.path + "/"
        self.methods = frozenset(
            method
            for route in mount.routes
            if isinstance(route, Route) and route.name in self.operations
            for method in route.methods or ()
            if method != "HEAD"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in self.methods
            and scope["path"].startswith(self.prefix)
        ):
            route, child = self._route(scope)
            if route is not None:
                # Into the scope itself, as Starlette's router does: what the endpoint records
                # in it (the access line's client id, api/logfields.py) reaches RequestContext.
                scope.update(child)
                response = await route.endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _route(self, scope: Scope) -> tuple[Route | None, Scope]:
        """The route Starlette would run for `scope` when it is a listed operation's."""
        match, child = self.mount.matches(scope)
        if match is not Match.FULL:
            return None, scope
        inner = {**scope, **child}
        for route in self.mount.routes:
            match, child = route.matches(inner)
            if match is Match.FULL:
                if isinstance(route, Route) and route.name in self.operations:
                    inner.update(child)
                    return route, inner
                return None, scope
        return None, scope
