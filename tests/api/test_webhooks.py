"""Webhooks through HTTP, with a real receiver on 127.0.0.1 and a dispatcher in this process
(small backoff settings): policies, signatures both ways, retries, order, records, redelivery."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from patron.api.state import Services
from patron.domain.notifications import (
    address_denied,
    backoff_seconds,
    host_denied,
    recipient_problem,
)
from patron.services.dispatcher import Dispatcher, DispatchSettings
from patron.webhook_sender import HttpSender
from tests.api.history import events
from tests.factories import customer_body, make_customer
from tests.webhook_receiver import Received, Receiver, verify_sequence, verify_standard

FAST = DispatchSettings(
    timeout_seconds=2,
    backoff_base_seconds=0.05,
    backoff_max_seconds=0.3,
    retry_seconds=600,
    poll_seconds=0.05,
    concurrency=10,
)
TAKEN = f"taken-{uuid.uuid4().hex}"
MISSING_ID = "01900000-0000-7000-8000-000000000000"


@pytest.fixture
async def dispatcher(services: Services) -> AsyncIterator[Dispatcher]:
    """A dispatcher running beside the app for the test, as `patron serve` runs one."""
    sender = HttpSender(timeout_seconds=FAST.timeout_seconds)
    running = Dispatcher(services.delivery_queue, sender, FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    yield running
    stop.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(task, timeout=10)
    await sender.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


async def make_policy(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "hooks", "channel": "WEBHOOK", "recipients": [url], **fields}
    response = await client.post("/notifications/policies", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def types_of(received: list[Received]) -> list[str]:
    return [r.json["notificationType"] for r in received]


class TestPolicies:
    async def test_create_generates_a_secret(self, client: httpx.AsyncClient) -> None:
        policy = await make_policy(client, "https://hooks.example.com/in")
        assert policy["channel"] == "WEBHOOK"
        assert policy["recipients"] == ["https://hooks.example.com/in"]
        assert policy["webhookSecret"].startswith("whsec_")
        assert policy["sequenceAccountId"] == client.issued.credential.account_id  # type: ignore[attr-defined]
        assert "notificationTypes" not in policy  # absent: every type
        assert set(policy) >= {"id", "createdAt", "name", "recipients", "channel"}

    async def test_given_secret_and_types_are_kept(self, client: httpx.AsyncClient) -> None:
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        policy = await make_policy(
            client,
            "http://hooks.example.com/in",
            webhookSecret=secret,
            notificationTypes=["CUSTOMER_CREATED", "CONTACT_UPDATED"],
        )
        assert policy["webhookSecret"] == secret
        assert policy["notificationTypes"] == ["CONTACT_UPDATED", "CUSTOMER_CREATED"]

    async def test_list_get_delete(self, client: httpx.AsyncClient) -> None:
        first = await make_policy(client, "https://a.example.com/")
        second = await make_policy(client, "https://b.example.com/")
        listed = (await client.get("/notifications/policies")).json()["items"]
        assert [p["id"] for p in listed] == [first["id"], second["id"]]
        got = await client.get(f"/notifications/policies/{first['id']}")
        assert got.status_code == 200
        assert got.json() == first
        deleted = await client.delete(f"/notifications/policies/{first['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["id"] == first["id"]
        assert (await client.get(f"/notifications/policies/{first['id']}")).status_code == 404
        assert (await client.delete(f"/notifications/policies/{first['id']}")).status_code == 404
        listed = (await client.get("/notifications/policies")).json()["items"]
        assert [p["id"] for p in listed] == [second["id"]]

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"recipients": ["ftp://example.com/x"]}, "recipients[0]"),
            ({"recipients": ["not a url"]}, "recipients[0]"),
            ({"recipients": ["https://user:pw@example.com/"]}, "recipients[0]"),
            ({"recipients": []}, "recipients"),
            ({"channel": "EMAIL", "recipients": ["ops@example.com"]}, "channel"),
            ({"channel": "SMS"}, "channel"),
            ({"notificationTypes": ["NOT_A_TYPE"]}, "notificationTypes"),
            ({"notificationTypes": []}, "notificationTypes"),
            ({"webhookSecret": "plain-text"}, "webhookSecret"),
            ({"webhookSecret": "whsec_c2hvcnQ="}, "webhookSecret"),
            ({"name": ""}, "name"),
        ],
    )
    async def test_invalid_is_400(
        self, client: httpx.AsyncClient, fields: dict[str, Any], field: str
    ) -> None:
        body = {"name": "x", "channel": "WEBHOOK", "recipients": ["https://a.example.com/"]}
        response = await client.post("/notifications/policies", json={**body, **fields})
        assert response.status_code == 400, response.text
        assert field in [e["field"] for e in response.json()["error"]["errors"]]

    async def test_sequence_types_are_accepted(self, client: httpx.AsyncClient) -> None:
        policy = await make_policy(
            client, "https://a.example.com/", notificationTypes=["INVOICE_CREATED"]
        )
        assert policy["notificationTypes"] == ["INVOICE_CREATED"]

    async def test_another_account_sees_none(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
    ) -> None:
        policy = await make_policy(client, "https://a.example.com/")
        await make_customer(client)
        assert (await other_client.get("/notifications/policies")).json()["items"] == []
        assert (
            await other_client.get(f"/notifications/policies/{policy['id']}")
        ).status_code == 404
        assert (
            await other_client.delete(f"/notifications/policies/{policy['id']}")
        ).status_code == 404
        mine = (await client.get("/notifications/deliveries")).json()
        assert mine["pagination"]["totalResultSize"] >= 1
        theirs = (await other_client.get("/notifications/deliveries")).json()
        assert theirs["items"] == []
        assert theirs["pagination"]["totalResultSize"] == 0
        delivery_id = mine["items"][0]["id"]
        response = await other_client.post(f"/notifications/deliveries/{delivery_id}/redeliver")
        assert response.status_code == 404

    async def test_served_in_every_version(self, client: httpx.AsyncClient) -> None:
        for version in ("2024-01-01", "2024-05-09", "2024-07-30"):
            response = await client.get(
                "/notifications/policies", headers={"Sequence-Version": version}
            )
            assert response.status_code == 200, version

    async def test_openapi_tags_them(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("http://testserver/api/openapi.json")).json()
        ops = {
            spec["operationId"]: spec["tags"]
            for path, methods in document["paths"].items()
            if path.startswith("/notifications")
            for spec in methods.values()
        }
        assert len(ops) == 6
        assert all(name.startswith("patron") for name in ops)
        assert all(tags == ["Patron extensions"] for tags in ops.values())


class TestRecipientRules:
    """The deny-list check itself (the suite keeps the setting off so it can use 127.0.0.1)."""

    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ],
    )
    def test_denied_addresses(self, address: str) -> None:
        assert address_denied(address)

    @pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
    def test_public_addresses(self, address: str) -> None:
        assert not address_denied(address)

    def test_hosts(self) -> None:
        assert host_denied("localhost")
        assert host_denied("api.localhost")
        assert host_denied("[::1]")
        assert not host_denied("hooks.example.com")  # names are checked when resolved

    def test_recipient_problem_with_and_without_deny_list(self) -> None:
        assert recipient_problem("http://127.0.0.1:9/x", deny_private=False) is None
        assert recipient_problem("http://127.0.0.1:9/x", deny_private=True) is not None
        assert recipient_problem("http://10.0.0.5/x", deny_private=True) is not None
        assert recipient_problem("https://hooks.example.com/x", deny_private=True) is None
        assert recipient_problem("gopher://example.com/", deny_private=False) is not None

    def test_backoff_grows_and_is_capped(self) -> None:
        waits = [backoff_seconds(n, base=5, cap=3600, jitter=0.999) for n in range(1, 20)]
        assert waits[0] < waits[1] < waits[2]
        assert max(waits) <= 3600
        assert backoff_seconds(1, base=5, cap=3600, jitter=0.0) == 2.5

    def test_backoff_lasts_at_least_a_day_with_defaults(self) -> None:
        """Default settings keep retrying at least 24 hours: the window counts from the first
        attempt and the waits never exceed the cap, so attempts keep coming within it."""
        from patron.config import Settings

        s = Settings()
        assert s.webhook_retry_seconds >= 86400
        assert s.webhook_backoff_max_seconds < s.webhook_retry_seconds


@pytest.mark.usefixtures("dispatcher")
class TestDelivery:
    async def test_payload_and_both_signatures(
        self, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        policy = await make_policy(client, receiver.url, notificationTypes=["CUSTOMER_CREATED"])
        customer = await make_customer(client)
        await receiver.until(lambda got: len(got) >= 1)
        (got,) = receiver.snapshot()
        body = got.json
        assert body == {
            "notificationType": "CUSTOMER_CREATED",
            "sequenceAccountId": client.issued.credential.account_id,  # type: ignore[attr-defined]
            "resourceType": "Customer",
            "resourceId": customer["id"],
            "resource": customer,
        }
        secret = policy["webhookSecret"]
        assert verify_sequence(secret, got)
        assert verify_standard(secret, got)
        assert got.headers["content-type"] == "application/json"
        # A wrong secret or a changed body fails both.
        other = "whsec_" + "A" * 32
        assert not verify_sequence(other, got)
        assert not verify_standard(other, got)
        tampered = Received(got.headers, got.body.replace(b"Customer", b"Kustomer"))
        assert not verify_sequence(secret, tampered)
        assert not verify_standard(secret, tampered)

    async def test_only_subscribed_types(
        self, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        await make_policy(client, receiver.url, notificationTypes=["CUSTOMER_ARCHIVED"])
        customer = await make_customer(client)
        await client.post(f"/customers/{customer['id']}/archive")
        await receiver.until(lambda got: len(got) >= 1)
        await asyncio.sleep(0.3)
        assert types_of(receiver.snapshot()) == ["CUSTOMER_ARCHIVED"]

    async def test_patron_types_are_delivered_too(
        self, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        await make_policy(client, receiver.url)  # every type
        customer = await make_customer(client)
        await client.post(f"/customers/{customer['id']}/archive")
        await client.post(f"/customers/{customer['id']}/restore")
        await receiver.until(lambda got: "CUSTOMER_RESTORED" in types_of(got))
        got = receiver.snapshot()
        # In order per resource; different resources may arrive in any order.
        assert types_of([r for r in got if r.json["resourceType"] == "Customer"]) == [
            "CUSTOMER_CREATED",
            "CUSTOMER_ARCHIVED",
            "CUSTOMER_RESTORED",
        ]
        assert sorted(types_of(got)) == sorted(
            ["CUSTOMER_CREATED", "CONTACT_CREATED", "CUSTOMER_ARCHIVED", "CUSTOMER_RESTORED"]
        )
        contact = next(r for r in receiver.snapshot() if r.json["resourceType"] == "Contact")
        assert contact.json["resourceId"] == customer["contacts"][0]["id"]

    async def test_retries_while_down_then_delivers(self, client: httpx.AsyncClient) -> None:
        down = Receiver()  # its port is chosen, but nothing listens yet: connection refused
        policy = await make_policy(client, down.url, notificationTypes=["CUSTOMER_CREATED"])
        await make_customer(client)

        async def attempts() -> dict[str, Any]:
            items = (await client.get("/notifications/deliveries")).json()["items"]
            return items[0]  # type: ignore[no-any-return]

        deadline = asyncio.get_running_loop().time() + 20
        while (await attempts())["attempts"] < 3:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        failed = await attempts()
        assert failed["status"] == "PENDING"
        assert failed["lastError"].startswith("could not connect")
        assert all("statusCode" not in a for a in failed["attemptHistory"])
        down.status = 503  # up, but failing
        down.start()
        try:
            await down.until(lambda got: len(got) >= 2)
            down.status = 200
            await down.until(lambda got: len(got) >= 3)
            await asyncio.sleep(0.2)
            record = await attempts()
            assert record["status"] == "DELIVERED"
            assert record["lastStatusCode"] == 200
            assert "deliveredAt" in record
            codes = [a.get("statusCode") for a in record["attemptHistory"]]
            assert codes[-1] == 200
            assert 503 in codes
            assert codes[0] is None
            # Every attempt of the delivery carried the same webhook-id: the record's id.
            assert {r.webhook_id for r in down.snapshot()} == {record["id"]}
            # Nothing secret in the record.
            assert policy["webhookSecret"] not in str(record)
        finally:
            down.stop()

    async def test_order_per_resource(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        """The receiver fails the first tries of everything; a customer's later events still
        arrive only after the earlier ones were accepted."""
        failures: dict[str, int] = {}

        def flaky(got: Received) -> int:
            failures[got.webhook_id] = failures.get(got.webhook_id, 0) + 1
            return 500 if failures[got.webhook_id] <= 2 else 200

        receiver.status = flaky
        await make_policy(
            client,
            receiver.url,
            notificationTypes=["CUSTOMER_CREATED", "CUSTOMER_UPDATED", "CUSTOMER_ARCHIVED"],
        )
        customers = [await make_customer(client) for _ in range(3)]
        for c in customers:
            for n in range(3):
                body = customer_body(legalName=f"{c['legalName']} v{n}")
                response = await client.put(f"/customers/{c['id']}", json=body)
                assert response.status_code == 200
            archived = await client.post(f"/customers/{c['id']}/archive")
            assert archived.status_code == 200
        # Generous bounds: on a loaded machine three tries of fifteen events in order take long.
        await receiver.until(lambda got: len({r.webhook_id for r in got}) == 15, timeout=90)
        await receiver.until(lambda got: len(got) == 45, timeout=90)  # 3 tries each
        for c in customers:
            mine = [r for r in receiver.snapshot() if r.json["resourceId"] == c["id"]]
            order: list[str] = []
            for r in mine:  # the sequence of distinct deliveries, repeats folded
                if not order or order[-1] != r.webhook_id:
                    assert r.webhook_id not in order, "an earlier event came back after a later"
                    order.append(r.webhook_id)
            names = [
                next(r.json["resource"]["legalName"] for r in mine if r.webhook_id == i)
                for i in order
            ]
            assert names == [c["legalName"]] + [f"{c['legalName']} v{n}" for n in range(3)] + [
                f"{c['legalName']} v2"
            ]
            assert [
                next(r.json["notificationType"] for r in mine if r.webhook_id == i) for i in order
            ] == ["CUSTOMER_CREATED"] + ["CUSTOMER_UPDATED"] * 3 + ["CUSTOMER_ARCHIVED"]

    async def test_gives_up_after_the_retry_window(
        self, client: httpx.AsyncClient, services: Services, receiver: Receiver
    ) -> None:
        receiver.status = 500
        await make_policy(client, receiver.url, notificationTypes=["CUSTOMER_CREATED"])
        short = DispatchSettings(
            timeout_seconds=2, backoff_base_seconds=0.01, backoff_max_seconds=0.02, retry_seconds=0
        )
        # Past the window after its first attempt: recorded as FAILED, not retried.
        sender = HttpSender(timeout_seconds=2)
        try:
            await make_customer(client)
            mine = Dispatcher(services.delivery_queue, sender, short)
            for _ in range(200):
                items = (await client.get("/notifications/deliveries")).json()["items"]
                if items and items[0]["status"] == "FAILED":
                    break
                await mine.run_once()
                await asyncio.sleep(0.01)
            assert items[0]["status"] == "FAILED"
            assert items[0]["lastStatusCode"] == 500
            assert items[0]["lastError"] == "recipient answered 500"
            assert "nextAttemptAt" not in items[0]
        finally:
            await sender.close()

    async def test_redeliver_on_demand_with_the_same_id(
        self, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        await make_policy(client, receiver.url, notificationTypes=["CUSTOMER_CREATED"])
        await make_customer(client)
        await receiver.until(lambda got: len(got) == 1)
        await asyncio.sleep(0.2)
        (record,) = (await client.get("/notifications/deliveries")).json()["items"]
        assert record["status"] == "DELIVERED"
        response = await client.post(f"/notifications/deliveries/{record['id']}/redeliver")
        assert response.status_code == 200
        assert response.json()["status"] == "PENDING"
        await receiver.until(lambda got: len(got) == 2)
        first, second = receiver.snapshot()
        assert first.webhook_id == second.webhook_id == record["id"]
        assert first.body == second.body
        missing = await client.post(f"/notifications/deliveries/{MISSING_ID}/redeliver")
        assert missing.status_code == 404

    async def test_deleting_the_policy_cancels_pending(self, client: httpx.AsyncClient) -> None:
        down = Receiver()  # never started
        policy = await make_policy(client, down.url)
        await make_customer(client)
        await client.delete(f"/notifications/policies/{policy['id']}")
        items = (await client.get("/notifications/deliveries")).json()["items"]
        assert items
        assert {d["status"] for d in items} == {"CANCELLED"}
        response = await client.post(f"/notifications/deliveries/{items[0]['id']}/redeliver")
        assert response.status_code == 400

    async def test_several_recipients_each_get_it(self, client: httpx.AsyncClient) -> None:
        a, b = Receiver().start(), Receiver().start()
        try:
            body = {
                "name": "two",
                "channel": "WEBHOOK",
                "recipients": [a.url, b.url],
                "notificationTypes": ["CUSTOMER_CREATED"],
            }
            assert (await client.post("/notifications/policies", json=body)).status_code == 201
            await make_customer(client)
            await a.until(lambda got: len(got) == 1)
            await b.until(lambda got: len(got) == 1)
            assert a.snapshot()[0].webhook_id != b.snapshot()[0].webhook_id
        finally:
            a.stop()
            b.stop()


class TestDeliveryList:
    async def test_filters_and_pages(self, client: httpx.AsyncClient) -> None:
        down = Receiver()  # nothing is sent: no dispatcher runs in this test
        policy = await make_policy(client, down.url)
        other = await make_policy(client, down.url, notificationTypes=["CUSTOMER_ARCHIVED"])
        customers = [await make_customer(client) for _ in range(3)]
        await client.post(f"/customers/{customers[0]['id']}/archive")
        everything = (await client.get("/notifications/deliveries?limit=100")).json()
        # 3 customers and 3 contacts created, one archived (twice: both policies want it).
        assert everything["pagination"]["totalResultSize"] == 8
        by_type = await client.get("/notifications/deliveries?notificationType=CUSTOMER_ARCHIVED")
        assert {d["policyId"] for d in by_type.json()["items"]} == {policy["id"], other["id"]}
        by_policy = await client.get(f"/notifications/deliveries?policyId={other['id']}")
        assert len(by_policy.json()["items"]) == 1
        by_resource = await client.get(f"/notifications/deliveries?resourceId={customers[1]['id']}")
        assert [d["notificationType"] for d in by_resource.json()["items"]] == ["CUSTOMER_CREATED"]
        pending = await client.get("/notifications/deliveries?status=PENDING")
        assert pending.json()["pagination"]["totalResultSize"] == 8
        assert (await client.get("/notifications/deliveries?status=NOPE")).status_code == 400

        seen: list[str] = []
        page = (await client.get("/notifications/deliveries?limit=3")).json()
        while True:
            seen += [d["id"] for d in page["items"]]
            after = page["pagination"].get("after")
            if after is None:
                break
            page = (await client.get(f"/notifications/deliveries?limit=3&after={after}")).json()
        assert seen == [d["id"] for d in everything["items"]]
        assert len(set(seen)) == 8
        oldest = (await client.get("/notifications/deliveries?sortOrder=ASC&limit=100")).json()
        assert [d["id"] for d in oldest["items"]] == seen[::-1]
        first = oldest["items"][0]
        assert first["status"] == "PENDING"
        assert first["attempts"] == 0
        assert first["attemptHistory"] == []
        assert first["recipient"] == down.url
        assert "webhookSecret" not in str(everything)

    async def test_creates_before_during_and_after_a_policy(
        self, client: httpx.AsyncClient
    ) -> None:
        # Without live policies a create is sent alone, guarded against policies (migration
        # 0012); with one, the guard refuses and the create goes in a transaction with its
        # deliveries; the process then keeps sending that account's writes in transactions.
        before = await make_customer(client)
        policy = await make_policy(client, Receiver().url, notificationTypes=["CUSTOMER_CREATED"])
        during = await make_customer(client)
        await client.delete(f"/notifications/policies/{policy['id']}")
        after = await make_customer(client)
        items = (await client.get("/notifications/deliveries")).json()["items"]
        assert [(d["resourceId"], d["status"]) for d in items] == [(during["id"], "CANCELLED")]
        created = [e for e in await events(client) if e["type"] == "CUSTOMER_CREATED"]
        assert [e["resourceId"] for e in created] == [before["id"], during["id"], after["id"]]

    async def test_a_failed_write_enqueues_nothing(self, client: httpx.AsyncClient) -> None:
        await make_customer(client, customerAliases=[TAKEN])
        await make_policy(client, Receiver().url)
        # Fails on the alias after the customer row was written: nothing of it stays.
        response = await client.post("/customers", json=customer_body(customerAliases=[TAKEN]))
        assert response.status_code == 409
        assert (await client.get("/notifications/deliveries")).json()["items"] == []
