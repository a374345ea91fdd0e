"""The machinery of the scripted contract run: the contract files, one `ContractRun` that sends
scripted calls and checks every answer, and the registry of scripts (`@script`).

See tests/contract/test_contract.py for what is checked and why.
"""

from __future__ import annotations

import copy
import functools
import itertools
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

from patron.api.versions import LATEST, VERSION_HEADER, VERSIONS
from tests.factories import address, customer_body

V0730, V0509, V0101 = "2024-07-30", "2024-05-09", "2024-01-01"
PATRON_PREFIX = "/api"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
UNKNOWN_ID = "01900000-0000-7000-8000-000000000000"

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


def _raw_path(request: httpx.Request) -> str:
    """The path as sent: an alias holding `/` is one segment, `%2F` in it."""
    return request.url.raw_path.decode("ascii").split("?", 1)[0]


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


# -- request bodies per version -----------------------------------------------------------------

_legacy_numbers = itertools.count(1)


def legacy_customer_body(version: str, **overrides: Any) -> Json:
    """A create/update body of 2024-05-09 or 2024-01-01: flat contact fields; integration ids as
    `integrationIds` [{service, id}] (2024-05-09) or `externalIds` [{key, value}] (2024-01-01).
    Overrides may name `integrationIds` in either version; a None override drops the field."""
    n = next(_legacy_numbers)
    body: Json = {
        "legalName": f"Legacy {n} Ltd",
        "address": address(),
        "email": f"main{n}@legacy.example",
        "billingEmails": [f"main{n}@legacy.example", f"ap{n}@legacy.example"],
        "taxStatus": "TAXED",
        "contactName": f"Main Person {n}",
        "telephone": "+44 20 7946 0000",
    }
    body.update(overrides)
    if version == V0101 and "integrationIds" in body:
        ids = body.pop("integrationIds")
        body["externalIds"] = [{"key": x["service"], "value": x["id"]} for x in ids]
    return {k: v for k, v in body.items() if v is not None}


# -- one scripted run ---------------------------------------------------------------------------


@dataclass
class ContractRun:
    """Sends scripted calls in one API version and checks every answer against the contract of
    the version each call names (the run's own unless a call says otherwise)."""

    version: str
    contract_dir: Path
    client: httpx.AsyncClient
    new_client: Callable[..., Awaitable[httpx.AsyncClient]]
    succeeded: set[tuple[str, str]] = field(default_factory=set)  # (version, operationId)
    failed: set[tuple[str, str]] = field(default_factory=set)

    def contract(self, version: str | None = None) -> Contract:
        return load_contract(contract_path(self.contract_dir, version or self.version))

    @property
    def account_id(self) -> str:
        account: str = self.client.issued.credential.account_id  # type: ignore[attr-defined]
        return account

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
        version: str | None = None,
    ) -> httpx.Response:
        """Send one call to `operation_id` in `version` (default: the run's), expecting status
        `expect`, and check the answer against that version's contract."""
        version = version or self.version
        contract = self.contract(version)
        http = client or self.client
        headers = {VERSION_HEADER: version, **(headers or {})}
        request = http.build_request(method, url, json=json, params=params, headers=headers)
        if not authenticated:
            del request.headers["authorization"]
        response = await http.send(request)
        query = request.url.query.decode()
        path = _raw_path(request)
        call = f"[{version}] {method} {path}" + (f"?{query}" if query else "")

        assert path.startswith(PATRON_PREFIX + "/"), call
        contract_path = path.removeprefix(PATRON_PREFIX)
        operation = contract.operation_at(method, contract_path)
        assert operation is not None, f"{call}: no operation in the contract serves this"
        assert operation.operation_id == operation_id, (
            f"{call}: the script says {operation_id}, the contract says {operation.operation_id}"
        )
        assert response.status_code == expect, (
            f"{call}: expected {expect}, got {response.status_code}: {response.text[:500]}"
        )
        # An unrecognised version is answered in the latest one (NOTES.md §1.3).
        sent = headers[VERSION_HEADER]
        echoed = response.headers.get("sequence-version")
        assert echoed == (sent if sent in VERSIONS else LATEST.name), (
            f"{call}: Sequence-Version response header is {echoed!r}"
        )
        if 200 <= response.status_code < 300:
            self._validate(contract, request, response, call)
            self.succeeded.add((version, operation_id))
        else:
            status = response.status_code
            assert status in operation.responses or status in UNDECLARED_ERROR_STATUSES, (
                f"{call}: {status} is not declared for {operation_id} "
                f"(declared: {sorted(operation.responses)})"
            )
            problems = _check_error_envelope(response)
            assert not problems, f"{call}: error body: " + "; ".join(problems)
            self.failed.add((version, operation_id))
        return response

    @staticmethod
    def _validate(
        contract: Contract, request: httpx.Request, response: httpx.Response, call: str
    ) -> None:
        contract_request = MockRequest(
            host_url=contract.server_origin,
            method=request.method,
            path=contract.server_path + _raw_path(request).removeprefix(PATRON_PREFIX),
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
            contract.openapi.validate_request(contract_request)
        except Exception as exc:  # openapi-core raises several unrelated classes
            pytest.fail(f"{call}: the scripted request breaks the contract\n{_describe(exc)}")
        try:
            contract.openapi.validate_response(contract_request, contract_response)
        except Exception as exc:
            pytest.fail(
                f"{call}: response {response.status_code} breaks the contract\n{_describe(exc)}\n"
                f"body: {response.text[:2000]}"
            )

    # Helpers that go through `call`, so set-up responses are checked too. Each speaks the
    # run's version unless told otherwise.

    def customer_body(self, version: str | None = None, **overrides: Any) -> Json:
        version = version or self.version
        if version == V0730:
            return customer_body(**overrides)
        return legacy_customer_body(version, **overrides)

    async def create_customer(self, *, version: str | None = None, **overrides: Any) -> Json:
        """A new customer as the version shows it (2024-01-01's `{"customer": ...}` unwrapped)."""
        version = version or self.version
        response = await self.call(
            "postCustomers",
            "POST",
            "/customers",
            json=self.customer_body(version, **overrides),
            expect=201,
            version=version,
        )
        created: Json = response.json()
        return created["customer"] if version == V0101 else created

    async def get_customer(self, customer_id: str, *, version: str | None = None) -> Json:
        response = await self.call(
            "getCustomersById", "GET", f"/customers/{customer_id}", expect=200, version=version
        )
        found: Json = response.json()
        return found

    async def archive_customer(self, customer_id: str, *, version: str | None = None) -> Json:
        version = version or self.version
        if version == V0730:
            operation, method = "postCustomersByIdArchive", "POST"
        else:
            operation, method = "putCustomersByIdArchive", "PUT"
        response = await self.call(
            operation, method, f"/customers/{customer_id}/archive", expect=200, version=version
        )
        archived: Json = response.json()
        return archived

    async def list_customers(self, **params: str) -> Json:
        response = await self.call("getCustomers", "GET", "/customers", params=params, expect=200)
        page: Json = response.json()
        return page

    def alias_body(self, customer_id: str, value: str, **extra: Any) -> Json:
        """Older versions' contracts require the caller's `sequenceAccountId`."""
        body: Json = {"customerId": customer_id, "value": value, **extra}
        if self.version != V0730:
            body.setdefault("sequenceAccountId", self.account_id)
        return body

    async def create_alias(self, customer_id: str, value: str, **extra: Any) -> Json:
        response = await self.call(
            "postCustomerAliases",
            "POST",
            "/customer-aliases",
            json=self.alias_body(customer_id, value, **extra),
            expect=201,
        )
        alias: Json = response.json()
        return alias

    async def other_account(self) -> httpx.AsyncClient:
        return await self.new_client()


# -- the scripts --------------------------------------------------------------------------------

Script = Callable[[ContractRun], Awaitable[None]]
SCRIPTS: dict[tuple[str, str], Script] = {}  # (version, operationId) -> script


def script(operation_id: str, *versions: str) -> Callable[[Script], Script]:
    """Register the script of `operation_id` in each of `versions` (default: 2024-07-30)."""

    def register(fn: Script) -> Script:
        for version in versions or (V0730,):
            key = (version, operation_id)
            assert key not in SCRIPTS, f"two scripts for {operation_id} in {version}"
            SCRIPTS[key] = fn
        return fn

    return register
