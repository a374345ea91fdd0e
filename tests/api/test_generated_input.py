"""Generated input (schemathesis): requests generated from an OpenAPI document, valid and invalid,
sent in-process to the ASGI app, every response checked.

Two kinds of document:

- Patron's own (`GET /api/openapi.json`, one per API version: `?version=`): every response must
  conform to it, status, headers and body included.
- Sequence's contract of each version (`../shared/contract/`, read where it lies): successes must
  conform; error statuses the contract does not declare are accepted when they are Patron's
  documented choices (`UNDECLARED_ERRORS`), with the error envelope as their body.

For both: no 5xx, and a request schemathesis made invalid on purpose is answered 4xx in the error
envelope. Each operation gets a few examples per phase (examples, coverage, fuzzing), so a run
stays within seconds; the seed is fixed so a failure reproduces.

The app runs on schemathesis' own event loop (its ASGI transport), so it opens its own database
connections through its lifespan, on the suite's database. The credential it is called with is a
fresh account's; the contracts' required `Authorization` and `Sequence-Version` header parameters
are taken out of the generated data and sent with real values instead.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from argon2 import PasswordHasher
from schemathesis import Case
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.engine import events
from starlette.applications import Starlette

from patron.api.versions import VERSIONS
from patron.app import build_services, create_app
from patron.config import Settings
from tests.conftest import auth_header

pytestmark = pytest.mark.generated

BASE_URL = "http://testserver/api"
VERSION_NAMES = sorted(VERSIONS)

# Error statuses Sequence's contracts do not declare, answered by Patron by design
# (docs/decisions): unknown record or operation, conflicts, method, precondition, body size,
# media type, rate limit, header size.
UNDECLARED_ERRORS = {404, 405, 409, 412, 413, 415, 429, 431}

# What an invalid request may be answered with: never a success, never a 5xx.
REJECTIONS = ["400", "401", "404", "405", "409", "412", "413", "415"]


# A few examples per operation and phase keep a run to seconds; PATRON_FUZZ_EXAMPLES and
# PATRON_FUZZ_SEED make a deeper or different run by hand.
MAX_EXAMPLES = int(os.environ.get("PATRON_FUZZ_EXAMPLES") or 4)
SEED = int(os.environ.get("PATRON_FUZZ_SEED") or 1)

# schemathesis counts a header it made up as invalid input; HTTP headers are an open set (proxies
# add their own), so a server must ignore those it does not know, and Patron does.
OPEN_HEADERS = "in header - object with unexpected properties"


def _config(*, own_document: bool, headers: dict[str, str]) -> schemathesis.Config:
    checks: dict[str, Any] = {
        "negative_data_rejection": {"expected-statuses": REJECTIONS},
        # Patron's rules go beyond JSON Schema (referenced ids exist, email shape, the PRIMARY
        # contact rule, no control characters): schema-valid data may rightly be a 400.
        "positive_data_acceptance": {"enabled": False},
        # Authentication has its own tests (test_bad_input.py, test_abuse_limits.py).
        "ignored_auth": {"enabled": False},
    }
    if not own_document:
        # The contracts declare 400/401/403/500 only; other error statuses are checked by
        # `patron_error_answers` against UNDECLARED_ERRORS.
        checks["status_code_conformance"] = {"enabled": False}
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "workers": 1,
            "generation": {"max-examples": MAX_EXAMPLES, "no-shrink": True, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": checks,
            "suppress-health-check": ["all"],
        }
    )


@pytest.fixture(scope="module")
def fuzz_credentials(database_url: str) -> dict[str, str]:
    """Basic credentials of a fresh account, made outside any test's event loop."""

    async def make() -> dict[str, str]:
        built, store = await build_services(
            Settings(database_url=database_url, pool_min=1, pool_max=1),
            password_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        )
        try:
            return auth_header(await built.credentials.create("schemathesis"))
        finally:
            await store.close()

    return asyncio.run(make())


@pytest.fixture(scope="module")
def fuzz_app(database_url: str) -> Starlette:
    """The app as served (its lifespan opens the database), without the failed-authentication
    delay, which would only slow the run down, and without the webhook dispatcher: generated
    notification policies name made-up recipients, and no test may send traffic off this host."""
    return create_app(
        Settings(database_url=database_url, pool_min=1, pool_max=4).but(
            auth_failure_delay_max_seconds=0.0, webhook_dispatcher=False
        )
    )


def _own_document() -> dict[str, Any]:
    """`GET /api/openapi.json`, as a client reads it."""

    async def fetch() -> dict[str, Any]:
        app = create_app(Settings(database_url="sqlite:///:memory:"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/api/openapi.json")
        assert response.status_code == 200
        document: dict[str, Any] = response.json()
        return document

    return asyncio.run(fetch())


def _contract(contract_dir: Path, version: str) -> dict[str, Any]:
    """The contract as read, with Patron's base URL and without the header parameters the run
    sends itself."""
    document: dict[str, Any] = copy.deepcopy(
        json.loads((contract_dir / f"sequence-customers-{version}.openapi.json").read_text())
    )
    document["servers"] = [{"url": "/api"}]
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [
                    p
                    for p in operation["parameters"]
                    if not (
                        p.get("in") == "header"
                        and p.get("name", "").lower() in {"authorization", "sequence-version"}
                    )
                ]
    _optional_nullable(document)
    return document


def _optional_nullable(node: Any) -> None:
    """Patron takes `null` for an optional field as the field left out (docs/api.md); the contract
    types such fields without null. Said in the copy, so that sending null is not an error."""
    if isinstance(node, list):
        for item in node:
            _optional_nullable(item)
        return
    if not isinstance(node, dict):
        return
    properties = node.get("properties")
    if isinstance(properties, dict):
        required = set(node.get("required", []))
        for name, schema in list(properties.items()):
            if name in required or not isinstance(schema, dict):
                continue
            if "$ref" in schema:
                properties[name] = {"anyOf": [schema], "nullable": True}
            else:
                schema["nullable"] = True
    for value in node.values():
        _optional_nullable(value)


def _is_envelope(response: Response) -> bool:
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and set(body) == {"error"}
        and isinstance(body["error"], dict)
        and isinstance(body["error"].get("type"), str)
        and isinstance(body["error"].get("message"), str)
    )


def _declared(case: Case[Any], status: int) -> bool:
    responses = case.operation.definition.raw.get("responses", {})
    return str(status) in responses or f"{str(status)[0]}XX" in responses or "default" in responses


@schemathesis.check
def patron_error_answers(ctx: Any, response: Response, case: Case[Any]) -> bool | None:
    """No 5xx; every error is the envelope; against a contract, an error status it does not
    declare must be one of Patron's documented choices."""
    text = response.content.decode(errors="replace")[:500]
    if response.status_code >= 500:
        raise Failure(operation=case.operation.label, title="Server error", message=text)
    if response.status_code < 400:
        return None
    if not _is_envelope(response):
        raise Failure(operation=case.operation.label, title="Error not enveloped", message=text)
    own = case.operation.schema.raw_schema.get("info", {}).get("title") == "Patron"
    status = response.status_code
    if not own and not _declared(case, status) and status not in UNDECLARED_ERRORS:
        raise Failure(operation=case.operation.label, title=f"Undeclared {status}", message=text)
    return True


def _run(document: dict[str, Any], app: Starlette, config: schemathesis.Config) -> int:
    """Every phase over every operation; fails listing every failure found. Returns how many
    scenarios ran."""
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.app = app
    schema.config.update(base_url=BASE_URL)
    problems: list[str] = []
    scenarios = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.failure_info is None:
                        continue
                    failure = node.failure_info.failure
                    if OPEN_HEADERS in failure.message:
                        continue
                    problems.append(
                        f"{event.recorder.label}: {failure.title}: {failure.message}\n"
                        f"    {node.failure_info.code_sample}"
                    )
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: error: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    assert not problems, "\n\n".join(sorted(set(problems)))
    return scenarios


def test_own_document_holds(fuzz_app: Starlette, fuzz_credentials: dict[str, str]) -> None:
    config = _config(own_document=True, headers=fuzz_credentials)
    assert _run(_own_document(), fuzz_app, config) > 0


@pytest.mark.parametrize("version", VERSION_NAMES)
def test_contract_holds(
    version: str, contract_dir: Path, fuzz_app: Starlette, fuzz_credentials: dict[str, str]
) -> None:
    headers = {**fuzz_credentials, "Sequence-Version": version}
    config = _config(own_document=False, headers=headers)
    assert _run(_contract(contract_dir, version), fuzz_app, config) > 0
