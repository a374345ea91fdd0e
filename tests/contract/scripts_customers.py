"""Scripts for customers, custom property keys and customer organizations in API version
2024-07-30 (older versions' customer scripts are in scripts_legacy_customers.py)."""

from __future__ import annotations

from typing import Any

from tests.contract.harness import UNKNOWN_ID, ContractRun, Json, script
from tests.factories import address, contact, customer_body


def full_customer(tag: str) -> dict[str, Any]:
    """Every optional request field the contract has, filled."""
    return {
        "legalName": f"Full {tag} Ltd",
        "address": address(line2="Suite 5"),
        "taxStatus": "TAXED",
        "url": f"https://www.{tag}.example.com/billing",
        "label": f"label-{tag}",
        "customerAliases": [f"alias-{tag}-1", f"alias-{tag}-2"],
        "integrationIds": [
            {"service": "Stripe", "id": f"cus_{tag}"},
            {"service": "HubSpot", "id": f"hs-{tag}"},
        ],
        "contacts": [
            contact(name="Ann", email=f"ann.{tag}@example.com", billingPreference="PRIMARY"),
            contact(name="Bob", email=f"bob.{tag}@example.com", billingPreference="STANDARD"),
            contact(name="Cy", email=f"cy.{tag}@example.com", billingPreference="NONE"),
        ],
        "pushToIntegrations": ["Xero"],
        "status": "ACTIVE",
        "customProperties": {"region": "EU", "tier": "gold"},
    }


@script("postCustomers")
async def create_customers(run: ContractRun) -> None:
    minimal = await run.create_customer(
        address={"line1": "1 High St", "town": "London", "postcode": "N1 1AA", "country": "GB"}
    )
    assert minimal["organizations"] == []
    assert minimal["integrationIds"] == []
    assert minimal["customProperties"] == {}

    full = await run.create_customer(**full_customer("create"))
    assert {x["service"] for x in full["integrationIds"]} >= {"Stripe", "HubSpot"}
    assert full["customProperties"] == {"region": "EU", "tier": "gold"}
    assert len(full["contacts"]) == 3
    assert "domain" in full

    draft = await run.create_customer(status="DRAFT", taxStatus="REVERSE_CHARGED")
    assert draft["status"] == "DRAFT"

    child = await run.create_customer(parentId=full["id"])
    (organization,) = child["organizations"]
    assert organization["owner"]["id"] == full["id"]
    assert child["id"] in {m["id"] for m in organization["members"]}

    # Errors: invalid body, unknown parent, alias taken, bad version, no credentials.
    await run.call("postCustomers", "POST", "/customers", json={"url": "x"}, expect=400)
    await run.call(
        "postCustomers", "POST", "/customers", json=customer_body(taxStatus="EXEMPT"), expect=400
    )
    await run.call(
        "postCustomers", "POST", "/customers", json=customer_body(parentId=UNKNOWN_ID), expect=400
    )
    await run.call(
        "postCustomers",
        "POST",
        "/customers",
        json=customer_body(customerAliases=["alias-create-1"]),
        expect=409,
    )
    await run.call(
        "postCustomers",
        "POST",
        "/customers",
        json=customer_body(),
        headers={"Sequence-Version": "1999-01-01"},
        expect=400,
    )
    await run.call(
        "postCustomers", "POST", "/customers", json=customer_body(), authenticated=False, expect=401
    )


@script("getCustomers")
async def list_customers(run: ContractRun) -> None:
    empty = await run.list_customers()
    assert empty["items"] == []

    full = await run.create_customer(**full_customer("list"))
    child = await run.create_customer(parentId=full["id"], label="child")
    plain = [await run.create_customer(legalName=f"Plain {n} Ltd") for n in range(4)]
    archived = await run.create_customer(legalName="Archived Ltd")
    await run.archive_customer(archived["id"])

    everything = await run.list_customers(limit="100")
    ids = {c["id"] for c in everything["items"]}
    assert ids == {full["id"], child["id"], *(c["id"] for c in plain)}
    listed_child = next(c for c in everything["items"] if c["id"] == child["id"])
    assert listed_child["organizations"], "a child customer lists its organization"

    # Filters.
    for params, expected in [
        ({"legalName": full["legalName"]}, full["id"]),
        ({"email": full["contacts"][0]["email"]}, full["id"]),
        ({"alias": "alias-list-2"}, full["id"]),
        ({"label": "child"}, child["id"]),
    ]:
        page = await run.list_customers(**params)
        assert [c["id"] for c in page["items"]] == [expected], params
    with_archived = await run.list_customers(includeArchived="true", legalName="Archived Ltd")
    (listed_archived,) = with_archived["items"]
    assert "archivedAt" in listed_archived
    without = await run.list_customers(includeArchived="false", legalName="Archived Ltd")
    assert without["items"] == []
    await run.list_customers(billingStatus="INACTIVE")
    await run.list_customers(billingStatus="ACTIVE")
    await run.list_customers(sortBy="legalName", sortOrder="ASC")
    await run.list_customers(sortBy="customProperties.region", sortOrder="DESC")

    # Pagination: forward with `after`, back with `before`.
    first = await run.list_customers(limit="2")
    assert len(first["items"]) == 2
    assert "after" in first["pagination"]
    second = await run.list_customers(limit="2", after=first["pagination"]["after"])
    assert len(second["items"]) == 2
    assert {"after", "before"} <= set(second["pagination"])
    last = await run.list_customers(limit="2", after=second["pagination"]["after"])
    assert "before" in last["pagination"]
    back = await run.list_customers(limit="2", before=second["pagination"]["before"])
    assert [c["id"] for c in back["items"]] == [c["id"] for c in first["items"]]

    # Errors.
    for params in (
        {"limit": "0"},
        {"limit": "101"},
        {"after": "not-a-cursor"},
        {"sortOrder": "SIDEWAYS"},
        {"includeArchived": "maybe"},
    ):
        await run.call("getCustomers", "GET", "/customers", params=params, expect=400)
    await run.call(
        "getCustomers",
        "GET",
        "/customers",
        headers={"Sequence-Version": "2024-13-01"},
        expect=400,
    )
    await run.call("getCustomers", "GET", "/customers", authenticated=False, expect=401)


@script("getCustomersById")
async def get_customers(run: ContractRun) -> None:
    full = await run.create_customer(**full_customer("get"))
    found = await run.get_customer(full["id"])
    assert found == full

    child = await run.create_customer(parentId=full["id"])
    parent = await run.get_customer(full["id"])
    (organization,) = parent["organizations"]
    assert organization["owner"]["id"] == full["id"]
    assert [m["id"] for m in organization["members"]] == [child["id"]]

    await run.archive_customer(child["id"])
    archived = await run.get_customer(child["id"])
    assert "archivedAt" in archived

    # Errors: unknown id, another account's customer, no credentials.
    await run.call("getCustomersById", "GET", f"/customers/{UNKNOWN_ID}", expect=404)
    other = await run.other_account()
    await run.call("getCustomersById", "GET", f"/customers/{full['id']}", client=other, expect=404)
    await run.call(
        "getCustomersById", "GET", f"/customers/{full['id']}", authenticated=False, expect=401
    )


@script("putCustomersById")
async def update_customers(run: ContractRun) -> None:
    parent = await run.create_customer()
    customer = await run.create_customer(customProperties={"region": "US"})
    url = f"/customers/{customer['id']}"

    body = full_customer("put")
    del body["customerAliases"]
    body["parentId"] = parent["id"]
    updated = (await run.call("putCustomersById", "PUT", url, json=body, expect=200)).json()
    assert updated["customProperties"] == {"region": "EU", "tier": "gold"}
    assert updated["organizations"]
    assert updated["integrationIds"]
    assert updated["label"] == "label-put"

    # customProperties omitted: kept as they were.
    body = customer_body(taxStatus="TAX_EXEMPT")
    kept = (await run.call("putCustomersById", "PUT", url, json=body, expect=200)).json()
    assert kept["customProperties"] == {"region": "EU", "tier": "gold"}

    # Errors: invalid body, unknown id, no credentials.
    await run.call("putCustomersById", "PUT", url, json={"legalName": ""}, expect=400)
    await run.call(
        "putCustomersById", "PUT", f"/customers/{UNKNOWN_ID}", json=customer_body(), expect=404
    )
    await run.call(
        "putCustomersById", "PUT", url, json=customer_body(), authenticated=False, expect=401
    )


@script("postCustomersByIdArchive")
async def archive_customers(run: ContractRun) -> None:
    full = await run.create_customer(**full_customer("archive"))
    archived = await run.archive_customer(full["id"])
    assert "archivedAt" in archived
    assert archived["contacts"]
    assert archived["integrationIds"]

    await run.call(
        "postCustomersByIdArchive", "POST", f"/customers/{UNKNOWN_ID}/archive", expect=404
    )
    await run.call(
        "postCustomersByIdArchive",
        "POST",
        f"/customers/{full['id']}/archive",
        authenticated=False,
        expect=401,
    )


@script("getCustomerCustomPropertyKeys")
async def custom_property_keys(run: ContractRun) -> None:
    url = "/customer-custom-property-keys"
    none = (await run.call("getCustomerCustomPropertyKeys", "GET", url, expect=200)).json()
    assert none["items"] == []

    await run.create_customer(customProperties={"region": "EU", "tier": "gold"})
    await run.create_customer(customProperties={"seats": "10"})
    keys = (await run.call("getCustomerCustomPropertyKeys", "GET", url, expect=200)).json()
    assert set(keys["items"]) == {"region", "tier", "seats"}

    await run.call("getCustomerCustomPropertyKeys", "GET", url, authenticated=False, expect=401)


# -- organizations -----------------------------------------------------------------------------


async def _organization(run: ContractRun) -> tuple[Json, Json, Json]:
    owner = await run.create_customer(legalName="Owner Group")
    member = await run.create_customer(legalName="Member One")
    response = await run.call(
        "postCustomerOrganizations",
        "POST",
        "/customer-organizations",
        json={"ownerId": owner["id"], "memberIds": [member["id"]]},
        expect=201,
    )
    org: Json = response.json()
    return owner, member, org


@script("postCustomerOrganizations")
async def create_organizations(run: ContractRun) -> None:
    owner, member, org = await _organization(run)
    assert org["owner"]["id"] == owner["id"]
    assert [m["id"] for m in org["members"]] == [member["id"]]
    empty = await run.call(
        "postCustomerOrganizations",
        "POST",
        "/customer-organizations",
        json={"ownerId": member["id"], "memberIds": []},
        expect=201,
    )
    assert empty.json()["members"] == []
    customer = await run.get_customer(member["id"])
    assert {o["id"] for o in customer["organizations"]} == {org["id"], empty.json()["id"]}
    bad_bodies: list[Json] = [
        {"ownerId": owner["id"], "memberIds": [owner["id"]]},
        {"memberIds": []},
    ]
    for body in bad_bodies:
        await run.call(
            "postCustomerOrganizations", "POST", "/customer-organizations", json=body, expect=400
        )


@script("postCustomerOrganizationsByIdMembers")
async def add_members(run: ContractRun) -> None:
    _, member, org = await _organization(run)
    extra = await run.create_customer(legalName="Member Two")
    url = f"/customer-organizations/{org['id']}/members"
    added = await run.call(
        "postCustomerOrganizationsByIdMembers",
        "POST",
        url,
        json={"customerIds": [extra["id"]]},
        expect=200,
    )
    assert [m["id"] for m in added.json()["members"]] == [member["id"], extra["id"]]
    await run.call(
        "postCustomerOrganizationsByIdMembers",
        "POST",
        url,
        json={"customerIds": [UNKNOWN_ID]},
        expect=400,
    )
    await run.call(
        "postCustomerOrganizationsByIdMembers",
        "POST",
        f"/customer-organizations/{UNKNOWN_ID}/members",
        json={"customerIds": [extra["id"]]},
        expect=404,
    )


@script("putCustomerOrganizationsByIdMembers")
async def replace_members(run: ContractRun) -> None:
    _, _, org = await _organization(run)
    other = await run.create_customer(legalName="Replacement")
    url = f"/customer-organizations/{org['id']}/members"
    replaced = await run.call(
        "putCustomerOrganizationsByIdMembers",
        "PUT",
        url,
        json={"customerIds": [other["id"]]},
        expect=200,
    )
    assert [m["id"] for m in replaced.json()["members"]] == [other["id"]]
    emptied = await run.call(
        "putCustomerOrganizationsByIdMembers", "PUT", url, json={"customerIds": []}, expect=200
    )
    assert emptied.json()["members"] == []
    await run.call("putCustomerOrganizationsByIdMembers", "PUT", url, json={}, expect=400)
