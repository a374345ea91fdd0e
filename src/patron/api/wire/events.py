"""Change history on the wire (a Patron extension, the same in every API version)."""

from __future__ import annotations

from typing import Any

import msgspec

from patron.api.wire.common import PaginationMeta, Wire, iso
from patron.domain.events import Event, EventType, ResourceType


class ChangeOut(Wire):
    """One field's change; `from` or `to` is left out when the field was or is absent."""

    path: str
    from_: Any = msgspec.field(default=None, name="from")
    to: Any = None


class ActorOut(Wire):
    client_id: str


class EventOut(Wire, kw_only=True):
    id: str
    sequence: int
    type: EventType
    resource_type: ResourceType
    resource_id: str
    customer_id: str | None = None
    occurred_at: str
    actor: ActorOut
    reason: str | None = None
    resource: dict[str, Any]
    changes: list[ChangeOut]

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(
            id=e.id,
            sequence=e.sequence,
            type=e.type,
            resource_type=e.resource_type,
            resource_id=e.resource_id,
            customer_id=e.customer_id,
            occurred_at=iso(e.occurred_at),
            actor=ActorOut(e.actor),
            reason=e.reason,
            resource=e.resource,
            changes=[ChangeOut(c.path, c.before, c.after) for c in e.changes],
        )


class ListEventsResponse(Wire):
    items: list[EventOut]
    pagination: PaginationMeta
