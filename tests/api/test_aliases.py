"""Customer aliases through HTTP: the alias endpoints and finding a customer by alias."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.api.errors import MISSING_ID, error_type, field_names
from tests.factories import contact, customer_body, make_customer
from tests.server_process import at_once, posting, server_process

pytestmark = pytest.mark.asyncio

ALIAS_FIELDS = {"id", "sequenceAccountId", "customerId", "value", "createdAt"}


def account_of(client: httpx.AsyncClient) -> str:
    account: str = client.issued.credential.account_id  # type: ignore[attr-defined]
    return account


async def make_alias(
    client: httpx.AsyncClient, customer_id: str, value: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/customer-aliases", json={"customerId": customer_id, "value": value, **extra}
    )
    assert response.status_code == 201, response.text
    alias: dict[str, Any] = response.json()
    return alias


async def list_aliases(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/customer-aliases", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def by_alias(client: httpx.AsyncClient, value: str, **kwargs: Any) -> httpx.Response:
    return await client.get(f"/customers/by-alias/{quote(value, safe='')}", **kwargs)


class TestCreateCustomerAlias:
    async def test_answers_the_created_alias(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        response = await client.post(
            "/customer-aliases",
            json={"customerId": customer["id"], "value": "crm-1", "label": "CRM ID"},
        )
        assert response.status_code == 201
        alias = response.json()
        assert set(alias) == ALIAS_FIELDS | {"label"}
        assert alias["sequenceAccountId"] == account_of(client)
        assert (alias["customerId"], alias["value"], alias["label"]) == (
            customer["id"],
            "crm-1",
            "CRM ID",
        )
        assert alias["createdAt"].endswith("Z")
        unlabelled = await make_alias(client, customer["id"], "crm-2")
        assert "label" not in unlabelled
        assert "deletedAt" not in unlabelled

    async def test_unknown_fields_are_ignored(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        alias = await make_alias(
            client,
            customer["id"],
            "legacy",
            sequenceAccountId="someone-elses-account",
            deletedAt="2022-10-01T00:00:00Z",
        )
        assert alias["sequenceAccountId"] == account_of(client)
        assert "deletedAt" not in alias

    async def test_every_bad_field_is_named(self, client: httpx.AsyncClient) -> None:
        missing = await client.post("/customer-aliases", json={"label": 7})
        assert missing.status_code == 400
        assert field_names(missing) == {"customerId", "value", "label"}
        customer = await make_customer(client)
        for value in ("", "   ", "x" * 256):
            bad = await client.post(
                "/customer-aliases", json={"customerId": customer["id"], "value": value}
            )
            assert bad.status_code == 400
            assert field_names(bad) == {"value"}

    async def test_a_live_value_is_taken_once_per_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        first = await make_customer(client)
        second = await make_customer(client)
        await make_alias(client, first["id"], "crm-1")
        for customer in (first, second):
            response = await client.post(
                "/customer-aliases", json={"customerId": customer["id"], "value": "crm-1"}
            )
            assert response.status_code == 409
            assert error_type(response) == "Conflict"
            assert "crm-1" in response.json()["error"]["message"]
        # Values compare exactly.
        await make_alias(client, second["id"], "CRM-1")
        # Another account has its own namespace.
        theirs = await make_customer(other_client)
        await make_alias(other_client, theirs["id"], "crm-1")

    async def test_customer_aliases_and_alias_endpoint_share_one_namespace(
        self, client: httpx.AsyncClient
    ) -> None:
        holder = await make_customer(client, customerAliases=["from-create"])
        clash = await client.post(
            "/customer-aliases", json={"customerId": holder["id"], "value": "from-create"}
        )
        assert clash.status_code == 409
        await make_alias(client, holder["id"], "from-endpoint")
        create = await client.post(
            "/customers", json=customer_body(customerAliases=["from-endpoint"])
        )
        assert create.status_code == 409
        other = await make_customer(client)
        update = await client.put(
            f"/customers/{other['id']}", json=customer_body(customerAliases=["from-endpoint"])
        )
        assert update.status_code == 409
        assert error_type(update) == "Conflict"

    async def test_another_customers_id_is_taken(self, client: httpx.AsyncClient) -> None:
        first = await make_customer(client)
        second = await make_customer(client)
        response = await client.post(
            "/customer-aliases", json={"customerId": second["id"], "value": first["id"]}
        )
        assert response.status_code == 409
        assert error_type(response) == "Conflict"

    async def test_a_deleted_value_is_free_again(self, client: httpx.AsyncClient) -> None:
        first = await make_customer(client)
        second = await make_customer(client)
        old = await make_alias(client, first["id"], "moving")
        await client.delete(f"/customer-aliases/{old['id']}")
        moved = await make_alias(client, second["id"], "moving")
        assert moved["id"] != old["id"]
        found = await by_alias(client, "moving")
        assert found.json()["id"] == second["id"]

    async def test_an_archived_customer_gains_no_alias(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        await client.post(f"/customers/{customer['id']}/archive")
        response = await client.post(
            "/customer-aliases", json={"customerId": customer["id"], "value": "late"}
        )
        assert response.status_code == 400
        assert error_type(response) == "ArchivedResource"

    async def test_unknown_or_foreign_customer_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        theirs = await make_customer(other_client)
        for customer_id in (MISSING_ID, theirs["id"]):
            response = await client.post(
                "/customer-aliases", json={"customerId": customer_id, "value": "x"}
            )
            assert response.status_code == 404
            assert error_type(response) == "NotFound"
        assert (await list_aliases(client))["items"] == []

    async def test_parallel_duplicates_one_wins(self, client: httpx.AsyncClient) -> None:
        customers = [await make_customer(client) for _ in range(4)]
        bodies = [{"customerId": c["id"], "value": "contested"} for c in customers * 2]
        responses = await asyncio.gather(
            *(client.post("/customer-aliases", json=b) for b in bodies)
        )
        assert sorted(r.status_code for r in responses) == [201] + [409] * 7
        for r in responses:
            if r.status_code == 409:
                assert error_type(r) == "Conflict"
        assert (await list_aliases(client, value="contested"))["pagination"]["totalResultSize"] == 1

    async def test_parallel_duplicates_against_a_server_process(
        self, client: httpx.AsyncClient, database_url: str
    ) -> None:
        customers = [await make_customer(client) for _ in range(4)]
        calls = [
            posting("/customer-aliases", {"customerId": c["id"], "value": "raced"})
            for c in customers * 2
        ]
        with server_process(database_url) as base:
            responses = at_once(base, dict(client.headers), calls)
        assert sorted(r.status_code for r in responses) == [201] + [409] * 7
        assert all(
            r.json()["error"]["type"] == "Conflict" for r in responses if r.status_code == 409
        )
        winner = next(r.json() for r in responses if r.status_code == 201)
        found = await by_alias(client, "raced")
        assert found.json()["id"] == winner["customerId"]


class TestListCustomerAliases:
    async def test_live_aliases_newest_first(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, customerAliases=["a0"])
        made = [await make_alias(client, customer["id"], f"a{i}", label=f"L{i}") for i in (1, 2, 3)]
        gone = await make_alias(client, customer["id"], "gone")
        await client.delete(f"/customer-aliases/{gone['id']}")
        body = await list_aliases(client)
        assert [a["value"] for a in body["items"]] == ["a3", "a2", "a1", "a0"]
        assert body["items"][:3] == made[::-1]
        assert body["pagination"] == {"totalResultSize": 4}
        assert set(body["items"][3]) == ALIAS_FIELDS

    async def test_value_filter(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, customerAliases=["one", "two", "One"])
        body = await list_aliases(client, value="one")
        assert [a["value"] for a in body["items"]] == ["one"]
        assert body["pagination"]["totalResultSize"] == 1
        assert body["items"][0]["customerId"] == customer["id"]
        assert (await list_aliases(client, value="o%"))["items"] == []
        # An empty filter filters nothing.
        assert (await list_aliases(client, value=""))["pagination"]["totalResultSize"] == 3

    async def test_pages_cover_every_alias_once_both_ways(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        made = [(await make_alias(client, customer["id"], f"v{i}"))["id"] for i in range(7)]
        newest_first = made[::-1]
        pages: list[list[str]] = []
        body = await list_aliases(client, limit=3)
        while True:
            pages.append([a["id"] for a in body["items"]])
            assert body["pagination"]["totalResultSize"] == 7
            if "after" not in body["pagination"]:
                break
            body = await list_aliases(client, limit=3, after=body["pagination"]["after"])
        assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]
        back: list[list[str]] = [[a["id"] for a in body["items"]]]
        while "before" in body["pagination"]:
            body = await list_aliases(client, limit=3, before=body["pagination"]["before"])
            back.insert(0, [a["id"] for a in body["items"]])
        assert back == pages

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": "0"}, "limit"),
            ({"limit": "101"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"after": "not-a-cursor"}, "after"),
            ({"before": "not-a-cursor"}, "before"),
        ],
    )
    async def test_bad_parameters_are_named(
        self, client: httpx.AsyncClient, params: dict[str, str], field: str
    ) -> None:
        response = await client.get("/customer-aliases", params=params)
        assert response.status_code == 400
        assert field_names(response) == {field}

    async def test_cursors_are_bound_to_the_list_and_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        for _ in range(2):
            await make_customer(client, customerAliases=[f"c-{_}"])
        customer_cursor = (await client.get("/customers", params={"limit": 1})).json()[
            "pagination"
        ]["after"]
        response = await client.get("/customer-aliases", params={"after": customer_cursor})
        assert response.status_code == 400
        alias_cursor = (await list_aliases(client, limit=1))["pagination"]["after"]
        assert (await client.get("/customers", params={"after": alias_cursor})).status_code == 400
        replayed = await other_client.get("/customer-aliases", params={"after": alias_cursor})
        assert replayed.status_code == 400

    async def test_another_accounts_aliases_are_not_listed(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await make_customer(client, customerAliases=["mine"])
        body = await list_aliases(other_client)
        assert body == {"items": [], "pagination": {"totalResultSize": 0}}
        assert (await list_aliases(other_client, value="mine"))["items"] == []


class TestUpdateCustomerAlias:
    async def test_sets_keeps_and_removes_the_label(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        alias = await make_alias(client, customer["id"], "crm-1", label="Old")
        path = f"/customer-aliases/{alias['id']}"
        relabelled = await client.put(path, json={"label": "CRM ID"})
        assert relabelled.status_code == 200
        assert relabelled.json() == {**alias, "label": "CRM ID"}
        kept = await client.put(path, json={})
        assert kept.json() == {**alias, "label": "CRM ID"}
        removed = await client.put(path, json={"label": None})
        assert removed.status_code == 200
        assert "label" not in removed.json()
        assert (await list_aliases(client))["items"] == [removed.json()]

    async def test_only_the_label_changes(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        other = await make_customer(client)
        alias = await make_alias(client, customer["id"], "fixed")
        response = await client.put(
            f"/customer-aliases/{alias['id']}",
            json={"label": "L", "value": "changed", "customerId": other["id"]},
        )
        assert response.status_code == 200
        assert response.json() == {**alias, "label": "L"}

    async def test_a_bad_label_is_named(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        alias = await make_alias(client, customer["id"], "crm")
        for label in (5, "x" * 256):
            response = await client.put(f"/customer-aliases/{alias['id']}", json={"label": label})
            assert response.status_code == 400
            assert field_names(response) == {"label"}

    async def test_an_archived_customers_alias_keeps_its_label(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        alias = await make_alias(client, customer["id"], "frozen", label="Before")
        await client.post(f"/customers/{customer['id']}/archive")
        response = await client.put(f"/customer-aliases/{alias['id']}", json={"label": "After"})
        assert response.status_code == 400
        assert error_type(response) == "ArchivedResource"

    async def test_unknown_foreign_or_deleted_alias_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        alias = await make_alias(client, customer["id"], "mine")
        deleted = await make_alias(client, customer["id"], "deleted")
        await client.delete(f"/customer-aliases/{deleted['id']}")
        for who, alias_id in (
            (client, MISSING_ID),
            (other_client, alias["id"]),
            (client, deleted["id"]),
        ):
            response = await who.put(f"/customer-aliases/{alias_id}", json={"label": "x"})
            assert response.status_code == 404
            assert error_type(response) == "NotFound"
        assert "label" not in (await list_aliases(client))["items"][0]


class TestDeleteCustomerAlias:
    async def test_answers_the_deleted_alias_once_and_for_all(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        alias = await make_alias(client, customer["id"], "bye", label="L")
        response = await client.delete(f"/customer-aliases/{alias['id']}")
        assert response.status_code == 200
        deleted = response.json()
        assert deleted["deletedAt"].endswith("Z")
        assert {k: v for k, v in deleted.items() if k != "deletedAt"} == alias
        await asyncio.sleep(0.002)
        again = await client.delete(f"/customer-aliases/{alias['id']}")
        assert again.status_code == 200
        assert again.json() == deleted

    async def test_a_deleted_alias_is_gone_everywhere(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, customerAliases=["kept"])
        alias = await make_alias(client, customer["id"], "bye")
        await client.delete(f"/customer-aliases/{alias['id']}")
        assert [a["value"] for a in (await list_aliases(client))["items"]] == ["kept"]
        mine = (await client.get(f"/customers/{customer['id']}/aliases")).json()["items"]
        assert [a["value"] for a in mine] == ["kept"]
        assert (await by_alias(client, "bye")).status_code == 404
        listed = await client.get("/customers", params={"alias": "bye"})
        assert listed.json()["items"] == []

    async def test_an_archived_customers_alias_can_be_released(
        self, client: httpx.AsyncClient
    ) -> None:
        old = await make_customer(client)
        alias = await make_alias(client, old["id"], "crm-7")
        await client.post(f"/customers/{old['id']}/archive")
        assert (await client.delete(f"/customer-aliases/{alias['id']}")).status_code == 200
        successor = await make_customer(client)
        await make_alias(client, successor["id"], "crm-7")

    async def test_unknown_or_foreign_alias_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        alias = await make_alias(client, customer["id"], "mine")
        for who, alias_id in ((client, MISSING_ID), (other_client, alias["id"])):
            response = await who.delete(f"/customer-aliases/{alias_id}")
            assert response.status_code == 404
            assert error_type(response) == "NotFound"
        assert (await by_alias(client, "mine")).status_code == 200


class TestGetCustomersAliases:
    async def test_live_aliases_oldest_first_in_the_small_model(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client, customerAliases=["first"])
        second = await make_alias(client, customer["id"], "second", label="L")
        gone = await make_alias(client, customer["id"], "gone")
        await client.delete(f"/customer-aliases/{gone['id']}")
        other = await make_customer(client, customerAliases=["elsewhere"])
        response = await client.get(f"/customers/{customer['id']}/aliases")
        assert response.status_code == 200
        items = response.json()["items"]
        assert [a["value"] for a in items] == ["first", "second"]
        assert all(set(a) == ALIAS_FIELDS for a in items)
        assert items[1] == {k: v for k, v in second.items() if k != "label"}
        assert all(a["customerId"] == customer["id"] for a in items)
        assert all(a["sequenceAccountId"] == account_of(client) for a in items)
        assert other["id"] not in {a["customerId"] for a in items}

    async def test_a_customer_without_aliases(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        response = await client.get(f"/customers/{customer['id']}/aliases")
        assert response.json() == {"items": []}

    async def test_unknown_or_foreign_customer_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client, customerAliases=["mine"])
        for who, customer_id in ((client, MISSING_ID), (other_client, customer["id"])):
            response = await who.get(f"/customers/{customer_id}/aliases")
            assert response.status_code == 404
            assert error_type(response) == "NotFound"


class TestGetCustomerByAlias:
    async def test_answers_the_2024_05_09_shape(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(
            client,
            url="https://example.com",
            label="Key",
            integrationIds=[{"service": "Stripe", "id": "cus_1"}],
            customerAliases=["crm-1"],
            contacts=[
                contact(name="Ann", email="ann@example.com", billingPreference="PRIMARY"),
                contact(name="Bob", email="bob@example.com", billingPreference="STANDARD"),
                contact(name="Cy", email="cy@example.com", billingPreference="NONE"),
            ],
        )
        for version in ({}, {"Sequence-Version": "2024-07-30"}):
            response = await by_alias(client, "crm-1", headers=version)
            assert response.status_code == 200
            assert response.headers["Sequence-Version"] == "2024-07-30"
            assert response.json() == {
                "id": customer["id"],
                "createdAt": customer["createdAt"],
                "legalName": customer["legalName"],
                "contactName": "Ann",
                "address": customer["address"],
                "email": "ann@example.com",
                "url": "https://example.com",
                "label": "Key",
                "integrationIds": [{"service": "Stripe", "id": "cus_1", "isPending": False}],
                "billingEmails": ["ann@example.com", "bob@example.com"],
                "taxStatus": "TAXED",
            }

    async def test_the_customers_own_id_is_an_alias(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        response = await by_alias(client, customer["id"])
        assert response.status_code == 200
        assert response.json()["id"] == customer["id"]

    async def test_the_earliest_live_primary_is_the_main_contact(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(
            client,
            customerAliases=["two-primaries"],
            contacts=[
                contact(name="First", email="first@example.com", billingPreference="PRIMARY"),
                contact(name="Second", email="second@example.com", billingPreference="PRIMARY"),
            ],
        )
        found = (await by_alias(client, "two-primaries")).json()
        assert (found["contactName"], found["email"]) == ("First", "first@example.com")
        assert found["billingEmails"] == ["first@example.com", "second@example.com"]
        first = customer["contacts"][0]
        await client.post(f"/customers/{customer['id']}/contacts/{first['id']}/archive")
        found = (await by_alias(client, "two-primaries")).json()
        assert (found["contactName"], found["email"]) == ("Second", "second@example.com")
        assert found["billingEmails"] == ["second@example.com"]

    @pytest.mark.parametrize("preferences", [[], ["NONE"]])
    async def test_without_a_primary_contact_email_is_empty(
        self, client: httpx.AsyncClient, preferences: list[str]
    ) -> None:
        await make_customer(
            client,
            customerAliases=["nobody"],
            contacts=[contact(billingPreference=p) for p in preferences],
        )
        found = (await by_alias(client, "nobody")).json()
        assert found["email"] == ""
        assert "contactName" not in found
        assert found["billingEmails"] == []

    async def test_archived_customers_are_found(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, customerAliases=["old-crm"])
        archived = (await client.post(f"/customers/{customer['id']}/archive")).json()
        found = await by_alias(client, "old-crm")
        assert found.status_code == 200
        assert found.json()["archivedAt"] == archived["archivedAt"]

    @pytest.mark.parametrize("value", ["with/slash", "with space", "aliases", "ünïcode", "a%2Fb"])
    async def test_any_value_resolves(self, client: httpx.AsyncClient, value: str) -> None:
        customer = await make_customer(client, customerAliases=[value])
        response = await by_alias(client, value)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == customer["id"]

    async def test_unknown_deleted_or_foreign_alias_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client, customerAliases=["mine"])
        gone = await make_alias(client, customer["id"], "gone")
        await client.delete(f"/customer-aliases/{gone['id']}")
        for who, value in (
            (client, "nothing"),
            (client, "gone"),
            (other_client, "mine"),
            (other_client, customer["id"]),
        ):
            response = await by_alias(who, value)
            assert response.status_code == 404
            assert error_type(response) == "NotFound"

    async def test_each_account_resolves_its_own(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        mine = await make_customer(client, customerAliases=["shared"])
        theirs = await make_customer(other_client, customerAliases=["shared"])
        assert (await by_alias(client, "shared")).json()["id"] == mine["id"]
        assert (await by_alias(other_client, "shared")).json()["id"] == theirs["id"]
