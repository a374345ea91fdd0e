"""Customer create, get, update and archive through HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.errors import field_names
from tests.factories import address, contact, customer_body, make_customer

pytestmark = pytest.mark.asyncio


async def count_customers(client: httpx.AsyncClient) -> int:
    response = await client.get("/customers", params={"includeArchived": "true"})
    total: int = response.json()["pagination"]["totalResultSize"]
    return total


class TestCreateCustomer:
    async def test_answers_the_created_customer(self, client: httpx.AsyncClient) -> None:
        body = customer_body(
            url="https://www.example.com/billing",
            label="Key account",
            integrationIds=[{"service": "Stripe", "id": "cus_123"}],
            customProperties={"region": "EU", "tier": "gold"},
            contacts=[
                contact(name="Ann", email="ann@example.com", billingPreference="PRIMARY"),
                contact(name="Bob", email="bob@example.com", billingPreference="STANDARD"),
                contact(name="Cy", email="cy@example.com", billingPreference="NONE"),
            ],
        )
        response = await client.post("/customers", json=body)
        assert response.status_code == 201
        created = response.json()
        assert created["legalName"] == body["legalName"]
        assert created["address"] == body["address"]
        assert created["taxStatus"] == "TAXED"
        assert created["status"] == "ACTIVE"
        assert created["url"] == "https://www.example.com/billing"
        assert created["domain"] == "example.com"
        assert created["label"] == "Key account"
        assert created["organizations"] == []
        assert created["customProperties"] == {"region": "EU", "tier": "gold"}
        assert created["integrationIds"] == [
            {"service": "Stripe", "id": "cus_123", "isPending": False}
        ]
        assert [(c["name"], c["email"], c["billingPreference"]) for c in created["contacts"]] == [
            ("Ann", "ann@example.com", "PRIMARY"),
            ("Bob", "bob@example.com", "STANDARD"),
            ("Cy", "cy@example.com", "NONE"),
        ]
        assert created["createdAt"].endswith("Z")
        fetched = await client.get(f"/customers/{created['id']}")
        assert fetched.json() == created

    async def test_answer_and_event_are_what_a_get_gives(self, client: httpx.AsyncClient) -> None:
        # A create answers the customer it wrote without reading it back (services/customers.py
        # `_insert`): the answer, its ETag and the event must match what is stored, in the
        # stored order (custom properties by key in code-point order, contacts as given).
        body = customer_body(
            url="https://shop.example.org/",
            label="Reseller",
            telephone="+44 20 7946 0000",
            status="ACTIVE",
            customerAliases=["answer-matches-get"],
            integrationIds=[{"service": "Stripe", "id": "cus_1"}],
            pushToIntegrations=["Xero"],
            customProperties={"zeta": "1", "Alpha": "2", "beta": "3", "émoji": "4", "_": "5"},
            contacts=[
                contact(name=f"Person {i}", email=f"p{i}@example.com", billingPreference=pref)
                for i, pref in enumerate(["STANDARD", "PRIMARY", "NONE", "STANDARD", "NONE"])
            ],
        )
        response = await client.post("/customers", json=body)
        assert response.status_code == 201
        created = response.json()
        fetched = await client.get(f"/customers/{created['id']}")
        assert fetched.json() == created
        assert fetched.headers["etag"] == response.headers["etag"]
        assert list(created["customProperties"]) == ["Alpha", "_", "beta", "zeta", "émoji"]
        assert [c["name"] for c in created["contacts"]] == [f"Person {i}" for i in range(5)]
        events = (
            await client.get(
                "/events", params={"resourceId": created["id"], "type": "CUSTOMER_CREATED"}
            )
        ).json()["items"]
        assert [e["resource"] for e in events] == [created]

    async def test_optional_fields_are_omitted_never_null(self, client: httpx.AsyncClient) -> None:
        created = await make_customer(client, address=address(line2=None))
        for name in ("url", "domain", "label", "archivedAt"):
            assert name not in created
        assert "line2" not in created["address"]
        assert created["customProperties"] == {}
        assert created["integrationIds"] == []
        assert None not in created.values()

    async def test_missing_required_fields_are_each_named(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/customers", json={"url": "https://example.com"})
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "ValidationError"
        assert field_names(response) == {"legalName", "address", "taxStatus", "contacts"}

    async def test_every_enum_is_checked(self, client: httpx.AsyncClient) -> None:
        body = customer_body(
            address=address(country="XX", state="ZZ"),
            taxStatus="EXEMPT",
            status="LIVE",
            integrationIds=[{"service": "Stripey", "id": "1"}],
            contacts=[contact(billingPreference="SOMETIMES")],
            pushToIntegrations=["Sage"],
        )
        response = await client.post("/customers", json=body)
        assert response.status_code == 400
        assert field_names(response) == {
            "address.country",
            "address.state",
            "taxStatus",
            "status",
            "integrationIds[0].service",
            "contacts[0].billingPreference",
            "pushToIntegrations[0]",
        }

    @pytest.mark.parametrize("country", ["US", "CA"])
    async def test_state_is_required_for_us_and_canada(
        self, client: httpx.AsyncClient, country: str
    ) -> None:
        body = customer_body(
            address={k: v for k, v in address(country=country).items() if k != "state"}
        )
        response = await client.post("/customers", json=body)
        assert response.status_code == 400
        assert field_names(response) == {"address.state"}

    async def test_state_must_belong_to_the_country(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/customers", json=customer_body(address=address(state="ON")))
        assert response.status_code == 400
        assert field_names(response) == {"address.state"}
        canadian = await client.post(
            "/customers", json=customer_body(address=address(country="CA", state="ON"))
        )
        assert canadian.status_code == 201

    async def test_state_is_optional_elsewhere(self, client: httpx.AsyncClient) -> None:
        body = customer_body(
            address={"line1": "1 High St", "town": "London", "postcode": "N1 1AA", "country": "GB"}
        )
        assert (await client.post("/customers", json=body)).status_code == 201

    @pytest.mark.parametrize("email", ["plain", "a@b", "two@@example.com", "sp ace@example.com"])
    async def test_contact_email_must_be_valid(self, client: httpx.AsyncClient, email: str) -> None:
        response = await client.post(
            "/customers", json=customer_body(contacts=[contact(email=email)])
        )
        assert response.status_code == 400
        assert field_names(response) == {"contacts[0].email"}

    async def test_contact_emails_must_differ(self, client: httpx.AsyncClient) -> None:
        contacts = [contact(email="same@example.com"), contact(email="SAME@example.com")]
        response = await client.post("/customers", json=customer_body(contacts=contacts))
        assert response.status_code == 400
        assert field_names(response) == {"contacts[1].email"}

    @pytest.mark.parametrize(
        "url", ["ftp://example.com", "example.com", "https://", "javascript:x"]
    )
    async def test_url_must_be_http(self, client: httpx.AsyncClient, url: str) -> None:
        response = await client.post("/customers", json=customer_body(url=url))
        assert response.status_code == 400
        assert field_names(response) == {"url"}

    async def test_string_lengths_are_bounded(self, client: httpx.AsyncClient) -> None:
        body = customer_body(
            legalName="x" * 256,
            label="y" * 256,
            url="https://example.com/" + "z" * 2048,
            customProperties={"k" * 101: "v", "ok": "v" * 1001},
        )
        response = await client.post("/customers", json=body)
        assert response.status_code == 400
        assert {"legalName", "label", "url"} <= field_names(response)
        assert any(f.startswith("customProperties") for f in field_names(response))
        assert (
            await client.post("/customers", json=customer_body(legalName="x" * 255))
        ).status_code == 201

    async def test_custom_property_values_must_be_strings(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/customers", json=customer_body(customProperties={"seats": 10, "ok": "yes"})
        )
        assert response.status_code == 400
        assert field_names(response) == {"customProperties.seats"}

    async def test_blank_names_are_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/customers", json=customer_body(legalName="   ", contacts=[contact(name=" ")])
        )
        assert response.status_code == 400
        assert field_names(response) == {"legalName", "contacts[0].name"}

    async def test_billing_contacts_need_a_primary(self, client: httpx.AsyncClient) -> None:
        contacts = [contact(billingPreference="STANDARD"), contact(billingPreference="NONE")]
        response = await client.post("/customers", json=customer_body(contacts=contacts))
        assert response.status_code == 400
        assert field_names(response) == {"contacts"}
        assert "PRIMARY" in response.json()["error"]["errors"][0]["message"]

    @pytest.mark.parametrize(
        "preferences", [[], ["NONE"], ["NONE", "NONE"], ["PRIMARY", "PRIMARY", "STANDARD"]]
    )
    async def test_contact_sets_that_satisfy_the_primary_rule(
        self, client: httpx.AsyncClient, preferences: list[str]
    ) -> None:
        contacts = [contact(billingPreference=p) for p in preferences]
        response = await client.post("/customers", json=customer_body(contacts=contacts))
        assert response.status_code == 201, response.text
        assert [c["billingPreference"] for c in response.json()["contacts"]] == preferences

    async def test_status_draft_is_kept(self, client: httpx.AsyncClient) -> None:
        created = await make_customer(client, status="DRAFT")
        assert created["status"] == "DRAFT"

    async def test_push_to_integrations_records_a_pending_id(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await make_customer(client, pushToIntegrations=["Xero"])
        assert created["integrationIds"] == [{"service": "Xero", "id": "", "isPending": True}]
        linked = await make_customer(
            client,
            integrationIds=[{"service": "Xero", "id": "X-1"}],
            pushToIntegrations=["Xero"],
        )
        assert linked["integrationIds"] == [{"service": "Xero", "id": "X-1", "isPending": False}]

    async def test_aliases_are_unique_within_the_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await make_customer(client, customerAliases=["crm-1"])
        response = await client.post("/customers", json=customer_body(customerAliases=["crm-1"]))
        assert response.status_code == 409
        assert response.json()["error"]["type"] == "Conflict"
        assert "crm-1" in response.json()["error"]["message"]
        await make_customer(other_client, customerAliases=["crm-1"])

    async def test_an_alias_may_not_be_another_customers_id(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await make_customer(client)
        response = await client.post(
            "/customers", json=customer_body(customerAliases=[first["id"]])
        )
        assert response.status_code == 409

    async def test_repeated_alias_in_one_request(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/customers", json=customer_body(customerAliases=["a", "a"]))
        assert response.status_code == 400
        assert field_names(response) == {"customerAliases[1]"}

    async def test_parent_makes_an_organization(self, client: httpx.AsyncClient) -> None:
        parent = await make_customer(client, legalName="Parent Group")
        first = await make_customer(client, legalName="Child One", parentId=parent["id"])
        second = await make_customer(client, legalName="Child Two", parentId=parent["id"])
        org = second["organizations"][0]
        assert first["organizations"][0]["id"] == org["id"]
        assert org["owner"] == {"id": parent["id"], "name": "Parent Group"}
        assert org["members"] == [
            {"id": first["id"], "name": "Child One"},
            {"id": second["id"], "name": "Child Two"},
        ]
        parent_now = (await client.get(f"/customers/{parent['id']}")).json()
        assert parent_now["organizations"] == [org]

    async def test_parent_must_be_a_live_customer_of_the_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        foreign = await make_customer(other_client)
        archived = await make_customer(client)
        await client.post(f"/customers/{archived['id']}/archive")
        for parent_id in ("no-such-customer", foreign["id"], archived["id"]):
            response = await client.post("/customers", json=customer_body(parentId=parent_id))
            assert response.status_code == 400
            assert field_names(response) == {"parentId"}

    async def test_parent_links_cannot_loop(self, client: httpx.AsyncClient) -> None:
        top = await make_customer(client)
        middle = await make_customer(client, parentId=top["id"])
        bottom = await make_customer(client, parentId=middle["id"])
        response = await client.put(
            f"/customers/{top['id']}", json=customer_body(parentId=bottom["id"])
        )
        assert response.status_code == 400
        assert field_names(response) == {"parentId"}
        itself = await client.put(f"/customers/{top['id']}", json=customer_body(parentId=top["id"]))
        assert itself.status_code == 400

    @pytest.mark.parametrize(
        ("content", "content_type", "status", "error_type"),
        [
            (b"{not json", "application/json", 400, "ValidationError"),
            (b"[1, 2]", "application/json", 400, "ValidationError"),
            (b'"text"', "application/json", 400, "ValidationError"),
            (b"", "application/json", 400, "ValidationError"),
            (b"\xff\xfe{}", "application/json", 400, "ValidationError"),
            (b"legalName=x", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType"),
            (b"{}", "text/plain", 415, "UnsupportedMediaType"),
        ],
    )
    async def test_bodies_that_are_not_a_json_object(
        self,
        client: httpx.AsyncClient,
        content: bytes,
        content_type: str,
        status: int,
        error_type: str,
    ) -> None:
        response = await client.post(
            "/customers", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == status
        assert response.json()["error"]["type"] == error_type

    async def test_body_over_one_mebibyte(self, client: httpx.AsyncClient) -> None:
        body = customer_body(label="x" * (1024 * 1024))
        response = await client.post("/customers", json=body)
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "PayloadTooLarge"

    async def test_an_invalid_request_changes_nothing(self, client: httpx.AsyncClient) -> None:
        await make_customer(client, customerAliases=["taken"])
        before = await count_customers(client)
        bad_bodies: list[dict[str, Any]] = [
            customer_body(taxStatus="nope"),
            customer_body(customerAliases=["fresh", "taken"]),
            customer_body(parentId="missing"),
        ]
        for body in bad_bodies:
            assert (await client.post("/customers", json=body)).status_code in (400, 409)
        assert await count_customers(client) == before
        # The alias of the refused request was not kept either.
        assert (
            await client.post("/customers", json=customer_body(customerAliases=["fresh"]))
        ).status_code == 201


class TestGetCustomer:
    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/customers/01890000-0000-7000-8000-000000000000")
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "NotFound"

    async def test_another_accounts_customer_is_answered_like_a_missing_one(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        theirs = await make_customer(other_client)
        missing_id = theirs["id"][:-4] + "ffff"
        foreign = await client.get(f"/customers/{theirs['id']}")
        missing = await client.get(f"/customers/{missing_id}")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["error"]["message"].replace(theirs["id"], "ID") == missing.json()[
            "error"
        ]["message"].replace(missing_id, "ID")


class TestUpdateCustomer:
    async def test_replaces_the_customers_fields(self, client: httpx.AsyncClient) -> None:
        created = await make_customer(client, url="https://old.example.com", label="Old")
        body = customer_body(
            legalName="Renamed Ltd",
            address=address(line1="1 New Road", line2="Suite 2"),
            taxStatus="REVERSE_CHARGED",
        )
        response = await client.put(f"/customers/{created['id']}", json=body)
        assert response.status_code == 200
        updated = response.json()
        assert updated["legalName"] == "Renamed Ltd"
        assert updated["address"]["line2"] == "Suite 2"
        assert updated["taxStatus"] == "REVERSE_CHARGED"
        # A full replacement: optional fields not sent are cleared.
        assert "url" not in updated
        assert "domain" not in updated
        assert "label" not in updated
        assert updated["createdAt"] == created["createdAt"]
        assert (await client.get(f"/customers/{created['id']}")).json() == updated

    async def test_contacts_keep_their_ids_by_email(self, client: httpx.AsyncClient) -> None:
        ann = contact(name="Ann", email="ann@example.com")
        bob = contact(name="Bob", email="bob@example.com", billingPreference="STANDARD")
        created = await make_customer(client, contacts=[ann, bob])
        ids = {c["email"]: c["id"] for c in created["contacts"]}
        body = customer_body(
            contacts=[
                {**ann, "name": "Ann Smith", "email": "ANN@example.com"},
                contact(name="Cat", email="cat@example.com", billingPreference="NONE"),
            ]
        )
        updated = (await client.put(f"/customers/{created['id']}", json=body)).json()
        by_name = {c["name"]: c for c in updated["contacts"]}
        assert set(by_name) == {"Ann Smith", "Cat"}
        assert by_name["Ann Smith"]["id"] == ids["ann@example.com"]
        assert by_name["Ann Smith"]["email"] == "ANN@example.com"
        assert by_name["Cat"]["id"] not in ids.values()

    async def test_unchanged_contacts_keep_updated_at(self, client: httpx.AsyncClient) -> None:
        ann = contact(name="Ann", email="ann@example.com")
        created = await make_customer(client, contacts=[ann])
        updated = (
            await client.put(f"/customers/{created['id']}", json=customer_body(contacts=[ann]))
        ).json()
        assert updated["contacts"] == created["contacts"]

    async def test_collections_left_out_stay(self, client: httpx.AsyncClient) -> None:
        created = await make_customer(
            client,
            customProperties={"tier": "gold"},
            integrationIds=[{"service": "HubSpot", "id": "h-1"}],
            customerAliases=["keep-me"],
            status="DRAFT",
        )
        updated = (await client.put(f"/customers/{created['id']}", json=customer_body())).json()
        assert updated["customProperties"] == {"tier": "gold"}
        assert updated["integrationIds"] == created["integrationIds"]
        assert updated["status"] == "DRAFT"
        found = await client.get("/customers", params={"alias": "keep-me"})
        assert [c["id"] for c in found.json()["items"]] == [created["id"]]

    async def test_collections_sent_replace_the_old(self, client: httpx.AsyncClient) -> None:
        created = await make_customer(
            client, customProperties={"tier": "gold", "region": "EU"}, customerAliases=["old"]
        )
        body = customer_body(
            customProperties={"tier": "silver"}, customerAliases=["new"], status="ACTIVE"
        )
        updated = (await client.put(f"/customers/{created['id']}", json=body)).json()
        assert updated["customProperties"] == {"tier": "silver"}
        old = (await client.get("/customers", params={"alias": "old"})).json()["items"]
        new = (await client.get("/customers", params={"alias": "new"})).json()["items"]
        assert old == []
        assert [c["id"] for c in new] == [created["id"]]
        # The dropped alias is free again.
        await make_customer(client, customerAliases=["old"])

    async def test_archived_customers_cannot_be_updated(self, client: httpx.AsyncClient) -> None:
        created = await make_customer(client)
        await client.post(f"/customers/{created['id']}/archive")
        response = await client.put(f"/customers/{created['id']}", json=customer_body())
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "ArchivedResource"
        assert (await client.get(f"/customers/{created['id']}")).json()["legalName"] == created[
            "legalName"
        ]

    async def test_unknown_or_foreign_customer_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        theirs = await make_customer(other_client)
        response = await client.put(f"/customers/{theirs['id']}", json=customer_body())
        assert response.status_code == 404
        assert (await other_client.get(f"/customers/{theirs['id']}")).json() == theirs

    async def test_an_invalid_update_changes_nothing(self, client: httpx.AsyncClient) -> None:
        await make_customer(client, customerAliases=["theirs"])
        created = await make_customer(client, customerAliases=["mine"])
        body = customer_body(legalName="Changed", customerAliases=["mine", "theirs"])
        assert (await client.put(f"/customers/{created['id']}", json=body)).status_code == 409
        assert (await client.get(f"/customers/{created['id']}")).json() == created


class TestArchiveCustomer:
    async def test_archive_sets_archived_at_once(self, client: httpx.AsyncClient) -> None:
        created = await make_customer(client)
        first = await client.post(f"/customers/{created['id']}/archive")
        assert first.status_code == 200
        archived_at = first.json()["archivedAt"]
        again = await client.post(f"/customers/{created['id']}/archive")
        assert again.status_code == 200
        assert again.json()["archivedAt"] == archived_at
        assert (await client.get(f"/customers/{created['id']}")).json()["archivedAt"] == archived_at

    async def test_archive_and_restore_answer_what_a_get_gives(
        self, client: httpx.AsyncClient
    ) -> None:
        # Archive and restore answer the customer without reading it back
        # (services/customers.py `_set_archived`): answer and ETag must match what is stored.
        parent = await make_customer(client, legalName="Parent")
        created = await make_customer(
            client, parentId=parent["id"], customProperties={"b": "1", "a": "2"}
        )
        for action in ("archive", "restore"):
            response = await client.post(f"/customers/{created['id']}/{action}")
            assert response.status_code == 200
            fetched = await client.get(f"/customers/{created['id']}")
            assert response.json() == fetched.json()
            assert response.headers["etag"] == fetched.headers["etag"]
        assert fetched.json()["organizations"] != []

    async def test_archived_customers_leave_the_default_list(
        self, client: httpx.AsyncClient
    ) -> None:
        kept = await make_customer(client)
        gone = await make_customer(client)
        await client.post(f"/customers/{gone['id']}/archive")
        default = (await client.get("/customers")).json()
        assert [c["id"] for c in default["items"]] == [kept["id"]]
        assert default["pagination"]["totalResultSize"] == 1
        everything = (await client.get("/customers", params={"includeArchived": "true"})).json()
        assert [c["id"] for c in everything["items"]] == [gone["id"], kept["id"]]
        assert "archivedAt" in everything["items"][0]

    async def test_unknown_or_foreign_customer_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        theirs = await make_customer(other_client)
        assert (await client.post(f"/customers/{theirs['id']}/archive")).status_code == 404
        assert "archivedAt" not in (await other_client.get(f"/customers/{theirs['id']}")).json()


class TestCustomPropertyKeys:
    async def test_distinct_keys_of_the_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        assert (await client.get("/customer-custom-property-keys")).json() == {"items": []}
        await make_customer(client, customProperties={"tier": "gold", "region": "EU"})
        await make_customer(client, customProperties={"tier": "silver", "seats": "10"})
        await make_customer(other_client, customProperties={"secret": "x"})
        response = await client.get("/customer-custom-property-keys")
        assert response.json() == {"items": ["region", "seats", "tier"]}
