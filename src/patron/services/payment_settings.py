"""Customer payment settings use cases: create, get, change the provider, delete."""

from __future__ import annotations

from patron.domain.errors import ArchivedResource, Conflict, FieldError, Invalid, NotFound
from patron.domain.ids import now_micros
from patron.domain.payment_settings import PaymentProvider, PaymentSettings
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
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self, account_id: str, customer_id: str, provider: PaymentProvider
    ) -> PaymentSettings:
        async with self._store.writing(account_id) as unit:
            archived = await _customer_archived(unit, customer_id)
            if archived is None:
                raise _bad_customer(Invalid, f"no customer {customer_id} in this account")
            if archived:
                raise _bad_customer(
                    ArchivedResource,
                    f"customer {customer_id} is archived: it takes no new payment settings",
                )
            created = await unit.payment_settings.insert(customer_id, provider, now_micros())
            if created is None:
                existing = await unit.payment_settings.of_customer(customer_id)
                which = "" if existing is None else f" ({existing.id})"
                raise Conflict(
                    f"Customer {customer_id} already has payment settings{which}: "
                    "change them with PUT, or delete them first"
                )
            return created

    async def get(self, account_id: str, settings_id: str) -> PaymentSettings:
        async with self._store.reading(account_id) as unit:
            found = await unit.payment_settings.get(settings_id)
        if found is None:
            raise _not_found(settings_id)
        return found

    async def update(
        self, account_id: str, settings_id: str, provider: PaymentProvider
    ) -> PaymentSettings:
        async with self._store.writing(account_id) as unit:
            current = await unit.payment_settings.get(settings_id)
            if current is None:
                raise _not_found(settings_id)
            if await _customer_archived(unit, current.customer_id):
                raise ArchivedResource(
                    f"Customer {current.customer_id} is archived: its payment settings can be "
                    "read and deleted, not changed"
                )
            updated = await unit.payment_settings.update(settings_id, provider, now_micros())
        if updated is None:  # deleted between the two statements
            raise _not_found(settings_id)
        return updated

    async def delete(self, account_id: str, settings_id: str) -> PaymentSettings:
        async with self._store.writing(account_id) as unit:
            deleted = await unit.payment_settings.delete(settings_id)
        if deleted is None:
            raise _not_found(settings_id)
        return deleted
