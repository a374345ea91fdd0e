"""api/hotpaths.py: the operations it lists answer the same through its shorter way as through
Starlette's layers, errors included; the same requests are sent to an app built without it."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from patron import app as app_module
from patron.api.hotpaths import HotPaths
from patron.api.state import Services
from patron.app import create_app
from tests.api.errors import MISSING_ID
from tests.conftest import auth_header
from tests.factories import contact, customer_body

# What differs between two creates of the same body: ids, times, request ids, revision tags.
_VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT[\d:.]+Z"
)
_HEADERS = ("content-type", "content-length", "etag", "sequence-version", "location", "allow")


async def _answers(client: httpx.AsyncClient, body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each request's status, headers and body, with what varies between runs masked."""
    raw = json.dumps(body)
    created = await client.post("/customers", content=raw)
    path = f"/customers/{created.json()['id']}"
    requests: list[tuple[str, str, str | bytes | None, dict[str, str]]] = [
        ("POST", "/customers", raw, {}),
        ("POST", "/customers", raw, {"Idempotency-Key": "k1"}),
        ("POST", "/customers", raw, {"Idempotency-Key": "k1"}),
        ("POST", "/customers", raw, {"Sequence-Version": "2024-01-01"}),
        ("POST", "/customers", "{not json", {}),
        ("POST", "/customers", raw[:-1] + ', "legalName": "B"}', {}),
        ("POST", "/customers", raw.replace("Ltd", "Ltd\\u0007"), {}),
        ("POST", "/customers", "", {}),
        ("POST", "/customers", raw, {"Content-Type": "text/plain"}),
        ("POST", "/customers", b" " * (1024 * 1024 + 1), {}),
        ("POST", "/customers", raw, {"Authorization": "Basic eDp5"}),
        ("POST", "/customers/", raw, {}),
        ("PATCH", "/customers", raw, {}),
        ("PUT", path, raw, {}),
        ("PUT", path, raw, {"If-Match": '"99.2024-07-30"'}),
        ("PUT", path, json.dumps({**body, "taxStatus": "TAX_EXEMPT"}), {"If-Match": "*"}),
        ("PUT", f"/customers/{MISSING_ID}", raw, {}),
        ("PUT", "/customers/%00", raw, {}),
        ("PUT", path, "[1]", {}),
        ("GET", path, None, {}),
        ("GET", "/customers?legalName=nobody", None, {}),
        ("HEAD", path, None, {}),
    ]
    answers: list[tuple[Any, ...]] = []
    for method, target, content, headers in requests:
        response = await client.request(method, target, content=content, headers=headers)
        shown = json.dumps({name: response.headers.get(name) for name in _HEADERS})
        answer = (method, target, response.status_code, shown, response.text)
        answers.append(tuple(_VARYING.sub("…", str(part)) for part in answer))
    return answers


@pytest.fixture
async def plain_app(services: Services, monkeypatch: pytest.MonkeyPatch) -> Starlette:
    """The app without the shorter way: every request through Starlette's layers."""
    monkeypatch.setattr(app_module, "HOT_OPERATIONS", frozenset())
    return create_app(services.settings, services=services)


@pytest.fixture
async def hot_routes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations the shorter way ran."""
    taken: list[str] = []
    route_of = HotPaths._route

    def recorded(self: HotPaths, scope: dict[str, Any]) -> Any:
        route, child = route_of(self, scope)
        if route is not None:
            taken.append(route.name)
        return route, child

    monkeypatch.setattr(HotPaths, "_route", recorded)
    return taken


async def _client(app: Starlette, headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver/api", headers=headers
    ) as client:
        yield client


def _access_lines(records: list[logging.LogRecord], client_id: str) -> list[tuple[Any, ...]]:
    """The access lines' fields, with the client id told only as this client's or not."""
    return [
        (r.method, _VARYING.sub("…", r.path), r.status, r.client_id == client_id)  # type: ignore[attr-defined]
        for r in records
        if r.name == "patron.access"
    ]


class TestHotPaths:
    async def test_answers_and_logs_as_starlettes_layers_do(
        self,
        app: Starlette,
        plain_app: Starlette,
        services: Services,
        hot_routes: list[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.INFO, logger="patron.access")
        body = customer_body(contacts=[contact(), contact(billingPreference="NONE")])
        found: list[list[tuple[Any, ...]]] = []
        logged: list[list[tuple[Any, ...]]] = []
        for served in (app, plain_app):
            issued = await services.credentials.create(f"hot-{len(found)}")
            headers = {**auth_header(issued), "Content-Type": "application/json"}
            caplog.clear()
            async for client in _client(served, headers):
                found.append(await _answers(client, body))
            logged.append(_access_lines(caplog.records, issued.credential.client_id))
            if served is app:
                assert {"postCustomers", "putCustomersById"} <= set(hot_routes)
                hot_routes.clear()
        assert hot_routes == []
        assert found[0] == found[1]
        assert logged[0] == logged[1]
        assert ("POST", "/api/customers", 201, True) in logged[0]
