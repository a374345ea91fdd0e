"""GET /customers: filters, sorting and keyset pagination through HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ClientFactory
from tests.factories import contact, make_customer

pytestmark = pytest.mark.asyncio


async def list_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/customers", params=params)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def walk(
    client: httpx.AsyncClient, direction: str = "after", **params: Any
) -> list[list[str]]:
    """Every page, following `after` cursors from the first page (or `before` from the last)."""
    pages: list[list[str]] = []
    response = await client.get("/customers", params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([c["id"] for c in body["items"]])
        cursor = body["pagination"].get(direction)
        if cursor is None:
            return pages
        response = await client.get("/customers", params={**params, direction: cursor})


class TestListCustomers:
    async def test_newest_first_by_default(self, client: httpx.AsyncClient) -> None:
        made = [(await make_customer(client))["id"] for _ in range(3)]
        assert await list_ids(client) == made[::-1]
        assert await list_ids(client, sortOrder="ASC") == made

    async def test_sort_by_legal_name_ignores_case(self, client: httpx.AsyncClient) -> None:
        names = ["banana Co", "Apple Inc", "cherry plc", "Äpfel GmbH"]
        ids = {n: (await make_customer(client, legalName=n))["id"] for n in names}
        expected = [ids[n] for n in sorted(names, key=str.casefold)]
        assert await list_ids(client, sortBy="legalName", sortOrder="ASC") == expected
        assert await list_ids(client, sortBy="legalName") == expected[::-1]

    async def test_sort_by_custom_property(self, client: httpx.AsyncClient) -> None:
        gold = await make_customer(client, customProperties={"tier": "gold"})
        none = await make_customer(client)
        bronze = await make_customer(client, customProperties={"tier": "bronze"})
        ids = await list_ids(client, sortBy="customProperties.tier", sortOrder="ASC")
        # Customers without the property sort as an empty value: first ascending.
        assert ids == [none["id"], bronze["id"], gold["id"]]

    async def test_filters(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        acme = await make_customer(
            client,
            legalName="Acme Corp",
            label="Enterprise",
            contacts=[contact(email="Billing@Acme.example")],
            customerAliases=["acme-crm"],
        )
        await make_customer(client, legalName="Acme Corporation", label="SMB")
        await make_customer(other_client, legalName="Acme Corp", customerAliases=["acme-crm"])
        assert await list_ids(client, legalName="acme corp") == [acme["id"]]
        assert await list_ids(client, label="ENTERPRISE") == [acme["id"]]
        assert await list_ids(client, email="billing@acme.example") == [acme["id"]]
        assert await list_ids(client, alias="acme-crm") == [acme["id"]]
        assert await list_ids(client, alias=acme["id"]) == [acme["id"]]
        assert await list_ids(client, legalName="Acme") == []
        assert await list_ids(client, legalName="Acme Corp", label="SMB") == []

    async def test_filters_treat_sql_and_wildcards_as_text(self, client: httpx.AsyncClient) -> None:
        odd = await make_customer(client, legalName="50% off_ 'Ltd'; --")
        await make_customer(client, legalName="50 off Ltd")
        assert await list_ids(client, legalName="50% off_ 'ltd'; --") == [odd["id"]]
        assert await list_ids(client, legalName="%") == []
        assert await list_ids(client, email="' OR 1=1 --") == []

    async def test_email_filter_skips_archived_contacts(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, contacts=[contact(email="old@example.com")])
        await client.put(
            f"/customers/{customer['id']}",
            json={
                "legalName": customer["legalName"],
                "address": customer["address"],
                "taxStatus": "TAXED",
                "contacts": [contact(email="new@example.com")],
            },
        )
        assert await list_ids(client, email="old@example.com") == []
        assert await list_ids(client, email="new@example.com") == [customer["id"]]

    async def test_billing_status(self, client: httpx.AsyncClient) -> None:
        made = [(await make_customer(client))["id"] for _ in range(2)]
        # Patron keeps no billing schedules: every customer is INACTIVE.
        assert await list_ids(client, billingStatus="ACTIVE") == []
        assert await list_ids(client, billingStatus="INACTIVE") == made[::-1]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": "0"}, "limit"),
            ({"limit": "101"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"limit": "-1"}, "limit"),
            ({"sortBy": "email"}, "sortBy"),
            ({"sortBy": "customProperties."}, "sortBy"),
            ({"sortOrder": "UP"}, "sortOrder"),
            ({"includeArchived": "yes"}, "includeArchived"),
            ({"billingStatus": "PAUSED"}, "billingStatus"),
            ({"after": "garbage"}, "after"),
            ({"before": "x.y"}, "before"),
            ({"legalName": "x" * 1001}, "legalName"),
        ],
    )
    async def test_bad_parameters_are_named(
        self, client: httpx.AsyncClient, params: dict[str, str], field: str
    ) -> None:
        response = await client.get("/customers", params=params)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "ValidationError"
        assert [e["field"] for e in error["errors"]] == [field]

    async def test_limit_bounds_and_default(self, client: httpx.AsyncClient) -> None:
        for _ in range(21):
            await make_customer(client)
        assert len(await list_ids(client)) == 20
        assert len(await list_ids(client, limit=1)) == 1
        assert len(await list_ids(client, limit=100)) == 21

    async def test_pages_cover_every_customer_once_both_ways(
        self, client: httpx.AsyncClient
    ) -> None:
        made = [(await make_customer(client))["id"] for _ in range(7)]
        pages = await walk(client, limit=3)
        assert pages == [made[6:3:-1], made[3:0:-1], made[0:1]]
        # From the last page, `before` cursors lead back through the same pages.
        last = await client.get("/customers", params={"limit": 3, "sortOrder": "ASC"})
        assert [c["id"] for c in last.json()["items"]] == made[:3]
        after = last.json()["pagination"]["after"]
        second = (
            await client.get("/customers", params={"limit": 3, "sortOrder": "ASC", "after": after})
        ).json()
        back = (
            await client.get(
                "/customers",
                params={"limit": 3, "sortOrder": "ASC", "before": second["pagination"]["before"]},
            )
        ).json()
        assert [c["id"] for c in back["items"]] == made[:3]
        assert "before" not in back["pagination"]
        assert back["pagination"]["totalResultSize"] == 7

    async def test_first_and_last_page_cursors(self, client: httpx.AsyncClient) -> None:
        for _ in range(3):
            await make_customer(client)
        first = (await client.get("/customers", params={"limit": 2})).json()["pagination"]
        assert "before" not in first
        assert "after" in first
        last = (
            await client.get("/customers", params={"limit": 2, "after": first["after"]})
        ).json()["pagination"]
        assert "after" not in last
        assert "before" in last
        only = (await client.get("/customers", params={"limit": 5})).json()["pagination"]
        assert only == {"totalResultSize": 3}

    async def test_cursors_survive_changes_between_pages(self, client: httpx.AsyncClient) -> None:
        made = [(await make_customer(client))["id"] for _ in range(6)]
        first = (await client.get("/customers", params={"limit": 2})).json()
        assert [c["id"] for c in first["items"]] == [made[5], made[4]]
        # Meanwhile: a new customer arrives, one on the next page is archived.
        newcomer = await make_customer(client)
        await client.post(f"/customers/{made[3]}/archive")
        second = await list_ids(client, limit=2, after=first["pagination"]["after"])
        assert second == [made[2], made[1]]
        assert newcomer["id"] not in second

    async def test_cursor_is_bound_to_sort_and_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        for _ in range(3):
            await make_customer(client)
            await make_customer(other_client)
        after = (await client.get("/customers", params={"limit": 1})).json()["pagination"]["after"]
        resorted = await client.get("/customers", params={"after": after, "sortOrder": "ASC"})
        assert resorted.status_code == 400
        replayed = await other_client.get("/customers", params={"after": after})
        assert replayed.status_code == 400
        assert replayed.json()["error"]["errors"][0]["field"] == "after"
        tampered = after[:-2] + ("AA" if not after.endswith("AA") else "BB")
        assert (await client.get("/customers", params={"after": tampered})).status_code == 400

    async def test_after_and_before_together(self, client: httpx.AsyncClient) -> None:
        for _ in range(3):
            await make_customer(client)
        cursor = (await client.get("/customers", params={"limit": 1})).json()["pagination"]["after"]
        response = await client.get("/customers", params={"after": cursor, "before": cursor})
        assert response.status_code == 400


names = st.text(alphabet="abcAB", min_size=1, max_size=3)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    legal_names=st.lists(names, min_size=0, max_size=9),
    sort_by=st.sampled_from(["createdAt", "legalName", "customProperties.k"]),
    order=st.sampled_from(["ASC", "DESC"]),
    limit=st.integers(min_value=1, max_value=4),
)
async def test_walking_pages_yields_the_sorted_list(
    new_client: ClientFactory, legal_names: list[str], sort_by: str, order: str, limit: int
) -> None:
    """Pages walked forward, then backward, give every row once in sort order (ties by id)."""
    client = await new_client()
    rows = []
    for i, name in enumerate(legal_names):
        props = {"k": name} if i % 3 else {}
        created = await make_customer(client, legalName=name, customProperties=props)
        rows.append(created)

    def key(c: dict[str, Any]) -> tuple[Any, str]:
        if sort_by == "legalName":
            return (c["legalName"].casefold(), c["id"])
        if sort_by == "createdAt":
            return (c["createdAt"], c["id"])
        return (c["customProperties"].get("k", ""), c["id"])

    expected = [c["id"] for c in sorted(rows, key=key, reverse=order == "DESC")]
    params: dict[str, Any] = {"sortBy": sort_by, "sortOrder": order, "limit": limit}
    forward = await walk(client, **params)
    assert [i for page in forward for i in page] == expected
    assert all(0 < len(p) <= limit for p in forward) or expected == []
    # Walk back from the last page with `before` cursors.
    if len(forward) > 1:
        response = await client.get("/customers", params=params)
        for _ in range(len(forward) - 1):
            after = response.json()["pagination"]["after"]
            response = await client.get("/customers", params={**params, "after": after})
        backward: list[list[str]] = [[c["id"] for c in response.json()["items"]]]
        while (before := response.json()["pagination"].get("before")) is not None:
            response = await client.get("/customers", params={**params, "before": before})
            backward.insert(0, [c["id"] for c in response.json()["items"]])
        assert backward == forward
