"""Customer organizations through HTTP: create, add members, replace members; the rules on links
(live customers of the account, no self-membership, no cycles), what archiving does, and races."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.errors import field_names
from tests.factories import customer_body, make_customer

pytestmark = pytest.mark.asyncio


def ref(customer: dict[str, Any]) -> dict[str, str]:
    return {"id": customer["id"], "name": customer["legalName"]}


async def create_org(
    client: httpx.AsyncClient, owner: dict[str, Any], *members: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/customer-organizations",
        json={"ownerId": owner["id"], "memberIds": [m["id"] for m in members]},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add(client: httpx.AsyncClient, org_id: str, *ids: str) -> httpx.Response:
    return await client.post(f"/customer-organizations/{org_id}/members", json={"customerIds": ids})


async def replace(client: httpx.AsyncClient, org_id: str, *ids: str) -> httpx.Response:
    return await client.put(f"/customer-organizations/{org_id}/members", json={"customerIds": ids})


async def organizations_of(client: httpx.AsyncClient, customer: dict[str, Any]) -> list[Any]:
    response = await client.get(f"/customers/{customer['id']}")
    assert response.status_code == 200
    orgs: list[Any] = response.json()["organizations"]
    return orgs


async def archive(client: httpx.AsyncClient, customer: dict[str, Any]) -> None:
    assert (await client.post(f"/customers/{customer['id']}/archive")).status_code == 200


async def customers(client: httpx.AsyncClient, n: int) -> list[dict[str, Any]]:
    return [await make_customer(client, legalName=f"Company {i}") for i in range(n)]


class TestCreateOrganization:
    async def test_answers_the_organization(self, client: httpx.AsyncClient) -> None:
        owner, first, second = await customers(client, 3)
        response = await client.post(
            "/customer-organizations",
            json={"ownerId": owner["id"], "memberIds": [second["id"], first["id"]]},
        )
        assert response.status_code == 201
        org = response.json()
        assert set(org) == {"id", "owner", "members"}
        assert org["owner"] == ref(owner)
        assert org["members"] == [ref(second), ref(first)]  # in the order given

    async def test_members_may_be_empty(self, client: httpx.AsyncClient) -> None:
        (owner,) = await customers(client, 1)
        org = await create_org(client, owner)
        assert org["members"] == []
        assert await organizations_of(client, owner) == [org]

    async def test_customer_responses_list_the_organization(
        self, client: httpx.AsyncClient
    ) -> None:
        owner, member, outsider = await customers(client, 3)
        org = await create_org(client, owner, member)
        assert await organizations_of(client, owner) == [org]
        assert await organizations_of(client, member) == [org]
        assert await organizations_of(client, outsider) == []
        listed = (await client.get("/customers")).json()["items"]
        by_id = {c["id"]: c["organizations"] for c in listed}
        assert by_id[owner["id"]] == [org]
        assert by_id[member["id"]] == [org]
        assert by_id[outsider["id"]] == []

    async def test_the_owner_is_not_its_own_member(self, client: httpx.AsyncClient) -> None:
        owner, member = await customers(client, 2)
        response = await client.post(
            "/customer-organizations",
            json={"ownerId": owner["id"], "memberIds": [member["id"], owner["id"]]},
        )
        assert response.status_code == 400
        assert field_names(response) == {"memberIds[1]"}
        assert await organizations_of(client, owner) == []

    async def test_ids_must_be_customers_of_the_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        owner, member = await customers(client, 2)
        foreign = await make_customer(other_client)
        response = await client.post(
            "/customer-organizations",
            json={"ownerId": owner["id"], "memberIds": [member["id"], "nope", foreign["id"]]},
        )
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "ValidationError"
        assert field_names(response) == {"memberIds[1]", "memberIds[2]"}
        message = response.json()["error"]["message"]
        assert "nope" in message
        assert foreign["id"] in message
        for owner_id in ("nope", foreign["id"]):
            response = await client.post(
                "/customer-organizations", json={"ownerId": owner_id, "memberIds": [member["id"]]}
            )
            assert response.status_code == 400
            assert field_names(response) == {"ownerId"}
            assert owner_id in response.json()["error"]["message"]
        assert await organizations_of(client, member) == []
        assert await organizations_of(other_client, foreign) == []

    async def test_archived_customers_cannot_own_or_join(self, client: httpx.AsyncClient) -> None:
        live, archived = await customers(client, 2)
        await archive(client, archived)
        as_owner = await client.post(
            "/customer-organizations", json={"ownerId": archived["id"], "memberIds": [live["id"]]}
        )
        assert as_owner.status_code == 400
        assert as_owner.json()["error"]["type"] == "ArchivedResource"
        assert field_names(as_owner) == {"ownerId"}
        as_member = await client.post(
            "/customer-organizations", json={"ownerId": live["id"], "memberIds": [archived["id"]]}
        )
        assert as_member.status_code == 400
        assert as_member.json()["error"]["type"] == "ArchivedResource"
        assert field_names(as_member) == {"memberIds[0]"}
        assert archived["id"] in as_member.json()["error"]["message"]
        assert await organizations_of(client, live) == []

    async def test_cycles_are_refused(self, client: httpx.AsyncClient) -> None:
        top, middle, bottom = await customers(client, 3)
        await create_org(client, top, middle)
        await create_org(client, middle, bottom)
        for owner, member in ((middle, top), (bottom, top), (bottom, middle)):
            response = await client.post(
                "/customer-organizations",
                json={"ownerId": owner["id"], "memberIds": [member["id"]]},
            )
            assert response.status_code == 400, (owner["legalName"], member["legalName"])
            assert field_names(response) == {"memberIds[0]"}
            assert "cycle" in response.json()["error"]["message"]
        # Downwards and sideways links are no cycle.
        assert (
            await client.post(
                "/customer-organizations", json={"ownerId": top["id"], "memberIds": [bottom["id"]]}
            )
        ).status_code == 201

    async def test_repeated_ids_count_once(self, client: httpx.AsyncClient) -> None:
        owner, first, second = await customers(client, 3)
        response = await client.post(
            "/customer-organizations",
            json={"ownerId": owner["id"], "memberIds": [first["id"], second["id"], first["id"]]},
        )
        assert response.status_code == 201
        assert response.json()["members"] == [ref(first), ref(second)]

    async def test_an_owner_may_own_several_organizations(self, client: httpx.AsyncClient) -> None:
        owner, first, second = await customers(client, 3)
        one = await create_org(client, owner, first)
        two = await create_org(client, owner, second)
        assert one["id"] != two["id"]
        assert await organizations_of(client, owner) == [one, two]
        # parentId joins the oldest organization the parent owns.
        child = await make_customer(client, parentId=owner["id"])
        orgs = await organizations_of(client, child)
        assert [o["id"] for o in orgs] == [one["id"]]
        assert orgs[0]["members"] == [ref(first), ref(child)]

    async def test_a_customer_may_belong_to_several_organizations(
        self, client: httpx.AsyncClient
    ) -> None:
        one, two, member = await customers(client, 3)
        first = await create_org(client, one, member)
        second = await create_org(client, two, member)
        assert await organizations_of(client, member) == [first, second]

    async def test_parent_id_follows_the_same_rules(self, client: httpx.AsyncClient) -> None:
        top, child = await customers(client, 2)
        await create_org(client, top, child)
        looped = await client.put(
            f"/customers/{top['id']}", json=customer_body(parentId=child["id"])
        )
        assert looped.status_code == 400
        assert field_names(looped) == {"parentId"}
        assert "cycle" in looped.json()["error"]["message"]
        await archive(client, child)
        archived = await client.post("/customers", json=customer_body(parentId=child["id"]))
        assert archived.status_code == 400
        assert archived.json()["error"]["type"] == "ArchivedResource"
        assert field_names(archived) == {"parentId"}

    @pytest.mark.parametrize(
        ("body", "fields"),
        [
            ({}, {"ownerId", "memberIds"}),
            ({"ownerId": "x"}, {"memberIds"}),
            ({"ownerId": "", "memberIds": []}, {"ownerId"}),
            ({"ownerId": 7, "memberIds": "y"}, {"ownerId", "memberIds"}),
            ({"ownerId": "x", "memberIds": ["ok", ""]}, {"memberIds[1]"}),
            ({"ownerId": "x", "memberIds": ["x" * 65]}, {"memberIds[0]"}),
            ({"ownerId": "x", "memberIds": ["m"] * 1001}, {"memberIds"}),
        ],
    )
    async def test_malformed_bodies_name_each_field(
        self, client: httpx.AsyncClient, body: dict[str, Any], fields: set[str]
    ) -> None:
        response = await client.post("/customer-organizations", json=body)
        assert response.status_code == 400
        assert field_names(response) == fields


class TestAddMembers:
    async def test_adds_to_the_members(self, client: httpx.AsyncClient) -> None:
        owner, first, second, third = await customers(client, 4)
        org = await create_org(client, owner, first)
        response = await add(client, org["id"], third["id"], second["id"])
        assert response.status_code == 200
        assert response.json() == {
            "id": org["id"],
            "owner": ref(owner),
            "members": [ref(first), ref(third), ref(second)],
        }
        assert await organizations_of(client, third) == [response.json()]
        assert await organizations_of(client, owner) == [response.json()]

    async def test_adding_members_again_changes_nothing(self, client: httpx.AsyncClient) -> None:
        owner, first, second = await customers(client, 3)
        org = await create_org(client, owner, first, second)
        response = await add(client, org["id"], second["id"], first["id"], second["id"])
        assert response.status_code == 200
        assert response.json() == org
        assert (await add(client, org["id"])).json() == org

    async def test_other_organizations_are_untouched(self, client: httpx.AsyncClient) -> None:
        one, two, member, other = await customers(client, 4)
        first = await create_org(client, one, member, other)
        second = await create_org(client, two)
        added = (await add(client, second["id"], member["id"])).json()
        assert await organizations_of(client, member) == [first, added]
        assert await organizations_of(client, one) == [first]

    async def test_unknown_or_foreign_organization_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        owner, member = await customers(client, 2)
        org = await create_org(client, owner)
        for org_id in ("no-such-org", org["id"]):
            response = await add(other_client, org_id, "anything")
            assert response.status_code == 404
            assert response.json()["error"]["type"] == "NotFound"
        assert (await add(client, "no-such-org", member["id"])).status_code == 404
        assert await organizations_of(client, owner) == [org]

    async def test_ids_must_be_live_customers_of_the_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        owner, member, archived = await customers(client, 3)
        foreign = await make_customer(other_client)
        await archive(client, archived)
        org = await create_org(client, owner)
        response = await add(client, org["id"], member["id"], foreign["id"], "nope", archived["id"])
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "ValidationError"
        assert field_names(response) == {"customerIds[1]", "customerIds[2]", "customerIds[3]"}
        for customer_id in (foreign["id"], "nope", archived["id"]):
            assert customer_id in response.json()["error"]["message"]
        only_archived = await add(client, org["id"], archived["id"])
        assert only_archived.status_code == 400
        assert only_archived.json()["error"]["type"] == "ArchivedResource"
        assert field_names(only_archived) == {"customerIds[0]"}
        assert await organizations_of(client, owner) == [org]  # nothing was added

    async def test_the_owner_cannot_join_its_own_organization(
        self, client: httpx.AsyncClient
    ) -> None:
        (owner,) = await customers(client, 1)
        org = await create_org(client, owner)
        response = await add(client, org["id"], owner["id"])
        assert response.status_code == 400
        assert field_names(response) == {"customerIds[0]"}

    async def test_cycles_are_refused(self, client: httpx.AsyncClient) -> None:
        top, middle, bottom = await customers(client, 3)
        await create_org(client, top, middle)
        lower = await create_org(client, middle, bottom)
        response = await add(client, lower["id"], top["id"])
        assert response.status_code == 400
        assert field_names(response) == {"customerIds[0]"}
        assert "cycle" in response.json()["error"]["message"]
        bottoms = await create_org(client, bottom)
        for above in (top, middle):
            assert (await add(client, bottoms["id"], above["id"])).status_code == 400

    async def test_archiving_keeps_memberships(self, client: httpx.AsyncClient) -> None:
        owner, member, other = await customers(client, 3)
        org = await create_org(client, owner, member, other)
        await archive(client, member)
        await archive(client, owner)
        assert await organizations_of(client, member) == [org]
        assert await organizations_of(client, owner) == [org]
        listed = await client.get("/customers", params={"includeArchived": "true"})
        by_id = {c["id"]: c["organizations"] for c in listed.json()["items"]}
        assert by_id[member["id"]] == [org]
        # Adding nothing new to an archived owner's organization is a no-op, not an error.
        assert (await add(client, org["id"], other["id"])).json() == org

    async def test_an_archived_owner_takes_no_new_members(self, client: httpx.AsyncClient) -> None:
        owner, newcomer = await customers(client, 2)
        org = await create_org(client, owner)
        await archive(client, owner)
        response = await add(client, org["id"], newcomer["id"])
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "ArchivedResource"
        assert owner["id"] in response.json()["error"]["message"]
        assert await organizations_of(client, newcomer) == []

    async def test_concurrent_adds_lose_no_member(self, client: httpx.AsyncClient) -> None:
        owner, *members = await customers(client, 9)
        org = await create_org(client, owner)
        responses = await asyncio.gather(*(add(client, org["id"], m["id"]) for m in members))
        assert [r.status_code for r in responses] == [200] * len(members)
        (final,) = await organizations_of(client, owner)
        assert {m["id"] for m in final["members"]} == {m["id"] for m in members}

    async def test_concurrent_links_cannot_make_a_cycle(self, client: httpx.AsyncClient) -> None:
        """Each request alone is fine; together they would loop. The organization lock makes
        the second see the first: exactly one succeeds, whichever wins."""
        for _ in range(5):
            a, b, c = await customers(client, 3)
            org_a, org_b, org_c = [await create_org(client, x) for x in (a, b, c)]
            responses = await asyncio.gather(
                add(client, org_a["id"], b["id"]),
                add(client, org_b["id"], c["id"]),
                add(client, org_c["id"], a["id"]),
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200, 200, 400], [r.text for r in responses]


class TestReplaceMembers:
    async def test_replaces_the_member_list(self, client: httpx.AsyncClient) -> None:
        owner, kept, dropped, joined = await customers(client, 4)
        org = await create_org(client, owner, kept, dropped)
        response = await replace(client, org["id"], joined["id"], kept["id"])
        assert response.status_code == 200
        replaced = response.json()
        assert replaced == {
            "id": org["id"],
            "owner": ref(owner),
            "members": [ref(kept), ref(joined)],
        }
        assert await organizations_of(client, dropped) == []
        assert await organizations_of(client, joined) == [replaced]
        assert await organizations_of(client, kept) == [replaced]
        assert await organizations_of(client, owner) == [replaced]

    async def test_an_empty_list_removes_every_member(self, client: httpx.AsyncClient) -> None:
        owner, first, second = await customers(client, 3)
        org = await create_org(client, owner, first, second)
        response = await replace(client, org["id"])
        assert response.status_code == 200
        assert response.json() == {"id": org["id"], "owner": ref(owner), "members": []}
        assert await organizations_of(client, first) == []
        assert await organizations_of(client, owner) == [response.json()]

    async def test_other_organizations_are_untouched(self, client: httpx.AsyncClient) -> None:
        one, two, member = await customers(client, 3)
        first = await create_org(client, one, member)
        second = await create_org(client, two, member)
        emptied = (await replace(client, second["id"])).json()
        assert await organizations_of(client, member) == [first]
        assert await organizations_of(client, two) == [emptied]

    async def test_repeated_ids_count_once(self, client: httpx.AsyncClient) -> None:
        owner, member = await customers(client, 2)
        org = await create_org(client, owner)
        response = await replace(client, org["id"], member["id"], member["id"])
        assert response.json()["members"] == [ref(member)]

    async def test_unknown_or_foreign_organization_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        owner, member = await customers(client, 2)
        org = await create_org(client, owner, member)
        assert (await replace(other_client, org["id"])).status_code == 404
        assert (await replace(client, "no-such-org")).status_code == 404
        assert await organizations_of(client, owner) == [org]

    async def test_new_ids_follow_the_rules(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        top, owner, member, archived = await customers(client, 4)
        foreign = await make_customer(other_client)
        await create_org(client, top, owner)
        org = await create_org(client, owner, member)
        await archive(client, archived)
        response = await replace(
            client, org["id"], member["id"], foreign["id"], owner["id"], top["id"], archived["id"]
        )
        assert response.status_code == 400
        assert field_names(response) == {
            "customerIds[1]",  # another account's
            "customerIds[2]",  # the owner
            "customerIds[3]",  # above the owner: a cycle
            "customerIds[4]",  # archived and not a member
        }
        assert await organizations_of(client, member) == [org]  # nothing changed

    async def test_archived_members_are_kept_when_listed(self, client: httpx.AsyncClient) -> None:
        owner, live, archived = await customers(client, 3)
        org = await create_org(client, owner, live, archived)
        await archive(client, archived)
        # GET, edit, PUT back: the archived member stays.
        (current,) = await organizations_of(client, owner)
        ids = [m["id"] for m in current["members"]]
        response = await replace(client, org["id"], *ids)
        assert response.status_code == 200
        assert response.json() == org
        # Left out, it is removed; and, archived, it cannot come back.
        assert (await replace(client, org["id"], live["id"])).json()["members"] == [ref(live)]
        assert await organizations_of(client, archived) == []
        back = await replace(client, org["id"], live["id"], archived["id"])
        assert back.status_code == 400
        assert back.json()["error"]["type"] == "ArchivedResource"
        assert field_names(back) == {"customerIds[1]"}

    async def test_an_archived_owners_members_can_be_removed(
        self, client: httpx.AsyncClient
    ) -> None:
        owner, member, newcomer = await customers(client, 3)
        org = await create_org(client, owner, member)
        await archive(client, owner)
        assert (await replace(client, org["id"], member["id"], newcomer["id"])).status_code == 400
        response = await replace(client, org["id"])
        assert response.status_code == 200
        assert response.json()["members"] == []

    async def test_concurrent_replaces_cannot_make_a_cycle(self, client: httpx.AsyncClient) -> None:
        for _ in range(5):
            a, b = await customers(client, 2)
            org_a = await create_org(client, a)
            org_b = await create_org(client, b)
            responses = await asyncio.gather(
                replace(client, org_a["id"], b["id"]), replace(client, org_b["id"], a["id"])
            )
            assert sorted(r.status_code for r in responses) == [200, 400]
            member_of_a = await organizations_of(client, a)
            member_of_b = await organizations_of(client, b)
            links = [
                (o["owner"]["id"], m["id"]) for o in member_of_a + member_of_b for m in o["members"]
            ]
            assert len(set(links)) == 1
