"""Customer use cases: create, read, list, full update, archive, restore."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from patron.domain.aliases import Alias
from patron.domain.customers import (
    Contact,
    Customer,
    CustomerDraft,
    CustomerWrite,
    IntegrationId,
    check_draft,
    draft_of,
)
from patron.domain.enums import BillingStatus, IntegrationService, PushIntegration
from patron.domain.errors import ArchivedResource, Invalid, NotFound
from patron.domain.events import EventType
from patron.domain.ids import new_id, now_micros
from patron.domain.listing import CustomerFilters, Page, PageRequest, Position
from patron.domain.writes import Actor, IfMatch, require
from patron.services.history import History
from patron.services.organizations import Joined, join_parent, record_joined
from patron.services.paging import window
from patron.storage.customers import customer_from_row
from patron.storage.database import Row
from patron.storage.unit import Store, Unit


def _not_found(customer_id: str) -> NotFound:
    return NotFound(f"Customer {customer_id} not found")


async def assemble(unit: Unit, rows: Sequence[Row]) -> list[Customer]:
    """Customers from their rows, with live contacts, integration ids, organizations, properties."""
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    contacts = await unit.contacts.of_customers(ids)
    integration_ids = await unit.customers.integration_ids(ids)
    organizations = await unit.organizations.of_customers(ids)
    properties = await unit.customers.properties(ids)
    return [
        customer_from_row(
            r,
            contacts=contacts[r["id"]],
            integration_ids=integration_ids[r["id"]],
            organizations=organizations[r["id"]],
            custom_properties=properties[r["id"]],
        )
        for r in rows
    ]


async def load(unit: Unit, customer_id: str) -> Customer:
    found = await unit.customers.whole(customer_id)
    if found is None:
        raise _not_found(customer_id)
    row, parts = found
    organizations = (
        (await unit.organizations.of_customers([customer_id]))[customer_id]
        if parts.in_organization
        else []
    )
    return customer_from_row(
        row,
        contacts=parts.contacts,
        integration_ids=parts.integration_ids,
        organizations=organizations,
        custom_properties=parts.custom_properties,
    )


def with_pushes(
    integration_ids: list[IntegrationId], pushes: Sequence[PushIntegration] | None
) -> list[IntegrationId]:
    """Asked-for pushes are recorded as pending ids (empty external id) until an integration
    syncs them; a service that already has an id is left as it is. Patron calls no integration."""
    have = {x.service for x in integration_ids}
    pending = [
        IntegrationId(service=service, external_id="", is_pending=True)
        for service in dict.fromkeys(IntegrationService(p.value) for p in pushes or ())
        if service not in have
    ]
    return integration_ids + pending


class CustomerService:
    def __init__(self, store: Store, history: History) -> None:
        self._store = store
        self._history = history

    async def get(self, account_id: str, customer_id: str) -> Customer:
        async with self._store.reading(account_id) as unit:
            return await load(unit, customer_id)

    async def create(self, account_id: str, write: CustomerWrite, *, actor: Actor) -> Customer:
        draft = _checked(draft_of(write, None))
        customer_id, at = new_id(), now_micros()
        async with self._store.writing(account_id) as unit:
            created, joined = await self._insert(unit, customer_id, draft, at)
            await self._history.customer(unit, actor, EventType.CUSTOMER_CREATED, None, created)
            # A new customer's contacts are all live, and it has aliases only if the draft gave
            # some: no need to read either back (round trips are what a create costs).
            await self._record_parts(
                unit,
                actor,
                created,
                [],
                [],
                at,
                every_contact=created.contacts,
                aliases=None if draft.aliases else [],
            )
            await record_joined(unit, self._history, actor, joined, at)
            return created

    async def _insert(
        self, unit: Unit, customer_id: str, draft: CustomerDraft, at: int
    ) -> tuple[Customer, Joined | None]:
        """Writes a new customer and its parts; answers it as stored. Built from what was
        written rather than read back, so that the customer's rows, its events and their
        webhook deliveries go out together when the unit ends (one statement on PostgreSQL);
        read back only when it joined its parent's organization. tests/api/test_customers.py
        checks that the answer is what a GET gives."""
        customer = await unit.customers.insert(customer_id, draft, at)
        contacts = await unit.contacts.insert(customer_id, draft.contacts, at)
        if draft.aliases is not None:
            await unit.aliases.replace(customer_id, draft.aliases, at)
        integration_ids = with_pushes(
            [IntegrationId(x.service, x.external_id) for x in draft.integration_ids or ()],
            draft.push_to_integrations,
        )
        await unit.customers.replace_integration_ids(customer_id, integration_ids, new=True)
        properties = draft.custom_properties or {}
        await unit.customers.replace_properties(customer_id, properties, new=True)
        if draft.parent_id is not None:
            joined = await join_parent(unit, customer_id, draft.parent_id, at)
            return await load(unit, customer_id), joined
        # `insert` made the customer with new, empty collections, and nothing else holds it yet:
        # filled in place, not rebuilt (`dataclasses.replace` of its 19 fields was ~3 % of a
        # create's instructions).
        customer.contacts.extend(contacts)
        customer.integration_ids.extend(integration_ids)
        customer.custom_properties.update(sorted(properties.items()))
        return customer, None

    async def update(
        self,
        account_id: str,
        customer_id: str,
        write: CustomerWrite,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Customer:
        """A full replacement of the customer's own fields and contacts. Collections the draft
        leaves out (aliases, integration ids, custom properties, organizations) stay as they are.
        A write that depends on the current customer sees it under the row lock."""
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            await self._lock(unit, customer_id, if_match)
            current = await load(unit, customer_id)
            if current.archived_at is not None:
                raise ArchivedResource(
                    f"Customer {customer_id} is archived; archived customers cannot be updated"
                )
            draft = _checked(draft_of(write, current))
            # A draft without aliases leaves them as they are (alias writes take this customer's
            # row lock, held here): no alias events, nothing to read before or after.
            aliases = None if draft.aliases is None else await unit.aliases.of_customer(customer_id)
            await unit.customers.update(customer_id, draft, at)
            joined = await self._write_parts(
                unit,
                customer_id,
                draft,
                at,
                integration_ids=current.integration_ids,
                custom_properties=current.custom_properties,
            )
            updated = await load(unit, customer_id)
            if self._history.customer_changed(current, updated):
                updated = await self._touch(unit, updated, renamed=current.legal_name)
                await self._history.customer(
                    unit, actor, EventType.CUSTOMER_UPDATED, current, updated
                )
            await self._record_parts(
                unit,
                actor,
                updated,
                current.contacts,
                aliases or [],
                at,
                aliases=[] if aliases is None else None,
            )
            await record_joined(unit, self._history, actor, joined, at)
            return updated

    async def archive(
        self,
        account_id: str,
        customer_id: str,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Customer:
        """Archives once: archiving an archived customer answers it as it is (and records no
        event)."""
        return await self._set_archived(account_id, customer_id, True, actor, if_match)

    async def restore(
        self,
        account_id: str,
        customer_id: str,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Customer:
        """Clears `archivedAt`; restoring a live customer answers it as it is. The customer's
        aliases, contacts and organizations were kept while it was archived (its aliases stayed
        reserved), so it comes back exactly as it was: nothing can have been taken meanwhile."""
        return await self._set_archived(account_id, customer_id, False, actor, if_match)

    async def _set_archived(
        self,
        account_id: str,
        customer_id: str,
        archived: bool,
        actor: Actor,
        if_match: IfMatch | None,
    ) -> Customer:
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            await self._lock(unit, customer_id, if_match)
            current = await load(unit, customer_id)
            if (current.archived_at is not None) == archived:
                return current
            if archived:
                await unit.customers.archive(customer_id, at)
            else:
                await unit.customers.restore(customer_id, at)
            # Only these three fields changed (under the row lock): not read back.
            changed = dataclasses.replace(
                current,
                archived_at=at if archived else None,
                updated_at=at,
                revision=current.revision + 1,
            )
            kind = EventType.CUSTOMER_ARCHIVED if archived else EventType.CUSTOMER_RESTORED
            await self._history.customer(unit, actor, kind, current, changed)
            return changed

    async def _lock(self, unit: Unit, customer_id: str, if_match: IfMatch | None) -> None:
        locked = await unit.customers.lock(customer_id)
        if locked is None:
            raise _not_found(customer_id)
        require(if_match, locked["revision"], f"Customer {customer_id}")

    async def _touch(self, unit: Unit, customer: Customer, *, renamed: str) -> Customer:
        """Bump the revision of a customer whose responses changed. A new legal name shows in
        its organizations too, so they and every customer in them are bumped as well."""
        touched = {customer.id}
        if customer.legal_name != renamed:
            org_ids, customer_ids = await unit.organizations.neighbours(customer.id)
            await unit.organizations.touch(org_ids)
            touched.update(customer_ids)
        await unit.customers.touch(sorted(touched))
        return dataclasses.replace(customer, revision=customer.revision + 1)

    async def _record_parts(
        self,
        unit: Unit,
        actor: Actor,
        customer: Customer,
        contacts_before: list[Contact],
        aliases_before: list[Alias],
        at: int,
        *,
        every_contact: list[Contact] | None = None,
        aliases: list[Alias] | None = None,
    ) -> None:
        """The events of the contacts and aliases a create or update wrote. `every_contact` (the
        customer's contacts, archived ones too) and `aliases` (its live aliases) are read when
        not given."""
        if every_contact is None:
            every_contact = (
                await unit.contacts.of_customers([customer.id], include_archived=True)
            )[customer.id]
        await self._history.contacts_replaced(
            unit, actor, customer.id, contacts_before, every_contact
        )
        if aliases is None:
            aliases = await unit.aliases.of_customer(customer.id)
        await self._history.aliases_replaced(unit, actor, aliases_before, aliases, at)

    async def page(
        self, account_id: str, filters: CustomerFilters, request: PageRequest
    ) -> Page[Customer]:
        if filters.billing_status is BillingStatus.ACTIVE:
            # Patron keeps no billing schedules, so no customer has a current one.
            return Page(items=[], total=0, sort=request.sort)
        async with self._store.reading(account_id) as unit:
            repo = unit.customers

            async def fetch(
                forward: bool, start: Position | None, limit: int
            ) -> list[tuple[Position, Row]]:
                return await repo.page(
                    filters, request.sort, forward=forward, start=start, limit=limit
                )

            found = await window(fetch, request)
            items = await assemble(unit, found.rows)
            total = await repo.count(filters)
        return Page(
            items=items, next=found.next, previous=found.previous, total=total, sort=request.sort
        )

    async def property_keys(self, account_id: str) -> list[str]:
        async with self._store.reading(account_id) as unit:
            return await unit.customers.property_keys()

    async def _write_parts(
        self,
        unit: Unit,
        customer_id: str,
        draft: CustomerDraft,
        at: int,
        *,
        integration_ids: list[IntegrationId],
        custom_properties: dict[str, str],
    ) -> Joined | None:
        """The parts of an existing customer (a new one's: `_insert`). `integration_ids` and
        `custom_properties` are the customer's before the write, read under its row lock."""
        await unit.contacts.replace(customer_id, draft.contacts, at)
        if draft.aliases is not None:
            await unit.aliases.replace(customer_id, draft.aliases, at)
        if draft.integration_ids is not None:
            written = [
                IntegrationId(service=x.service, external_id=x.external_id)
                for x in draft.integration_ids
            ]
            # A pending push is Patron's note, not an id the client manages: it stays until an
            # id for its service is written.
            services = {x.service for x in written}
            integration_ids = written + [
                x for x in integration_ids if x.is_pending and x.service not in services
            ]
        if draft.integration_ids is not None or draft.push_to_integrations:
            await unit.customers.replace_integration_ids(
                customer_id, with_pushes(integration_ids, draft.push_to_integrations)
            )
        # Equal properties are not deleted and written again (two statements, and the count
        # and document triggers of both).
        if draft.custom_properties is not None and draft.custom_properties != custom_properties:
            await unit.customers.replace_properties(customer_id, draft.custom_properties)
        if draft.parent_id is not None:
            return await join_parent(unit, customer_id, draft.parent_id, at)
        return None


def _checked(draft: CustomerDraft) -> CustomerDraft:
    errors = check_draft(draft)
    if errors:
        raise Invalid.of(errors)
    return draft
