"""When the database cannot take a request (unreachable, silent, read-only, failing over), every
request answers 503 with Retry-After, never a 500 and never a hang, and the process heals by
itself when a primary is back. PostgreSQL is reached through a proxy the tests break
(tests/tcp_proxy.py); SQLite's case is a write lock another connection keeps."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher

from patron.app import build_services, create_app
from patron.config import Settings
from patron.storage.migrate import migrate
from patron.storage.unit import Store
from tests.conftest import auth_header
from tests.factories import customer_body
from tests.tcp_proxy import TcpProxy

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
BODY = customer_body(legalName="Outage Ltd")
postgres_only = pytest.mark.postgres_only


@dataclass(frozen=True)
class Api:
    client: httpx.AsyncClient  # of a new account, under /api
    bare: httpx.AsyncClient  # no credentials, for /healthz and /readyz
    store: Store


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[Api]:
    services, store = await build_services(settings, password_hasher=CHEAP_HASHER)
    app = create_app(settings, services=services)
    issued = await services.credentials.create(f"account-{uuid.uuid4().hex[:12]}")
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            httpx.AsyncClient(
                transport=transport,
                base_url="http://testserver/api",
                headers={**auth_header(issued), "Content-Type": "application/json"},
            ) as client,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as bare,
        ):
            yield Api(client, bare, store)
    finally:
        await store.close()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["type"] == "ServiceUnavailable"
    assert error["retryAfter"] == 1
    assert "127.0.0.1" not in response.text  # nothing about where the database is


async def first_success(
    call: Callable[[], Awaitable[httpx.Response]], attempts: int = 5
) -> httpx.Response:
    """`call` retried as a client honouring Retry-After would (without the wait): a connection
    broken by the outage fails the request that finds it broken, and only that one."""
    for _ in range(attempts):
        response = await call()
        if response.status_code != 503:
            return response
    raise AssertionError(f"still 503 after {attempts} attempts: {response.text}")


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    running = await TcpProxy.for_url(database_url).start()
    yield running
    await running.cut()


@pytest.fixture
def proxied(database_url: str, proxy: TcpProxy) -> Settings:
    return Settings(
        database_url=proxy.url(database_url),
        pool_min=1,
        pool_max=4,
        database_connect_timeout_seconds=1.0,
        database_command_timeout_seconds=2.0,
        webhook_dispatcher=False,
    )


@postgres_only
class TestUnreachable:
    async def test_every_request_answers_503_until_the_database_is_back(
        self, proxied: Settings, proxy: TcpProxy
    ) -> None:
        async with api(proxied) as running:
            client, bare = running.client, running.bare
            created = await client.post("/customers", json=BODY)
            assert created.status_code == 201
            customer = created.json()["id"]

            await proxy.cut()
            assert_unavailable(await client.get(f"/customers/{customer}"))
            assert_unavailable(await client.get("/customers"))
            assert_unavailable(await client.post("/customers", json=BODY))
            keyed = {"Idempotency-Key": "outage-1"}
            assert_unavailable(await client.post("/customers", json=BODY, headers=keyed))
            assert_unavailable(await bare.get("/readyz"))
            assert (await bare.get("/healthz")).json() == {"status": "ok"}

            await proxy.restore()
            assert (await first_success(lambda: bare.get("/readyz"))).json() == {"status": "ready"}
            assert (await client.get(f"/customers/{customer}")).status_code == 200
            retried = await client.post("/customers", json=BODY, headers=keyed)
            assert retried.status_code == 201
            again = await client.post("/customers", json=BODY, headers=keyed)
            assert again.headers["idempotent-replayed"] == "true"
            listed = (await client.get("/customers")).json()
            assert (
                listed["pagination"]["totalResultSize"] == 2
            )  # the first create and the keyed one, once

    async def test_a_silent_database_answers_503_within_the_timeouts(
        self, proxied: Settings, proxy: TcpProxy
    ) -> None:
        async with api(proxied) as running:
            client = running.client
            customer = (await client.post("/customers", json=BODY)).json()["id"]
            proxy.silent = True
            # The bound only keeps a broken build from hanging the suite: the settings allow 2 s
            # a statement, so a 503 comes well before it.
            response = await asyncio.wait_for(client.get(f"/customers/{customer}"), 30)
            assert_unavailable(response)
            response = await asyncio.wait_for(client.post("/customers", json=BODY), 30)
            assert_unavailable(response)
            await proxy.restore()
            healed = await first_success(lambda: client.get(f"/customers/{customer}"))
            assert healed.status_code == 200

    async def test_a_multi_host_url_follows_the_host_that_answers(
        self, database_url: str, proxy: TcpProxy
    ) -> None:
        second = await TcpProxy.for_url(database_url).start()
        first_host = proxy.url(database_url)
        hosts = f"127.0.0.1:{proxy.port},127.0.0.1:{second.port}"
        url = first_host.replace(f"127.0.0.1:{proxy.port}", hosts, 1)
        settings = Settings(
            database_url=f"{url}?target_session_attrs=read-write",
            pool_min=1,
            pool_max=2,
            database_connect_timeout_seconds=1.0,
            webhook_dispatcher=False,
        )
        try:
            async with api(settings) as running:
                client = running.client
                assert (await client.post("/customers", json=BODY)).status_code == 201
                await proxy.cut()  # the first host goes away: the second takes over
                moved = await first_success(lambda: client.post("/customers", json=BODY))
                assert moved.status_code == 201
                used = second.accepted
                assert used > 0
                await proxy.restore()
                await second.cut()  # and back
                back = await first_success(lambda: client.post("/customers", json=BODY))
                assert back.status_code == 201
                assert (await client.get("/customers")).json()["pagination"]["totalResultSize"] == 3
        finally:
            await second.cut()


async def _admin(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(database_url, timeout=10)


@pytest.fixture
async def scratch_database(database_url: str) -> AsyncIterator[str]:
    """A migrated database of its own, for a test that changes database-wide settings."""
    name = f"patron_scratch_{uuid.uuid4().hex[:8]}"
    admin = await _admin(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = database_url.rsplit("/", 1)[0] + f"/{name}"
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()


@postgres_only
class TestDemotedPrimary:
    async def test_a_database_turned_read_only_refuses_writes_and_the_pool_recovers(
        self, scratch_database: str
    ) -> None:
        name = scratch_database.rsplit("/", 1)[1]
        settings = Settings(
            database_url=scratch_database, pool_min=1, pool_max=4, webhook_dispatcher=False
        )
        admin = await _admin(scratch_database.rsplit("/", 1)[0] + "/postgres")

        async def demote() -> None:
            # What a demotion looks like from the pool: every session ends, and the sessions
            # opened next are read-only.
            await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )

        try:
            async with api(settings) as running:
                client, bare = running.client, running.bare
                customer = (await client.post("/customers", json=BODY)).json()["id"]
                await demote()

                async def read() -> httpx.Response:
                    return await first_success(lambda: client.get(f"/customers/{customer}"))

                # Reads still work on a read-only server; four at once fill the pool with
                # read-only sessions.
                reads = await asyncio.gather(*(read() for _ in range(4)))
                assert [r.status_code for r in reads] == [200] * 4
                refused = await client.post("/customers", json=BODY)
                assert_unavailable(refused)
                assert "read-only" in refused.json()["error"]["message"]

                await admin.execute(f'ALTER DATABASE "{name}" RESET ALL')
                # The refused write expired every session: the next writes all succeed, none
                # lands on a read-only session left in the pool.
                statuses = [
                    (await client.post("/customers", json=BODY)).status_code for _ in range(4)
                ]
                assert statuses == [201] * 4
                assert (await bare.get("/readyz")).json() == {"status": "ready"}

                await demote()
                for _ in range(3):  # the first finds its session ended
                    not_ready = await bare.get("/readyz")
                    assert_unavailable(not_ready)
                    if "read-only" in not_ready.json()["error"]["message"]:
                        break
                else:
                    raise AssertionError("readyz never said the database is read-only")
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" RESET ALL')
            await admin.close()


@pytest.fixture
async def standby(database_url: str, scratch_database: str) -> AsyncIterator[TcpProxy]:
    running = await TcpProxy.for_url(scratch_database).start()
    yield running
    await running.cut()


@postgres_only
class TestStandbyReads:
    """The "standby" is a database of its own that never receives the primary's writes: a
    standby lagging for ever, which makes visible where each read went."""

    async def test_gets_read_the_standby_and_writes_answer_from_the_primary(
        self, database_url: str, scratch_database: str, standby: TcpProxy
    ) -> None:
        settings = Settings(
            database_url=database_url,
            database_read_url=standby.url(scratch_database),
            pool_min=1,
            pool_max=2,
            database_connect_timeout_seconds=1.0,
            webhook_dispatcher=False,
        )
        async with api(settings) as running:
            client = running.client
            created = await client.post("/customers", json=BODY)
            assert created.status_code == 201  # its own answer is read from the primary
            assert created.json()["legalName"] == BODY["legalName"]
            customer = created.json()["id"]
            update = {**BODY, "legalName": "Renamed Ltd"}
            updated = await client.put(f"/customers/{customer}", json=update)
            assert updated.json()["legalName"] == "Renamed Ltd"

            assert (await client.get(f"/customers/{customer}")).status_code == 404
            assert (await client.get("/customers")).json()["pagination"]["totalResultSize"] == 0

            await standby.cut()  # the standby is gone: the primary answers the reads
            fetched = await client.get(f"/customers/{customer}")
            assert fetched.status_code == 200
            assert fetched.json()["legalName"] == "Renamed Ltd"


class TestSQLiteLocked:
    async def test_a_write_lock_held_elsewhere_answers_503_not_500(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'locked.db'}"
        migrate(url)
        settings = Settings(database_url=url, webhook_dispatcher=False)
        async with api(settings) as running:
            client, bare = running.client, running.bare
            db: Any = running.store.db
            db._raw.execute("PRAGMA busy_timeout=50")  # wait 50 ms, not 5 s, for the lock
            other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            try:
                assert_unavailable(await client.post("/customers", json=BODY))
                assert_unavailable(await bare.get("/readyz"))
            finally:
                other.execute("ROLLBACK")
                other.close()
            assert (await client.post("/customers", json=BODY)).status_code == 201
            assert (await bare.get("/readyz")).json() == {"status": "ready"}
