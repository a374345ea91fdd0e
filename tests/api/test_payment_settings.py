"""Customer payment settings through HTTP: create, get, update, delete; one record per customer
(also when creates race), account isolation, and archived customers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.errors import field_names
from tests.factories import make_customer

pytestmark = pytest.mark.asyncio

PATH = "/payments/settings/customers"


def account_id(client: httpx.AsyncClient) -> str:
    return str(client.issued.credential.account_id)  # type: ignore[attr-defined]


async def create_settings(
    client: httpx.AsyncClient, customer: dict[str, Any], provider: str = "STRIPE"
) -> dict[str, Any]:
    response = await client.post(
        PATH, json={"customerId": customer["id"], "paymentProvider": provider}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def archive(client: httpx.AsyncClient, customer: dict[str, Any]) -> None:
    assert (await client.post(f"/customers/{customer['id']}/archive")).status_code == 200


class TestCreatePaymentSettings:
    @pytest.mark.parametrize("provider", ["STRIPE", "GOCARDLESS", "NONE"])
    async def test_answers_the_settings(self, client: httpx.AsyncClient, provider: str) -> None:
        customer = await make_customer(client)
        response = await client.post(
            PATH, json={"customerId": customer["id"], "paymentProvider": provider}
        )
        assert response.status_code == 201
        settings = response.json()
        assert set(settings) == {"id", "sequenceAccountId", "customerId", "paymentProvider"}
        assert settings["sequenceAccountId"] == account_id(client)
        assert settings["customerId"] == customer["id"]
        assert settings["paymentProvider"] == provider
        assert (await client.get(f"{PATH}/{settings['id']}")).json() == settings

    @pytest.mark.parametrize(
        ("body", "fields"),
        [
            ({}, {"customerId", "paymentProvider"}),
            ({"customerId": "x", "paymentProvider": "PAYPAL"}, {"paymentProvider"}),
            ({"customerId": "x", "paymentProvider": "stripe"}, {"paymentProvider"}),
            ({"customerId": "", "paymentProvider": "STRIPE"}, {"customerId"}),
            ({"customerId": 12, "paymentProvider": None}, {"customerId", "paymentProvider"}),
        ],
    )
    async def test_malformed_bodies_name_each_field(
        self, client: httpx.AsyncClient, body: dict[str, Any], fields: set[str]
    ) -> None:
        response = await client.post(PATH, json=body)
        assert response.status_code == 400
        assert field_names(response) == fields

    async def test_the_customer_must_be_in_the_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        foreign = await make_customer(other_client)
        for customer_id in ("no-such-customer", foreign["id"]):
            response = await client.post(
                PATH, json={"customerId": customer_id, "paymentProvider": "STRIPE"}
            )
            assert response.status_code == 400
            assert response.json()["error"]["type"] == "ValidationError"
            assert field_names(response) == {"customerId"}
            assert customer_id in response.json()["error"]["message"]
        # The foreign customer is still free to get settings in its own account.
        await create_settings(other_client, foreign)

    async def test_archived_customers_get_no_new_settings(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        await archive(client, customer)
        response = await client.post(
            PATH, json={"customerId": customer["id"], "paymentProvider": "STRIPE"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "ArchivedResource"
        assert field_names(response) == {"customerId"}

    async def test_a_second_create_for_the_customer_is_a_conflict(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        first = await create_settings(client, customer, "STRIPE")
        response = await client.post(
            PATH, json={"customerId": customer["id"], "paymentProvider": "GOCARDLESS"}
        )
        assert response.status_code == 409
        assert response.json()["error"]["type"] == "Conflict"
        assert first["id"] in response.json()["error"]["message"]
        assert (await client.get(f"{PATH}/{first['id']}")).json() == first

    async def test_racing_creates_make_one_record(self, client: httpx.AsyncClient) -> None:
        for _ in range(5):
            customer = await make_customer(client)
            body = {"customerId": customer["id"], "paymentProvider": "STRIPE"}
            responses = await asyncio.gather(*(client.post(PATH, json=body) for _ in range(8)))
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [201] + [409] * 7, [r.text for r in responses]
            (winner,) = [r.json() for r in responses if r.status_code == 201]
            for loser in (r for r in responses if r.status_code == 409):
                assert winner["id"] in loser.json()["error"]["message"]
            assert (await client.get(f"{PATH}/{winner['id']}")).json() == winner

    async def test_each_customer_has_its_own(self, client: httpx.AsyncClient) -> None:
        one, two = await make_customer(client), await make_customer(client)
        first = await create_settings(client, one, "STRIPE")
        second = await create_settings(client, two, "NONE")
        assert first["id"] != second["id"]
        assert (first["customerId"], second["customerId"]) == (one["id"], two["id"])


class TestGetPaymentSettings:
    async def test_answers_the_settings(self, client: httpx.AsyncClient) -> None:
        settings = await create_settings(client, await make_customer(client), "GOCARDLESS")
        response = await client.get(f"{PATH}/{settings['id']}")
        assert response.status_code == 200
        assert response.json() == settings

    async def test_unknown_or_foreign_settings_are_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        settings = await create_settings(client, await make_customer(client))
        for who, settings_id in ((other_client, settings["id"]), (client, "no-such-settings")):
            response = await who.get(f"{PATH}/{settings_id}")
            assert response.status_code == 404
            assert response.json()["error"]["type"] == "NotFound"

    async def test_a_customer_id_is_not_a_settings_id(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        await create_settings(client, customer)
        assert (await client.get(f"{PATH}/{customer['id']}")).status_code == 404

    async def test_archiving_the_customer_keeps_its_settings(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        settings = await create_settings(client, customer)
        await archive(client, customer)
        assert (await client.get(f"{PATH}/{settings['id']}")).json() == settings


class TestUpdatePaymentSettings:
    async def test_changes_the_provider(self, client: httpx.AsyncClient) -> None:
        settings = await create_settings(client, await make_customer(client), "STRIPE")
        response = await client.put(f"{PATH}/{settings['id']}", json={"paymentProvider": "NONE"})
        assert response.status_code == 200
        assert response.json() == {**settings, "paymentProvider": "NONE"}
        assert (await client.get(f"{PATH}/{settings['id']}")).json() == response.json()

    async def test_the_provider_is_required_and_checked(self, client: httpx.AsyncClient) -> None:
        settings = await create_settings(client, await make_customer(client))
        for body in ({}, {"paymentProvider": "CASH"}):
            response = await client.put(f"{PATH}/{settings['id']}", json=body)
            assert response.status_code == 400
            assert field_names(response) == {"paymentProvider"}
        assert (await client.get(f"{PATH}/{settings['id']}")).json() == settings

    async def test_the_customer_cannot_be_changed(self, client: httpx.AsyncClient) -> None:
        settings = await create_settings(client, await make_customer(client))
        other = await make_customer(client)
        response = await client.put(
            f"{PATH}/{settings['id']}", json={"paymentProvider": "NONE", "customerId": other["id"]}
        )
        assert response.status_code == 200
        assert response.json()["customerId"] == settings["customerId"]

    async def test_unknown_or_foreign_settings_are_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        settings = await create_settings(client, await make_customer(client), "STRIPE")
        body = {"paymentProvider": "NONE"}
        assert (await other_client.put(f"{PATH}/{settings['id']}", json=body)).status_code == 404
        assert (await client.put(f"{PATH}/no-such-settings", json=body)).status_code == 404
        assert (await client.get(f"{PATH}/{settings['id']}")).json() == settings

    async def test_an_archived_customers_settings_cannot_change(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        settings = await create_settings(client, customer, "STRIPE")
        await archive(client, customer)
        response = await client.put(f"{PATH}/{settings['id']}", json={"paymentProvider": "NONE"})
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "ArchivedResource"
        assert (await client.get(f"{PATH}/{settings['id']}")).json() == settings


class TestDeletePaymentSettings:
    async def test_answers_the_deleted_settings(self, client: httpx.AsyncClient) -> None:
        settings = await create_settings(client, await make_customer(client), "GOCARDLESS")
        response = await client.delete(f"{PATH}/{settings['id']}")
        assert response.status_code == 200
        assert response.json() == settings
        assert (await client.get(f"{PATH}/{settings['id']}")).status_code == 404
        assert (await client.delete(f"{PATH}/{settings['id']}")).status_code == 404
        put = await client.put(f"{PATH}/{settings['id']}", json={"paymentProvider": "NONE"})
        assert put.status_code == 404

    async def test_the_customer_may_have_new_settings_after(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        old = await create_settings(client, customer, "STRIPE")
        assert (await client.delete(f"{PATH}/{old['id']}")).status_code == 200
        new = await create_settings(client, customer, "NONE")
        assert new["id"] != old["id"]
        assert new["customerId"] == customer["id"]

    async def test_unknown_or_foreign_settings_are_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        settings = await create_settings(client, await make_customer(client))
        assert (await other_client.delete(f"{PATH}/{settings['id']}")).status_code == 404
        assert (await client.delete(f"{PATH}/no-such-settings")).status_code == 404
        assert (await client.get(f"{PATH}/{settings['id']}")).json() == settings

    async def test_an_archived_customers_settings_can_be_deleted(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        settings = await create_settings(client, customer)
        await archive(client, customer)
        assert (await client.delete(f"{PATH}/{settings['id']}")).json() == settings
        # Deleted, they cannot be made again while the customer is archived.
        again = await client.post(
            PATH, json={"customerId": customer["id"], "paymentProvider": "NONE"}
        )
        assert again.status_code == 400
