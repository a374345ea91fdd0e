"""`Idempotency-Key` on every POST, through HTTP, on both engines (see docs/decisions/)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.api.state import Services
from patron.app import build_services, create_app
from patron.config import Settings
from patron.domain.idempotency import RequestPrint, StoredResponse
from patron.domain.ids import now_micros
from patron.storage.database import Database
from patron.storage.idempotency import IdempotencyRepo
from patron.storage.unit import Store
from tests.conftest import auth_header
from tests.factories import customer_body, make_customer
from tests.servers import ServerProcess

pytestmark = pytest.mark.asyncio

DAY_MICROS = 86_400 * 1_000_000

TunedClient = Callable[..., Awaitable[tuple[httpx.AsyncClient, Services]]]


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


def account_of(client: httpx.AsyncClient) -> str:
    account: str = client.issued.credential.account_id  # type: ignore[attr-defined]
    return account


async def count_customers(client: httpx.AsyncClient) -> int:
    response = await client.get("/customers", params={"includeArchived": "true"})
    total: int = response.json()["pagination"]["totalResultSize"]
    return total


def error_type(response: httpx.Response) -> str:
    kind: str = response.json()["error"]["type"]
    return kind


async def stored_keys(db: Database, client: httpx.AsyncClient) -> int:
    async with db.read() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE account_id = $1", account_of(client)
        )
    return count


@pytest.fixture
async def tuned_client(settings: Settings) -> AsyncIterator[TunedClient]:
    """A client of a new account on an app built with some settings changed."""
    opened: list[tuple[httpx.AsyncClient, Store]] = []

    async def make(**changes: Any) -> tuple[httpx.AsyncClient, Services]:
        services, store = await build_services(settings.but(**changes))
        issued = await services.credentials.create(f"account-{uuid.uuid4().hex[:12]}")
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(services.settings, services=services)),
            base_url="http://testserver/api",
            headers={**auth_header(issued), "Content-Type": "application/json"},
        )
        client.issued = issued  # type: ignore[attr-defined]
        opened.append((client, store))
        return client, services

    yield make
    for client, store in opened:
        await client.aclose()
        await store.close()


def shift_clock(monkeypatch: pytest.MonkeyPatch, micros: int) -> None:
    """Move the idempotency service's clock (only its clock) forward."""
    monkeypatch.setattr("patron.services.idempotency.now_micros", lambda: now_micros() + micros)


class TestReplay:
    async def test_a_repeat_answers_the_first_response_and_creates_nothing(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        key, body = new_key(), customer_body()
        first = await client.post("/customers", json=body, headers=keyed(key))
        again = await client.post("/customers", json=body, headers=keyed(key))
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "application/json"
        assert again.headers["sequence-version"] == first.headers["sequence-version"]
        assert await count_customers(client) == 1
        assert await stored_keys(db, client) == 1

    async def test_the_replay_is_the_original_even_after_the_record_changed(
        self, client: httpx.AsyncClient
    ) -> None:
        key, body = new_key(), customer_body()
        first = await client.post("/customers", json=body, headers=keyed(key))
        changed = {**body, "legalName": "Renamed Ltd"}
        assert (await client.put(f"/customers/{first.json()['id']}", json=changed)).is_success
        again = await client.post("/customers", json=body, headers=keyed(key))
        assert again.json() == first.json()

    async def test_without_a_key_every_post_runs(self, client: httpx.AsyncClient) -> None:
        body = customer_body()
        await client.post("/customers", json=body)
        await client.post("/customers", json=body)
        assert await count_customers(client) == 2

    async def test_the_key_is_ignored_on_other_methods(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        created = await make_customer(client)
        key = new_key()
        for name in ("A Ltd", "B Ltd"):
            body = customer_body(legalName=name)
            response = await client.put(
                f"/customers/{created['id']}", json=body, headers=keyed(key)
            )
            assert response.json()["legalName"] == name
            assert "idempotent-replayed" not in response.headers
        assert (await client.get("/customers", headers=keyed(key))).status_code == 200
        assert await stored_keys(db, client) == 0


class TestDifferentRequestSameKey:
    async def test_a_different_body_is_a_conflict(self, client: httpx.AsyncClient) -> None:
        key = new_key()
        assert (
            await client.post("/customers", json=customer_body(), headers=keyed(key))
        ).is_success
        other = await client.post("/customers", json=customer_body(), headers=keyed(key))
        assert other.status_code == 409
        assert error_type(other) == "IdempotencyKeyReused"
        assert "different request body" in other.json()["error"]["message"]
        assert await count_customers(client) == 1

    async def test_the_body_is_compared_byte_for_byte(self, client: httpx.AsyncClient) -> None:
        key, body = new_key(), customer_body()
        compact = json.dumps(body, separators=(",", ":")).encode()
        spaced = json.dumps(body, indent=2).encode()
        assert (await client.post("/customers", content=compact, headers=keyed(key))).is_success
        other = await client.post("/customers", content=spaced, headers=keyed(key))
        assert other.status_code == 409

    async def test_a_different_path_is_a_conflict(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        key = new_key()
        assert (
            await client.post("/customers", json=customer_body(), headers=keyed(key))
        ).is_success
        archive = await client.post(f"/customers/{customer['id']}/archive", headers=keyed(key))
        assert archive.status_code == 409
        assert error_type(archive) == "IdempotencyKeyReused"
        assert "POST /api/customers" in archive.json()["error"]["message"]
        assert "archivedAt" not in (await client.get(f"/customers/{customer['id']}")).json()


class TestKeysPerAccount:
    async def test_two_accounts_use_one_key_independently(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        key, body = new_key(), customer_body()
        mine = await client.post("/customers", json=body, headers=keyed(key))
        theirs = await other_client.post("/customers", json=body, headers=keyed(key))
        assert mine.status_code == theirs.status_code == 201
        assert "idempotent-replayed" not in theirs.headers
        assert mine.json()["id"] != theirs.json()["id"]
        different = await other_client.post("/customers", json=customer_body(), headers=keyed(key))
        assert different.status_code == 409
        assert await count_customers(client) == await count_customers(other_client) == 1


class TestKeyFormat:
    @pytest.mark.parametrize("key", ["x" * 256, "", "   "])
    async def test_an_empty_or_too_long_key_is_refused_naming_the_header(
        self, client: httpx.AsyncClient, db: Database, key: str
    ) -> None:
        response = await client.post("/customers", json=customer_body(), headers=keyed(key))
        assert response.status_code == 400
        assert error_type(response) == "ValidationError"
        assert [e["field"] for e in response.json()["error"]["errors"]] == ["Idempotency-Key"]
        assert await count_customers(client) == 0
        assert await stored_keys(db, client) == 0

    async def test_a_key_of_255_characters_is_accepted(self, client: httpx.AsyncClient) -> None:
        key, body = "k" * 255, customer_body()
        assert (await client.post("/customers", json=body, headers=keyed(key))).status_code == 201
        again = await client.post("/customers", json=body, headers=keyed(key))
        assert again.headers["idempotent-replayed"] == "true"


class TestExpiry:
    async def test_after_24_hours_the_key_is_new(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        key, body = new_key(), customer_body()
        first = await client.post("/customers", json=body, headers=keyed(key))
        shift_clock(monkeypatch, DAY_MICROS - 1_000_000)
        assert (await client.post("/customers", json=body, headers=keyed(key))).content == (
            first.content
        )
        shift_clock(monkeypatch, DAY_MICROS + 1_000_000)
        again = await client.post("/customers", json=body, headers=keyed(key))
        assert again.status_code == 201
        assert "idempotent-replayed" not in again.headers
        assert again.json()["id"] != first.json()["id"]
        assert await count_customers(client) == 2

    async def test_an_expired_key_may_be_used_for_another_request(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        key = new_key()
        await client.post("/customers", json=customer_body(), headers=keyed(key))
        shift_clock(monkeypatch, DAY_MICROS + 1_000_000)
        other = await client.post("/customers", json=customer_body(), headers=keyed(key))
        assert other.status_code == 201

    async def test_the_retention_is_configurable(
        self, tuned_client: TunedClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client, _ = await tuned_client(idempotency_ttl_seconds=60)
        key, body = new_key(), customer_body()
        await client.post("/customers", json=body, headers=keyed(key))
        shift_clock(monkeypatch, 59_000_000)
        assert (await client.post("/customers", json=body, headers=keyed(key))).headers[
            "idempotent-replayed"
        ] == "true"
        shift_clock(monkeypatch, 61_000_000)
        assert (
            "idempotent-replayed"
            not in (await client.post("/customers", json=body, headers=keyed(key))).headers
        )
        assert await count_customers(client) == 2

    async def test_the_retention_setting_is_read_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert Settings.from_env().idempotency_ttl_seconds == 86_400
        monkeypatch.setenv("PATRON_IDEMPOTENCY_TTL_SECONDS", "3600")
        assert Settings.from_env().idempotency_ttl_seconds == 3600

    async def test_expired_keys_are_purged_and_live_ones_kept(
        self,
        client: httpx.AsyncClient,
        services: Services,
        db: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await client.post("/customers", json=customer_body(), headers=keyed(new_key()))
        shift_clock(monkeypatch, DAY_MICROS // 2)
        await client.post("/customers", json=customer_body(), headers=keyed(new_key()))
        shift_clock(monkeypatch, DAY_MICROS + 1_000_000)
        while await services.idempotency.purge_expired(limit=50) == 50:
            pass
        assert await stored_keys(db, client) == 1

    async def test_the_background_purge_runs_in_batches(
        self,
        client: httpx.AsyncClient,
        services: Services,
        db: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        for _ in range(3):
            await client.post("/customers", json=customer_body(), headers=keyed(new_key()))
        shift_clock(monkeypatch, DAY_MICROS + 1_000_000)
        purger = asyncio.create_task(services.idempotency.purge_periodically(0.01, batch=2))
        try:
            for _ in range(500):
                if await stored_keys(db, client) == 0:
                    break
                await asyncio.sleep(0.01)
        finally:
            purger.cancel()
            with pytest.raises(asyncio.CancelledError):
                await purger
        assert await stored_keys(db, client) == 0


class TestConcurrentRequests:
    async def test_parallel_retries_run_the_operation_once(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        key, body = new_key(), customer_body()
        await client.get("/customers")  # authenticate once, so the posts race in the store
        responses = await asyncio.gather(
            *(client.post("/customers", json=body, headers=keyed(key)) for _ in range(8))
        )
        assert [r.status_code for r in responses] == [201] * 8
        assert len({r.content for r in responses}) == 1
        assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
        assert await count_customers(client) == 1
        assert await stored_keys(db, client) == 1

    async def test_parallel_requests_with_different_bodies_let_one_win(
        self, client: httpx.AsyncClient
    ) -> None:
        key = new_key()
        await client.get("/customers")
        responses = await asyncio.gather(
            *(client.post("/customers", json=customer_body(), headers=keyed(key)) for _ in range(6))
        )
        assert sorted(r.status_code for r in responses) == [201] + [409] * 5
        assert await count_customers(client) == 1

    async def test_a_waiting_request_replays_the_answer_committed_meanwhile(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The first request holds the key (here: the test, in its place); the second blocks on
        it, then answers whatever the first committed, without running the operation."""
        key, body = new_key(), json.dumps(customer_body()).encode()
        request = RequestPrint.of("POST", "/api/customers", body)
        holding, release = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with services.idempotency.once(account_of(client), key, request) as claim:
                holding.set()
                await release.wait()
                claim.keep(StoredResponse(201, b'{"first":true}', [], "2024-07-30"))

        holder = asyncio.create_task(first())
        await holding.wait()
        second = asyncio.create_task(client.post("/customers", content=body, headers=keyed(key)))
        await asyncio.sleep(0.3)
        assert not second.done()  # waiting for the first, not running
        release.set()
        await holder
        response = await second
        assert response.status_code == 201
        assert response.json() == {"first": True}
        assert response.headers["idempotent-replayed"] == "true"
        assert await count_customers(client) == 0

    async def test_a_request_waits_a_bounded_time_then_gets_409(
        self, tuned_client: TunedClient
    ) -> None:
        client, services = await tuned_client(idempotency_wait_seconds=0.3)
        key, body = new_key(), json.dumps(customer_body()).encode()
        request = RequestPrint.of("POST", "/api/customers", body)
        holding, release = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with services.idempotency.once(account_of(client), key, request):
                holding.set()
                await release.wait()
                # Keeps no answer: everything rolls back, as when the first request fails.

        holder = asyncio.create_task(first())
        await holding.wait()
        started = time.monotonic()
        busy = await client.post("/customers", content=body, headers=keyed(key))
        assert time.monotonic() - started < 5
        release.set()
        await holder
        assert busy.status_code == 409
        assert error_type(busy) == "IdempotencyKeyInUse"
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["retryAfter"] == 1
        retry = await client.post("/customers", content=body, headers=keyed(key))
        assert retry.status_code == 201
        assert "idempotent-replayed" not in retry.headers


class TestFailedOperation:
    async def test_a_400_keeps_no_key_so_a_corrected_retry_runs(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        key = new_key()
        broken = await client.post("/customers", json={"legalName": "X"}, headers=keyed(key))
        assert broken.status_code == 400
        assert await stored_keys(db, client) == 0
        again = await client.post("/customers", json={"legalName": "X"}, headers=keyed(key))
        assert again.status_code == 400
        assert "idempotent-replayed" not in again.headers
        body = customer_body()
        fixed = await client.post("/customers", json=body, headers=keyed(key))
        assert fixed.status_code == 201
        replay = await client.post("/customers", json=body, headers=keyed(key))
        assert replay.headers["idempotent-replayed"] == "true"
        assert await count_customers(client) == 1

    async def test_a_404_keeps_no_key(self, client: httpx.AsyncClient, db: Database) -> None:
        missing = await client.post(f"/customers/{uuid.uuid4()}/archive", headers=keyed(new_key()))
        assert missing.status_code == 404
        assert await stored_keys(db, client) == 0

    async def test_a_crash_before_the_answer_is_stored_leaves_neither_key_nor_change(
        self, client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The customer insert and the key commit together: failing to store the answer (the last
        step before commit) undoes the customer too, so a retry creates it exactly once."""

        async def crash(*args: Any) -> None:
            raise RuntimeError("disk full")

        key, body = new_key(), customer_body()
        with monkeypatch.context() as patch:
            patch.setattr(IdempotencyRepo, "save", crash)
            failed = await client.post("/customers", json=body, headers=keyed(key))
        assert failed.status_code == 500
        assert await count_customers(client) == 0
        assert await stored_keys(db, client) == 0
        retry = await client.post("/customers", json=body, headers=keyed(key))
        assert retry.status_code == 201
        assert await count_customers(client) == 1


class TestArchiveWithKey:
    async def test_a_repeated_archive_is_replayed(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        customer = await make_customer(client)
        key, path = new_key(), f"/customers/{customer['id']}/archive"
        first = await client.post(path, headers=keyed(key))
        again = await client.post(path, headers=keyed(key))
        assert first.status_code == again.status_code == 200
        assert first.json()["archivedAt"]
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert await stored_keys(db, client) == 1

    async def test_the_key_of_one_archive_does_not_archive_another_customer(
        self, client: httpx.AsyncClient
    ) -> None:
        one, two = await make_customer(client), await make_customer(client)
        key = new_key()
        await client.post(f"/customers/{one['id']}/archive", headers=keyed(key))
        other = await client.post(f"/customers/{two['id']}/archive", headers=keyed(key))
        assert other.status_code == 409
        assert "archivedAt" not in (await client.get(f"/customers/{two['id']}")).json()


# A real server process, hit from several threads at once: concurrency across OS threads and
# connections, not only tasks of one event loop.


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    with ServerProcess(
        database_url, tmp_path / "server.log", {"PATRON_AUTH_CACHE_SECONDS": "10"}
    ) as process:
        yield process.base


class TestConcurrentRequestsAgainstAServer:
    async def test_threads_retrying_one_key_create_one_customer(
        self, server: str, services: Services, db: Database
    ) -> None:
        issued = await services.credentials.create(f"account-{uuid.uuid4().hex[:12]}")
        headers = {**auth_header(issued), "Content-Type": "application/json"}
        key, body = new_key(), json.dumps(customer_body()).encode()
        threads_count = 8
        barrier = threading.Barrier(threads_count)
        results: list[httpx.Response] = []
        lock = threading.Lock()

        def post() -> None:
            with httpx.Client(base_url=server, headers=headers, timeout=30) as http:
                http.get("/customers")  # connect and authenticate before the race
                barrier.wait(timeout=30)
                response = http.post("/customers", content=body, headers=keyed(key))
            with lock:
                results.append(response)

        def race() -> None:
            workers = [threading.Thread(target=post) for _ in range(threads_count)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=60)

        await asyncio.to_thread(race)
        assert len(results) == threads_count
        assert [r.status_code for r in results] == [201] * threads_count, [r.text for r in results]
        assert len({r.json()["id"] for r in results}) == 1
        assert sum("idempotent-replayed" not in r.headers for r in results) == 1
        async with db.read() as conn:
            customers = await conn.fetchval(
                "SELECT count(*) FROM customers WHERE account_id = $1", issued.credential.account_id
            )
            keys = await conn.fetchval(
                "SELECT count(*) FROM idempotency_keys WHERE account_id = $1",
                issued.credential.account_id,
            )
        assert (customers, keys) == (1, 1)
