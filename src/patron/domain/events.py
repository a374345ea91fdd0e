"""The change history: one event per change of a resource, with a field-level diff.

An event's `resource` is the resource as the change left it, as a JSON value (the services are
handed a renderer for that; the domain only compares JSON values).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from patron.domain.enums import SortOrder


class ResourceType(StrEnum):
    CUSTOMER = "CUSTOMER"
    CONTACT = "CONTACT"
    ALIAS = "ALIAS"
    ORGANIZATION = "ORGANIZATION"
    PAYMENT_SETTINGS = "PAYMENT_SETTINGS"


class EventType(StrEnum):
    CUSTOMER_CREATED = "CUSTOMER_CREATED"
    CUSTOMER_UPDATED = "CUSTOMER_UPDATED"
    CUSTOMER_ARCHIVED = "CUSTOMER_ARCHIVED"
    CUSTOMER_RESTORED = "CUSTOMER_RESTORED"
    CONTACT_CREATED = "CONTACT_CREATED"
    CONTACT_UPDATED = "CONTACT_UPDATED"
    CONTACT_ARCHIVED = "CONTACT_ARCHIVED"
    CONTACT_RESTORED = "CONTACT_RESTORED"
    ALIAS_CREATED = "ALIAS_CREATED"
    ALIAS_UPDATED = "ALIAS_UPDATED"
    ALIAS_DELETED = "ALIAS_DELETED"
    ORGANIZATION_CREATED = "ORGANIZATION_CREATED"
    ORGANIZATION_MEMBERS_ADDED = "ORGANIZATION_MEMBERS_ADDED"
    ORGANIZATION_MEMBERS_REPLACED = "ORGANIZATION_MEMBERS_REPLACED"
    PAYMENT_SETTINGS_CREATED = "PAYMENT_SETTINGS_CREATED"
    PAYMENT_SETTINGS_UPDATED = "PAYMENT_SETTINGS_UPDATED"
    PAYMENT_SETTINGS_DELETED = "PAYMENT_SETTINGS_DELETED"

    @property
    def resource_type(self) -> ResourceType:
        return _RESOURCE_TYPES[self]


# Each type's resource, by its name's prefix; looked up once (every write records events).
_RESOURCE_TYPES = {
    t: next(r for r in ResourceType if t.value.startswith(r.value + "_")) for t in EventType
}


class Change(NamedTuple):
    """One field's change. `path` is dotted (`address.town`); list items with ids are named by
    id (`contacts[id=0190…].email`), other lists change as a whole. None: the field was (or is
    now) absent.

    A tuple rather than a frozen dataclass: a create makes one for every field of each new
    resource (23 for a customer with two contacts), and a tuple is made in half the time."""

    path: str
    before: Any
    after: Any


class Event(NamedTuple):
    """One change of one resource. A tuple, as `Change` is: every write makes one per resource
    it changes, and a tuple of twelve is made in half a frozen dataclass's instructions."""

    id: str
    sequence: int  # the database-wide order events were appended in (0 until stored)
    account_id: str
    type: EventType
    resource_type: ResourceType
    resource_id: str
    customer_id: str | None
    occurred_at: int
    actor: str
    reason: str | None
    resource: dict[str, Any]
    changes: list[Change]


@dataclass(frozen=True, slots=True)
class EventFilters:
    types: frozenset[EventType] = frozenset()  # empty: every type
    resource_type: ResourceType | None = None
    resource_id: str | None = None
    customer_id: str | None = None
    since: int | None = None  # occurred at or after, microseconds
    order: SortOrder = SortOrder.DESC


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of objects with distinct ids, keyed by id; None for any other list."""
    if not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
        return None
    keyed = {i["id"]: i for i in items}
    return keyed if len(keyed) == len(items) else None


def diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """Field-level changes from `before` to `after` (JSON values; None: absent)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in [*before, *(k for k in after if k not in before)]:
            changes += diff(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return changes
    if isinstance(before, list) and isinstance(after, list) and (before or after):
        old, new = _keyed(before), _keyed(after)
        if old is not None and new is not None:
            changes = []
            for key in [*old, *(k for k in new if k not in old)]:
                changes += diff(old.get(key), new.get(key), f"{path}[id={key}]")
            if not changes:  # same items, new order
                changes.append(Change(path, before, after))
            return changes
    return [Change(path, before, after)]


def every_field(resource: dict[str, Any], *, gone: bool = False) -> list[Change]:
    """`diff({}, resource)`, or with `gone` `diff(resource, {})`, for the cost of one pass: a
    resource that appears or disappears changes in each of its fields, as a whole."""
    if gone:
        return [Change(key, value, None) for key, value in resource.items() if value is not None]
    return [Change(key, None, value) for key, value in resource.items() if value is not None]
