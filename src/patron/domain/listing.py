"""Listing with keyset pagination: what a list asks for and what a page holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from patron.domain.enums import BillingStatus, SortOrder

T = TypeVar("T")

SortValue = int | str


@dataclass(frozen=True, slots=True)
class Position:
    """Where a row sits in a sorted list: its sort value, then its id to break ties."""

    value: SortValue
    id: str


@dataclass(frozen=True, slots=True)
class SortKey:
    """`field` is `createdAt`, `legalName`, or `customProperties` with `property_key` set."""

    field: str = "createdAt"
    order: SortOrder = SortOrder.DESC
    property_key: str | None = None

    @property
    def name(self) -> str:
        return f"customProperties.{self.property_key}" if self.property_key else self.field


@dataclass(frozen=True, slots=True)
class CustomerFilters:
    legal_name: str | None = None
    email: str | None = None
    alias: str | None = None
    label: str | None = None
    include_archived: bool = False
    billing_status: BillingStatus | None = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Rows strictly after `after`, or strictly before `before`, in `sort` order; up to `limit`."""

    sort: SortKey
    limit: int
    after: Position | None = None
    before: Position | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: Position | None = None  # set when rows follow the page
    previous: Position | None = None  # set when rows precede the page
    total: int = 0
    sort: SortKey = field(default_factory=SortKey)
