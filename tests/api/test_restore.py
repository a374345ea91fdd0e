"""Restoring archived customers and contacts (Patron extensions)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.errors import MISSING_ID, error_type
from tests.api.history import events, types
from tests.factories import contact, make_customer

pytestmark = pytest.mark.asyncio


class TestRestoreCustomer:
    async def test_clears_archived_at(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, customerAliases=["kept-1"])
        cid = customer["id"]
        archived = await client.post(f"/customers/{cid}/archive")
        assert archived.json()["archivedAt"]
        restored = await client.post(f"/customers/{cid}/restore")
        assert restored.status_code == 200
        assert restored.json() == customer
        listed = (await client.get("/customers")).json()["items"]
        assert cid in {c["id"] for c in listed}
        assert (await types(client))[-2:] == ["CUSTOMER_ARCHIVED", "CUSTOMER_RESTORED"]
        change = (await events(client))[-1]["changes"]
        assert change == [{"path": "archivedAt", "from": archived.json()["archivedAt"]}]

    async def test_a_live_customer_is_answered_unchanged(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        before = await events(client)
        restored = await client.post(f"/customers/{customer['id']}/restore")
        assert restored.status_code == 200
        assert restored.json() == customer
        assert await events(client) == before

    async def test_aliases_stay_reserved_while_archived(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, customerAliases=["crm-9"])
        other = await make_customer(client)
        await client.post(f"/customers/{customer['id']}/archive")
        taken = await client.post(
            "/customer-aliases", json={"customerId": other["id"], "value": "crm-9"}
        )
        assert taken.status_code == 409
        await client.post(f"/customers/{customer['id']}/restore")
        found = await client.get("/customers/by-alias/crm-9")
        assert found.json()["id"] == customer["id"]
        assert "Patron-Restore-Warnings" not in found.headers

    async def test_in_older_versions_answers_their_shape(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        await client.post(f"/customers/{customer['id']}/archive")
        restored = await client.post(
            f"/customers/{customer['id']}/restore", headers={"Sequence-Version": "2024-01-01"}
        )
        assert restored.status_code == 200
        assert restored.json()["sequenceAccountId"]
        assert "archivedAt" not in restored.json()

    async def test_unknown_or_foreign_customer_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        await client.post(f"/customers/{customer['id']}/archive")
        for response in (
            await client.post(f"/customers/{MISSING_ID}/restore"),
            await other_client.post(f"/customers/{customer['id']}/restore"),
        ):
            assert response.status_code == 404
            assert error_type(response) == "NotFound"
        assert (await client.get(f"/customers/{customer['id']}")).json()["archivedAt"]

    async def test_a_restored_customer_can_be_updated_again(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        url = f"/customers/{customer['id']}"
        await client.post(f"{url}/archive")
        body = {k: customer[k] for k in ("legalName", "address", "taxStatus")}
        body["contacts"] = [contact()]
        assert (await client.put(url, json=body)).status_code == 400
        await client.post(f"{url}/restore")
        assert (await client.put(url, json=body)).status_code == 200


class TestRestoreContact:
    async def _archived_contact(
        self, client: httpx.AsyncClient, **overrides: str
    ) -> tuple[str, dict[str, str]]:
        customer = await make_customer(client)
        cid = customer["id"]
        created = await client.post(
            f"/customers/{cid}/contacts", json=contact(billingPreference="NONE", **overrides)
        )
        assert created.status_code == 201, created.text
        url = f"/customers/{cid}/contacts/{created.json()['id']}"
        assert (await client.post(f"{url}/archive")).status_code == 200
        return url, created.json()

    async def test_makes_it_live_again(self, client: httpx.AsyncClient) -> None:
        url, created = await self._archived_contact(client)
        restored = await client.post(f"{url}/restore")
        assert restored.status_code == 200
        body = restored.json()
        assert "archivedAt" not in body
        assert body["id"] == created["id"]
        assert body["email"] == created["email"]
        customer_url = url.split("/contacts/")[0]
        live = (await client.get(f"{customer_url}/contacts")).json()["items"]
        assert created["id"] in {c["id"] for c in live}
        assert (await types(client))[-1] == "CONTACT_RESTORED"

    async def test_a_live_contact_is_answered_unchanged(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        c = customer["contacts"][0]
        before = await events(client)
        response = await client.post(f"/customers/{customer['id']}/contacts/{c['id']}/restore")
        assert response.status_code == 200
        assert response.json() == c
        assert await events(client) == before

    async def test_an_email_now_taken_is_409(self, client: httpx.AsyncClient) -> None:
        url, created = await self._archived_contact(client)
        customer_url = url.split("/contacts/")[0]
        again = await client.post(
            f"{customer_url}/contacts",
            json=contact(email=created["email"].upper(), billingPreference="NONE"),
        )
        assert again.status_code == 201
        before = await events(client)
        response = await client.post(f"{url}/restore")
        assert response.status_code == 409
        assert error_type(response) == "Conflict"
        assert await events(client) == before

    async def test_the_primary_rule_holds(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        cid = customer["id"]
        second = await client.post(
            f"/customers/{cid}/contacts", json=contact(billingPreference="STANDARD")
        )
        second_url = f"/customers/{cid}/contacts/{second.json()['id']}"
        await client.post(f"{second_url}/archive")
        primary = customer["contacts"][0]
        none = {"name": primary["name"], "email": primary["email"], "billingPreference": "NONE"}
        changed = await client.put(f"/customers/{cid}/contacts/{primary['id']}", json=none)
        assert changed.status_code == 200
        response = await client.post(f"{second_url}/restore")
        assert response.status_code == 400
        assert error_type(response) == "ValidationError"

    async def test_contacts_of_an_archived_customer_stay_archived(
        self, client: httpx.AsyncClient
    ) -> None:
        url, _ = await self._archived_contact(client)
        await client.post(f"{url.split('/contacts/')[0]}/archive")
        response = await client.post(f"{url}/restore")
        assert response.status_code == 400
        assert error_type(response) == "ArchivedResource"

    async def test_unknown_contact_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        url, _ = await self._archived_contact(client)
        customer_url = url.split("/contacts/")[0]
        assert (await client.post(f"{customer_url}/contacts/{MISSING_ID}/restore")).status_code == (
            404
        )
        assert (await other_client.post(f"{url}/restore")).status_code == 404
