"""Typed factories for request bodies and records made through the API."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_counter = itertools.count(1)


def address(**overrides: Any) -> dict[str, Any]:
    return {
        "line1": "7500 Bluewater Rd NW",
        "town": "Albuquerque",
        "state": "NM",
        "postcode": "87121",
        "country": "US",
        **overrides,
    }


def contact(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    return {
        "name": f"Contact {n}",
        "email": f"contact{n}@example.com",
        "billingPreference": "PRIMARY",
        **overrides,
    }


def customer_body(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    body: dict[str, Any] = {
        "legalName": f"Customer {n} Ltd",
        "address": address(),
        "taxStatus": "TAXED",
        "contacts": [contact()],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def make_customer(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/customers", json=customer_body(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
