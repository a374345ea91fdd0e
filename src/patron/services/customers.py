"""Customer use cases: create, read, list, full update, archive."""

from __future__ import annotations

from collections.abc import Sequence

from patron.domain.customers import (
    Customer,
    CustomerDraft,
    CustomerWrite,
    IntegrationId,
    check_draft,
    draft_of,
)
from patron.domain.enums import BillingStatus, IntegrationService, PushIntegration
from patron.domain.errors import ArchivedResource, Invalid, NotFound
from patron.domain.ids import new_id, now_micros
from patron.domain.listing import CustomerFilters, Page, PageRequest, Position
from patron.services.organizations import join_parent
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
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, account_id: str, customer_id: str) -> Customer:
        async with self._store.reading(account_id) as unit:
            return await load(unit, customer_id)

    async def create(self, account_id: str, write: CustomerWrite) -> Customer:
        draft = _checked(draft_of(write, None))
        customer_id, at = new_id(), now_micros()
        async with self._store.writing(account_id) as unit:
            await unit.customers.insert(customer_id, draft, at)
            await self._write_parts(unit, customer_id, draft, at, integration_ids=[])
            return await load(unit, customer_id)

    async def update(self, account_id: str, customer_id: str, write: CustomerWrite) -> Customer:
        """A full replacement of the customer's own fields and contacts. Collections the draft
        leaves out (aliases, integration ids, custom properties, organizations) stay as they are.
        A write that depends on the current customer sees it under the row lock."""
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            locked = await unit.customers.lock(customer_id)
            if locked is None:
                raise _not_found(customer_id)
            if locked["archived_at"] is not None:
                raise ArchivedResource(
                    f"Customer {customer_id} is archived; archived customers cannot be updated"
                )
            current = await load(unit, customer_id)
            draft = _checked(draft_of(write, current))
            await unit.customers.update(customer_id, draft, at)
            await self._write_parts(
                unit, customer_id, draft, at, integration_ids=current.integration_ids
            )
            return await load(unit, customer_id)

    async def archive(self, account_id: str, customer_id: str) -> Customer:
        async with self._store.writing(account_id) as unit:
            if await unit.customers.lock(customer_id) is None:
                raise _not_found(customer_id)
            await unit.customers.archive(customer_id, now_micros())
            return await load(unit, customer_id)

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
    ) -> None:
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
        if draft.custom_properties is not None:
            await unit.customers.replace_properties(customer_id, draft.custom_properties)
        if draft.parent_id is not None:
            await join_parent(unit, customer_id, draft.parent_id, at)


def _checked(draft: CustomerDraft) -> CustomerDraft:
    errors = check_draft(draft)
    if errors:
        raise Invalid.of(errors)
    return draft
