"""Sequence's conventions through HTTP: authentication, versioning, error envelope, request ids."""

from __future__ import annotations

import base64
import dataclasses
import re

import httpx
import pytest
from starlette.applications import Starlette

from patron.api.routes import OPERATIONS
from patron.api.state import Services
from patron.api.throttle import FailedAuthDelay
from patron.api.versions import LATEST
from patron.app import create_app
from patron.domain.errors import PatronError
from tests.factories import customer_body, make_customer

pytestmark = pytest.mark.asyncio


def bare_client(app: Starlette, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver/api", headers=headers
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def assert_envelope(response: httpx.Response, status: int, error_type: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


class TestAuthentication:
    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "",
            "Bearer abc",
            "Basic",
            "Basic !!!not-base64!!!",
            "Basic " + base64.b64encode(b"no-colon").decode(),
            "Basic " + base64.b64encode(b":secret-only").decode(),
            "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        ],
    )
    async def test_missing_or_malformed_credentials(
        self, app: Starlette, authorization: str | None
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        async with bare_client(app, **headers) as anonymous:
            response = await anonymous.get("/customers")
        assert_envelope(response, 401, "Unauthorized")
        assert response.headers["www-authenticate"].startswith("Basic")

    async def test_wrong_secret_and_unknown_client(
        self, app: Starlette, client: httpx.AsyncClient
    ) -> None:
        client_id = client.issued.credential.client_id  # type: ignore[attr-defined]
        for header in (basic(client_id, "wrong"), basic("unknown-client", "secret")):
            async with bare_client(app, Authorization=header) as anonymous:
                assert_envelope(await anonymous.get("/customers"), 401, "Unauthorized")

    async def test_a_wrong_secret_fails_after_the_right_one_was_cached(
        self, app: Starlette, client: httpx.AsyncClient
    ) -> None:
        assert (await client.get("/customers")).status_code == 200
        client_id = client.issued.credential.client_id  # type: ignore[attr-defined]
        async with bare_client(app, Authorization=basic(client_id, "wrong")) as anonymous:
            assert_envelope(await anonymous.get("/customers"), 401, "Unauthorized")

    async def test_revoked_credentials(
        self, app: Starlette, services: Services, client: httpx.AsyncClient
    ) -> None:
        assert (await client.get("/customers")).status_code == 200
        await services.credentials.revoke(client.issued.credential.client_id)  # type: ignore[attr-defined]
        assert_envelope(await client.get("/customers"), 401, "Unauthorized")

    async def test_every_operation_requires_credentials(self, services: Services) -> None:
        # Dozens of failures in a row from one client: without the slow-down, which
        # test_abuse_limits.py covers.
        patient = dataclasses.replace(services, auth_failures=FailedAuthDelay(max_seconds=0))
        app = create_app(services.settings, services=patient)
        async with bare_client(app) as anonymous:
            for op in OPERATIONS:
                path = op.path.replace("{", "").replace("}", "")
                response = await anonymous.request(op.method, path, json={})
                assert_envelope(response, 401, "Unauthorized")

    async def test_secrets_are_stored_only_hashed(
        self, services: Services, client: httpx.AsyncClient
    ) -> None:
        issued = client.issued  # type: ignore[attr-defined]
        async with services.customers._store.db.read() as conn:
            stored = await conn.fetchval(
                "SELECT secret_hash FROM credentials WHERE client_id = $1",
                issued.credential.client_id,
            )
        assert issued.client_secret not in stored
        assert stored.startswith("$argon2id$")


class TestVersioning:
    async def test_absent_header_means_the_latest(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/customers")
        assert response.headers["sequence-version"] == "2024-07-30"

    async def test_known_header_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/customers", headers={"sequence-version": "2024-07-30"})
        assert response.status_code == 200
        assert response.headers["sequence-version"] == "2024-07-30"

    @pytest.mark.parametrize("version", ["2023-01-01", "latest", "", "2024-07-30x"])
    async def test_unknown_version(self, client: httpx.AsyncClient, version: str) -> None:
        response = await client.get("/customers", headers={"Sequence-Version": version})
        assert_envelope(response, 400, "UnrecognisedApiVersion")
        assert response.json()["error"]["message"] == (
            "No matching API version found. Please make sure the specified API version is valid."
        )
        assert "sequence-version" in response.headers

    async def test_errors_carry_the_version_too(self, client: httpx.AsyncClient) -> None:
        for response in (
            await client.get("/customers/missing"),
            await client.post("/customers", json={}),
            await client.get("/no-such-thing"),
        ):
            assert response.headers["sequence-version"] == "2024-07-30"


class TestErrors:
    async def test_unknown_route_is_404_in_the_envelope(self, client: httpx.AsyncClient) -> None:
        assert_envelope(await client.get("/no-such-thing"), 404, "NotFound")
        async with httpx.AsyncClient(
            transport=client._transport, base_url="http://testserver"
        ) as root:
            assert_envelope(await root.get("/elsewhere"), 404, "NotFound")

    async def test_wrong_method_is_405_in_the_envelope(self, client: httpx.AsyncClient) -> None:
        assert_envelope(await client.delete("/customers"), 405, "MethodNotAllowed")
        assert_envelope(await client.patch("/customers/some-id"), 405, "MethodNotAllowed")

    async def test_request_id_is_echoed_or_made(self, client: httpx.AsyncClient) -> None:
        mine = await client.get("/customers", headers={"X-Request-Id": "trace-123"})
        assert mine.headers["x-request-id"] == "trace-123"
        made = await client.get("/customers", headers={"X-Request-Id": "bad id\twith spaces"})
        assert made.headers["x-request-id"] not in ("", "bad id\twith spaces")
        fresh = {(await client.get("/customers")).headers["x-request-id"] for _ in range(50)}
        # 128 bits as 32 hex digits, a different one each time.
        assert len(fresh) == 50
        assert all(re.fullmatch("[0-9a-f]{32}", made) for made in fresh)

    async def test_an_unexpected_error_is_a_logged_500_without_detail(
        self,
        client: httpx.AsyncClient,
        services: Services,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        async def broken(*args: object) -> None:
            raise RuntimeError("database exploded: secret detail")

        monkeypatch.setattr(services.customers, "get", broken)
        response = await client.get("/customers/anything", headers={"X-Request-Id": "req-500"})
        assert_envelope(response, 500, "InternalServerError")
        assert "secret detail" not in response.text
        assert "req-500" in response.json()["error"]["message"]
        assert response.headers["x-request-id"] == "req-500"
        assert any("req-500" in r.getMessage() for r in caplog.records)

    async def test_domain_errors_never_escape_as_500(
        self, client: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def refuse(*args: object) -> None:
            raise PatronError("an error with no status of its own")

        monkeypatch.setattr(services.customers, "get", refuse)
        assert (await client.get("/customers/x")).status_code == 400


class TestOpenAPI:
    async def test_served_and_in_step_with_the_routes(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        document = response.json()
        assert document["openapi"].startswith("3.")
        served = {
            (method.upper(), path, spec["operationId"])
            for path, methods in document["paths"].items()
            for method, spec in methods.items()
        }
        # The document describes the latest version; the contracts describe the older ones.
        assert served == {
            (op.method, op.path, op.operation_id)
            for op in OPERATIONS
            if op.operation_id in LATEST.operations
        }
        create = document["paths"]["/customers"]["post"]
        schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
        assert set(schema["required"]) == {"legalName", "address", "taxStatus", "contacts"}

    async def test_needs_no_credentials(self, app: Starlette) -> None:
        async with bare_client(app) as anonymous:
            assert (await anonymous.get("/openapi.json")).status_code == 200


class TestIsolation:
    async def test_another_account_sees_none_of_the_customers(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        mine = await make_customer(
            client, customerAliases=["only-mine"], customProperties={"a": "b"}
        )
        theirs = await other_client.get("/customers", params={"includeArchived": "true"})
        assert theirs.json() == {"items": [], "pagination": {"totalResultSize": 0}}
        for params in (
            {"alias": "only-mine"},
            {"alias": mine["id"]},
            {"legalName": mine["legalName"]},
        ):
            assert (await other_client.get("/customers", params=params)).json()["items"] == []
        assert (await other_client.get("/customer-custom-property-keys")).json() == {"items": []}
        for method, path in (
            ("GET", f"/customers/{mine['id']}"),
            ("PUT", f"/customers/{mine['id']}"),
            ("POST", f"/customers/{mine['id']}/archive"),
        ):
            response = await other_client.request(method, path, json=customer_body())
            assert_envelope(response, 404, "NotFound")
        assert (await client.get(f"/customers/{mine['id']}")).json() == mine
