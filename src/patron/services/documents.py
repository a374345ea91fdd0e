"""Customers as stored documents: the bytes GET by id answers, kept between writes.

The API renders (it alone knows wire formats); this keeps what it rendered and hands it back.
`format_tag` names the rendering code, so documents from another release are never served.
"""

from __future__ import annotations

from patron.storage import documents
from patron.storage.routing import standby_allowed
from patron.storage.unit import Store


class CustomerDocuments:
    def __init__(self, store: Store, format_tag: str) -> None:
        self._store = store
        self.format_tag = format_tag

    async def stored(self, account_id: str, customer_id: str) -> tuple[int, bytes] | None:
        """The customer's document and its revision, None when none is stored (or the account has
        no such customer). No unit of work: this is the hottest read, one keyed row."""
        store = self._store
        db = store.standby if store.standby is not None and standby_allowed() else store.db
        return await documents.stored(db, account_id, customer_id, self.format_tag)

    async def keep(self, account_id: str, customer_id: str, revision: int, body: bytes) -> bool:
        """Store `body`, the customer rendered at `revision`, unless it has changed since."""
        db = self._store.db
        async with db.transaction(best_effort=True) as conn:
            return await documents.keep(
                conn, db.dialect, account_id, customer_id, revision, self.format_tag, body
            )
