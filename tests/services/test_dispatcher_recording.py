"""The dispatcher when the database stops answering between a webhook's POST and the recording of
its result (a failover, a restart): the result is kept and recorded once the database is back,
within the claim's lease, so the receiver gets it once; past the lease, at least once still holds.
A real database and a real receiver; only `record` is made to fail, as an unreachable server
makes it fail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from patron.api.state import Services
from patron.domain.errors import Unavailable
from patron.services.dispatcher import Dispatcher, DispatchSettings
from patron.storage.queue import Claimed, DeliveryQueue, Outcome
from patron.webhook_sender import HttpSender
from tests.factories import make_customer
from tests.webhook_receiver import Receiver


class UnreachableForAWhile:
    """The app's delivery queue whose first `failures` recordings of deliveries to `recipient`
    fail as the store fails while the database is away."""

    def __init__(self, queue: DeliveryQueue, recipient: str, failures: int) -> None:
        self._queue = queue
        self._recipient = recipient
        self.failures = failures
        self.refused = 0

    async def claim(self, now: int, limit: int, lease_until: int) -> list[Claimed]:
        # Only this test's deliveries are attempted: other tests' leftovers (to recipients long
        # gone, some slow to fail) would share the sender's connections and the lease's time.
        claimed = await self._queue.claim(now, limit, lease_until)
        return [c for c in claimed if c.delivery.recipient == self._recipient]

    async def record(self, claimed: Claimed, outcome: Outcome) -> None:
        if claimed.delivery.recipient == self._recipient and self.refused < self.failures:
            self.refused += 1
            raise Unavailable("The database cannot be reached right now")
        await self._queue.record(claimed, outcome)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


async def deliveries(client: httpx.AsyncClient) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (await client.get("/notifications/deliveries")).json()["items"]
    return items


async def with_policy_and_customer(client: httpx.AsyncClient, receiver: Receiver) -> None:
    body = {
        "name": "hooks",
        "channel": "WEBHOOK",
        "recipients": [receiver.url],
        "notificationTypes": ["CUSTOMER_CREATED"],
    }
    assert (await client.post("/notifications/policies", json=body)).status_code == 201
    await make_customer(client)


class TestRecordingWhileTheDatabaseIsAway:
    async def test_recorded_once_it_is_back_and_sent_once(
        self, client: httpx.AsyncClient, services: Services, receiver: Receiver
    ) -> None:
        await with_policy_and_customer(client, receiver)
        queue = UnreachableForAWhile(services.delivery_queue, receiver.url, failures=3)
        settings = DispatchSettings(timeout_seconds=5, poll_seconds=0.05, concurrency=1000)
        sender = HttpSender(timeout_seconds=5)
        try:
            dispatcher = Dispatcher(queue, sender, settings)  # type: ignore[arg-type]
            assert await dispatcher.run_once() >= 1
            assert queue.refused == 3
            (record,) = await deliveries(client)
            assert record["status"] == "DELIVERED"
            assert record["attempts"] == 1
            await dispatcher.run_once()  # nothing of ours left to send again
        finally:
            await sender.close()
        assert [r.webhook_id for r in receiver.snapshot()] == [record["id"]]

    async def test_past_the_lease_it_is_sent_again_with_the_same_id(
        self, client: httpx.AsyncClient, services: Services, receiver: Receiver
    ) -> None:
        await with_policy_and_customer(client, receiver)
        queue = UnreachableForAWhile(services.delivery_queue, receiver.url, failures=1_000_000)
        # A lease of 1.2 s (2 x 0.1 + 1): recording is retried for 0.2 s, then given up.
        settings = DispatchSettings(timeout_seconds=0.1, poll_seconds=0.05, concurrency=1000)
        sender = HttpSender(timeout_seconds=2)
        try:
            assert await Dispatcher(queue, sender, settings).run_once() >= 1  # type: ignore[arg-type]
            (record,) = await deliveries(client)
            assert record["status"] == "PENDING"
            assert record["attempts"] == 0
            queue.failures = 0  # the database is back; the lease runs out, then it is claimed
            await receiver.until(lambda got: len(got) >= 1)
            again = Dispatcher(queue, sender, settings)  # type: ignore[arg-type]
            for _ in range(100):
                await again.run_once()
                (record,) = await deliveries(client)
                if record["status"] == "DELIVERED":
                    break
                await asyncio.sleep(0.05)
            assert record["status"] == "DELIVERED"
        finally:
            await sender.close()
        assert [r.webhook_id for r in receiver.snapshot()] == [record["id"]] * 2
