"""Reading the change history in tests."""

from __future__ import annotations

from typing import Any

import httpx


async def events(client: httpx.AsyncClient, path: str = "/events", **params: Any) -> list[Any]:
    """Every event the list answers, oldest first (one page of up to 100)."""
    response = await client.get(path, params={"sortOrder": "ASC", "limit": 100, **params})
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def types(client: httpx.AsyncClient, path: str = "/events", **params: Any) -> list[str]:
    return [e["type"] for e in await events(client, path, **params)]
