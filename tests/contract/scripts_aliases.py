"""Scripts for customer aliases and finding a customer by alias, in every version.

The alias operations have the same paths in every version; the differences are in the contracts:
- create: 2024-05-09 and 2024-01-01 require the caller's `sequenceAccountId` in the body
  (`ContractRun.alias_body` adds it); 2024-07-30 declares an optional `Idempotency-Key` header;
- list: only 2024-07-30 declares the `value` filter;
- by-alias answers the 2024-05-09 customer shape in 2024-07-30 and 2024-05-09, and 2024-01-01's
  own customer shape in 2024-01-01.
"""

from __future__ import annotations

from urllib.parse import quote

from tests.contract.harness import (
    UNKNOWN_ID,
    V0101,
    V0509,
    V0730,
    ContractRun,
    Json,
    script,
)

EVERY_VERSION = (V0730, V0509, V0101)


def _alias_url(alias_id: str) -> str:
    return f"/customer-aliases/{alias_id}"


def _by_alias_url(value: str) -> str:
    return f"/customers/by-alias/{quote(value, safe='')}"


async def _list(run: ContractRun, **params: str) -> Json:
    response = await run.call(
        "getCustomerAliases", "GET", "/customer-aliases", params=params, expect=200
    )
    page: Json = response.json()
    return page


async def _delete(run: ContractRun, alias_id: str) -> Json:
    response = await run.call(
        "deleteCustomerAliasesById", "DELETE", _alias_url(alias_id), expect=200
    )
    deleted: Json = response.json()
    return deleted


@script("postCustomerAliases", *EVERY_VERSION)
async def create_aliases(run: ContractRun) -> None:
    customer = await run.create_customer()
    labelled = await run.create_alias(customer["id"], "crm-1", label="CRM ID")
    assert (labelled["customerId"], labelled["value"], labelled["label"]) == (
        customer["id"],
        "crm-1",
        "CRM ID",
    )
    assert labelled["sequenceAccountId"] == run.account_id
    plain = await run.create_alias(customer["id"], "crm-2")
    assert "label" not in plain
    assert "deletedAt" not in plain
    operation, url = "postCustomerAliases", "/customer-aliases"
    if run.version == V0730:
        keyed = await run.call(
            operation,
            "POST",
            url,
            json=run.alias_body(customer["id"], "crm-3"),
            headers={"Idempotency-Key": "create-alias-crm-3"},
            expect=201,
        )
        assert keyed.json()["value"] == "crm-3"

    # Errors: missing fields, value taken (by an alias or another customer's id), unknown
    # customer, archived customer, no credentials.
    other = await run.create_customer()
    await run.call(operation, "POST", url, json={"label": 7}, expect=400)
    await run.call(operation, "POST", url, json=run.alias_body(other["id"], ""), expect=400)
    await run.call(operation, "POST", url, json=run.alias_body(other["id"], "crm-1"), expect=409)
    await run.call(
        operation, "POST", url, json=run.alias_body(other["id"], customer["id"]), expect=409
    )
    await run.call(operation, "POST", url, json=run.alias_body(UNKNOWN_ID, "x"), expect=404)
    await run.call(
        operation,
        "POST",
        url,
        json=run.alias_body(customer["id"], "crm-9"),
        authenticated=False,
        expect=401,
    )
    await run.archive_customer(other["id"])
    await run.call(operation, "POST", url, json=run.alias_body(other["id"], "late"), expect=400)


@script("getCustomerAliases", *EVERY_VERSION)
async def list_aliases(run: ContractRun) -> None:
    assert await _list(run) == {"items": [], "pagination": {"totalResultSize": 0}}
    customer = await run.create_customer(customerAliases=["from-create"])
    made = [await run.create_alias(customer["id"], f"v{i}", label=f"L{i}") for i in range(5)]
    gone = await run.create_alias(customer["id"], "gone")
    await _delete(run, gone["id"])

    everything = await _list(run)
    assert [a["value"] for a in everything["items"]] == [
        *(a["value"] for a in made[::-1]),
        "from-create",
    ]
    assert everything["pagination"] == {"totalResultSize": 6}
    if run.version == V0730:  # older contracts declare no `value` filter
        one = await _list(run, value="v3")
        assert [a["value"] for a in one["items"]] == ["v3"]
        assert (await _list(run, value="nothing"))["items"] == []

    # Pages of two, forward with `after` and back with `before`.
    first = await _list(run, limit="2")
    second = await _list(run, limit="2", after=first["pagination"]["after"])
    assert {"after", "before"} <= set(second["pagination"])
    last = await _list(run, limit="2", after=second["pagination"]["after"])
    assert "after" not in last["pagination"]
    back = await _list(run, limit="2", before=second["pagination"]["before"])
    assert back["items"] == first["items"]

    operation = "getCustomerAliases"
    for params in ({"limit": "0"}, {"limit": "101"}, {"after": "not-a-cursor"}):
        await run.call(operation, "GET", "/customer-aliases", params=params, expect=400)
    await run.call(operation, "GET", "/customer-aliases", authenticated=False, expect=401)


@script("putCustomerAliasesById", *EVERY_VERSION)
async def update_aliases(run: ContractRun) -> None:
    customer = await run.create_customer()
    alias = await run.create_alias(customer["id"], "crm-1")
    operation, url = "putCustomerAliasesById", _alias_url(alias["id"])
    labelled = await run.call(operation, "PUT", url, json={"label": "CRM ID"}, expect=200)
    assert labelled.json() == {**alias, "label": "CRM ID"}
    kept = await run.call(operation, "PUT", url, json={}, expect=200)
    assert kept.json() == labelled.json()

    await run.call(operation, "PUT", url, json={"label": 5}, expect=400)
    await run.call(operation, "PUT", _alias_url(UNKNOWN_ID), json={"label": "x"}, expect=404)
    deleted = await run.create_alias(customer["id"], "deleted")
    await _delete(run, deleted["id"])
    await run.call(operation, "PUT", _alias_url(deleted["id"]), json={"label": "x"}, expect=404)
    await run.call(operation, "PUT", url, json={"label": "x"}, authenticated=False, expect=401)
    await run.archive_customer(customer["id"])
    await run.call(operation, "PUT", url, json={"label": "After"}, expect=400)


@script("deleteCustomerAliasesById", *EVERY_VERSION)
async def delete_aliases(run: ContractRun) -> None:
    customer = await run.create_customer()
    alias = await run.create_alias(customer["id"], "bye", label="L")
    deleted = await _delete(run, alias["id"])
    assert {k: v for k, v in deleted.items() if k != "deletedAt"} == alias
    assert "deletedAt" in deleted
    assert await _delete(run, alias["id"]) == deleted  # once and for all
    # The value is free again; an archived customer's alias can be released.
    moved = await run.create_alias(customer["id"], "bye")
    await run.archive_customer(customer["id"])
    await _delete(run, moved["id"])

    operation = "deleteCustomerAliasesById"
    await run.call(operation, "DELETE", _alias_url(UNKNOWN_ID), expect=404)
    other = await run.other_account()
    await run.call(operation, "DELETE", _alias_url(alias["id"]), client=other, expect=404)
    await run.call(operation, "DELETE", _alias_url(alias["id"]), authenticated=False, expect=401)


@script("getCustomersByIdAliases", *EVERY_VERSION)
async def customer_aliases(run: ContractRun) -> None:
    customer = await run.create_customer(customerAliases=["first"])
    second = await run.create_alias(customer["id"], "second", label="L")
    gone = await run.create_alias(customer["id"], "gone")
    await _delete(run, gone["id"])
    await run.create_customer(customerAliases=["elsewhere"])

    operation, url = "getCustomersByIdAliases", f"/customers/{customer['id']}/aliases"
    items = (await run.call(operation, "GET", url, expect=200)).json()["items"]
    assert [a["value"] for a in items] == ["first", "second"]
    assert items[1] == {k: v for k, v in second.items() if k != "label"}
    bare = await run.create_customer()
    empty = await run.call(operation, "GET", f"/customers/{bare['id']}/aliases", expect=200)
    assert empty.json() == {"items": []}

    await run.call(operation, "GET", f"/customers/{UNKNOWN_ID}/aliases", expect=404)
    other = await run.other_account()
    await run.call(operation, "GET", url, client=other, expect=404)
    await run.call(operation, "GET", url, authenticated=False, expect=401)


@script("getCustomersByAliasByAlias", *EVERY_VERSION)
async def customer_by_alias(run: ContractRun) -> None:
    full = await run.create_customer(
        label="Key",
        url="https://example.com",
        customerAliases=["crm-1", "with/slash"],
        integrationIds=[{"service": "Stripe", "id": "cus_by_alias"}],
    )
    operation = "getCustomersByAliasByAlias"
    for value in ("crm-1", "with/slash", full["id"]):
        found = await run.call(operation, "GET", _by_alias_url(value), expect=200)
        assert found.json()["id"] == full["id"]
        assert found.json()["label"] == "Key"
    await run.create_alias(full["id"], "from-endpoint")
    await run.call(operation, "GET", _by_alias_url("from-endpoint"), expect=200)

    # Written in 2024-07-30 with a Canadian territory, a newer integration service, no PRIMARY.
    newer = await run.create_customer(
        version=V0730,
        customerAliases=["newer"],
        address={
            "line1": "1 Main St",
            "town": "Whitehorse",
            "postcode": "Y1A 1A1",
            "country": "CA",
            "state": "YT",
        },
        integrationIds=[{"service": "Attio", "id": "att-1"}],
        contacts=[],
    )
    shown = await run.call(operation, "GET", _by_alias_url("newer"), expect=200)
    assert shown.json()["id"] == newer["id"]
    assert shown.json()["email"] == ""

    await run.archive_customer(full["id"])
    archived = await run.call(operation, "GET", _by_alias_url("crm-1"), expect=200)
    assert "archivedAt" in archived.json()

    gone = await run.create_alias(newer["id"], "gone")
    await _delete(run, gone["id"])
    for value in ("nothing", "gone"):
        await run.call(operation, "GET", _by_alias_url(value), expect=404)
    other = await run.other_account()
    await run.call(operation, "GET", _by_alias_url("crm-1"), client=other, expect=404)
    await run.call(operation, "GET", _by_alias_url("crm-1"), authenticated=False, expect=401)
