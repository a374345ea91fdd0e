"""Concurrent writes through the app (`asyncio.gather`): on PostgreSQL they run in parallel
transactions on several connections, on SQLite they interleave at every await. Whatever the
interleaving, each write applies whole or not at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from patron.api.state import Services
from patron.app import build_services, create_app
from patron.config import Settings
from tests.conftest import auth_header
from tests.factories import address, contact, customer_body, make_customer

WRITERS = 12


@pytest.fixture
async def wide(settings: Settings) -> AsyncIterator[Services]:
    """Services with a pool as wide as the writers, so PostgreSQL runs them all at once."""
    built, store = await build_services(
        settings.but(pool_max=WRITERS),
        password_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    try:
        yield built
    finally:
        await store.close()


@pytest.fixture
async def racer(wide: Services) -> AsyncIterator[httpx.AsyncClient]:
    issued = await wide.credentials.create(f"races-{uuid.uuid4().hex[:12]}")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(wide.settings, services=wide)),
        base_url="http://testserver/api",
        headers=auth_header(issued),
        timeout=30,
    ) as client:
        yield client


def marked(marker: str) -> dict[str, Any]:
    """A full customer body whose every field carries `marker`."""
    return customer_body(
        legalName=f"{marker} Ltd",
        label=f"label {marker}",
        url=f"https://{marker}.example.com",
        address=address(line1=f"{marker} Street", town=f"{marker} Town"),
        customerAliases=[f"alias-{marker}"],
        customProperties={"marker": marker, f"only-{marker}": "1"},
        contacts=[
            contact(
                name=f"{marker} A", email=f"a.{marker}@example.com", billingPreference="PRIMARY"
            ),
            contact(
                name=f"{marker} B", email=f"b.{marker}@example.com", billingPreference="STANDARD"
            ),
        ],
    )


def markers_in(customer: dict[str, Any]) -> set[str]:
    """The markers found in every field a PUT wrote."""
    return {
        customer["legalName"].removesuffix(" Ltd"),
        customer["label"].removeprefix("label "),
        customer["url"].removeprefix("https://").removesuffix(".example.com"),
        customer["address"]["line1"].removesuffix(" Street"),
        customer["address"]["town"].removesuffix(" Town"),
        customer["customProperties"]["marker"],
        *(k.removeprefix("only-") for k in customer["customProperties"] if k != "marker"),
        *(c["name"].rsplit(" ", 1)[0] for c in customer["contacts"]),
        *(c["email"].split("@")[0].split(".", 1)[1] for c in customer["contacts"]),
    }


class TestParallelUpdates:
    async def test_leave_exactly_one_submitted_version(self, racer: httpx.AsyncClient) -> None:
        created = await make_customer(racer, **marked("m-start"))
        markers = [f"m{i:02d}" for i in range(WRITERS)]
        responses = await asyncio.gather(
            *(racer.put(f"/customers/{created['id']}", json=marked(m)) for m in markers)
        )
        assert [r.status_code for r in responses] == [200] * WRITERS, [r.text for r in responses]
        final = (await racer.get(f"/customers/{created['id']}")).json()
        (winner,) = markers_in(final)
        assert winner in markers
        assert len(final["contacts"]) == 2
        assert [c["billingPreference"] for c in final["contacts"]].count("PRIMARY") == 1
        assert len(final["customProperties"]) == 2
        # Aliases too: only the winner's is live.
        for m in ["m-start", *markers]:
            found = (await racer.get("/customers", params={"alias": f"alias-{m}"})).json()
            assert [c["id"] for c in found["items"]] == ([created["id"]] if m == winner else [])
        # Each answer was a whole version too.
        for response in responses:
            assert len(markers_in(response.json())) == 1


class TestArchiveRacingUpdate:
    async def test_ends_consistent(self, racer: httpx.AsyncClient) -> None:
        outcomes = set()
        for round_ in range(8):
            created = await make_customer(racer, **marked(f"orig{round_}"))
            path = f"/customers/{created['id']}"
            update = racer.put(path, json=marked(f"new{round_}"))
            archive = racer.post(f"{path}/archive")
            pair = [update, archive] if round_ % 2 else [archive, update]
            first, second = await asyncio.gather(*pair)
            updated, archived = (first, second) if round_ % 2 else (second, first)
            assert archived.status_code == 200, archived.text
            final = (await racer.get(path)).json()
            assert final["archivedAt"]
            if updated.status_code == 200:
                # The update won: then it was archived with the update's values.
                assert markers_in(final) == {f"new{round_}"}
                outcomes.add("update first")
            else:
                assert updated.status_code == 400, updated.text
                assert updated.json()["error"]["type"] == "ArchivedResource"
                assert markers_in(final) == {f"orig{round_}"}
                outcomes.add("archive first")
            assert archived.json()["archivedAt"] == final["archivedAt"]
        assert outcomes  # at least one ordering seen; both are consistent


class TestParallelCreatesWithOneAlias:
    async def test_make_one_customer(self, racer: httpx.AsyncClient) -> None:
        bodies = [
            marked(f"c{i:02d}") | {"customerAliases": ["shared-alias"]} for i in range(WRITERS)
        ]
        responses = await asyncio.gather(*(racer.post("/customers", json=b) for b in bodies))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * (WRITERS - 1), [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert response.json()["error"]["type"] == "Conflict"
        (winner,) = [r.json() for r in responses if r.status_code == 201]
        found = (await racer.get("/customers", params={"alias": "shared-alias"})).json()
        assert [c["id"] for c in found["items"]] == [winner["id"]]
        everyone = (await racer.get("/customers", params={"includeArchived": "true"})).json()
        # The losers left nothing behind: no customer, contact or property of theirs.
        assert [c["id"] for c in everyone["items"]] == [winner["id"]]
        for i in range(WRITERS):
            by_email = await racer.get("/customers", params={"email": f"a.c{i:02d}@example.com"})
            assert len(by_email.json()["items"]) == (
                1 if markers_in(winner) == {f"c{i:02d}"} else 0
            )
