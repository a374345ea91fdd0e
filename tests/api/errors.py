"""Reading error responses in tests."""

from __future__ import annotations

import httpx

# A well-formed id that no record has.
MISSING_ID = "01890000-0000-7000-8000-000000000000"


def field_names(response: httpx.Response) -> set[str]:
    """The fields a 4xx names, after checking the body is the bare error envelope."""
    body = response.json()
    assert set(body) == {"error"}, body
    return {e["field"] for e in body["error"].get("errors", [])}


def error_type(response: httpx.Response) -> str:
    kind: str = response.json()["error"]["type"]
    return kind
