"""Isolation sweep: account B, holding every id, alias value and cursor of account A, learns
nothing from them.

Every operation (`OPERATIONS`) under every version that serves it is called by B with A's ids in
its path (customer, contact, alias, organization, payment settings), with A's alias value, and
(for the lists) with A's cursors. Each answer must be what B gets for a made-up value of the same
shape: the same status and error type, and the same message once the value is swapped back; a
list is empty. A's data never shows in any answer. Bodies that reference A's ids (an alias's
customerId, an organization's owner and members, a parentId, payment settings' customerId) are
answered like unknown ids too. Afterwards A's records are unchanged.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from patron.api.routes import OPERATIONS, Operation
from patron.api.versions import LATEST, VERSIONS
from tests.contract.harness import legacy_customer_body
from tests.factories import customer_body, make_customer

Json = dict[str, Any]


def _fresh_id() -> str:
    """An id of the same shape as Patron's (UUIDv7-looking), that no record has."""
    return str(uuid.UUID(int=uuid.uuid4().int & ~(0xF << 76) | (0x7 << 76)))


class World:
    """A's records, and the values B sends in their place."""

    def __init__(self, a: httpx.AsyncClient) -> None:
        self.a = a
        self.ids: dict[str, str] = {}

    async def build(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.alias_value = f"iso-{tag}"
        # First, so that every later write of A's makes a delivery (to a closed local port).
        policy = await self.a.post(
            "/notifications/policies",
            json={"name": f"A-{tag}", "channel": "WEBHOOK", "recipients": ["http://127.0.0.1:9/a"]},
        )
        assert policy.status_code == 201, policy.text
        customer = await make_customer(
            self.a, customerAliases=[self.alias_value], legalName=f"A-first-{tag}"
        )
        second = await make_customer(self.a, legalName=f"A-second-{tag}")
        await make_customer(self.a)
        contact = customer["contacts"][0]
        aliases = (await self.a.get(f"/customers/{customer['id']}/aliases")).json()
        alias = next(x for x in aliases["items"] if x["value"] == self.alias_value)
        org = await self.a.post(
            "/customer-organizations",
            json={"ownerId": customer["id"], "memberIds": [second["id"]]},
        )
        assert org.status_code == 201, org.text
        settings = await self.a.post(
            "/payments/settings/customers",
            json={"customerId": customer["id"], "paymentProvider": "STRIPE"},
        )
        assert settings.status_code == 201, settings.text
        await self.a.post("/customer-aliases", json={"customerId": second["id"], "value": tag})
        self.ids = {
            "customer": customer["id"],
            "member": second["id"],
            "contact": contact["id"],
            "alias": alias["id"],
            "organization": org.json()["id"],
            "settings": settings.json()["id"],
            "policy": policy.json()["id"],
        }
        deliveries = (await self.a.get("/notifications/deliveries")).json()["items"]
        assert deliveries
        self.ids["delivery"] = deliveries[0]["id"]
        page = await self.a.get("/customers", params={"limit": 1})
        self.customer_cursor = page.json()["pagination"]["after"]
        page = await self.a.get("/customer-aliases", params={"limit": 1})
        self.alias_cursor = page.json()["pagination"]["after"]
        assert self.customer_cursor
        assert self.alias_cursor

        self.names = [customer["legalName"], second["legalName"], contact["email"]]

    def secrets(self) -> list[str]:
        """A's data, which must never appear in an answer to B (the ids B sends may be echoed
        back in a message: B knows them already)."""
        return [*self.names, self.a.issued.credential.account_id]  # type: ignore[attr-defined]


def _path_values(op: Operation, ids: dict[str, str], alias_value: str) -> dict[str, str]:
    """What each path parameter of `op` is filled with: A's matching record."""
    path = op.path
    values: dict[str, str] = {}
    if "{customer}" in path:
        values["customer"] = ids["customer"]
    if "{alias}" in path:
        values["alias"] = alias_value
    if "{id}" in path:
        if path.startswith("/customers/{customer}/contacts"):
            values["id"] = ids["contact"]
        elif path.startswith("/customers/"):
            values["id"] = ids["customer"]
        elif path.startswith("/customer-aliases"):
            values["id"] = ids["alias"]
        elif path.startswith("/customer-organizations"):
            values["id"] = ids["organization"]
        elif path.startswith("/notifications/policies"):
            values["id"] = ids["policy"]
        elif path.startswith("/notifications/deliveries"):
            values["id"] = ids["delivery"]
        else:  # payment settings, at either path
            values["id"] = ids["settings"]
    return values


def _body(op: Operation, version: str, customer_id: str, member_id: str) -> Json | None:
    """A body valid for `op` in `version` (so that the lookup is reached), naming these ids."""
    oid = op.operation_id
    if op.request is None and oid not in {"postCustomerAliases", "postCustomers"}:
        return None
    if oid in {"postCustomers", "putCustomersById"}:
        if version == LATEST.name:
            return customer_body()
        return legacy_customer_body(version)
    if oid == "postCustomerAliases":
        body: Json = {"customerId": customer_id, "value": f"b-{uuid.uuid4().hex[:8]}"}
        if version != LATEST.name:
            body["sequenceAccountId"] = "filled-in-per-client"
        return body
    if oid == "putCustomerAliasesById":
        return {"label": "B was here"}
    if oid in {"postCustomersByCustomerContacts", "putCustomersByCustomerContactsById"}:
        return {"name": "B", "email": "b@example.com", "billingPreference": "STANDARD"}
    if oid == "postCustomerOrganizations":
        return {"ownerId": customer_id, "memberIds": [member_id]}
    if oid in {"postCustomerOrganizationsByIdMembers", "putCustomerOrganizationsByIdMembers"}:
        return {"customerIds": [member_id]}
    if oid in {"postPaymentsSettingsCustomers", "postCustomerSettings"}:
        return {"customerId": customer_id, "paymentProvider": "STRIPE"}
    if oid in {"putPaymentsSettingsCustomersById", "putCustomerSettingsById"}:
        return {"paymentProvider": "NONE"}
    if oid == "patronPostNotificationsPolicies":
        return {"name": "B", "channel": "WEBHOOK", "recipients": ["http://127.0.0.1:9/b"]}
    raise AssertionError(f"no body for {oid}")


SERVED = [
    pytest.param(version, op, id=f"{version}-{op.operation_id}")
    for version in sorted(VERSIONS)
    for op in OPERATIONS
    if op.operation_id in VERSIONS[version].operations
]


def _shape(response: httpx.Response, swaps: dict[str, str]) -> tuple[int, str, str, Any]:
    """Status, error type, message with the made-up values put back as A's, and for a success
    its items (a list must be empty)."""
    body = response.json()
    if response.status_code >= 400:
        message: str = body["error"]["message"]
        for made_up, real in swaps.items():
            message = message.replace(made_up, real)
        return response.status_code, body["error"]["type"], message, None
    return response.status_code, "", "", body.get("items")


async def _call(
    client: httpx.AsyncClient,
    op: Operation,
    version: str,
    path_values: dict[str, str],
    body: Json | None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    url = op.path
    for name, value in path_values.items():
        # Alias values may hold anything; ids are plain.
        url = url.replace("{" + name + "}", httpx.URL(value).raw_path.decode())
    if body is not None and "sequenceAccountId" in body:
        body = {**body, "sequenceAccountId": client.issued.credential.account_id}  # type: ignore[attr-defined]
    return await client.request(
        op.method, url, json=body, params=params, headers={"Sequence-Version": version}
    )


async def _snapshot(a: httpx.AsyncClient, world: World) -> list[Any]:
    ids = world.ids
    urls = [
        f"/customers/{ids['customer']}",
        f"/customers/{ids['member']}",
        f"/customers/{ids['customer']}/contacts",
        f"/customers/{ids['customer']}/aliases",
        f"/payments/settings/customers/{ids['settings']}",
        "/customer-aliases",
        "/customers?includeArchived=true",
    ]
    return [(await a.get(url)).json() for url in urls]


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    built = World(client)
    await built.build()
    return built


@pytest.mark.parametrize(("version", "op"), SERVED)
async def test_foreign_ids_answer_like_unknown_ones(
    version: str, op: Operation, world: World, other_client: httpx.AsyncClient
) -> None:
    b = other_client
    before = await _snapshot(world.a, world)
    # B has records of its own: a list is not empty by accident, and B's own paths exist.
    mine = await make_customer(b)
    mine2 = await make_customer(b)
    b_org = await b.post(
        "/customer-organizations", json={"ownerId": mine["id"], "memberIds": [mine2["id"]]}
    )
    assert b_org.status_code == 201, b_org.text
    made_up = {k: _fresh_id() for k in world.ids}
    made_up_alias = f"iso-{uuid.uuid4().hex[:10]}"
    swaps = {made_up[k]: world.ids[k] for k in world.ids} | {made_up_alias: world.alias_value}

    path_a = _path_values(op, world.ids, world.alias_value)
    path_x = _path_values(op, made_up, made_up_alias)
    # A's ids in the path, B's own records in the body: only the path decides.
    body = _body(op, version, mine["id"], mine2["id"])
    foreign = await _call(b, op, version, path_a, body)
    if path_a:
        unknown = await _call(b, op, version, path_x, body)
        assert _shape(foreign, {}) == _shape(unknown, swaps), (foreign.text, unknown.text)
    assert foreign.status_code < 500
    if foreign.status_code < 400:
        # Only a list or a create can succeed with A's ids in the path (none has them in it).
        assert not path_a or op.method == "GET", foreign.text
    for secret in world.secrets():
        assert secret not in foreign.text, (secret, foreign.text)

    if body is not None and op.operation_id in _REFERENCING:
        # A body naming A's records, on a path of B's own (or none): like naming unknown ones.
        own_path = dict.fromkeys(path_a, mine["id"])
        if op.path.startswith("/customer-organizations/"):
            own_path = {"id": b_org.json()["id"]}
        foreign = await _call(
            b, op, version, own_path, _body(op, version, world.ids["customer"], world.ids["member"])
        )
        unknown = await _call(
            b, op, version, own_path, _body(op, version, made_up["customer"], made_up["member"])
        )
        assert _shape(foreign, {}) == _shape(unknown, swaps), (foreign.text, unknown.text)
        assert foreign.status_code >= 400, foreign.text
        for secret in world.secrets():
            assert secret not in foreign.text, (secret, foreign.text)

    if op.method == "GET" and op.path in {"/customers", "/customer-aliases"}:
        cursor = world.customer_cursor if op.path == "/customers" else world.alias_cursor
        for name in ("after", "before"):
            foreign = await _call(b, op, version, {}, None, {name: cursor})
            forged = await _call(b, op, version, {}, None, {name: _forged(cursor)})
            assert foreign.status_code == 400, foreign.text
            assert _shape(foreign, {}) == _shape(forged, {}), (foreign.text, forged.text)
        for filters in ({"alias": world.alias_value}, {"value": world.alias_value}):
            listed = await b.get(op.path, params=filters, headers={"Sequence-Version": version})
            if listed.status_code == 200:
                for secret in world.secrets():
                    assert secret not in listed.text

    assert await _snapshot(world.a, world) == before


# Operations whose body names other records (customerId, ownerId, memberIds, customerIds).
_REFERENCING = {
    "postCustomerAliases",
    "postCustomerOrganizations",
    "postCustomerOrganizationsByIdMembers",
    "putCustomerOrganizationsByIdMembers",
    "postPaymentsSettingsCustomers",
    "postCustomerSettings",
}


def _forged(cursor: str) -> str:
    """A cursor of the same shape that Patron did not issue: one character of its signature
    changed."""
    payload, _, mac = cursor.rpartition(".")
    flipped = "A" if mac[-2] != "A" else "B"
    return f"{payload}.{mac[:-2]}{flipped}{mac[-1]}"


class TestParentId:
    @pytest.mark.parametrize("method", ["POST", "PUT"])
    async def test_a_foreign_parent_is_unknown(
        self, method: str, world: World, other_client: httpx.AsyncClient
    ) -> None:
        b = other_client
        mine = await make_customer(b)
        url = "/customers" if method == "POST" else f"/customers/{mine['id']}"
        made_up = _fresh_id()
        foreign = await b.request(method, url, json=customer_body(parentId=world.ids["customer"]))
        unknown = await b.request(method, url, json=customer_body(parentId=made_up))
        swaps = {made_up: world.ids["customer"]}
        assert foreign.status_code >= 400, foreign.text
        assert _shape(foreign, {}) == _shape(unknown, swaps), (foreign.text, unknown.text)


def test_every_path_parameter_is_filled() -> None:
    ids = dict.fromkeys(
        ("customer", "contact", "alias", "organization", "settings", "policy", "delivery"), "x"
    )
    for op in OPERATIONS:
        filled = _path_values(op, ids, "x")
        assert set(filled) == set(re.findall(r"{(\w+)}", op.path)), op.path
