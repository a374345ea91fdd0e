"""What a PUT sends to the database: parts it leaves as they are are neither read back for events
nor written again (docs/performance.md, "Session 6: write path"), with the same answers, rows and
events as before."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from patron.storage.deferred import DeferringConnection
from tests.factories import customer_body, make_customer

pytestmark = pytest.mark.asyncio


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement a unit sends (or defers) from now on, on either engine."""
    seen: list[str] = []
    for method in ("defer", "fetch", "fetchrow", "fetchval", "execute", "fetch_last"):
        original = getattr(DeferringConnection, method)

        def recorder(original: Any = original) -> Any:
            def call(self: DeferringConnection, sql: str, *args: Any) -> Any:
                seen.append(sql)
                return original(self, sql, *args)

            return call

        monkeypatch.setattr(DeferringConnection, method, recorder())
    return seen


async def events_of(client: httpx.AsyncClient, customer_id: str) -> list[str]:
    response = await client.get(f"/customers/{customer_id}/events", params={"sortOrder": "ASC"})
    assert response.status_code == 200, response.text
    return [e["type"] for e in response.json()["items"]]


async def alias_values(client: httpx.AsyncClient, customer_id: str) -> list[str]:
    response = await client.get("/customer-aliases", params={"limit": 100})
    assert response.status_code == 200, response.text
    return sorted(a["value"] for a in response.json()["items"] if a["customerId"] == customer_id)


class TestUpdateWrites:
    async def test_a_put_without_aliases_leaves_them_unread(
        self, client: httpx.AsyncClient, sent: list[str]
    ) -> None:
        created = await make_customer(client, customerAliases=["crm-1", "crm-2"])
        sent.clear()
        body = customer_body(legalName="Renamed Ltd")  # no customerAliases
        response = await client.put(f"/customers/{created['id']}", json=body)
        assert response.status_code == 200, response.text
        assert not [sql for sql in sent if "aliases" in sql], sent
        assert await alias_values(client, created["id"]) == ["crm-1", "crm-2"]
        assert (await client.get(f"/customers/{created['id']}")).json() == response.json()
        types = await events_of(client, created["id"])
        of_the_update = types[types.index("CUSTOMER_UPDATED") :]
        assert not [t for t in of_the_update if t.startswith("ALIAS_")], types

    async def test_a_put_with_aliases_records_their_events(
        self, client: httpx.AsyncClient, sent: list[str]
    ) -> None:
        created = await make_customer(client, customerAliases=["crm-1"])
        body = customer_body(customerAliases=["crm-2"])
        response = await client.put(f"/customers/{created['id']}", json=body)
        assert response.status_code == 200, response.text
        assert await alias_values(client, created["id"]) == ["crm-2"]
        types = await events_of(client, created["id"])
        assert types.count("ALIAS_DELETED") == 1
        assert types.count("ALIAS_CREATED") == 2  # the create's, then the update's

    async def test_equal_custom_properties_are_not_written_again(
        self, client: httpx.AsyncClient, sent: list[str]
    ) -> None:
        properties = {"region": "north", "score": "0042"}
        created = await make_customer(client, customProperties=properties)
        await client.get(f"/customers/{created['id']}")  # GET stores its rendering
        sent.clear()
        body = customer_body(legalName="Renamed Ltd", customProperties=dict(properties))
        response = await client.put(f"/customers/{created['id']}", json=body)
        assert response.status_code == 200, response.text
        writes = [s for s in sent if "customer_properties" in s and not s.startswith("SELECT")]
        assert not writes, writes
        assert response.json()["customProperties"] == properties
        # The customer's own update made the stored rendering stale, as before.
        assert (await client.get(f"/customers/{created['id']}")).json() == response.json()

        changed = {"region": "south"}
        body = customer_body(customProperties=changed)
        response = await client.put(f"/customers/{created['id']}", json=body)
        assert response.json()["customProperties"] == changed
        assert (await client.get(f"/customers/{created['id']}")).json() == response.json()
        keys = await client.get("/customer-custom-property-keys")
        assert "region" in str(keys.json())
