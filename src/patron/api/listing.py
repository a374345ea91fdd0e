"""List query parameters: filters, sort, limit and cursors, each checked with a clear error."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from patron.api.decoding import text_problem
from patron.api.endpoint import Call
from patron.domain import limits
from patron.domain.aliases import AliasFilters
from patron.domain.enums import BillingStatus, SortOrder
from patron.domain.errors import FieldError, Invalid
from patron.domain.events import EventFilters, EventType, ResourceType
from patron.domain.listing import CustomerFilters, Page, PageRequest, Position, SortKey
from patron.domain.notifications import DeliveryFilters, DeliveryStatus

_SORT_FIELDS = ("createdAt", "legalName")
_PROPERTY_PREFIX = "customProperties."
ALIASES = "aliases"  # the alias list's cursor scope
# ASCII digits only: str.isdigit() also takes "²" and "١٢", which int() refuses or reads oddly.
_DIGITS = re.compile(r"[0-9]{1,9}")


class _Params:
    """Reads query parameters, collecting every error before raising them together."""

    def __init__(self, call: Call) -> None:
        self.query = call.request.query_params
        self.errors: list[FieldError] = []

    def text(self, name: str) -> str | None:
        """The value, or None when absent or empty (an empty filter filters nothing)."""
        values = self.query.getlist(name)
        if len(values) > 1:
            self.errors.append(FieldError(name, "must be given once"))
            return None
        value = values[0] if values else None
        if not value:
            return None
        if len(value) > limits.FILTER_MAX:
            self.errors.append(FieldError(name, f"must be at most {limits.FILTER_MAX} characters"))
            return None
        problem = text_problem(value)
        if problem is not None:
            self.errors.append(FieldError(name, problem))
            return None
        return value

    def choice(self, name: str, choices: dict[str, Any]) -> Any:
        value = self.text(name)
        if value is None:
            return None
        if value not in choices:
            self.errors.append(FieldError(name, f"must be one of {', '.join(choices)}"))
            return None
        return choices[value]

    def flag(self, name: str) -> bool:
        """A boolean parameter, false when absent."""
        return bool(self.choice(name, {"true": True, "false": False}))

    def limit(self) -> int:
        value = self.text("limit")
        if value is None:
            return limits.PAGE_LIMIT_DEFAULT
        low, high = limits.PAGE_LIMIT_MIN, limits.PAGE_LIMIT_MAX
        if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
            self.errors.append(FieldError("limit", f"must be a whole number from {low} to {high}"))
            return limits.PAGE_LIMIT_DEFAULT
        return int(value)

    def sort(self) -> SortKey:
        order = self.choice("sortOrder", {o.value: o for o in SortOrder}) or SortOrder.DESC
        name = self.text("sortBy") or "createdAt"
        if name.startswith(_PROPERTY_PREFIX) and len(name) > len(_PROPERTY_PREFIX):
            return SortKey("customProperties", order, name.removeprefix(_PROPERTY_PREFIX))
        if name not in _SORT_FIELDS:
            self.errors.append(
                FieldError(
                    "sortBy", f"must be one of {', '.join(_SORT_FIELDS)} or customProperties.<key>"
                )
            )
            return SortKey(order=order)
        return SortKey(name, order)

    def raise_errors(self) -> None:
        if self.errors:
            raise Invalid.of(self.errors)


def page_request(
    call: Call, params: _Params, sort: SortKey, *, scope: str = "customers"
) -> PageRequest:
    """`limit`, `after` and `before` for a list in `sort` order; cursors must be `scope`'s own."""
    limit = params.limit()
    after, before = params.text("after"), params.text("before")
    if after and before:
        params.errors.append(FieldError("before", "give either after or before, not both"))
    params.raise_errors()
    codec = call.services.cursors

    def position(cursor: str | None, field: str) -> Position | None:
        if cursor is None:
            return None
        return codec.decode(call.account_id, sort, cursor, field, scope=scope)

    return PageRequest(
        sort=sort, limit=limit, after=position(after, "after"), before=position(before, "before")
    )


def customer_list_request(call: Call) -> tuple[CustomerFilters, PageRequest]:
    params = _Params(call)
    include_archived = params.choice("includeArchived", {"true": True, "false": False})
    filters = CustomerFilters(
        legal_name=params.text("legalName"),
        email=params.text("email"),
        alias=params.text("alias"),
        label=params.text("label"),
        include_archived=bool(include_archived),
        billing_status=params.choice("billingStatus", {s.value: s for s in BillingStatus}),
    )
    return filters, page_request(call, params, params.sort())


def alias_list_request(call: Call) -> tuple[AliasFilters, PageRequest]:
    """Aliases list newest first; there is no sortBy."""
    params = _Params(call)
    filters = AliasFilters(value=params.text("value"))
    return filters, page_request(call, params, SortKey(), scope=ALIASES)


def page_cursors(
    call: Call, page: Page[Any], *, scope: str = "customers"
) -> tuple[str | None, str | None]:
    """The page's `after` and `before` cursors, each present only when rows lie that way."""

    def cursor(position: Position | None) -> str | None:
        if position is None:
            return None
        return call.services.cursors.encode(call.account_id, page.sort, position, scope=scope)

    return cursor(page.next), cursor(page.previous)


def contact_list_request(call: Call) -> bool:
    """Whether archived contacts are asked for too."""
    params = _Params(call)
    include_archived = params.flag("includeArchived")
    params.raise_errors()
    return include_archived


# -- the change history (Patron extension) -----------------------------------------------------

EVENTS = "events"  # the event lists' cursor scope


def _since(params: _Params) -> int | None:
    value = params.text("since")
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        params.errors.append(
            FieldError("since", "must be an ISO 8601 time with a zone, e.g. 2024-07-30T12:00:00Z")
        )
        return None
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def event_list_request(call: Call) -> tuple[EventFilters, PageRequest]:
    """`type` (one or several, comma-separated), `resourceType`, `resourceId`, `since`,
    `sortOrder` (DESC, newest first, by default); the order is the order events were recorded."""
    params = _Params(call)
    types: set[EventType] = set()
    for name in (params.text("type") or "").split(","):
        if name.strip() in EventType.__members__:
            types.add(EventType(name.strip()))
        elif name.strip():
            params.errors.append(FieldError("type", f"{name.strip()!r} is not an event type"))
    order = params.choice("sortOrder", {o.value: o for o in SortOrder}) or SortOrder.DESC
    filters = EventFilters(
        types=frozenset(types),
        resource_type=params.choice("resourceType", {r.value: r for r in ResourceType}),
        resource_id=params.text("resourceId"),
        since=_since(params),
        order=order,
    )
    return filters, page_request(call, params, SortKey("sequence", order), scope=EVENTS)


# -- webhook deliveries (Patron extension) -----------------------------------------------------

DELIVERIES = "deliveries"  # the delivery list's cursor scope


def delivery_list_request(call: Call) -> tuple[DeliveryFilters, PageRequest]:
    """`status`, `policyId`, `eventId`, `resourceId`, `notificationType`, `sortOrder` (DESC,
    newest first, by default), by creation."""
    params = _Params(call)
    order = params.choice("sortOrder", {o.value: o for o in SortOrder}) or SortOrder.DESC
    filters = DeliveryFilters(
        status=params.choice("status", {s.value: s for s in DeliveryStatus}),
        policy_id=params.text("policyId"),
        event_id=params.text("eventId"),
        resource_id=params.text("resourceId"),
        notification_type=params.text("notificationType"),
    )
    return filters, page_request(call, params, SortKey("createdAt", order), scope=DELIVERIES)
