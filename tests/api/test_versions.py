"""API versions 2024-05-09 and 2024-01-01 served from the same records as 2024-07-30."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ClientFactory
from tests.factories import address, contact, customer_body, make_customer

pytestmark = pytest.mark.asyncio

V0730, V0509, V0101 = "2024-07-30", "2024-05-09", "2024-01-01"


def in_version(version: str) -> dict[str, str]:
    return {"Sequence-Version": version}


def legacy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "legalName": "Legacy Ltd",
        "address": address(),
        "email": "main@legacy.example",
        "billingEmails": ["main@legacy.example", "ap@legacy.example"],
        "taxStatus": "TAXED",
        "contactName": "Main Person",
        "telephone": "+44 20 7946 0000",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def get(client: httpx.AsyncClient, customer_id: str, version: str) -> dict[str, Any]:
    response = await client.get(f"/customers/{customer_id}", headers=in_version(version))
    assert response.status_code == 200, response.text
    assert response.headers["sequence-version"] == version
    body: dict[str, Any] = response.json()
    return body


class TestVersionSelection:
    async def test_pinned_credential_and_header_override(self, new_client: ClientFactory) -> None:
        pinned = await new_client(api_version=V0509)
        response = await pinned.post("/customers", json=legacy_body())
        assert response.status_code == 201
        assert response.headers["sequence-version"] == V0509
        assert "contacts" not in response.json()
        assert response.json()["email"] == "main@legacy.example"
        latest = await pinned.get(f"/customers/{response.json()['id']}", headers=in_version(V0730))
        assert latest.headers["sequence-version"] == V0730
        assert [c["email"] for c in latest.json()["contacts"]] == [
            "main@legacy.example",
            "ap@legacy.example",
        ]

    @pytest.mark.parametrize(
        ("version", "method", "path"),
        [
            (V0730, "DELETE", "/customers/{id}"),
            (V0730, "PUT", "/customers/{id}/archive"),
            (V0509, "POST", "/customers/{id}/archive"),
            (V0101, "POST", "/customers/{id}/archive"),
            (V0509, "GET", "/customer-custom-property-keys"),
            (V0101, "GET", "/customer-custom-property-keys"),
        ],
    )
    async def test_operations_a_version_lacks_are_404(
        self, client: httpx.AsyncClient, version: str, method: str, path: str
    ) -> None:
        customer = await make_customer(client)
        response = await client.request(
            method, path.format(id=customer["id"]), headers=in_version(version)
        )
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "NotFound"
        assert version in response.json()["error"]["message"]
        assert "archivedAt" not in await get(client, customer["id"], V0730)

    @pytest.mark.parametrize("version", [V0730, V0509, V0101])
    async def test_errors_use_the_same_envelope(
        self, client: httpx.AsyncClient, version: str
    ) -> None:
        invalid = await client.post("/customers", json={}, headers=in_version(version))
        assert invalid.status_code == 400
        assert invalid.json()["error"]["type"] == "ValidationError"
        assert "legalName" in {e["field"] for e in invalid.json()["error"]["errors"]}
        missing = await client.get("/customers/nope", headers=in_version(version))
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "NotFound"


class TestCustomers20240509:
    async def test_create_answers_the_legacy_shape(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/customers", json=legacy_body(), headers=in_version(V0509))
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "main@legacy.example"
        assert body["contactName"] == "Main Person"
        assert body["billingEmails"] == ["main@legacy.example", "ap@legacy.example"]
        assert body["telephone"] == "+44 20 7946 0000"
        assert body["integrationIds"] == []
        for absent in ("contacts", "organizations", "status", "customProperties", "domain"):
            assert absent not in body
        latest = await get(client, body["id"], V0730)
        assert [(c["name"], c["email"], c["billingPreference"]) for c in latest["contacts"]] == [
            ("Main Person", "main@legacy.example", "PRIMARY"),
            ("ap@legacy.example", "ap@legacy.example", "STANDARD"),
        ]
        assert latest["status"] == "ACTIVE"

    async def test_update_keeps_what_the_version_cannot_express(
        self, client: httpx.AsyncClient
    ) -> None:
        parent = await make_customer(client)
        created = await make_customer(
            client,
            contacts=[
                contact(name="Ann", email="ann@x.example", billingPreference="PRIMARY"),
                contact(name="Bob", email="bob@x.example", billingPreference="STANDARD"),
                contact(name="Ops", email="ops@x.example", billingPreference="NONE"),
            ],
            customProperties={"tier": "gold"},
            status="DRAFT",
            parentId=parent["id"],
            integrationIds=[{"service": "Attio", "id": "att-1"}, {"service": "Stripe", "id": "s"}],
        )
        legacy = await get(client, created["id"], V0509)
        assert legacy["billingEmails"] == ["ann@x.example", "bob@x.example"]
        assert legacy["integrationIds"] == [{"service": "Stripe", "id": "s"}]
        # Write back what was read, changing only the label: nothing else may move.
        body = {k: v for k, v in legacy.items() if k not in ("id", "createdAt")}
        body["label"] = "Renamed"
        updated = await client.put(
            f"/customers/{created['id']}", json=body, headers=in_version(V0509)
        )
        assert updated.status_code == 200, updated.text
        latest = await get(client, created["id"], V0730)
        assert latest["label"] == "Renamed"
        assert latest["contacts"] == created["contacts"]
        assert latest["customProperties"] == {"tier": "gold"}
        assert latest["status"] == "DRAFT"
        assert latest["organizations"] == created["organizations"]
        assert latest["integrationIds"] == created["integrationIds"]

    async def test_billing_emails_create_keep_and_archive_standard_contacts(
        self, client: httpx.AsyncClient
    ) -> None:
        created = (
            await client.post("/customers", json=legacy_body(), headers=in_version(V0509))
        ).json()
        body = legacy_body(billingEmails=["new@legacy.example"], email="main@legacy.example")
        updated = await client.put(
            f"/customers/{created['id']}", json=body, headers=in_version(V0509)
        )
        assert updated.json()["billingEmails"] == ["main@legacy.example", "new@legacy.example"]
        everyone = await client.get(f"/customers/{created['id']}", headers=in_version(V0730))
        emails = {c["email"]: c["billingPreference"] for c in everyone.json()["contacts"]}
        assert emails == {"main@legacy.example": "PRIMARY", "new@legacy.example": "STANDARD"}

    async def test_changing_the_main_email_makes_it_the_main_contact(
        self, client: httpx.AsyncClient
    ) -> None:
        created = (
            await client.post("/customers", json=legacy_body(), headers=in_version(V0509))
        ).json()
        body = legacy_body(
            email="ap@legacy.example",
            contactName="Accounts Payable",
            billingEmails=["main@legacy.example", "ap@legacy.example"],
        )
        updated = (
            await client.put(f"/customers/{created['id']}", json=body, headers=in_version(V0509))
        ).json()
        assert updated["email"] == "ap@legacy.example"
        assert updated["contactName"] == "Accounts Payable"
        assert set(updated["billingEmails"]) == {"main@legacy.example", "ap@legacy.example"}

    @pytest.mark.parametrize(
        ("method", "path"), [("DELETE", "/customers/{id}"), ("PUT", "/customers/{id}/archive")]
    )
    async def test_archive_operations(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        customer = await make_customer(client)
        for version in (V0509, V0101):
            response = await client.request(
                method, path.format(id=customer["id"]), headers=in_version(version)
            )
            assert response.status_code == 200
            assert "archivedAt" in response.json()
        assert "archivedAt" in await get(client, customer["id"], V0730)

    async def test_list_answers_the_legacy_shape(self, client: httpx.AsyncClient) -> None:
        made = await make_customer(client, contacts=[contact(email="z@z.example")])
        response = await client.get("/customers", headers=in_version(V0509))
        assert response.status_code == 200
        (item,) = response.json()["items"]
        assert item["id"] == made["id"]
        assert item["email"] == "z@z.example"
        assert response.json()["pagination"] == {"totalResultSize": 1}

    async def test_newer_enum_values_are_hidden_not_sent(self, client: httpx.AsyncClient) -> None:
        made = await make_customer(
            client,
            address=address(country="CA", state="YT"),
            pushToIntegrations=["Xero"],
            integrationIds=[{"service": "Sphere", "id": "sp"}],
        )
        legacy = await get(client, made["id"], V0509)
        assert "state" not in legacy["address"]
        assert legacy["integrationIds"] == []
        assert legacy["email"] == made["contacts"][0]["email"]

    async def test_a_customer_without_primary_contact(self, client: httpx.AsyncClient) -> None:
        made = await make_customer(client, contacts=[contact(billingPreference="NONE")])
        legacy = await get(client, made["id"], V0509)
        assert legacy["email"] == ""
        assert legacy["billingEmails"] == []
        assert "contactName" not in legacy


class TestCustomers20240101:
    async def test_create_wraps_the_customer(self, client: httpx.AsyncClient) -> None:
        body = legacy_body(taxStatus=None, externalIds=[{"key": "Stripe", "value": "cus_1"}])
        response = await client.post("/customers", json=body, headers=in_version(V0101))
        assert response.status_code == 201
        created = response.json()["customer"]
        assert created["sequenceAccountId"] == client.issued.credential.account_id  # type: ignore[attr-defined]
        assert created["taxStatus"] == "TAXED"
        assert created["externalIds"] == [
            {"key": "Stripe", "value": "cus_1", "syncTime": created["createdAt"]}
        ]
        assert "integrationIds" not in created
        latest = await get(client, created["id"], V0730)
        assert latest["integrationIds"] == [
            {"service": "Stripe", "id": "cus_1", "isPending": False}
        ]
        assert await get(client, created["id"], V0101) == created

    async def test_update_without_billing_emails_keeps_them(
        self, client: httpx.AsyncClient
    ) -> None:
        created = (
            await client.post("/customers", json=legacy_body(), headers=in_version(V0101))
        ).json()["customer"]
        body = legacy_body(billingEmails=None, legalName="Renamed")
        response = await client.put(
            f"/customers/{created['id']}", json=body, headers=in_version(V0101)
        )
        assert response.status_code == 200
        assert response.json()["legalName"] == "Renamed"
        assert response.json()["billingEmails"] == created["billingEmails"]

    async def test_update_requires_tax_status(self, client: httpx.AsyncClient) -> None:
        made = await make_customer(client)
        response = await client.put(
            f"/customers/{made['id']}", json=legacy_body(taxStatus=None), headers=in_version(V0101)
        )
        assert response.status_code == 400
        assert {e["field"] for e in response.json()["error"]["errors"]} == {"taxStatus"}

    async def test_list_items_carry_the_account(self, client: httpx.AsyncClient) -> None:
        await make_customer(client)
        items = (await client.get("/customers", headers=in_version(V0101))).json()["items"]
        assert items[0]["sequenceAccountId"] == client.issued.credential.account_id  # type: ignore[attr-defined]
        assert "externalIds" in items[0]


emails = st.sampled_from([f"{n}@example.com" for n in ("ann", "bob", "cy", "dee", "eve")])
services = st.sampled_from(["Stripe", "Xero", "HubSpot", "Attio", "Anrok"])


@st.composite
def writes(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A version and a create body valid in it."""
    version = draw(st.sampled_from([V0730, V0509, V0101]))
    main = draw(emails)
    billing = draw(st.lists(emails, unique=True, max_size=3))
    ids = draw(st.dictionaries(services, st.text("abc123", min_size=1, max_size=4), max_size=3))
    name = draw(st.text(alphabet="AbÇ d", min_size=1, max_size=8).filter(str.strip))
    if version == V0730:
        contacts = [contact(name="Main", email=main, billingPreference="PRIMARY")] + [
            contact(name="B", email=e, billingPreference="STANDARD") for e in billing if e != main
        ]
        integration = [{"service": s, "id": v} for s, v in ids.items()]
        return version, customer_body(legalName=name, contacts=contacts, integrationIds=integration)
    legacy_ids = {s: v for s, v in ids.items() if s not in ("Attio", "Anrok")}
    body = legacy_body(legalName=name, email=main, billingEmails=billing, contactName="Main")
    if version == V0509:
        body["integrationIds"] = [{"service": s, "id": v} for s, v in legacy_ids.items()]
    else:
        body["externalIds"] = [{"key": s, "value": v} for s, v in legacy_ids.items()]
    return version, body


def expressed(customer: dict[str, Any], version: str) -> dict[str, Any]:
    """What every version can say about a customer, read from one version's body."""
    if version == V0101:
        ids = {x["key"]: x["value"] for x in customer["externalIds"]}
    else:
        ids = {x["service"]: x["id"] for x in customer["integrationIds"] if not x.get("isPending")}
    if version == V0730:
        primary = [c for c in customer["contacts"] if c["billingPreference"] == "PRIMARY"]
        main = primary[0]["email"] if primary else ""
        billing = [c["email"] for c in customer["contacts"] if c["billingPreference"] != "NONE"]
    else:
        main, billing = customer["email"], customer["billingEmails"]
    legacy_services = {"Stripe", "Xero", "HubSpot"}
    return {
        "legalName": customer["legalName"],
        "address": customer["address"],
        "taxStatus": customer["taxStatus"],
        "main": main,
        "billing": billing,
        "ids": {s: v for s, v in ids.items() if s in legacy_services},
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(write=writes(), update=writes())
async def test_written_in_one_version_read_the_same_in_every_version(
    new_client: ClientFactory,
    write: tuple[str, dict[str, Any]],
    update: tuple[str, dict[str, Any]],
) -> None:
    client = await new_client()
    version, body = write
    created = await client.post("/customers", json=body, headers=in_version(version))
    assert created.status_code == 201, created.text
    customer = created.json().get("customer", created.json())
    views = [expressed(await get(client, customer["id"], v), v) for v in (V0730, V0509, V0101)]
    assert views[0] == views[1] == views[2]
    assert views[0]["legalName"] == body["legalName"]
    # Then an update in another version: still one story in every version.
    version, body = update
    updated = await client.put(
        f"/customers/{customer['id']}", json=body, headers=in_version(version)
    )
    assert updated.status_code == 200, updated.text
    views = [expressed(await get(client, customer["id"], v), v) for v in (V0730, V0509, V0101)]
    assert views[0] == views[1] == views[2]
    assert views[0]["main"] == (body["email"] if "email" in body else body["contacts"][0]["email"])


class TestOtherResources:
    @pytest.mark.parametrize("version", [V0509, V0101])
    async def test_alias_create_names_the_callers_account(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, version: str
    ) -> None:
        customer = await make_customer(client)
        mine = client.issued.credential.account_id  # type: ignore[attr-defined]
        theirs = other_client.issued.credential.account_id  # type: ignore[attr-defined]
        body = {"customerId": customer["id"], "value": f"v-{version}"}
        missing = await client.post("/customer-aliases", json=body, headers=in_version(version))
        assert missing.status_code == 400
        assert [e["field"] for e in missing.json()["error"]["errors"]] == ["sequenceAccountId"]
        wrong = await client.post(
            "/customer-aliases",
            json={**body, "sequenceAccountId": theirs},
            headers=in_version(version),
        )
        assert wrong.status_code == 400
        created = await client.post(
            "/customer-aliases",
            json={**body, "sequenceAccountId": mine},
            headers=in_version(version),
        )
        assert created.status_code == 201, created.text
        assert created.json()["sequenceAccountId"] == mine
        # 2024-07-30 ignores the field.
        latest = await client.post(
            "/customer-aliases",
            json={"customerId": customer["id"], "value": "v-latest", "sequenceAccountId": theirs},
        )
        assert latest.status_code == 201

    async def test_by_alias_answers_each_versions_customer(self, client: httpx.AsyncClient) -> None:
        made = await make_customer(
            client, customerAliases=["crm-9"], integrationIds=[{"service": "Attio", "id": "a"}]
        )
        latest = (await client.get("/customers/by-alias/crm-9")).json()
        assert latest["email"] == made["contacts"][0]["email"]
        assert latest["integrationIds"] == [{"service": "Attio", "id": "a", "isPending": False}]
        legacy = (await client.get("/customers/by-alias/crm-9", headers=in_version(V0509))).json()
        assert legacy["integrationIds"] == []
        oldest = (await client.get("/customers/by-alias/crm-9", headers=in_version(V0101))).json()
        assert oldest["id"] == made["id"]
        assert oldest["sequenceAccountId"] == client.issued.credential.account_id  # type: ignore[attr-defined]
        assert "externalIds" in oldest

    async def test_contacts_exist_from_2024_05_09(self, client: httpx.AsyncClient) -> None:
        made = await make_customer(client)
        url = f"/customers/{made['id']}/contacts"
        assert (await client.get(url, headers=in_version(V0509))).status_code == 200
        assert (await client.get(url, headers=in_version(V0101))).status_code == 404

    async def test_payment_settings_paths_per_version(self, client: httpx.AsyncClient) -> None:
        made = await make_customer(client)
        body = {"customerId": made["id"], "paymentProvider": "STRIPE"}
        old_path = await client.post("/customer-settings", json=body, headers=in_version(V0101))
        assert old_path.status_code == 201, old_path.text
        settings_id = old_path.json()["id"]
        assert (
            await client.get(
                f"/payments/settings/customers/{settings_id}", headers=in_version(V0101)
            )
        ).status_code == 404
        for version in (V0730, V0509):
            found = await client.get(
                f"/payments/settings/customers/{settings_id}", headers=in_version(version)
            )
            assert found.json() == old_path.json()
            assert (
                await client.get(f"/customer-settings/{settings_id}", headers=in_version(version))
            ).status_code == 404

    async def test_organizations_are_2024_07_30_only(self, client: httpx.AsyncClient) -> None:
        owner = await make_customer(client)
        body = {"ownerId": owner["id"], "memberIds": []}
        for version in (V0509, V0101):
            response = await client.post(
                "/customer-organizations", json=body, headers=in_version(version)
            )
            assert response.status_code == 404
        assert (await client.post("/customer-organizations", json=body)).status_code == 201
