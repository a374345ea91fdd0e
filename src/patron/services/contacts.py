"""Contact use cases: list, create, full update, archive and restore of a customer's contacts.

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
from patron.domain.events import EventType
from patron.domain.ids import now_micros
from patron.domain.writes import Actor, IfMatch, require
from patron.services.history import History
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
    def __init__(self, store: Store, history: History) -> None:
        self._store = store
        self._history = history

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

    async def create(
        self, account_id: str, customer_id: str, draft: ContactDraft, *, actor: Actor
    ) -> Contact:
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
            created = await _contact(unit, customer_id, contact_id)
            return await self._changed(
                unit, actor, EventType.CONTACT_CREATED, customer_id, None, created
            )

    async def update(
        self,
        account_id: str,
        customer_id: str,
        contact_id: str,
        draft: ContactDraft,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Contact:
        """A full replacement of name, email and billing preference. Sending what is there
        changes nothing (`updatedAt` stays, no event)."""
        _check_fields(draft)
        async with self._store.writing(account_id) as unit:
            await _lock_live_customer(unit, customer_id)
            contact = await _contact(unit, customer_id, contact_id)
            require(if_match, contact.revision, f"Contact {contact_id}")
            if contact.archived_at is not None:
                raise ArchivedResource(
                    f"Contact {contact_id} is archived; archived contacts cannot be updated"
                )
            if (contact.name, contact.email, contact.billing_preference) == (
                draft.name,
                draft.email,
                draft.billing_preference,
            ):
                return contact
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
            updated = await _contact(unit, customer_id, contact_id)
            return await self._changed(
                unit, actor, EventType.CONTACT_UPDATED, customer_id, contact, updated
            )

    async def archive(
        self,
        account_id: str,
        customer_id: str,
        contact_id: str,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Contact:
        """Archives once: archiving an archived contact answers it as it is."""
        async with self._store.writing(account_id) as unit:
            # Archived-ness of the customer is checked after the contact's, so that repeating an
            # archive answers the archived contact even once its customer is archived too.
            customer_archived = await _lock_customer(unit, customer_id)
            contact = await _contact(unit, customer_id, contact_id)
            require(if_match, contact.revision, f"Contact {contact_id}")
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
            archived = await _contact(unit, customer_id, contact_id)
            return await self._changed(
                unit, actor, EventType.CONTACT_ARCHIVED, customer_id, contact, archived
            )

    async def restore(
        self,
        account_id: str,
        customer_id: str,
        contact_id: str,
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Contact:
        """Makes an archived contact live again, under the rules a new contact meets (its email
        unique among the live contacts: 409; the PRIMARY rule: 400). Restoring a live contact
        answers it as it is."""
        async with self._store.writing(account_id) as unit:
            customer_archived = await _lock_customer(unit, customer_id)
            contact = await _contact(unit, customer_id, contact_id)
            require(if_match, contact.revision, f"Contact {contact_id}")
            if contact.archived_at is None:
                return contact
            if customer_archived:
                raise _customer_archived(customer_id)
            live = (await unit.contacts.of_customers([customer_id]))[customer_id]
            draft = ContactDraft(contact.name, contact.email, contact.billing_preference)
            _ensure_email_free(live, draft)
            _keep_primary(
                [c.billing_preference for c in live] + [draft.billing_preference],
                f"Contact {contact_id} cannot be restored as {draft.billing_preference.value}:"
                " the customer has no PRIMARY contact",
            )
            await unit.contacts.restore(contact_id, now_micros())
            restored = await _contact(unit, customer_id, contact_id)
            return await self._changed(
                unit, actor, EventType.CONTACT_RESTORED, customer_id, contact, restored
            )

    async def _changed(
        self,
        unit: Unit,
        actor: Actor,
        kind: EventType,
        customer_id: str,
        before: Contact | None,
        after: Contact,
    ) -> Contact:
        """Record the contact's change; the customer shows its live contacts, so it changed too."""
        await unit.customers.touch([customer_id])
        await self._history.contact(unit, actor, kind, customer_id, before, after)
        return after
