"""Contacts of customers."""

from __future__ import annotations

from collections.abc import Sequence

from patron.domain.customers import Contact, ContactDraft, email_key
from patron.domain.enums import BillingPreference
from patron.domain.ids import new_id, new_ids
from patron.storage.database import Dialect, Row, rows_values
from patron.storage.deferred import DeferringConnection

CONTACT_FIELDS = (
    "id", "customer_id", "name", "email", "billing_preference", "created_at", "updated_at",
    "archived_at", "revision",
)  # fmt: skip
_COLUMNS = ", ".join(CONTACT_FIELDS)


def contact_from_row(row: Row) -> Contact:
    return Contact(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        billing_preference=BillingPreference(row["billing_preference"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        archived_at=row["archived_at"],
        revision=row["revision"],
    )


class ContactRepo:
    def __init__(self, conn: DeferringConnection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._any = dialect.any_of
        self._account = account_id

    async def of_customers(
        self, customer_ids: Sequence[str], *, include_archived: bool = False
    ) -> dict[str, list[Contact]]:
        """Each customer's contacts, oldest first."""
        archived = "" if include_archived else " AND archived_at IS NULL"
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM contacts WHERE account_id = $1"
            f" AND customer_id {self._any('$2')}{archived} ORDER BY created_at, id",
            self._account,
            list(customer_ids),
        )
        found: dict[str, list[Contact]] = {cid: [] for cid in customer_ids}
        for row in rows:
            found[row["customer_id"]].append(contact_from_row(row))
        return found

    async def get(self, customer_id: str, contact_id: str) -> Contact | None:
        """The contact, archived or not, if it belongs to that customer (of this account)."""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM contacts WHERE account_id = $1 AND customer_id = $2"
            " AND id = $3",
            self._account,
            customer_id,
            contact_id,
        )
        return None if row is None else contact_from_row(row)

    async def create(self, customer_id: str, draft: ContactDraft, at: int) -> str:
        contact_id = new_id()
        await self._conn.execute(
            "INSERT INTO contacts (id, account_id, customer_id, name, email, email_key,"
            " billing_preference, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
            " $8, $8)",
            contact_id,
            self._account,
            customer_id,
            draft.name,
            draft.email,
            email_key(draft.email),
            draft.billing_preference.value,
            at,
        )
        return contact_id

    async def insert(
        self, customer_id: str, drafts: Sequence[ContactDraft], at: int
    ) -> list[Contact]:
        """Inserts new contacts (deferred: see storage/deferred.py); answers them as stored, in
        the order a read gives (created together, so by id: ids made in sequence sort in the
        order made)."""
        contacts = [
            Contact(
                id=contact_id,
                name=d.name,
                email=d.email,
                billing_preference=d.billing_preference,
                created_at=at,
                updated_at=at,
                revision=1,
            )
            for contact_id, d in zip(new_ids(len(drafts)), drafts, strict=True)
        ]
        if not contacts:
            return []
        values, args = rows_values(
            [
                (
                    c.id,
                    self._account,
                    customer_id,
                    c.name,
                    c.email,
                    email_key(c.email),
                    c.billing_preference.value,
                    at,
                    at,
                )
                for c in contacts
            ]
        )
        self._conn.defer(
            "INSERT INTO contacts (id, account_id, customer_id, name, email, email_key,"
            f" billing_preference, created_at, updated_at) {values}",
            *args,
        )
        return sorted(contacts, key=lambda c: c.id)

    async def update(self, contact_id: str, draft: ContactDraft, at: int) -> None:
        await self._conn.execute(
            "UPDATE contacts SET name = $3, email = $4, email_key = $5, billing_preference = $6,"
            " updated_at = $7, revision = revision + 1 WHERE account_id = $1 AND id = $2",
            self._account,
            contact_id,
            draft.name,
            draft.email,
            email_key(draft.email),
            draft.billing_preference.value,
            at,
        )

    async def archive(self, contact_ids: Sequence[str], at: int) -> None:
        await self._conn.execute(
            "UPDATE contacts SET archived_at = $2, updated_at = $2, revision = revision + 1"
            f" WHERE account_id = $1"
            f" AND id {self._any('$3')} AND archived_at IS NULL",
            self._account,
            at,
            list(contact_ids),
        )

    async def restore(self, contact_id: str, at: int) -> None:
        await self._conn.execute(
            "UPDATE contacts SET archived_at = NULL, updated_at = $3, revision = revision + 1"
            " WHERE account_id = $1 AND id = $2",
            self._account,
            contact_id,
            at,
        )

    async def replace(self, customer_id: str, drafts: Sequence[ContactDraft], at: int) -> None:
        """Make the customer's live contacts exactly `drafts`, matched by email.

        A contact whose email stays keeps its id (and its `updatedAt` unless something changed);
        a live contact whose email is gone is archived, not deleted, so its history stays readable.
        """
        live = (await self.of_customers([customer_id]))[customer_id]
        by_email = {email_key(c.email): c for c in live}
        new: list[ContactDraft] = []
        for draft in drafts:
            current = by_email.pop(email_key(draft.email), None)
            if current is None:
                new.append(draft)
            elif (current.name, current.email, current.billing_preference) != (
                draft.name,
                draft.email,
                draft.billing_preference,
            ):
                await self.update(current.id, draft, at)
        if by_email:
            await self.archive([c.id for c in by_email.values()], at)
        if new:
            await self.insert(customer_id, new, at)
