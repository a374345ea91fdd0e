"""Abuse limits through the ASGI app: body cap on streamed bodies, the per-credential rate limit,
and slowed answers to repeated failed authentications."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from patron.api.state import Services
from patron.api.throttle import FailedAuthDelay, RateLimiter
from patron.app import build_services, create_app
from patron.config import Settings
from tests.conftest import ClientFactory, auth_header
from tests.factories import customer_body


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


class TestBodyCap:
    async def test_a_streamed_body_without_length_over_the_cap_is_a_413(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        over = services.settings.max_body_bytes + 1
        response = await client.post("/customers", content=_chunks(over))
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "PayloadTooLarge"

    async def test_a_streamed_body_under_the_cap_is_read(self, client: httpx.AsyncClient) -> None:
        body = httpx.Request("POST", "http://x", json=customer_body()).content

        async def stream() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 7):
                yield body[i : i + 7]

        response = await client.post("/customers", content=stream())
        assert response.status_code == 201, response.text


class TestRateLimiter:
    def test_a_bucket_allows_its_burst_then_refills(self) -> None:
        now = [0.0]
        limiter = RateLimiter(60, clock=lambda: now[0])  # one a second
        for _ in range(60):
            limiter.take("a")
        with pytest.raises(Exception, match="retry after 1 s") as refused:
            limiter.take("a")
        assert getattr(refused.value, "retry_after", None) == 1
        limiter.take("b")  # another key has its own bucket
        now[0] = 2.5
        limiter.take("a")
        limiter.take("a")
        with pytest.raises(Exception, match="retry after"):
            limiter.take("a")

    def test_off_by_default_and_one_setting_turns_it_on(self) -> None:
        assert Settings().rate_limit_per_minute == 0

    async def test_the_setting_builds_a_limiter(self, settings: Settings) -> None:
        built, store = await build_services(settings.but(rate_limit_per_minute=1500))
        try:
            assert built.rate_limiter is not None
        finally:
            await store.close()

    async def test_over_the_limit_is_a_429_with_retry_after(
        self, services: Services, new_client: ClientFactory
    ) -> None:
        limited = dataclasses.replace(services, rate_limiter=RateLimiter(3))
        app = create_app(services.settings, services=limited)
        first, second = await new_client(), await new_client()
        statuses = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver/api"
        ) as http:
            for _ in range(4):
                response = await http.get("/customers", headers=auth_header(first.issued))  # type: ignore[attr-defined]
                statuses.append(response.status_code)
            assert statuses == [200, 200, 200, 429]
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["error"]["type"] == "RateLimited"
            assert response.json()["error"]["retryAfter"] == int(response.headers["retry-after"])
            assert "x-request-id" in response.headers
            other = await http.get("/customers", headers=auth_header(second.issued))  # type: ignore[attr-defined]
            assert other.status_code == 200

    async def test_no_limit_when_off(self, client: httpx.AsyncClient, services: Services) -> None:
        assert services.rate_limiter is None
        for _ in range(50):
            assert (await client.get("/customers")).status_code == 200


def _basic(client_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class TestFailedAuthentication:
    def test_delay_grows_after_the_free_failures_and_is_capped(self) -> None:
        delays = FailedAuthDelay(max_seconds=1.0, free=2, clock=lambda: 0.0)
        got = [delays.delay_for("ip:1") for _ in range(8)]
        assert got == [0.0, 0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
        assert delays.delay_for("ip:2") == 0.0

    def test_forgotten_after_a_quiet_spell_and_after_success(self) -> None:
        now = [0.0]
        delays = FailedAuthDelay(free=1, forget_after=60, clock=lambda: now[0])
        for _ in range(4):
            delays.delay_for("id:x")
        assert delays.delay_for("id:x") > 0
        now[0] = 100.0
        assert delays.delay_for("id:x") == 0.0
        delays.delay_for("id:x")
        delays.succeeded("id:x")
        assert delays.delay_for("id:x") == 0.0

    async def test_repeated_failures_are_answered_slower_without_holding_others(
        self, services: Services, client: httpx.AsyncClient
    ) -> None:
        slowed = dataclasses.replace(
            services, auth_failures=FailedAuthDelay(max_seconds=0.4, free=2)
        )
        app = create_app(services.settings, services=slowed)
        good = auth_header(client.issued)  # type: ignore[attr-defined]
        bad = _basic(client.issued.credential.client_id, "wrong")  # type: ignore[attr-defined]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver/api"
        ) as http:
            timings = []
            for _ in range(5):
                began = time.monotonic()
                response = await http.get("/customers", headers=bad)
                assert response.status_code == 401
                assert response.json()["error"]["type"] == "Unauthorized"
                timings.append(time.monotonic() - began)
            # The free failures are not delayed; the fifth waits its 0.4 s (margins for a busy
            # machine: the delay is what differs, not the work).
            assert timings[4] >= 0.35
            assert max(timings[:2]) < timings[4] - 0.25

            # While a failure waits out its delay, the event loop serves everyone else.
            failing = asyncio.create_task(http.get("/customers", headers=bad))
            await asyncio.sleep(0.05)
            ok = await http.get("/customers", headers=good)
            assert ok.status_code == 200
            # Answered while the failure still waits: the wait holds no one else.
            assert not failing.done()
            assert (await failing).status_code == 401
