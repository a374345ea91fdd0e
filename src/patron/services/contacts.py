"""Contact use cases: list, create, full update and archive of one customer's contacts.

Every write locks the customer's row first, so the PRIMARY rule and email uniqueness are checked
against contacts no concurrent write can change before this one commits.
"""

from __future__ import annotations

from patron.domain.customers import (
    Contact,
    ContactDraft,
    check_contact,
    check_primary_rule,
    email_key,
)
from patron.domain.enums import BillingPreference
from patron.domain.errors import ArchivedResource, Conflict, Invalid, NotFound
from patron.domain.ids import now_micros
from patron.storage.unit import Store, Unit


def _customer_not_found(customer_id: str) -> NotFound:
    return NotFound(f"Customer {customer_id} not found")


def _contact_not_found(customer_id: str, contact_id: str) -> NotFound:
    return NotFound(f"Contact {contact_id} not found for customer {customer_id}")


async def _lock_customer(unit: Unit, customer_id: str) -> bool:
    """Lock the customer's row for this transaction; answers whether it is archived."""
    locked = await unit.customers.lock(customer_id)
    if locked is None:
        raise _customer_not_found(customer_id)
    return locked["archived_at"] is not None


async def _lock_live_customer(unit: Unit, customer_id: str) -> None:
    if await _lock_customer(unit, customer_id):
        raise _customer_archived(customer_id)


def _customer_archived(customer_id: str) -> ArchivedResource:
    return ArchivedResource(
        f"Customer {customer_id} is archived; the contacts of archived customers cannot change"
    )


async def _contact(unit: Unit, customer_id: str, contact_id: str) -> Contact:
    contact = await unit.contacts.get(customer_id, contact_id)
    if contact is None:
        raise _contact_not_found(customer_id, contact_id)
    return contact


def _check_fields(draft: ContactDraft) -> None:
    errors = check_contact(draft)
    if errors:
        raise Invalid.of(errors)


def _ensure_email_free(others: list[Contact], draft: ContactDraft) -> None:
    key = email_key(draft.email)
    clash = next((c for c in others if email_key(c.email) == key), None)
    if clash is not None:
        raise Conflict(f"Contact {clash.id} of this customer already has the email {clash.email}")


def _keep_primary(after: list[BillingPreference], why: str) -> None:
    """The PRIMARY rule over the customer's live contacts as they would be after the change."""
    errors = check_primary_rule(after, "contacts")
    if errors:
        raise Invalid(f"{why}: {errors[0].message}", errors)


class ContactService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def of_customer(
        self, account_id: str, customer_id: str, *, include_archived: bool
    ) -> list[Contact]:
        """The customer's contacts, oldest first (archived ones too when asked)."""
        async with self._store.reading(account_id) as unit:
            if not await unit.customers.rows([customer_id]):
                raise _customer_not_found(customer_id)
            found = await unit.contacts.of_customers(
                [customer_id], include_archived=include_archived
            )
            return found[customer_id]

    async def create(self, account_id: str, customer_id: str, draft: ContactDraft) -> Contact:
        _check_fields(draft)
        async with self._store.writing(account_id) as unit:
            await _lock_live_customer(unit, customer_id)
            live = (await unit.contacts.of_customers([customer_id]))[customer_id]
            _ensure_email_free(live, draft)
            _keep_primary(
                [c.billing_preference for c in live] + [draft.billing_preference],
                "The customer has no PRIMARY contact, so this contact cannot be STANDARD",
            )
            contact_id = await unit.contacts.create(customer_id, draft, now_micros())
            return await _contact(unit, customer_id, contact_id)

    async def update(
        self, account_id: str, customer_id: str, contact_id: str, draft: ContactDraft
    ) -> Contact:
        """A full replacement of name, email and billing preference."""
        _check_fields(draft)
        async with self._store.writing(account_id) as unit:
            await _lock_live_customer(unit, customer_id)
            contact = await _contact(unit, customer_id, contact_id)
            if contact.archived_at is not None:
                raise ArchivedResource(
                    f"Contact {contact_id} is archived; archived contacts cannot be updated"
                )
            live = (await unit.contacts.of_customers([customer_id]))[customer_id]
            others = [c for c in live if c.id != contact_id]
            _ensure_email_free(others, draft)
            was_primary = contact.billing_preference is BillingPreference.PRIMARY
            _keep_primary(
                [c.billing_preference for c in others] + [draft.billing_preference],
                f"Contact {contact_id} cannot become {draft.billing_preference.value}: "
                + (
                    "it is the customer's last PRIMARY contact and other contacts receive"
                    " billing communications; make another contact PRIMARY first"
                    if was_primary
                    else "the customer has no PRIMARY contact"
                ),
            )
            await unit.contacts.update(contact_id, draft, now_micros())
            return await _contact(unit, customer_id, contact_id)

    async def archive(self, account_id: str, customer_id: str, contact_id: str) -> Contact:
        """Archives once: archiving an archived contact answers it as it is."""
        async with self._store.writing(account_id) as unit:
            # Archived-ness of the customer is checked after the contact's, so that repeating an
            # archive answers the archived contact even once its customer is archived too.
            customer_archived = await _lock_customer(unit, customer_id)
            contact = await _contact(unit, customer_id, contact_id)
            if contact.archived_at is not None:
                return contact
            if customer_archived:
                raise _customer_archived(customer_id)
            live = (await unit.contacts.of_customers([customer_id]))[customer_id]
            _keep_primary(
                [c.billing_preference for c in live if c.id != contact_id],
                f"Contact {contact_id} cannot be archived: it is the customer's last PRIMARY"
                " contact and other contacts receive billing communications; make another"
                " contact PRIMARY first",
            )
            await unit.contacts.archive([contact_id], now_micros())
            return await _contact(unit, customer_id, contact_id)
