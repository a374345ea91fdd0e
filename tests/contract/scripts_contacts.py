"""Scripts for a customer's contacts: the same four operations and models in 2024-07-30 and
2024-05-09 (NOTES.md §5.1); 2024-01-01 has no contacts endpoints.

In 2024-05-09 the customer is made with that version's body, whose `email` / `billingEmails`
become a PRIMARY and a STANDARD contact.
"""

from __future__ import annotations

from tests.contract.harness import UNKNOWN_ID, V0509, V0730, ContractRun, Json, script
from tests.factories import contact

VERSIONS = (V0730, V0509)


def _url(customer_id: str, contact_id: str | None = None, archive: bool = False) -> str:
    url = f"/customers/{customer_id}/contacts"
    if contact_id is not None:
        url += f"/{contact_id}"
    return url + "/archive" if archive else url


async def _contacts(run: ContractRun, customer_id: str, **params: str) -> list[Json]:
    response = await run.call(
        "getCustomersByCustomerContacts", "GET", _url(customer_id), params=params, expect=200
    )
    items: list[Json] = response.json()["items"]
    return items


async def _create(run: ContractRun, customer_id: str, **fields: str) -> Json:
    response = await run.call(
        "postCustomersByCustomerContacts",
        "POST",
        _url(customer_id),
        json=contact(**fields),
        expect=201,
    )
    created: Json = response.json()
    return created


async def _archive(run: ContractRun, customer_id: str, contact_id: str) -> Json:
    response = await run.call(
        "postCustomersByCustomerContactsByIdArchive",
        "POST",
        _url(customer_id, contact_id, archive=True),
        expect=200,
    )
    archived: Json = response.json()
    return archived


async def _customer_with_contacts(run: ContractRun) -> tuple[Json, list[Json]]:
    """A customer made in the run's version, with a PRIMARY and a STANDARD contact."""
    if run.version == V0730:
        customer = await run.create_customer(
            contacts=[contact(billingPreference="PRIMARY"), contact(billingPreference="STANDARD")]
        )
    else:
        customer = await run.create_customer()
    contacts = await _contacts(run, customer["id"])
    assert [c["billingPreference"] for c in contacts] == ["PRIMARY", "STANDARD"]
    return customer, contacts


@script("getCustomersByCustomerContacts", *VERSIONS)
async def list_contacts(run: ContractRun) -> None:
    customer, contacts = await _customer_with_contacts(run)
    extra = await _create(run, customer["id"], billingPreference="NONE")
    assert await _contacts(run, customer["id"]) == [*contacts, extra]
    archived = await _archive(run, customer["id"], extra["id"])
    assert await _contacts(run, customer["id"]) == contacts
    assert await _contacts(run, customer["id"], includeArchived="false") == contacts
    everything = await _contacts(run, customer["id"], includeArchived="true")
    assert everything == [*contacts, archived]
    assert "archivedAt" in everything[-1]

    # A customer with no contacts, and an archived customer's contacts.
    if run.version == V0730:
        bare = await run.create_customer(contacts=[])
        assert await _contacts(run, bare["id"]) == []
    await run.archive_customer(customer["id"])
    assert await _contacts(run, customer["id"]) == contacts

    operation = "getCustomersByCustomerContacts"
    params = {"includeArchived": "yes"}
    await run.call(operation, "GET", _url(customer["id"]), params=params, expect=400)
    await run.call(operation, "GET", _url(UNKNOWN_ID), expect=404)
    other = await run.other_account()
    await run.call(operation, "GET", _url(customer["id"]), client=other, expect=404)
    await run.call(operation, "GET", _url(customer["id"]), authenticated=False, expect=401)


@script("postCustomersByCustomerContacts", *VERSIONS)
async def create_contacts(run: ContractRun) -> None:
    customer, contacts = await _customer_with_contacts(run)
    made = [
        await _create(
            run, customer["id"], name=f"{preference} person", billingPreference=preference
        )
        for preference in ("STANDARD", "NONE", "PRIMARY")
    ]
    assert [c["billingPreference"] for c in made] == ["STANDARD", "NONE", "PRIMARY"]
    assert all(c["createdAt"] == c["updatedAt"] for c in made)
    assert await _contacts(run, customer["id"]) == [*contacts, *made]

    operation, url = "postCustomersByCustomerContacts", _url(customer["id"])
    await run.call(operation, "POST", url, json={}, expect=400)
    await run.call(operation, "POST", url, json=contact(email="not-an-email"), expect=400)
    await run.call(operation, "POST", url, json=contact(billingPreference="ALWAYS"), expect=400)
    taken = contacts[0]["email"].upper()
    await run.call(operation, "POST", url, json=contact(email=taken), expect=409)
    await run.call(operation, "POST", _url(UNKNOWN_ID), json=contact(), expect=404)
    await run.call(operation, "POST", url, json=contact(), authenticated=False, expect=401)
    await run.archive_customer(customer["id"])
    await run.call(operation, "POST", url, json=contact(), expect=400)


@script("putCustomersByCustomerContactsById", *VERSIONS)
async def update_contacts(run: ContractRun) -> None:
    customer, contacts = await _customer_with_contacts(run)
    target = await _create(run, customer["id"], billingPreference="NONE")
    operation, url = "putCustomersByCustomerContactsById", _url(customer["id"], target["id"])
    body = {"name": "New Name", "email": "new@example.com", "billingPreference": "STANDARD"}
    updated = (await run.call(operation, "PUT", url, json=body, expect=200)).json()
    assert {k: updated[k] for k in body} == body
    assert (updated["id"], updated["createdAt"]) == (target["id"], target["createdAt"])
    # Two PRIMARY contacts, then the first steps down: the other stays PRIMARY.
    promoted = {**body, "billingPreference": "PRIMARY"}
    await run.call(operation, "PUT", url, json=promoted, expect=200)
    first = contacts[0]
    stepped_down = {"name": first["name"], "email": first["email"], "billingPreference": "NONE"}
    await run.call(
        operation, "PUT", _url(customer["id"], first["id"]), json=stepped_down, expect=200
    )

    await run.call(operation, "PUT", url, json={"name": "Only"}, expect=400)
    # The last PRIMARY may not step down while a STANDARD contact gets billing mail.
    await run.call(operation, "PUT", url, json={**body, "billingPreference": "NONE"}, expect=400)
    await run.call(
        operation,
        "PUT",
        _url(customer["id"], first["id"]),
        json={**stepped_down, "email": "new@example.com"},
        expect=409,
    )
    await run.call(operation, "PUT", _url(customer["id"], UNKNOWN_ID), json=body, expect=404)
    await run.call(operation, "PUT", url, json=body, authenticated=False, expect=401)
    archived = await _create(run, customer["id"], billingPreference="NONE")
    await _archive(run, customer["id"], archived["id"])
    await run.call(
        operation, "PUT", _url(customer["id"], archived["id"]), json=contact(), expect=400
    )


@script("postCustomersByCustomerContactsByIdArchive", *VERSIONS)
async def archive_contacts(run: ContractRun) -> None:
    customer, contacts = await _customer_with_contacts(run)
    extra = await _create(run, customer["id"], billingPreference="NONE")
    archived = await _archive(run, customer["id"], extra["id"])
    assert {k: v for k, v in archived.items() if k not in ("archivedAt", "updatedAt")} == {
        k: v for k, v in extra.items() if k != "updatedAt"
    }
    assert await _archive(run, customer["id"], extra["id"]) == archived  # once and for all

    operation = "postCustomersByCustomerContactsByIdArchive"
    primary = contacts[0]
    # The last PRIMARY stays while a STANDARD contact gets billing mail.
    await run.call(operation, "POST", _url(customer["id"], primary["id"], True), expect=400)
    await run.call(operation, "POST", _url(customer["id"], UNKNOWN_ID, True), expect=404)
    await run.call(operation, "POST", _url(UNKNOWN_ID, primary["id"], True), expect=404)
    other = await run.other_account()
    await run.call(
        operation, "POST", _url(customer["id"], extra["id"], True), client=other, expect=404
    )
    await run.call(
        operation,
        "POST",
        _url(customer["id"], extra["id"], True),
        authenticated=False,
        expect=401,
    )
