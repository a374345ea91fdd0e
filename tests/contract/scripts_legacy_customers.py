"""Scripts for customers in API versions 2024-05-09 and 2024-01-01, one script per operation for
both (their differences are few; NOTES.md §5):

- the body has flat contact fields (`email`, `contactName`, `billingEmails`, `telephone`) and no
  contacts, organizations, status or custom properties;
- 2024-05-09 links integrations as `integrationIds` [{service, id}]; 2024-01-01 as `externalIds`
  [{key, value}] and shows `sequenceAccountId`; its create answers `{"customer": {...}}`, leaves
  `taxStatus` optional there and `billingEmails` optional on update;
- archive is `PUT /customers/{id}/archive` or `DELETE /customers/{id}`.

Customers written in 2024-07-30 with what older versions cannot say (a Canadian territory, newer
integration services, no PRIMARY contact) are read here too: the older shape must still conform.
"""

from __future__ import annotations

from tests.contract.harness import UNKNOWN_ID, V0101, V0509, V0730, ContractRun, Json, script
from tests.factories import address, contact

LEGACY = (V0509, V0101)


def _integration_ids(run: ContractRun, customer: Json) -> dict[str, str]:
    """service -> id, read from either version's shape."""
    if run.version == V0101:
        return {x["key"]: x["value"] for x in customer["externalIds"]}
    return {x["service"]: x["id"] for x in customer["integrationIds"]}


def _full(tag: str) -> Json:
    """Every optional field the older create bodies have, filled."""
    return {
        "legalName": f"Full {tag} Ltd",
        "address": address(line2="Suite 5"),
        "contactName": "Ann Main",
        "email": f"ann.{tag}@legacy.example",
        "billingEmails": [f"ann.{tag}@legacy.example", f"ap.{tag}@legacy.example"],
        "telephone": "+44 20 7946 0001",
        "url": f"https://www.{tag}.example.com",
        "label": f"label-{tag}",
        "taxStatus": "REVERSE_CHARGED",
        "customerAliases": [f"legacy-{tag}-1", f"legacy-{tag}-2"],
        "integrationIds": [
            {"service": "Stripe", "id": f"cus_{tag}"},
            {"service": "Xero", "id": tag},
        ],
    }


async def _newer_customer(run: ContractRun) -> Json:
    """A customer written in 2024-07-30 with what older versions cannot express."""
    return await run.create_customer(
        version=V0730,
        address=address(country="CA", state="YT", postcode="Y1A 1A1", town="Whitehorse"),
        contacts=[contact(billingPreference="NONE")],
        integrationIds=[{"service": "Attio", "id": "att-1"}, {"service": "Stripe", "id": "cus_n"}],
        pushToIntegrations=["Xero"],
        customProperties={"tier": "gold"},
        status="DRAFT",
    )


@script("postCustomers", *LEGACY)
async def create_customers(run: ContractRun) -> None:
    minimal = await run.create_customer(
        address={"line1": "1 High St", "town": "London", "postcode": "N1 1AA", "country": "GB"},
        billingEmails=[],
        contactName=None,
        telephone=None,
        taxStatus=None if run.version == V0101 else "TAXED",  # optional in 2024-01-01
    )
    assert minimal["taxStatus"] == "TAXED"
    assert set(minimal["billingEmails"]) <= {minimal["email"]}  # the main contact, if any
    assert _integration_ids(run, minimal) == {}

    full = await run.create_customer(**_full("create"))
    assert _integration_ids(run, full) == {"Stripe": "cus_create", "Xero": "create"}
    assert full["email"] == "ann.create@legacy.example"
    assert full["contactName"] == "Ann Main"
    assert full["billingEmails"] == ["ann.create@legacy.example", "ap.create@legacy.example"]
    if run.version == V0101:
        assert full["sequenceAccountId"] == run.account_id
    assert "contacts" not in full

    # Errors: invalid body, bad enum, alias taken, no credentials.
    await run.call("postCustomers", "POST", "/customers", json={"url": "x"}, expect=400)
    await run.call(
        "postCustomers",
        "POST",
        "/customers",
        json=run.customer_body(taxStatus="EXEMPT"),
        expect=400,
    )
    await run.call(
        "postCustomers",
        "POST",
        "/customers",
        json=run.customer_body(customerAliases=["legacy-create-1"]),
        expect=409,
    )
    await run.call(
        "postCustomers",
        "POST",
        "/customers",
        json=run.customer_body(),
        authenticated=False,
        expect=401,
    )


@script("getCustomers", *LEGACY)
async def list_customers(run: ContractRun) -> None:
    empty = await run.list_customers()
    assert empty == {"items": [], "pagination": {"totalResultSize": 0}}

    full = await run.create_customer(**_full("list"))
    plain = [await run.create_customer(legalName=f"Plain {n} Ltd") for n in range(3)]
    newer = await _newer_customer(run)
    archived = await run.create_customer(legalName="Archived Ltd")
    await run.archive_customer(archived["id"])

    everything = await run.list_customers(limit="100")
    ids = {c["id"] for c in everything["items"]}
    assert ids == {full["id"], newer["id"], *(c["id"] for c in plain)}

    for params, expected in [
        ({"legalName": full["legalName"]}, full["id"]),
        ({"email": full["email"]}, full["id"]),
        ({"alias": "legacy-list-2"}, full["id"]),
    ]:
        page = await run.list_customers(**params)
        assert [c["id"] for c in page["items"]] == [expected], params
    with_archived = await run.list_customers(includeArchived="true", legalName="Archived Ltd")
    (listed_archived,) = with_archived["items"]
    assert "archivedAt" in listed_archived
    await run.list_customers(sortBy="legalName", sortOrder="ASC")

    first = await run.list_customers(limit="2")
    second = await run.list_customers(limit="2", after=first["pagination"]["after"])
    assert {"after", "before"} <= set(second["pagination"])
    back = await run.list_customers(limit="2", before=second["pagination"]["before"])
    assert [c["id"] for c in back["items"]] == [c["id"] for c in first["items"]]

    for params in ({"limit": "0"}, {"after": "not-a-cursor"}, {"sortOrder": "SIDEWAYS"}):
        await run.call("getCustomers", "GET", "/customers", params=params, expect=400)
    await run.call("getCustomers", "GET", "/customers", authenticated=False, expect=401)


@script("getCustomersById", *LEGACY)
async def get_customers(run: ContractRun) -> None:
    full = await run.create_customer(**_full("get"))
    assert await run.get_customer(full["id"]) == full

    # Written in 2024-07-30: contacts and integrations this version cannot show.
    newer = await _newer_customer(run)
    shown = await run.get_customer(newer["id"])
    assert shown["email"] == ""
    assert shown["billingEmails"] == []
    assert _integration_ids(run, shown) == {"Stripe": "cus_n"}

    await run.archive_customer(full["id"])
    assert "archivedAt" in await run.get_customer(full["id"])

    await run.call("getCustomersById", "GET", f"/customers/{UNKNOWN_ID}", expect=404)
    other = await run.other_account()
    await run.call("getCustomersById", "GET", f"/customers/{full['id']}", client=other, expect=404)
    await run.call(
        "getCustomersById", "GET", f"/customers/{full['id']}", authenticated=False, expect=401
    )


@script("putCustomersById", *LEGACY)
async def update_customers(run: ContractRun) -> None:
    customer = await run.create_customer()
    url = f"/customers/{customer['id']}"

    body = run.customer_body(**{**_full("put"), "customerAliases": None})
    updated = (await run.call("putCustomersById", "PUT", url, json=body, expect=200)).json()
    assert updated["label"] == "label-put"
    assert updated["taxStatus"] == "REVERSE_CHARGED"
    assert _integration_ids(run, updated) == {"Stripe": "cus_put", "Xero": "put"}

    # Written back as read, changing only the label.
    same = {k: v for k, v in updated.items() if k not in ("id", "createdAt", "sequenceAccountId")}
    if run.version == V0101:
        same["externalIds"] = [{"key": x["key"], "value": x["value"]} for x in same["externalIds"]]
    same["label"] = "relabelled"
    relabelled = (await run.call("putCustomersById", "PUT", url, json=same, expect=200)).json()
    assert relabelled == {**updated, "label": "relabelled"}

    if run.version == V0101:
        # billingEmails is optional on update in 2024-01-01: left out, kept.
        body = run.customer_body(billingEmails=None, email=updated["email"])
        kept = (await run.call("putCustomersById", "PUT", url, json=body, expect=200)).json()
        assert kept["billingEmails"] == updated["billingEmails"]

    # A customer written in 2024-07-30 updated here.
    newer = await _newer_customer(run)
    await run.call(
        "putCustomersById",
        "PUT",
        f"/customers/{newer['id']}",
        json=run.customer_body(**_full("newer")),
        expect=200,
    )

    await run.call("putCustomersById", "PUT", url, json={"legalName": ""}, expect=400)
    await run.call(
        "putCustomersById", "PUT", url, json=run.customer_body(taxStatus=None), expect=400
    )
    await run.call(
        "putCustomersById",
        "PUT",
        f"/customers/{UNKNOWN_ID}",
        json=run.customer_body(),
        expect=404,
    )
    await run.call(
        "putCustomersById", "PUT", url, json=run.customer_body(), authenticated=False, expect=401
    )


async def _archive_script(run: ContractRun, operation_id: str, method: str, path: str) -> None:
    full = await run.create_customer(**_full(f"archive-{method.lower()}"))
    archived = await run.call(operation_id, method, path.format(id=full["id"]), expect=200)
    assert "archivedAt" in archived.json()
    assert _integration_ids(run, archived.json()) == _integration_ids(run, full)
    again = await run.call(operation_id, method, path.format(id=full["id"]), expect=200)
    assert again.json()["archivedAt"] == archived.json()["archivedAt"]
    newer = await _newer_customer(run)
    await run.call(operation_id, method, path.format(id=newer["id"]), expect=200)

    await run.call(operation_id, method, path.format(id=UNKNOWN_ID), expect=404)
    await run.call(
        operation_id, method, path.format(id=full["id"]), authenticated=False, expect=401
    )


@script("putCustomersByIdArchive", *LEGACY)
async def archive_customers(run: ContractRun) -> None:
    await _archive_script(run, "putCustomersByIdArchive", "PUT", "/customers/{id}/archive")


@script("deleteCustomersById", *LEGACY)
async def delete_customers(run: ContractRun) -> None:
    await _archive_script(run, "deleteCustomersById", "DELETE", "/customers/{id}")
    # The archived customer is still there to read.
    customer = await run.create_customer()
    await run.call("deleteCustomersById", "DELETE", f"/customers/{customer['id']}", expect=200)
    assert "archivedAt" in await run.get_customer(customer["id"])
