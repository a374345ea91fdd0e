"""ETags on single-resource responses, If-Match on writes (412), If-None-Match on reads (304)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.errors import MISSING_ID, error_type
from tests.api.history import events
from tests.factories import contact, customer_body, make_customer

pytestmark = pytest.mark.asyncio

STALE = '"999999.2024-07-30"'


def tag(response: httpx.Response) -> str:
    value: str | None = response.headers.get("etag")
    assert value is not None, response.text
    assert value.startswith('"')
    assert value.endswith('"')
    return value


async def assert_412(response: httpx.Response) -> None:
    assert response.status_code == 412, response.text
    assert error_type(response) == "PreconditionFailed"


class TestCustomerETag:
    async def test_get_answers_304_while_unchanged(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/customers", json=customer_body())
        cid = created.json()["id"]
        got = await client.get(f"/customers/{cid}")
        assert tag(got) == tag(created)
        again = await client.get(f"/customers/{cid}", headers={"If-None-Match": tag(got)})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == tag(got)
        listed = await client.get(
            f"/customers/{cid}", headers={"If-None-Match": f'"1.x", W/{tag(got)}'}
        )
        assert listed.status_code == 304
        star = await client.get(f"/customers/{cid}", headers={"If-None-Match": "*"})
        assert star.status_code == 304

        await client.post(f"/customers/{cid}/archive")
        changed = await client.get(f"/customers/{cid}", headers={"If-None-Match": tag(got)})
        assert changed.status_code == 200
        assert tag(changed) != tag(got)
        assert changed.json()["archivedAt"]

    async def test_each_version_has_its_own_tag(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        latest = await client.get(f"/customers/{customer['id']}")
        old = await client.get(
            f"/customers/{customer['id']}",
            headers={"Sequence-Version": "2024-05-09", "If-None-Match": tag(latest)},
        )
        assert old.status_code == 200
        assert tag(old) != tag(latest)
        # ... but a write may name the state by a tag read in any version.
        body = customer_body()
        put = await client.put(
            f"/customers/{customer['id']}", json=body, headers={"If-Match": tag(old)}
        )
        assert put.status_code == 200

    async def test_changes_with_every_change_the_customer_shows(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        other = await make_customer(client)
        cid = customer["id"]

        async def current() -> str:
            return tag(await client.get(f"/customers/{cid}"))

        seen = [await current()]
        await client.post(f"/customers/{cid}/contacts", json=contact(billingPreference="NONE"))
        seen.append(await current())
        org = (
            await client.post(
                "/customer-organizations", json={"ownerId": other["id"], "memberIds": [cid]}
            )
        ).json()
        seen.append(await current())
        # A member's new name shows in every customer of the organization.
        renamed = await client.put(
            f"/customers/{other['id']}", json={**customer_body(), "legalName": "Renamed Ltd"}
        )
        assert renamed.status_code == 200
        seen.append(await current())
        await client.put(f"/customer-organizations/{org['id']}/members", json={"customerIds": []})
        seen.append(await current())
        assert len(set(seen)) == len(seen)
        # Nothing changed: same tag.
        assert await current() == seen[-1]

    async def test_stale_if_match_is_412_and_changes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        customer = await make_customer(client)
        cid = customer["id"]
        before = await events(client)
        await assert_412(
            await client.put(f"/customers/{cid}", json=customer_body(), headers={"If-Match": STALE})
        )
        await assert_412(
            await client.post(f"/customers/{cid}/archive", headers={"If-Match": STALE})
        )
        await assert_412(
            await client.delete(
                f"/customers/{cid}", headers={"If-Match": STALE, "Sequence-Version": "2024-05-09"}
            )
        )
        weak = f"W/{tag(await client.get(f'/customers/{cid}'))}"
        await assert_412(await client.post(f"/customers/{cid}/archive", headers={"If-Match": weak}))
        assert (await client.get(f"/customers/{cid}")).json() == customer
        assert await events(client) == before

    async def test_current_if_match_goes_ahead(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/customers", json=customer_body())
        cid = created.json()["id"]
        updated = await client.put(
            f"/customers/{cid}",
            json=customer_body(),
            headers={"If-Match": f'"1.x", {tag(created)}'},
        )
        assert updated.status_code == 200
        await assert_412(
            await client.post(f"/customers/{cid}/archive", headers={"If-Match": tag(created)})
        )
        archived = await client.post(f"/customers/{cid}/archive", headers={"If-Match": "*"})
        assert archived.status_code == 200
        restored = await client.post(
            f"/customers/{cid}/restore", headers={"If-Match": tag(archived)}
        )
        assert restored.status_code == 200
        await assert_412(
            await client.post(f"/customers/{cid}/restore", headers={"If-Match": tag(archived)})
        )

    async def test_unknown_customer_is_404_before_412(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"/customers/{MISSING_ID}/archive", headers={"If-Match": "*"})
        assert response.status_code == 404

    async def test_racing_writes_with_one_tag_one_wins(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/customers", json=customer_body())
        cid = created.json()["id"]
        bodies = [customer_body(legalName=f"Racer {i}") for i in range(6)]
        responses = await asyncio.gather(
            *(
                client.put(f"/customers/{cid}", json=b, headers={"If-Match": tag(created)})
                for b in bodies
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [412] * 5
        winner = next(r for r in responses if r.status_code == 200)
        assert (await client.get(f"/customers/{cid}")).json() == winner.json()
        assert len(await events(client, type="CUSTOMER_UPDATED")) == 1


class TestContactETag:
    async def test_contact_writes(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        cid = customer["id"]
        created = await client.post(
            f"/customers/{cid}/contacts", json=contact(billingPreference="NONE")
        )
        assert created.status_code == 201
        url = f"/customers/{cid}/contacts/{created.json()['id']}"
        body = contact(billingPreference="NONE")
        await assert_412(await client.put(url, json=body, headers={"If-Match": STALE}))
        updated = await client.put(url, json=body, headers={"If-Match": tag(created)})
        assert updated.status_code == 200
        assert tag(updated) != tag(created)
        await assert_412(await client.post(f"{url}/archive", headers={"If-Match": tag(created)}))
        archived = await client.post(f"{url}/archive", headers={"If-Match": tag(updated)})
        assert archived.status_code == 200
        await assert_412(await client.post(f"{url}/restore", headers={"If-Match": STALE}))
        restored = await client.post(f"{url}/restore", headers={"If-Match": tag(archived)})
        assert restored.status_code == 200
        assert "archivedAt" not in restored.json()


class TestAliasETag:
    async def test_alias_writes(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        created = await client.post(
            "/customer-aliases", json={"customerId": customer["id"], "value": "crm-7"}
        )
        assert created.status_code == 201
        url = f"/customer-aliases/{created.json()['id']}"
        await assert_412(await client.put(url, json={"label": "x"}, headers={"If-Match": STALE}))
        updated = await client.put(url, json={"label": "x"}, headers={"If-Match": tag(created)})
        assert updated.status_code == 200
        await assert_412(await client.delete(url, headers={"If-Match": tag(created)}))
        assert (await client.get("/customer-aliases", params={"value": "crm-7"})).json()["items"]
        deleted = await client.delete(url, headers={"If-Match": tag(updated)})
        assert deleted.status_code == 200
        assert deleted.json()["deletedAt"]

    async def test_by_alias_answers_304(self, client: httpx.AsyncClient) -> None:
        await make_customer(client, customerAliases=["crm-8"])
        got = await client.get("/customers/by-alias/crm-8")
        again = await client.get("/customers/by-alias/crm-8", headers={"If-None-Match": tag(got)})
        assert again.status_code == 304


class TestOrganizationETag:
    async def test_member_writes(self, client: httpx.AsyncClient) -> None:
        owner, member = await make_customer(client), await make_customer(client)
        created = await client.post(
            "/customer-organizations", json={"ownerId": owner["id"], "memberIds": []}
        )
        assert created.status_code == 201
        url = f"/customer-organizations/{created.json()['id']}/members"
        body = {"customerIds": [member["id"]]}
        await assert_412(await client.post(url, json=body, headers={"If-Match": STALE}))
        await assert_412(await client.put(url, json=body, headers={"If-Match": STALE}))
        added = await client.post(url, json=body, headers={"If-Match": tag(created)})
        assert added.status_code == 200
        assert tag(added) != tag(created)
        # Adding a member again changes nothing: the same tag.
        same = await client.post(url, json=body, headers={"If-Match": tag(added)})
        assert tag(same) == tag(added)
        await assert_412(
            await client.put(url, json={"customerIds": []}, headers={"If-Match": tag(created)})
        )
        replaced = await client.put(url, json={"customerIds": []}, headers={"If-Match": tag(added)})
        assert replaced.status_code == 200
        assert replaced.json()["members"] == []


class TestPaymentSettingsETag:
    async def test_get_and_writes(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        created = await client.post(
            "/payments/settings/customers",
            json={"customerId": customer["id"], "paymentProvider": "STRIPE"},
        )
        url = f"/payments/settings/customers/{created.json()['id']}"
        got = await client.get(url, headers={"If-None-Match": tag(created)})
        assert got.status_code == 304
        await assert_412(
            await client.put(url, json={"paymentProvider": "NONE"}, headers={"If-Match": STALE})
        )
        updated = await client.put(
            url, json={"paymentProvider": "NONE"}, headers={"If-Match": tag(created)}
        )
        assert updated.status_code == 200
        fresh = await client.get(url, headers={"If-None-Match": tag(created)})
        assert fresh.status_code == 200
        assert tag(fresh) == tag(updated)
        await assert_412(await client.delete(url, headers={"If-Match": tag(created)}))
        assert (await client.get(url)).status_code == 200
        deleted = await client.delete(url, headers={"If-Match": tag(updated)})
        assert deleted.status_code == 200

    async def test_old_path_too(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        old = {"Sequence-Version": "2024-01-01"}
        created = await client.post(
            "/customer-settings",
            json={"customerId": customer["id"], "paymentProvider": "STRIPE"},
            headers=old,
        )
        url = f"/customer-settings/{created.json()['id']}"
        await assert_412(await client.delete(url, headers={**old, "If-Match": STALE}))


class TestWithoutHeaders:
    async def test_no_304_without_if_none_match(self, client: httpx.AsyncClient) -> None:
        customer = await make_customer(client)
        response: Any = await client.get(f"/customers/{customer['id']}")
        assert response.status_code == 200
        assert response.json() == customer
