"""Contacts of a customer: list, create, update, archive through HTTP, and the PRIMARY rule."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.errors import MISSING_ID, error_type, field_names
from tests.factories import contact, make_customer
from tests.server_process import at_once, posting, server_process

pytestmark = pytest.mark.asyncio


async def customer_with(client: httpx.AsyncClient, *preferences: str) -> dict[str, Any]:
    """A customer whose contacts have these billing preferences, in this order."""
    return await make_customer(client, contacts=[contact(billingPreference=p) for p in preferences])


async def live_contacts(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/customers/{customer_id}/contacts")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def preferences(contacts: list[dict[str, Any]]) -> list[str]:
    return [c["billingPreference"] for c in contacts]


class TestListContacts:
    async def test_live_contacts_oldest_first(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY", "STANDARD", "NONE")
        response = await client.get(f"/customers/{customer['id']}/contacts")
        assert response.status_code == 200
        assert response.json() == {"items": customer["contacts"]}
        assert "pagination" not in response.json()

    async def test_archived_contacts_only_when_asked(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY", "NONE")
        primary, other = customer["contacts"]
        archived = (
            await client.post(f"/customers/{customer['id']}/contacts/{other['id']}/archive")
        ).json()
        assert await live_contacts(client, customer["id"]) == [primary]
        explicit = await client.get(
            f"/customers/{customer['id']}/contacts", params={"includeArchived": "false"}
        )
        assert explicit.json()["items"] == [primary]
        everything = await client.get(
            f"/customers/{customer['id']}/contacts", params={"includeArchived": "true"}
        )
        assert everything.json()["items"] == [primary, archived]
        assert "archivedAt" in everything.json()["items"][1]

    async def test_include_archived_must_be_a_boolean(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY")
        response = await client.get(
            f"/customers/{customer['id']}/contacts", params={"includeArchived": "yes"}
        )
        assert response.status_code == 400
        assert field_names(response) == {"includeArchived"}

    async def test_an_archived_customers_contacts_can_be_read(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY")
        await client.post(f"/customers/{customer['id']}/archive")
        assert await live_contacts(client, customer["id"]) == customer["contacts"]

    async def test_a_customer_without_contacts(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client)
        assert await live_contacts(client, customer["id"]) == []

    async def test_unknown_or_foreign_customer_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY")
        for who, customer_id in ((client, MISSING_ID), (other_client, customer["id"])):
            response = await who.get(f"/customers/{customer_id}/contacts")
            assert response.status_code == 404
            assert error_type(response) == "NotFound"


class TestCreateContact:
    async def test_answers_the_created_contact(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY")
        body = {"name": "Ann Example", "email": "ann@example.com", "billingPreference": "STANDARD"}
        response = await client.post(f"/customers/{customer['id']}/contacts", json=body)
        assert response.status_code == 201
        created = response.json()
        assert set(created) == {
            "id",
            "name",
            "email",
            "billingPreference",
            "createdAt",
            "updatedAt",
        }
        assert (created["name"], created["email"], created["billingPreference"]) == (
            "Ann Example",
            "ann@example.com",
            "STANDARD",
        )
        assert created["createdAt"] == created["updatedAt"]
        assert created["createdAt"].endswith("Z")
        assert await live_contacts(client, customer["id"]) == [*customer["contacts"], created]
        fetched = (await client.get(f"/customers/{customer['id']}")).json()
        assert fetched["contacts"][-1] == created

    async def test_every_bad_field_is_named(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY")
        path = f"/customers/{customer['id']}/contacts"
        missing = await client.post(path, json={})
        assert missing.status_code == 400
        assert field_names(missing) == {"name", "email", "billingPreference"}
        bad = await client.post(
            path, json={"name": " ", "email": "not-an-email", "billingPreference": "PRIMARY"}
        )
        assert bad.status_code == 400
        assert field_names(bad) == {"name", "email"}
        wrong_enum = await client.post(path, json=contact(billingPreference="ALWAYS"))
        assert field_names(wrong_enum) == {"billingPreference"}
        too_long = await client.post(path, json=contact(name="x" * 256))
        assert field_names(too_long) == {"name"}
        assert await live_contacts(client, customer["id"]) == customer["contacts"]

    async def test_a_standard_contact_needs_a_primary(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "NONE")
        path = f"/customers/{customer['id']}/contacts"
        refused = await client.post(path, json=contact(billingPreference="STANDARD"))
        assert refused.status_code == 400
        assert error_type(refused) == "ValidationError"
        assert "PRIMARY" in refused.json()["error"]["message"]
        assert field_names(refused) == {"contacts"}
        assert preferences(await live_contacts(client, customer["id"])) == ["NONE"]
        assert (
            await client.post(path, json=contact(billingPreference="PRIMARY"))
        ).status_code == 201
        assert (
            await client.post(path, json=contact(billingPreference="STANDARD"))
        ).status_code == 201

    async def test_contacts_without_billing_mail_need_no_primary(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client)
        response = await client.post(
            f"/customers/{customer['id']}/contacts", json=contact(billingPreference="NONE")
        )
        assert response.status_code == 201

    async def test_several_primary_contacts_may_coexist(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY")
        response = await client.post(
            f"/customers/{customer['id']}/contacts", json=contact(billingPreference="PRIMARY")
        )
        assert response.status_code == 201
        assert preferences(await live_contacts(client, customer["id"])) == ["PRIMARY", "PRIMARY"]

    async def test_email_is_unique_among_live_contacts(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(
            client,
            contacts=[
                contact(email="ann@example.com", billingPreference="PRIMARY"),
                contact(email="bob@example.com", billingPreference="NONE"),
            ],
        )
        path = f"/customers/{customer['id']}/contacts"
        clash = await client.post(path, json=contact(email=" BOB@Example.com "))
        assert clash.status_code == 409
        assert error_type(clash) == "Conflict"
        assert "bob@example.com" in clash.json()["error"]["message"]
        # Once the holder is archived, the email is free; another customer may use it any time.
        bob = customer["contacts"][1]
        await client.post(f"{path}/{bob['id']}/archive")
        assert (await client.post(path, json=contact(email="bob@example.com"))).status_code == 201
        other = await customer_with(client, "PRIMARY")
        again = await client.post(
            f"/customers/{other['id']}/contacts", json=contact(email="ann@example.com")
        )
        assert again.status_code == 201

    async def test_parallel_creates_with_one_email(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY")
        path = f"/customers/{customer['id']}/contacts"
        responses = await asyncio.gather(
            *(client.post(path, json=contact(email="same@example.com")) for _ in range(6))
        )
        assert sorted(r.status_code for r in responses) == [201] + [409] * 5
        emails = [c["email"] for c in await live_contacts(client, customer["id"])]
        assert emails.count("same@example.com") == 1

    async def test_an_archived_customer_gets_no_contacts(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY")
        await client.post(f"/customers/{customer['id']}/archive")
        response = await client.post(f"/customers/{customer['id']}/contacts", json=contact())
        assert response.status_code == 400
        assert error_type(response) == "ArchivedResource"

    async def test_unknown_or_foreign_customer_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY")
        for who, customer_id in ((client, MISSING_ID), (other_client, customer["id"])):
            response = await who.post(f"/customers/{customer_id}/contacts", json=contact())
            assert response.status_code == 404
        assert await live_contacts(client, customer["id"]) == customer["contacts"]


class TestUpdateContact:
    async def test_replaces_name_email_and_preference(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY", "NONE")
        target = customer["contacts"][1]
        await asyncio.sleep(0.002)  # timestamps are shown to the millisecond
        body = {"name": "New Name", "email": "new@example.com", "billingPreference": "STANDARD"}
        response = await client.put(
            f"/customers/{customer['id']}/contacts/{target['id']}", json=body
        )
        assert response.status_code == 200
        updated = response.json()
        assert updated["id"] == target["id"]
        assert (updated["name"], updated["email"], updated["billingPreference"]) == (
            "New Name",
            "new@example.com",
            "STANDARD",
        )
        assert updated["createdAt"] == target["createdAt"]
        assert updated["updatedAt"] > target["updatedAt"]
        assert (await live_contacts(client, customer["id"]))[1] == updated

    async def test_every_field_is_required(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY")
        target = customer["contacts"][0]
        response = await client.put(
            f"/customers/{customer['id']}/contacts/{target['id']}", json={"name": "Only"}
        )
        assert response.status_code == 400
        assert field_names(response) == {"email", "billingPreference"}
        assert await live_contacts(client, customer["id"]) == customer["contacts"]

    @pytest.mark.parametrize("demoted_to", ["STANDARD", "NONE"])
    async def test_the_last_primary_stays_while_others_get_billing_mail(
        self, client: httpx.AsyncClient, demoted_to: str
    ) -> None:
        customer = await customer_with(client, "PRIMARY", "STANDARD")
        primary = customer["contacts"][0]
        response = await client.put(
            f"/customers/{customer['id']}/contacts/{primary['id']}",
            json=contact(email=primary["email"], billingPreference=demoted_to),
        )
        assert response.status_code == 400
        message = response.json()["error"]["message"]
        assert "last PRIMARY" in message
        assert "make another contact PRIMARY first" in message
        assert await live_contacts(client, customer["id"]) == customer["contacts"]

    async def test_a_primary_may_step_down_when_another_remains(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY", "PRIMARY", "STANDARD")
        first = customer["contacts"][0]
        response = await client.put(
            f"/customers/{customer['id']}/contacts/{first['id']}",
            json=contact(billingPreference="STANDARD"),
        )
        assert response.status_code == 200
        assert preferences(await live_contacts(client, customer["id"])) == [
            "STANDARD",
            "PRIMARY",
            "STANDARD",
        ]

    async def test_the_last_primary_may_step_down_when_no_one_gets_billing_mail(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY", "NONE")
        primary = customer["contacts"][0]
        response = await client.put(
            f"/customers/{customer['id']}/contacts/{primary['id']}",
            json=contact(billingPreference="NONE"),
        )
        assert response.status_code == 200

    async def test_becoming_standard_needs_a_primary(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "NONE")
        target = customer["contacts"][0]
        response = await client.put(
            f"/customers/{customer['id']}/contacts/{target['id']}",
            json=contact(billingPreference="STANDARD"),
        )
        assert response.status_code == 400
        assert "no PRIMARY contact" in response.json()["error"]["message"]

    async def test_email_is_unique_among_live_contacts(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(
            client,
            contacts=[
                contact(email="ann@example.com", billingPreference="PRIMARY"),
                contact(email="bob@example.com", billingPreference="NONE"),
            ],
        )
        ann, bob = customer["contacts"]
        path = f"/customers/{customer['id']}/contacts"
        clash = await client.put(
            f"{path}/{bob['id']}", json=contact(email="Ann@example.com", billingPreference="NONE")
        )
        assert clash.status_code == 409
        assert error_type(clash) == "Conflict"
        # A contact may keep its own email, in another case too.
        own = await client.put(
            f"{path}/{ann['id']}",
            json=contact(email="ANN@example.com", billingPreference="PRIMARY"),
        )
        assert own.status_code == 200
        assert own.json()["email"] == "ANN@example.com"

    async def test_an_archived_contact_cannot_be_updated(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY", "NONE")
        target = customer["contacts"][1]
        path = f"/customers/{customer['id']}/contacts/{target['id']}"
        await client.post(f"{path}/archive")
        response = await client.put(path, json=contact(billingPreference="NONE"))
        assert response.status_code == 400
        assert error_type(response) == "ArchivedResource"

    async def test_an_archived_customers_contacts_cannot_change(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY")
        target = customer["contacts"][0]
        await client.post(f"/customers/{customer['id']}/archive")
        response = await client.put(
            f"/customers/{customer['id']}/contacts/{target['id']}", json=contact()
        )
        assert response.status_code == 400
        assert error_type(response) == "ArchivedResource"

    async def test_unknown_foreign_or_other_customers_contact_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY")
        neighbour = await customer_with(client, "PRIMARY")
        target = customer["contacts"][0]
        body = contact(billingPreference="PRIMARY")
        for who, customer_id, contact_id in (
            (client, customer["id"], MISSING_ID),
            (client, MISSING_ID, target["id"]),
            (client, neighbour["id"], target["id"]),  # not reachable through another customer
            (other_client, customer["id"], target["id"]),
        ):
            response = await who.put(f"/customers/{customer_id}/contacts/{contact_id}", json=body)
            assert response.status_code == 404, (customer_id, contact_id)
            assert error_type(response) == "NotFound"
        assert await live_contacts(client, customer["id"]) == customer["contacts"]


class TestArchiveContact:
    async def test_sets_archived_at_once(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY", "NONE")
        target = customer["contacts"][1]
        path = f"/customers/{customer['id']}/contacts/{target['id']}/archive"
        first = await client.post(path)
        assert first.status_code == 200
        archived = first.json()
        assert archived["archivedAt"].endswith("Z")
        assert {k: v for k, v in archived.items() if k not in ("archivedAt", "updatedAt")} == {
            k: v for k, v in target.items() if k != "updatedAt"
        }
        await asyncio.sleep(0.002)
        again = await client.post(path)
        assert again.status_code == 200
        assert again.json() == archived
        assert await live_contacts(client, customer["id"]) == customer["contacts"][:1]
        fetched = (await client.get(f"/customers/{customer['id']}")).json()
        assert [c["id"] for c in fetched["contacts"]] == [customer["contacts"][0]["id"]]

    async def test_the_last_primary_stays_while_others_get_billing_mail(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY", "STANDARD")
        primary, standard = customer["contacts"]
        path = f"/customers/{customer['id']}/contacts"
        refused = await client.post(f"{path}/{primary['id']}/archive")
        assert refused.status_code == 400
        assert "last PRIMARY" in refused.json()["error"]["message"]
        assert await live_contacts(client, customer["id"]) == customer["contacts"]
        # Without the STANDARD contact nobody else gets billing mail: the PRIMARY may go.
        assert (await client.post(f"{path}/{standard['id']}/archive")).status_code == 200
        assert (await client.post(f"{path}/{primary['id']}/archive")).status_code == 200
        assert await live_contacts(client, customer["id"]) == []

    async def test_one_of_several_primaries_may_go(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY", "PRIMARY", "STANDARD")
        first = customer["contacts"][0]
        response = await client.post(f"/customers/{customer['id']}/contacts/{first['id']}/archive")
        assert response.status_code == 200
        assert preferences(await live_contacts(client, customer["id"])) == ["PRIMARY", "STANDARD"]

    async def test_an_archived_customers_contacts_stay(self, client: httpx.AsyncClient) -> None:
        customer = await customer_with(client, "PRIMARY", "NONE", "NONE")
        _, gone, kept = customer["contacts"]
        path = f"/customers/{customer['id']}/contacts"
        archived = (await client.post(f"{path}/{gone['id']}/archive")).json()
        await client.post(f"/customers/{customer['id']}/archive")
        refused = await client.post(f"{path}/{kept['id']}/archive")
        assert refused.status_code == 400
        assert error_type(refused) == "ArchivedResource"
        # Repeating an archive that already happened still answers the archived contact.
        repeated = await client.post(f"{path}/{gone['id']}/archive")
        assert repeated.status_code == 200
        assert repeated.json() == archived

    async def test_unknown_foreign_or_other_customers_contact_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await customer_with(client, "PRIMARY")
        neighbour = await customer_with(client, "PRIMARY")
        target = customer["contacts"][0]
        for who, customer_id, contact_id in (
            (client, customer["id"], MISSING_ID),
            (client, MISSING_ID, target["id"]),
            (client, neighbour["id"], target["id"]),
            (other_client, customer["id"], target["id"]),
        ):
            response = await who.post(f"/customers/{customer_id}/contacts/{contact_id}/archive")
            assert response.status_code == 404, (customer_id, contact_id)
        assert await live_contacts(client, customer["id"]) == customer["contacts"]

    async def test_parallel_changes_keep_a_primary(self, client: httpx.AsyncClient) -> None:
        """Two requests that each leave one PRIMARY, run at once: one must see the other's change.
        Several customers at a time, to give the requests many chances to interleave."""
        customers = [
            await customer_with(client, "PRIMARY", "PRIMARY", "STANDARD") for _ in range(5)
        ]

        def demote(c: dict[str, Any], i: int) -> Any:
            target = c["contacts"][i]
            return client.put(
                f"/customers/{c['id']}/contacts/{target['id']}",
                json=contact(email=target["email"], billingPreference="STANDARD"),
            )

        def archive(c: dict[str, Any], i: int) -> Any:
            return client.post(f"/customers/{c['id']}/contacts/{c['contacts'][i]['id']}/archive")

        calls = []
        for n, c in enumerate(customers):
            first, second = (archive, archive) if n % 2 else (demote, archive)
            calls += [first(c, 0), second(c, 1)]
        responses = await asyncio.gather(*calls)
        for n, c in enumerate(customers):
            statuses = sorted(r.status_code for r in responses[2 * n : 2 * n + 2])
            assert statuses == [200, 400], statuses
            assert preferences(await live_contacts(client, c["id"])).count("PRIMARY") == 1

    async def test_parallel_archives_against_a_server_process(
        self, client: httpx.AsyncClient, database_url: str
    ) -> None:
        customers = [
            await customer_with(client, "PRIMARY", "PRIMARY", "STANDARD") for _ in range(4)
        ]
        calls = [
            posting(f"/customers/{c['id']}/contacts/{c['contacts'][i]['id']}/archive")
            for c in customers
            for i in (0, 1)
        ]
        with server_process(database_url) as base:
            responses = at_once(base, dict(client.headers), calls)
        for n, c in enumerate(customers):
            statuses = sorted(r.status_code for r in responses[2 * n : 2 * n + 2])
            assert statuses == [200, 400], statuses
            assert preferences(await live_contacts(client, c["id"])) == ["PRIMARY", "STANDARD"]
