"""Reading the change history: the account's events, or one customer's, in sequence order."""

from __future__ import annotations

import dataclasses

from patron.domain.errors import NotFound
from patron.domain.events import Event, EventFilters
from patron.domain.listing import Page, PageRequest, Position
from patron.services.paging import window
from patron.storage.unit import Store


class EventService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def page(
        self, account_id: str, filters: EventFilters, request: PageRequest
    ) -> Page[Event]:
        async with self._store.reading(account_id) as unit:
            repo = unit.events

            async def fetch(
                forward: bool, start: Position | None, limit: int
            ) -> list[tuple[Position, Event]]:
                return await repo.page(filters, forward=forward, start=start, limit=limit)

            found = await window(fetch, request)
            total = await repo.count(filters)
        return Page(
            items=found.rows,
            next=found.next,
            previous=found.previous,
            total=total,
            sort=request.sort,
        )

    async def of_customer(
        self, account_id: str, customer_id: str, filters: EventFilters, request: PageRequest
    ) -> Page[Event]:
        """The events of the customer and of what belongs to it (its contacts, aliases, payment
        settings and the organizations it owns)."""
        async with self._store.reading(account_id) as unit:
            if not await unit.customers.rows([customer_id]):
                raise NotFound(f"Customer {customer_id} not found")
        return await self.page(
            account_id, dataclasses.replace(filters, customer_id=customer_id), request
        )
