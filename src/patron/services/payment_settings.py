"""Customer payment settings use cases: create, get, change the provider, delete."""

from __future__ import annotations

from patron.domain.errors import ArchivedResource, Conflict, FieldError, Invalid, NotFound
from patron.domain.events import EventType
from patron.domain.ids import now_micros
from patron.domain.payment_settings import PaymentProvider, PaymentSettings
from patron.domain.writes import Actor, IfMatch, require
from patron.services.history import History
from patron.storage.unit import Store, Unit


def _not_found(settings_id: str) -> NotFound:
    return NotFound(f"Customer payment settings {settings_id} not found")


def _bad_customer(kind: type[Invalid], message: str) -> Invalid:
    return kind(f"Invalid request: customerId: {message}", [FieldError("customerId", message)])


async def _customer_archived(unit: Unit, customer_id: str) -> bool | None:
    """Whether the customer is archived; None when the account has no such customer."""
    row = (await unit.customers.rows([customer_id])).get(customer_id)
    return None if row is None else row["archived_at"] is not None


class PaymentSettingsService:
    def __init__(self, store: Store, history: History) -> None:
        self._store = store
        self._history = history

    async def create(
        self, account_id: str, customer_id: str, provider: PaymentProvider, *, actor: Actor
    ) -> PaymentSettings:
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            archived = await _customer_archived(unit, customer_id)
            if archived is None:
                raise _bad_customer(Invalid, f"no customer {customer_id} in this account")
            if archived:
                raise _bad_customer(
                    ArchivedResource,
                    f"customer {customer_id} is archived: it takes no new payment settings",
                )
            created = await unit.payment_settings.insert(customer_id, provider, at)
            if created is None:
                existing = await unit.payment_settings.of_customer(customer_id)
                which = "" if existing is None else f" ({existing.id})"
                raise Conflict(
                    f"Customer {customer_id} already has payment settings{which}: "
                    "change them with PUT, or delete them first"
                )
            await self._history.payment_settings(
                unit, actor, EventType.PAYMENT_SETTINGS_CREATED, None, created, at
            )
            return created

    async def get(self, account_id: str, settings_id: str) -> PaymentSettings:
        async with self._store.reading(account_id) as unit:
            found = await unit.payment_settings.get(settings_id)
        if found is None:
            raise _not_found(settings_id)
        return found

    async def update(
        self,
        account_id: str,
        settings_id: str,
        provider: PaymentProvider,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> PaymentSettings:
        """Changes the provider; asking for the provider they have changes nothing."""
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            current = await _lock(unit, settings_id, if_match)
            if await _customer_archived(unit, current.customer_id):
                raise ArchivedResource(
                    f"Customer {current.customer_id} is archived: its payment settings can be "
                    "read and deleted, not changed"
                )
            if current.payment_provider is provider:
                return current
            updated = await unit.payment_settings.update(settings_id, provider, at)
            assert updated is not None  # the row is locked
            await self._history.payment_settings(
                unit, actor, EventType.PAYMENT_SETTINGS_UPDATED, current, updated, at
            )
            return updated

    async def delete(
        self,
        account_id: str,
        settings_id: str,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> PaymentSettings:
        """Removes them; the event carries what they held."""
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            await _lock(unit, settings_id, if_match)
            deleted = await unit.payment_settings.delete(settings_id)
            assert deleted is not None  # the row is locked
            await self._history.payment_settings(
                unit, actor, EventType.PAYMENT_SETTINGS_DELETED, None, deleted, at, gone=True
            )
            return deleted


async def _lock(unit: Unit, settings_id: str, if_match: IfMatch | None) -> PaymentSettings:
    """The settings, their row locked for the transaction, if `if_match` allows."""
    current = await unit.payment_settings.lock(settings_id)
    if current is None:
        raise _not_found(settings_id)
    require(if_match, current.revision, f"Customer payment settings {settings_id}")
    return current
