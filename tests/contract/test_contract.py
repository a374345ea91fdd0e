"""Patron's responses checked against Sequence's published contract for API version 2024-07-30.

The operation table: every operation in `patron.api.routes.OPERATIONS` is served by at least one
API version, and is in the contract file of each version that serves it
(`sequence-customers-<version>.openapi.json`) with the same method, path (under /api) and success
status.

The scripted run covers API version 2024-07-30: every operation of OPERATIONS that is in its
contract has a script below that drives it through HTTP (successes and failures), every call
sending `Sequence-Version: 2024-07-30`. Every response of every script, including those of the
calls that set up the data, is checked by one `ContractRun`:

- the call reached the contract operation the script names (method and path template);
- success responses: status, declared headers and body validated with openapi-core against the
  contract, and the scripted request validated against it too, so the scripts stay realistic;
- error responses: the status is one the contract declares for the operation, or one this file
  lists in `UNDECLARED_ERROR_STATUSES` with the reason; the body is the error envelope of
  NOTES.md §1.6 (the contract gives error responses no body schema);
- every response carries `Sequence-Version: 2024-07-30` (NOTES.md §1.3).

The contract's object schemas are open (no `additionalProperties`), so a misspelt optional field
(`archived_at` for `archivedAt`) would pass it. The copy held in memory closes them: a field the
contract does not name fails the check. Its `servers` URL is sandbox.sequencehq.com/api; requests
are validated as if sent there, which works because Patron serves the same paths under /api.

Adding a 2024-07-30 operation to OPERATIONS without adding its script here fails
`test_responses_conform`. An operation only older versions serve (their contract has it, the
2024-07-30 one does not) is reported as skipped there: older versions have no scripted run yet.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from patron.api.endpoint import VERSION_HEADER
from patron.api.routes import EXTENSIONS_TAG, OPERATIONS, Operation
from patron.api.versions import VERSIONS
from tests.factories import address, contact, customer_body

pytestmark = pytest.mark.contract

CONTRACT_VERSION = "2024-07-30"
PATRON_PREFIX = "/api"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Error statuses Patron may answer although the operation's contract does not declare them.
UNDECLARED_ERROR_STATUSES: dict[int, str] = {
    404: "NOTES.md §1.6: not-found by id is undeclared; answer 404 with the error envelope",
    409: "NOTES.md §4.2: alias-uniqueness conflicts have no declared status (400 or 409)",
}

Json = dict[str, Any]


# -- the contract -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractOperation:
    operation_id: str
    method: str  # upper case
    path: str  # as in the contract, relative to its server URL
    responses: frozenset[int]
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Contract:
    document: Json  # as published
    server_origin: str  # https://sandbox.sequencehq.com
    server_path: str  # /api
    operations: dict[str, ContractOperation]

    @functools.cached_property
    def openapi(self) -> OpenAPI:
        """The validator, built from a copy of the document with closed object schemas."""
        closed = copy.deepcopy(self.document)
        _close_object_schemas(closed)
        return OpenAPI.from_dict(closed)

    def operation_at(self, method: str, path: str) -> ContractOperation | None:
        """The operation serving `method path` (a path under the server URL), or None.

        Literal segments beat templated ones, as in OpenAPI's own matching rule."""
        matches = [
            op
            for op in self.operations.values()
            if op.method == method.upper() and op.pattern.fullmatch(path)
        ]
        matches.sort(key=lambda op: op.path.count("{"))
        return matches[0] if matches else None


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _close_object_schemas(node: Any) -> None:
    """Set `additionalProperties: false` on every object schema that names its properties and
    says nothing about others. Examples are data, not schemas, and are left alone."""
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and isinstance(node.get("properties"), dict)
            and "additionalProperties" not in node
        ):
            node["additionalProperties"] = False
        for key, value in node.items():
            if key not in ("example", "examples"):
                _close_object_schemas(value)
    elif isinstance(node, list):
        for item in node:
            _close_object_schemas(item)


@functools.cache
def load_contract(path: Path) -> Contract:
    document: Json = json.loads(path.read_text(encoding="utf-8"))
    server = urlsplit(document["servers"][0]["url"])
    operations: dict[str, ContractOperation] = {}
    for template, item in document["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            operations[op["operationId"]] = ContractOperation(
                operation_id=op["operationId"],
                method=method.upper(),
                path=template,
                responses=frozenset(int(code) for code in op["responses"] if code.isdigit()),
                pattern=_path_pattern(template),
            )
    return Contract(
        document=document,
        server_origin=f"{server.scheme}://{server.netloc}",
        server_path=server.path.rstrip("/"),
        operations=operations,
    )


def contract_path(contract_dir: Path, version: str) -> Path:
    return contract_dir / f"sequence-customers-{version}.openapi.json"


@pytest.fixture
def contract(contract_dir: Path) -> Contract:
    return load_contract(contract_path(contract_dir, CONTRACT_VERSION))


def _describe(exc: BaseException) -> str:
    """openapi-core's error, its causes, and the schema errors they carry, one per line."""
    lines: list[str] = []
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = str(cause)
        lines.append(f"{type(cause).__name__}: {text[:300]}{'...' if len(text) > 300 else ''}")
        for error in getattr(cause, "schema_errors", ()) or ():
            where = "/".join(str(p) for p in getattr(error, "absolute_path", ())) or "(root)"
            lines.append(f"  at {where}: {getattr(error, 'message', error)}")
        cause = cause.__cause__ or cause.__context__
    return "\n".join(lines)


# -- one scripted run ---------------------------------------------------------------------------


def _check_error_envelope(response: httpx.Response) -> list[str]:
    """Problems with an error body: `{"error": {"type": str, "message": str}}`, plus the
    optional list of field errors Patron adds to validation errors (STYLE.md, Errors)."""
    problems: list[str] = []
    if response.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        problems.append(f"content-type is {response.headers.get('content-type')!r}")
    try:
        body = response.json()
    except ValueError:
        return [*problems, f"body is not JSON: {response.text[:200]!r}"]
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return [*problems, f'body is not {{"error": {{...}}}}: {body!r}']
    error = body["error"]
    for name in ("type", "message"):
        if not isinstance(error.get(name), str) or not error[name]:
            problems.append(f"error.{name} is not a non-empty string: {error.get(name)!r}")
    extra = set(error) - {"type", "message", "errors"}
    if extra:
        problems.append(f"error has fields outside the envelope: {sorted(extra)}")
    if "errors" in error:
        items = error["errors"]
        if not isinstance(items, list) or not all(
            isinstance(i, dict)
            and set(i) == {"field", "message"}
            and all(isinstance(v, str) for v in i.values())
            for i in items
        ):
            problems.append(f"error.errors is not a list of {{field, message}}: {items!r}")
    return problems


@dataclass
class ContractRun:
    """Sends scripted calls and checks every response against the contract."""

    contract: Contract
    client: httpx.AsyncClient
    new_client: Callable[..., Awaitable[httpx.AsyncClient]]
    succeeded: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    async def call(
        self,
        operation_id: str,
        method: str,
        url: str,
        *,
        expect: int,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """Send one call to `operation_id`, expecting status `expect`, and check the answer."""
        http = client or self.client
        headers = {VERSION_HEADER: CONTRACT_VERSION, **(headers or {})}
        request = http.build_request(method, url, json=json, params=params, headers=headers)
        if not authenticated:
            del request.headers["authorization"]
        response = await http.send(request)
        query = request.url.query.decode()
        call = f"{method} {request.url.path}" + (f"?{query}" if query else "")

        assert request.url.path.startswith(PATRON_PREFIX + "/"), call
        contract_path = request.url.path.removeprefix(PATRON_PREFIX)
        operation = self.contract.operation_at(method, contract_path)
        assert operation is not None, f"{call}: no operation in the contract serves this"
        assert operation.operation_id == operation_id, (
            f"{call}: the script says {operation_id}, the contract says {operation.operation_id}"
        )
        assert response.status_code == expect, (
            f"{call}: expected {expect}, got {response.status_code}: {response.text[:500]}"
        )
        version = response.headers.get("sequence-version")
        assert version == CONTRACT_VERSION, (
            f"{call}: Sequence-Version response header is {version!r}"
        )
        if 200 <= response.status_code < 300:
            self._validate(request, response, call)
            self.succeeded.add(operation_id)
        else:
            status = response.status_code
            assert status in operation.responses or status in UNDECLARED_ERROR_STATUSES, (
                f"{call}: {status} is not declared for {operation_id} "
                f"(declared: {sorted(operation.responses)})"
            )
            problems = _check_error_envelope(response)
            assert not problems, f"{call}: error body: " + "; ".join(problems)
            self.failed.add(operation_id)
        return response

    def _validate(self, request: httpx.Request, response: httpx.Response, call: str) -> None:
        contract_request = MockRequest(
            host_url=self.contract.server_origin,
            method=request.method,
            path=self.contract.server_path + request.url.path.removeprefix(PATRON_PREFIX),
            args=dict(request.url.params.multi_items()),
            headers=dict(request.headers),
            data=request.content or None,
            content_type=request.headers.get("content-type", ""),
        )
        contract_response = MockResponse(
            data=response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=response.headers.get("content-type", ""),
        )
        try:
            self.contract.openapi.validate_request(contract_request)
        except Exception as exc:  # openapi-core raises several unrelated classes
            pytest.fail(f"{call}: the scripted request breaks the contract\n{_describe(exc)}")
        try:
            self.contract.openapi.validate_response(contract_request, contract_response)
        except Exception as exc:
            pytest.fail(
                f"{call}: response {response.status_code} breaks the contract\n{_describe(exc)}\n"
                f"body: {response.text[:2000]}"
            )

    # Helpers that go through `call`, so set-up responses are checked too.

    async def create_customer(self, **overrides: Any) -> Json:
        response = await self.call(
            "postCustomers", "POST", "/customers", json=customer_body(**overrides), expect=201
        )
        created: Json = response.json()
        return created

    async def get_customer(self, customer_id: str) -> Json:
        response = await self.call(
            "getCustomersById", "GET", f"/customers/{customer_id}", expect=200
        )
        found: Json = response.json()
        return found

    async def archive_customer(self, customer_id: str) -> Json:
        response = await self.call(
            "postCustomersByIdArchive", "POST", f"/customers/{customer_id}/archive", expect=200
        )
        archived: Json = response.json()
        return archived

    async def list_customers(self, **params: str) -> Json:
        response = await self.call("getCustomers", "GET", "/customers", params=params, expect=200)
        page: Json = response.json()
        return page

    async def other_account(self) -> httpx.AsyncClient:
        return await self.new_client()


Script = Callable[[ContractRun], Awaitable[None]]
SCRIPTS: dict[str, Script] = {}


def script(operation_id: str) -> Callable[[Script], Script]:
    def register(fn: Script) -> Script:
        assert operation_id not in SCRIPTS, f"two scripts for {operation_id}"
        SCRIPTS[operation_id] = fn
        return fn

    return register


UNKNOWN_ID = "01900000-0000-7000-8000-000000000000"


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


# -- scripts, one per operation -----------------------------------------------------------------


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


async def _settings(run: ContractRun, provider: str = "STRIPE") -> Json:
    customer = await run.create_customer()
    response = await run.call(
        "postPaymentsSettingsCustomers",
        "POST",
        "/payments/settings/customers",
        json={"customerId": customer["id"], "paymentProvider": provider},
        expect=201,
    )
    settings: Json = response.json()
    return settings


@script("postPaymentsSettingsCustomers")
async def create_settings(run: ContractRun) -> None:
    settings = await _settings(run, "GOCARDLESS")
    assert settings["paymentProvider"] == "GOCARDLESS"
    for body, status in (
        ({"customerId": settings["customerId"], "paymentProvider": "NONE"}, 409),
        ({"customerId": UNKNOWN_ID, "paymentProvider": "NONE"}, 400),
        ({"customerId": settings["customerId"], "paymentProvider": "PAYPAL"}, 400),
    ):
        await run.call(
            "postPaymentsSettingsCustomers",
            "POST",
            "/payments/settings/customers",
            json=body,
            expect=status,
        )


@script("getPaymentsSettingsCustomersById")
async def get_settings(run: ContractRun) -> None:
    settings = await _settings(run)
    url = f"/payments/settings/customers/{settings['id']}"
    found = await run.call("getPaymentsSettingsCustomersById", "GET", url, expect=200)
    assert found.json() == settings
    await run.call(
        "getPaymentsSettingsCustomersById",
        "GET",
        f"/payments/settings/customers/{UNKNOWN_ID}",
        expect=404,
    )


@script("putPaymentsSettingsCustomersById")
async def update_settings(run: ContractRun) -> None:
    settings = await _settings(run)
    url = f"/payments/settings/customers/{settings['id']}"
    updated = await run.call(
        "putPaymentsSettingsCustomersById", "PUT", url, json={"paymentProvider": "NONE"}, expect=200
    )
    assert updated.json()["paymentProvider"] == "NONE"
    await run.call(
        "putPaymentsSettingsCustomersById", "PUT", url, json={"paymentProvider": "X"}, expect=400
    )


@script("deletePaymentsSettingsCustomersById")
async def delete_settings(run: ContractRun) -> None:
    settings = await _settings(run)
    url = f"/payments/settings/customers/{settings['id']}"
    deleted = await run.call("deletePaymentsSettingsCustomersById", "DELETE", url, expect=200)
    assert deleted.json() == settings
    await run.call("deletePaymentsSettingsCustomersById", "DELETE", url, expect=404)


# -- tests --------------------------------------------------------------------------------------

# Patron's own operations (tagged "Patron extensions", docs/extensions.md) are in no Sequence
# contract, so neither check applies to them; tests/api covers them.
SEQUENCE_OPERATIONS = [op for op in OPERATIONS if op.tag != EXTENSIONS_TAG]


def _id(operation: Operation) -> str:
    return operation.operation_id


class TestOperationTable:
    @pytest.mark.parametrize("operation", SEQUENCE_OPERATIONS, ids=_id)
    def test_operation_is_in_its_versions_contracts(
        self, contract_dir: Path, operation: Operation
    ) -> None:
        versions = [v.name for v in VERSIONS.values() if operation.operation_id in v.operations]
        assert versions, f"{operation.operation_id} is in OPERATIONS but no API version serves it"
        for version in versions:
            contract = load_contract(contract_path(contract_dir, version))
            declared = contract.operations.get(operation.operation_id)
            assert declared is not None, (
                f"{operation.operation_id} is served in {version} but not in its contract"
            )
            assert operation.method.upper() == declared.method, version
            assert PATRON_PREFIX + operation.path == contract.server_path + declared.path, (
                f"Patron serves {PATRON_PREFIX}{operation.path}, "
                f"the {version} contract {contract.server_path}{declared.path}"
            )
            assert operation.success in declared.responses, (
                f"{operation.operation_id} answers {operation.success}; "
                f"the {version} contract declares {sorted(declared.responses)}"
            )

    def test_operation_ids_are_unique(self) -> None:
        ids = [op.operation_id for op in OPERATIONS]
        assert len(ids) == len(set(ids))


class TestScriptedRun:
    @pytest.mark.parametrize("operation", SEQUENCE_OPERATIONS, ids=_id)
    async def test_responses_conform(
        self,
        contract: Contract,
        client: httpx.AsyncClient,
        new_client: Callable[..., Awaitable[httpx.AsyncClient]],
        operation: Operation,
    ) -> None:
        served = operation.operation_id in VERSIONS[CONTRACT_VERSION].operations
        if operation.operation_id not in contract.operations and not served:
            older = [v.name for v in VERSIONS.values() if operation.operation_id in v.operations]
            pytest.skip(
                f"{operation.operation_id} is not in API version {CONTRACT_VERSION} (served in "
                f"{', '.join(older) or 'no version'}); the scripted run covers "
                f"{CONTRACT_VERSION} only"
            )
        run_script = SCRIPTS.get(operation.operation_id)
        if run_script is None:
            pytest.fail(
                f"Patron serves {operation.operation_id} but tests/contract/test_contract.py has "
                "no script for it: add one with @script(...)"
            )
        run = ContractRun(contract, client, new_client)
        await run_script(run)
        assert operation.operation_id in run.succeeded, (
            f"the script for {operation.operation_id} never got a success response from it"
        )
        assert operation.operation_id in run.failed, (
            f"the script for {operation.operation_id} never got an error response from it"
        )
