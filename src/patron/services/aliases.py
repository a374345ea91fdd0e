"""Customer alias use cases: list, create, relabel, delete, and finding a customer by alias.

An alias value is unique among the account's live aliases and may not be another customer's id.
The checks give clear messages; the partial unique index on live values is what makes the rule
hold when writes race (the loser's insert fails and is answered as a Conflict).
"""

from __future__ import annotations

from patron.domain.aliases import Alias, AliasDraft, AliasFilters
from patron.domain.customers import Customer, check_alias_value
from patron.domain.errors import ArchivedResource, Conflict, Invalid, NotFound
from patron.domain.events import EventType
from patron.domain.ids import now_micros
from patron.domain.listing import Page, PageRequest, Position
from patron.domain.writes import Actor, IfMatch, require
from patron.services.customers import load
from patron.services.history import History
from patron.services.paging import window
from patron.storage.aliases import alias_from_row
from patron.storage.database import Row
from patron.storage.unit import Store, Unit


def _alias_not_found(alias_id: str) -> NotFound:
    return NotFound(f"Alias {alias_id} not found")


async def _alias(unit: Unit, alias_id: str, *, deleted: bool = False) -> Alias:
    """The alias; a deleted one only when `deleted` (else it is answered as missing)."""
    alias = await unit.aliases.get(alias_id)
    if alias is None or (alias.deleted_at is not None and not deleted):
        raise _alias_not_found(alias_id)
    return alias


async def _lock(unit: Unit, alias_id: str) -> tuple[Alias, bool]:
    """The alias (deleted or not) and whether its customer is archived, both rows locked: the
    customer's first, as every write that changes a customer's aliases does, so that two such
    writes can never wait on each other."""
    found = await unit.aliases.get(alias_id)
    if found is None:
        raise _alias_not_found(alias_id)
    customer = await unit.customers.lock(found.customer_id)
    alias = await unit.aliases.lock(alias_id)
    # Neither is ever removed (aliases are soft-deleted, customers archived).
    assert alias is not None
    assert customer is not None
    return alias, customer["archived_at"] is not None


class AliasService:
    def __init__(self, store: Store, history: History) -> None:
        self._store = store
        self._history = history

    async def page(
        self, account_id: str, filters: AliasFilters, request: PageRequest
    ) -> Page[Alias]:
        """Live aliases, newest first."""
        async with self._store.reading(account_id) as unit:
            repo = unit.aliases

            async def fetch(
                forward: bool, start: Position | None, limit: int
            ) -> list[tuple[Position, Row]]:
                return await repo.page(
                    filters, request.sort, forward=forward, start=start, limit=limit
                )

            found = await window(fetch, request)
            total = await repo.count(filters)
        return Page(
            items=[alias_from_row(r) for r in found.rows],
            next=found.next,
            previous=found.previous,
            total=total,
            sort=request.sort,
        )

    async def create(self, account_id: str, draft: AliasDraft, *, actor: Actor) -> Alias:
        errors = check_alias_value(draft.value, "value")
        if errors:
            raise Invalid.of(errors)
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            # Locked so that the customer cannot be archived while it gains an alias.
            locked = await unit.customers.lock(draft.customer_id)
            if locked is None:
                raise NotFound(f"Customer {draft.customer_id} not found")
            if locked["archived_at"] is not None:
                raise ArchivedResource(
                    f"Customer {draft.customer_id} is archived; archived customers cannot gain"
                    " aliases"
                )
            held = await unit.aliases.live_with_value(draft.value)
            if held is not None:
                whose = "this" if held.customer_id == draft.customer_id else "another"
                raise Conflict(f"Alias {draft.value!r} is already in use by {whose} customer")
            await unit.aliases.ensure_free(draft.customer_id, [draft.value])
            alias_id = await unit.aliases.create(draft.customer_id, draft.value, draft.label, at)
            created = await _alias(unit, alias_id)
            await self._history.alias(unit, actor, EventType.ALIAS_CREATED, None, created, at)
            return created

    async def update(
        self,
        account_id: str,
        alias_id: str,
        *,
        label: str | None,
        keep_label: bool = False,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Alias:
        """Sets the label (None removes it); with `keep_label` the alias stays as it is."""
        async with self._store.writing(account_id) as unit:
            alias, customer_archived = await _lock(unit, alias_id)
            if alias.deleted_at is not None:
                raise _alias_not_found(alias_id)
            require(if_match, alias.revision, f"Alias {alias_id}")
            if customer_archived:
                raise ArchivedResource(
                    f"Alias {alias_id} belongs to archived customer {alias.customer_id};"
                    " it can be deleted but not changed"
                )
            if keep_label or label == alias.label:
                return alias
            await unit.aliases.set_label(alias_id, label)
            updated = await _alias(unit, alias_id)
            await self._history.alias(
                unit, actor, EventType.ALIAS_UPDATED, alias, updated, now_micros()
            )
            return updated

    async def delete(
        self, account_id: str, alias_id: str, *, actor: Actor, if_match: IfMatch | None = None
    ) -> Alias:
        """Soft-deletes once, freeing the value; deleting again answers the deleted alias."""
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            alias, _ = await _lock(unit, alias_id)
            require(if_match, alias.revision, f"Alias {alias_id}")
            if alias.deleted_at is not None:
                return alias
            await unit.aliases.delete(alias_id, at)
            deleted = await _alias(unit, alias_id, deleted=True)
            await self._history.alias(unit, actor, EventType.ALIAS_DELETED, alias, deleted, at)
            return deleted

    async def of_customer(self, account_id: str, customer_id: str) -> list[Alias]:
        async with self._store.reading(account_id) as unit:
            if not await unit.customers.rows([customer_id]):
                raise NotFound(f"Customer {customer_id} not found")
            return await unit.aliases.of_customer(customer_id)

    async def customer(self, account_id: str, value: str) -> Customer:
        """The customer a value names: its own id, or one of its live aliases. Archived customers
        are found too: an alias is how an outside system refers to them, archived or not."""
        async with self._store.reading(account_id) as unit:
            customer_id = await unit.aliases.customer_of(value)
            if customer_id is None:
                raise NotFound(f"No customer has the alias {value!r}")
            return await load(unit, customer_id)
