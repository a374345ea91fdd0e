"""Accounts own every record; credentials (API clients) authenticate as one account."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Credential:
    client_id: str
    account_id: str
    account_name: str
    created_at: int
    api_version: str | None = None  # the version a client is pinned to, if any
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A new credential with its secret: the only moment the secret exists outside its hash."""

    credential: Credential
    client_secret: str
