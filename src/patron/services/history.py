"""Recording changes: every write appends its events through `History`, in its own transaction.

The resource an event carries is rendered by a `Snapshots` the composition root hands in (the API
layer's 2024-07-30 shape), so services stay free of wire formats and the history shows resources
the way clients know them. An event is recorded only when the rendered resource changed: a write
that changes nothing (a repeated archive, a PUT of what is there) leaves no event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from patron.domain.aliases import Alias
from patron.domain.customers import Contact, Customer, Organization
from patron.domain.events import Event, EventType, diff, every_field
from patron.domain.ids import new_id
from patron.domain.payment_settings import PaymentSettings
from patron.domain.writes import Actor
from patron.storage.unit import Unit

Snapshot = dict[str, Any]
R = TypeVar("R")


class Snapshots(Protocol):
    """Renders each resource as an event carries it (a JSON object)."""

    def customer(self, c: Customer) -> Snapshot: ...

    def contact(self, c: Contact) -> Snapshot: ...

    def alias(self, a: Alias) -> Snapshot: ...

    def organization(self, o: Organization) -> Snapshot: ...

    def payment_settings(self, s: PaymentSettings) -> Snapshot: ...


class History:
    def __init__(self, snapshots: Snapshots) -> None:
        self.snapshots = snapshots

    async def record(
        self,
        unit: Unit,
        actor: Actor,
        kind: EventType,
        resource_id: str,
        *,
        customer_id: str | None,
        before: Snapshot | None,
        after: Snapshot,
        at: int,
        gone: bool = False,
    ) -> bool:
        """Append the event unless nothing changed; answers whether it did. `before` None: the
        resource is new (every field is a change). `gone`: `after` is the last state of a
        resource that no longer exists (every field changes to absent)."""
        changes = every_field(after, gone=gone) if gone or before is None else diff(before, after)
        if not changes:
            return False
        event = Event(
            id=new_id(),
            sequence=0,
            account_id=unit.account_id,
            type=kind,
            resource_type=kind.resource_type,
            resource_id=resource_id,
            customer_id=customer_id,
            occurred_at=at,
            actor=actor.client_id,
            reason=actor.reason,
            resource=after,
            changes=changes,
        )
        # Written when the unit ends, with the unit's other events and the webhook deliveries
        # they make, which commit with them (docs/webhooks.md).
        unit.events.add(event)
        return True

    async def _resource(
        self,
        unit: Unit,
        actor: Actor,
        kind: EventType,
        render: Callable[[R], Snapshot],
        before: R | None,
        after: R,
        *,
        resource_id: str,
        customer_id: str,
        at: int,
        gone: bool = False,
    ) -> bool:
        return await self.record(
            unit,
            actor,
            kind,
            resource_id,
            customer_id=customer_id,
            before=None if before is None else render(before),
            after=render(after),
            at=at,
            gone=gone,
        )

    def customer_changed(self, before: Customer, after: Customer) -> bool:
        return self.snapshots.customer(before) != self.snapshots.customer(after)

    async def customer(
        self, unit: Unit, actor: Actor, kind: EventType, before: Customer | None, after: Customer
    ) -> bool:
        return await self._resource(
            unit, actor, kind, self.snapshots.customer, before, after,
            resource_id=after.id, customer_id=after.id, at=after.updated_at,
        )  # fmt: skip

    async def contact(
        self,
        unit: Unit,
        actor: Actor,
        kind: EventType,
        customer_id: str,
        before: Contact | None,
        after: Contact,
    ) -> bool:
        return await self._resource(
            unit, actor, kind, self.snapshots.contact, before, after,
            resource_id=after.id, customer_id=customer_id, at=after.updated_at,
        )  # fmt: skip

    async def alias(
        self, unit: Unit, actor: Actor, kind: EventType, before: Alias | None, after: Alias, at: int
    ) -> bool:
        return await self._resource(
            unit, actor, kind, self.snapshots.alias, before, after,
            resource_id=after.id, customer_id=after.customer_id, at=at,
        )  # fmt: skip

    async def organization(
        self,
        unit: Unit,
        actor: Actor,
        kind: EventType,
        before: Organization | None,
        after: Organization,
        at: int,
    ) -> bool:
        return await self._resource(
            unit, actor, kind, self.snapshots.organization, before, after,
            resource_id=after.id, customer_id=after.owner.id, at=at,
        )  # fmt: skip

    async def payment_settings(
        self,
        unit: Unit,
        actor: Actor,
        kind: EventType,
        before: PaymentSettings | None,
        after: PaymentSettings,
        at: int,
        *,
        gone: bool = False,
    ) -> bool:
        return await self._resource(
            unit, actor, kind, self.snapshots.payment_settings, before, after,
            resource_id=after.id, customer_id=after.customer_id, at=at, gone=gone,
        )  # fmt: skip

    async def contacts_replaced(
        self,
        unit: Unit,
        actor: Actor,
        customer_id: str,
        before: Sequence[Contact],
        after: Sequence[Contact],
    ) -> None:
        """The contact events of a customer create or update: `before` are the live contacts
        before it, `after` every contact after it (archived ones too)."""
        was = {c.id: c for c in before}
        for c in after:
            old = was.get(c.id)
            if old is None:
                if c.archived_at is None:
                    await self.contact(unit, actor, EventType.CONTACT_CREATED, customer_id, None, c)
            elif c.archived_at is not None:
                await self.contact(unit, actor, EventType.CONTACT_ARCHIVED, customer_id, old, c)
            else:
                await self.contact(unit, actor, EventType.CONTACT_UPDATED, customer_id, old, c)

    async def aliases_replaced(
        self, unit: Unit, actor: Actor, before: Sequence[Alias], after: Sequence[Alias], at: int
    ) -> None:
        """The alias events of a customer create or update: `before` and `after` are the live
        aliases before and after it."""
        now = {a.id for a in after}
        for a in before:
            if a.id not in now:
                gone = await unit.aliases.get(a.id)
                assert gone is not None  # soft-deleted, never removed
                await self.alias(unit, actor, EventType.ALIAS_DELETED, a, gone, at)
        was = {a.id for a in before}
        for a in after:
            if a.id not in was:
                await self.alias(unit, actor, EventType.ALIAS_CREATED, None, a, at)
