"""Idempotency keys: the rules a key obeys and what a keyed request is compared by.

A key names one request of one account. The first request with a key runs; a repeat of the same
request (same method, target and body) is answered with the first one's stored response; any other
request with that key is refused until the key expires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from patron.domain.errors import Conflict, FieldError, Invalid

KEY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def check_key(key: str) -> None:
    """Refuse an empty key or one over 255 characters (the contract's limit), naming the header."""
    if not key.strip():
        raise Invalid.of([FieldError(KEY_HEADER, "must not be empty")])
    if len(key) > MAX_KEY_LENGTH:
        raise Invalid.of(
            [FieldError(KEY_HEADER, f"must be at most {MAX_KEY_LENGTH} characters, not {len(key)}")]
        )


@dataclass(frozen=True, slots=True)
class RequestPrint:
    """What two requests with one key must share to count as the same request."""

    method: str
    target: str
    digest: str

    @classmethod
    def of(cls, method: str, target: str, body: bytes) -> RequestPrint:
        """`digest` is a SHA-256 over method, target and the raw body: the body is compared byte
        for byte, so a client retries by resending exactly what it sent."""
        h = hashlib.sha256()
        for part in (method.encode(), target.encode()):
            h.update(len(part).to_bytes(4, "big"))  # length-prefixed: no two splits hash alike
            h.update(part)
        h.update(body)
        return cls(method, target, h.hexdigest())


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer to a keyed request, replayed to every repeat of it."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    version: str


class IdempotencyKeyReused(Conflict):
    """The key was first used for a different request (another target or another body)."""

    type = "IdempotencyKeyReused"


class IdempotencyKeyInUse(Conflict):
    """A request with the key is still running and did not finish within the wait."""

    type = "IdempotencyKeyInUse"
    retry_after = 1  # seconds


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as stored: the request it was first used for and, once that finished, its answer."""

    request: RequestPrint
    response: StoredResponse | None
