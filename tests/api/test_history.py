"""The change history: one event per change, through any resource and any API version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.errors import MISSING_ID, error_type, field_names
from tests.api.history import events, types
from tests.factories import address, contact, customer_body, make_customer

pytestmark = pytest.mark.asyncio


def client_id(client: httpx.AsyncClient) -> str:
    return str(client.issued.credential.client_id)  # type: ignore[attr-defined]


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


class TestEveryWriteIsRecorded:
    async def test_each_kind_of_write_appends_its_event(self, client: httpx.AsyncClient) -> None:
        owner = await make_customer(client, customerAliases=["crm-1"])
        member = await make_customer(client)
        cid = owner["id"]
        expected = ["CUSTOMER_CREATED", "CONTACT_CREATED", "ALIAS_CREATED"]
        expected += ["CUSTOMER_CREATED", "CONTACT_CREATED"]

        await ok(await client.put(f"/customers/{cid}", json={**customer_body(), "legalName": "X"}))
        # The PUT replaced the contact set: the old contact archived, a new one created.
        expected += ["CUSTOMER_UPDATED", "CONTACT_ARCHIVED", "CONTACT_CREATED"]

        c = await ok(
            await client.post(f"/customers/{cid}/contacts", json=contact(billingPreference="NONE")),
            201,
        )
        await ok(
            await client.put(
                f"/customers/{cid}/contacts/{c['id']}",
                json={**contact(billingPreference="NONE"), "name": "Renamed"},
            )
        )
        await ok(await client.post(f"/customers/{cid}/contacts/{c['id']}/archive"))
        await ok(await client.post(f"/customers/{cid}/contacts/{c['id']}/restore"))
        expected += ["CONTACT_CREATED", "CONTACT_UPDATED", "CONTACT_ARCHIVED", "CONTACT_RESTORED"]

        alias = await ok(
            await client.post("/customer-aliases", json={"customerId": cid, "value": "crm-2"}), 201
        )
        await ok(await client.put(f"/customer-aliases/{alias['id']}", json={"label": "CRM"}))
        await ok(await client.delete(f"/customer-aliases/{alias['id']}"))
        expected += ["ALIAS_CREATED", "ALIAS_UPDATED", "ALIAS_DELETED"]

        org = await ok(
            await client.post("/customer-organizations", json={"ownerId": cid, "memberIds": []}),
            201,
        )
        members = f"/customer-organizations/{org['id']}/members"
        await ok(await client.post(members, json={"customerIds": [member["id"]]}))
        await ok(await client.put(members, json={"customerIds": []}))
        expected += [
            "ORGANIZATION_CREATED",
            "ORGANIZATION_MEMBERS_ADDED",
            "ORGANIZATION_MEMBERS_REPLACED",
        ]

        settings = await ok(
            await client.post(
                "/payments/settings/customers",
                json={"customerId": cid, "paymentProvider": "STRIPE"},
            ),
            201,
        )
        url = f"/payments/settings/customers/{settings['id']}"
        await ok(await client.put(url, json={"paymentProvider": "NONE"}))
        await ok(await client.delete(url))
        expected += [
            "PAYMENT_SETTINGS_CREATED",
            "PAYMENT_SETTINGS_UPDATED",
            "PAYMENT_SETTINGS_DELETED",
        ]

        await ok(await client.post(f"/customers/{cid}/archive"))
        await ok(await client.post(f"/customers/{cid}/restore"))
        expected += ["CUSTOMER_ARCHIVED", "CUSTOMER_RESTORED"]

        assert await types(client) == expected
        found = await events(client)
        assert [e["sequence"] for e in found] == sorted(e["sequence"] for e in found)
        assert len({e["id"] for e in found}) == len(found)

    async def test_each_event_names_its_resource_and_customer(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        settings = await ok(
            await client.post(
                "/payments/settings/customers",
                json={"customerId": customer["id"], "paymentProvider": "STRIPE"},
            ),
            201,
        )
        created, contact_created, settings_created = await events(client)
        assert created["resourceType"] == "CUSTOMER"
        assert created["resourceId"] == created["customerId"] == customer["id"]
        assert contact_created["resourceType"] == "CONTACT"
        assert contact_created["resourceId"] == customer["contacts"][0]["id"]
        assert contact_created["customerId"] == customer["id"]
        assert settings_created["resourceType"] == "PAYMENT_SETTINGS"
        assert settings_created["resourceId"] == settings["id"]
        assert settings_created["resource"] == settings

    async def test_parent_id_records_the_organization_change(
        self, client: httpx.AsyncClient
    ) -> None:
        parent = await make_customer(client)
        child = await make_customer(client, parentId=parent["id"])
        assert (await types(client))[-3:] == [
            "CUSTOMER_CREATED",
            "CONTACT_CREATED",
            "ORGANIZATION_CREATED",
        ]
        org_event = (await events(client))[-1]
        assert org_event["customerId"] == parent["id"]
        assert [m["id"] for m in org_event["resource"]["members"]] == [child["id"]]

    async def test_writes_through_older_versions_are_recorded(
        self, client: httpx.AsyncClient
    ) -> None:
        old = {"Sequence-Version": "2024-05-09"}
        body = {
            "legalName": "Old Ltd",
            "address": address(),
            "email": "main@example.com",
            "billingEmails": [],
            "taxStatus": "TAXED",
        }
        created = await ok(await client.post("/customers", json=body, headers=old), 201)
        cid = created["id"]
        await ok(
            await client.put(f"/customers/{cid}", json={**body, "telephone": "+1"}, headers=old)
        )
        await ok(await client.delete(f"/customers/{cid}", headers=old))
        v0101 = {"Sequence-Version": "2024-01-01"}
        await ok(await client.post(f"/customers/{cid}/restore", headers=v0101))
        assert await types(client) == [
            "CUSTOMER_CREATED",
            "CONTACT_CREATED",
            "CUSTOMER_UPDATED",
            "CUSTOMER_ARCHIVED",
            "CUSTOMER_RESTORED",
        ]
        updated = (await events(client))[2]
        assert updated["changes"] == [{"path": "telephone", "to": "+1"}]
        # The resource is recorded in the 2024-07-30 shape whatever version wrote it.
        assert "contacts" in updated["resource"]
        assert "email" not in updated["resource"]


class TestFailedWritesLeaveNoEvent:
    async def test_refused_writes_record_nothing(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client, customerAliases=["taken"])
        other = await make_customer(client)
        cid = customer["id"]
        before = await events(client)

        bad = await client.put(f"/customers/{cid}", json={**customer_body(), "legalName": " "})
        assert bad.status_code == 400
        clash = await client.put(
            f"/customers/{other['id']}", json=customer_body(customerAliases=["taken"])
        )
        assert clash.status_code == 409
        stale = await client.put(
            f"/customers/{cid}", json=customer_body(), headers={"If-Match": '"999.2024-07-30"'}
        )
        assert stale.status_code == 412
        primary = customer["contacts"][0]["id"]
        second = await ok(
            await client.post(
                f"/customers/{cid}/contacts", json=contact(billingPreference="STANDARD")
            ),
            201,
        )
        before = await events(client)
        last_primary = await client.post(f"/customers/{cid}/contacts/{primary}/archive")
        assert last_primary.status_code == 400
        duplicate = await client.post(
            f"/customers/{cid}/contacts", json=contact(email=second["email"])
        )
        assert duplicate.status_code == 409
        missing = await client.post(f"/customers/{MISSING_ID}/archive")
        assert missing.status_code == 404
        assert await events(client) == before
        fetched = await client.get(f"/customers/{cid}")
        assert fetched.json()["legalName"] == customer["legalName"]

    async def test_a_write_that_changes_nothing_records_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        body = customer_body()
        customer = await ok(await client.post("/customers", json=body), 201)
        cid = customer["id"]
        await ok(await client.post(f"/customers/{cid}/archive"))
        before = await events(client)
        await ok(await client.post(f"/customers/{cid}/archive"))
        await ok(await client.post(f"/customers/{cid}/restore"))
        after_restore = await events(client)
        assert len(after_restore) == len(before) + 1
        await ok(await client.post(f"/customers/{cid}/restore"))
        await ok(await client.put(f"/customers/{cid}", json=body))
        c = customer["contacts"][0]
        same = {k: c[k] for k in ("name", "email", "billingPreference")}
        unchanged = await ok(await client.put(f"/customers/{cid}/contacts/{c['id']}", json=same))
        assert unchanged["updatedAt"] == c["updatedAt"]
        assert await events(client) == after_restore


class TestEventContent:
    async def test_the_diff_names_each_changed_field(self, client: httpx.AsyncClient) -> None:
        body = customer_body(label="old", customProperties={"tier": "gold", "region": "EU"})
        customer = await ok(await client.post("/customers", json=body), 201)
        changed = {
            **body,
            "legalName": "New Name Ltd",
            "address": {**body["address"], "town": "Santa Fe"},
            "customProperties": {"tier": "silver", "size": "L"},
            "url": "https://example.com",
        }
        del changed["label"]
        updated = await ok(await client.put(f"/customers/{customer['id']}", json=changed))
        event = (await events(client, type="CUSTOMER_UPDATED"))[0]
        changes = {c["path"]: c for c in event["changes"]}
        assert changes["legalName"] == {
            "path": "legalName",
            "from": body["legalName"],
            "to": "New Name Ltd",
        }
        assert changes["address.town"] == {
            "path": "address.town",
            "from": "Albuquerque",
            "to": "Santa Fe",
        }
        assert changes["label"] == {"path": "label", "from": "old"}
        assert changes["url"] == {"path": "url", "to": "https://example.com"}
        assert changes["domain"] == {"path": "domain", "to": "example.com"}
        assert changes["customProperties.tier"]["to"] == "silver"
        assert changes["customProperties.region"] == {
            "path": "customProperties.region",
            "from": "EU",
        }
        assert changes["customProperties.size"] == {"path": "customProperties.size", "to": "L"}
        assert set(changes) == {
            "legalName",
            "address.town",
            "label",
            "url",
            "domain",
            "customProperties.tier",
            "customProperties.region",
            "customProperties.size",
        }
        assert event["resource"] == updated

    async def test_list_items_with_ids_are_diffed_by_id(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        c = customer["contacts"][0]
        await ok(
            await client.put(
                f"/customers/{customer['id']}/contacts/{c['id']}",
                json={"name": "Renamed", "email": c["email"], "billingPreference": "PRIMARY"},
            )
        )
        contact_event = (await events(client, type="CONTACT_UPDATED"))[0]
        paths = {ch["path"]: ch for ch in contact_event["changes"]}
        assert paths["name"] == {"path": "name", "from": c["name"], "to": "Renamed"}
        assert set(paths) == {"name", "updatedAt"}
        # A customer PUT that renames the contact shows in the customer's diff by contact id.
        body = customer_body(contacts=[{**contact(), "email": c["email"], "name": "Again"}])
        await ok(await client.put(f"/customers/{customer['id']}", json=body))
        updated = (await events(client, type="CUSTOMER_UPDATED"))[0]
        names = [ch for ch in updated["changes"] if ch["path"].startswith("contacts[")]
        assert {"path": f"contacts[id={c['id']}].name", "from": "Renamed", "to": "Again"} in names

    async def test_a_creation_lists_every_field_as_new(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        created = (await events(client))[0]
        assert created["resource"] == customer
        assert {c["path"] for c in created["changes"]} == set(customer)
        assert all("from" not in c for c in created["changes"])

    async def test_actor_and_reason(self, client: httpx.AsyncClient) -> None:
        reason = "Customer asked by email — ticket 42"
        customer = await ok(
            await client.post(
                "/customers",
                json=customer_body(),
                headers=[(b"Patron-Change-Reason", reason.encode())],
            ),
            201,
        )
        await ok(await client.post(f"/customers/{customer['id']}/archive"))
        created, _, archived = await events(client)
        assert created["actor"] == {"clientId": client_id(client)}
        assert created["reason"] == reason
        assert "reason" not in archived
        assert archived["occurredAt"] == archived["resource"]["archivedAt"]

    async def test_a_reason_over_500_characters_is_refused(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        before = await events(client)
        response = await client.post(
            f"/customers/{customer['id']}/archive", headers={"Patron-Change-Reason": "x" * 501}
        )
        assert response.status_code == 400
        assert field_names(response) == {"Patron-Change-Reason"}
        assert await events(client) == before
        fine = await client.post(
            f"/customers/{customer['id']}/archive", headers={"Patron-Change-Reason": "x" * 500}
        )
        assert fine.status_code == 200
        assert (await events(client))[-1]["reason"] == "x" * 500

    async def test_another_credential_of_the_account_is_its_actor(
        self, client: httpx.AsyncClient, new_client: Any
    ) -> None:
        colleague = await new_client(client.issued.credential.account_name)  # type: ignore[attr-defined]
        customer = await make_customer(client)
        await ok(await colleague.post(f"/customers/{customer['id']}/archive"))
        archived = (await events(client))[-1]
        assert archived["actor"] == {"clientId": client_id(colleague)}


class TestListEvents:
    async def test_pages_oldest_and_newest_first(self, client: httpx.AsyncClient) -> None:
        for _ in range(3):
            await make_customer(client)  # two events each
        every = await events(client)
        assert len(every) == 6
        ids = [e["id"] for e in every]

        seen: list[str] = []
        params: dict[str, Any] = {"sortOrder": "ASC", "limit": 4}
        while True:
            page = (await client.get("/events", params=params)).json()
            assert page["pagination"]["totalResultSize"] == 6
            seen += [e["id"] for e in page["items"]]
            if "after" not in page["pagination"]:
                break
            params["after"] = page["pagination"]["after"]
        assert seen == ids

        newest = (await client.get("/events", params={"limit": 4})).json()
        assert [e["id"] for e in newest["items"]] == ids[::-1][:4]
        after = newest["pagination"]["after"]
        rest = (await client.get("/events", params={"limit": 4, "after": after})).json()
        assert [e["id"] for e in rest["items"]] == ids[::-1][4:]
        back = rest["pagination"]["before"]
        again = (await client.get("/events", params={"limit": 4, "before": back})).json()
        assert again["items"] == newest["items"]

    async def test_filters(self, client: httpx.AsyncClient) -> None:
        first = await make_customer(client)
        second = await make_customer(client)
        await ok(await client.post(f"/customers/{second['id']}/archive"))

        assert await types(client, type="CUSTOMER_ARCHIVED") == ["CUSTOMER_ARCHIVED"]
        both = await types(client, type="CUSTOMER_CREATED,CUSTOMER_ARCHIVED")
        assert both == ["CUSTOMER_CREATED", "CUSTOMER_CREATED", "CUSTOMER_ARCHIVED"]
        assert await types(client, resourceType="CONTACT") == ["CONTACT_CREATED"] * 2
        mine = await events(client, resourceType="CUSTOMER", resourceId=first["id"])
        assert [e["type"] for e in mine] == ["CUSTOMER_CREATED"]
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert await events(client, since=later.isoformat()) == []
        earlier = datetime.now(UTC) - timedelta(minutes=1)
        assert len(await events(client, since=earlier.isoformat().replace("+00:00", "Z"))) == 5

    async def test_bad_parameters_are_named(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/events",
            params={
                "type": "CUSTOMER_EATEN",
                "resourceType": "PLANET",
                "since": "yesterday",
                "sortOrder": "UP",
                "limit": 0,
            },
        )
        assert response.status_code == 400
        assert field_names(response) == {"type", "resourceType", "since", "sortOrder", "limit"}
        naive = await client.get("/events", params={"since": "2024-07-30T12:00:00"})
        assert field_names(naive) == {"since"}

    async def test_a_cursor_is_bound_to_its_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        for _ in range(2):
            await make_customer(client)
        page = (await client.get("/events", params={"limit": 1})).json()
        replay = await other_client.get("/events", params={"after": page["pagination"]["after"]})
        assert replay.status_code == 400

    async def test_another_account_sees_none(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        assert await events(other_client) == []
        theirs = await other_client.get(f"/customers/{customer['id']}/events")
        assert theirs.status_code == 404
        assert error_type(theirs) == "NotFound"

    async def test_served_in_every_version(self, client: httpx.AsyncClient) -> None:
        await make_customer(client)
        for version in ("2024-01-01", "2024-05-09", "2024-07-30"):
            response = await client.get("/events", headers={"Sequence-Version": version})
            assert response.status_code == 200
            assert len(response.json()["items"]) == 2


class TestCustomerEvents:
    async def test_lists_the_customer_and_what_belongs_to_it(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client, customerAliases=["a-1"])
        other = await make_customer(client)
        cid = customer["id"]
        await ok(
            await client.post(
                "/payments/settings/customers", json={"customerId": cid, "paymentProvider": "NONE"}
            ),
            201,
        )
        await ok(
            await client.post(
                "/customer-organizations", json={"ownerId": cid, "memberIds": [other["id"]]}
            ),
            201,
        )
        await ok(await client.post(f"/customers/{other['id']}/archive"))
        path = f"/customers/{cid}/events"
        assert await types(client, path) == [
            "CUSTOMER_CREATED",
            "CONTACT_CREATED",
            "ALIAS_CREATED",
            "PAYMENT_SETTINGS_CREATED",
            "ORGANIZATION_CREATED",
        ]
        assert await types(client, path, resourceType="ALIAS") == ["ALIAS_CREATED"]
        newest = (await client.get(path, params={"limit": 1})).json()
        assert [e["type"] for e in newest["items"]] == ["ORGANIZATION_CREATED"]
        assert newest["pagination"]["totalResultSize"] == 5

    async def test_archived_customers_keep_their_history(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        await ok(await client.post(f"/customers/{customer['id']}/archive"))
        assert (await types(client, f"/customers/{customer['id']}/events"))[-1] == (
            "CUSTOMER_ARCHIVED"
        )

    async def test_unknown_customer_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/customers/{MISSING_ID}/events")
        assert response.status_code == 404


class TestOpenApi:
    async def test_extensions_are_tagged(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("http://testserver/api/openapi.json")).json()
        tagged = {
            spec["operationId"]
            for methods in document["paths"].values()
            for spec in methods.values()
            if spec["tags"] == ["Patron extensions"]
        }
        assert all(name.startswith("patron") for name in tagged)
        assert tagged >= {
            "patronGetEvents",
            "patronGetCustomersByIdEvents",
            "patronPostCustomersByIdRestore",
            "patronPostCustomersByCustomerContactsByIdRestore",
        }
        put = document["paths"]["/customers/{id}"]["put"]
        headers = {p["name"]: p["required"] for p in put["parameters"] if p["in"] == "header"}
        assert headers["If-Match"] is False
        assert headers["Patron-Change-Reason"] is False
