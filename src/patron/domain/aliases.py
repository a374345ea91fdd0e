"""Customer aliases: alternative keys (CRM ids, ids in an old system) a customer can be found by."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Alias:
    """One alias. A deleted alias (`deleted_at` set) is a tombstone: its value is free again."""

    id: str
    account_id: str
    customer_id: str
    value: str
    created_at: int
    label: str | None = None
    deleted_at: int | None = None
    revision: int = 0  # bumped by every change: what its ETag names


@dataclass(frozen=True, slots=True)
class AliasFilters:
    value: str | None = None


@dataclass(frozen=True, slots=True)
class AliasDraft:
    customer_id: str
    value: str
    label: str | None = None
