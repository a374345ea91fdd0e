"""Stored renderings of customers (migration 0010): read one, keep one.

The triggers of migration 0010 delete a customer's document whenever anything it shows changes,
in the writing transaction, so a document that exists is the customer as it is now. `keep` adds
one only while the customer is still at the revision it was rendered from: a write that commits
between the read and the store bumped the revision (every change a GET shows does, as ETags
need), so the stale rendering is not stored.
"""

from __future__ import annotations

from functools import lru_cache

from patron.storage.database import Connection, Database, Dialect

STORED_SQL = (
    "SELECT revision, body FROM customer_documents"
    " WHERE customer_id = $1 AND account_id = $2 AND format = $3"
)


@lru_cache(maxsize=2)
def keep_sql(dialect: Dialect) -> str:
    """$1 account, $2 customer, $3 revision, $4 format, $5 body.

    PostgreSQL: FOR SHARE holds the customer's row until this statement's transaction ends. A
    write that changes the customer takes that row (its revision goes up) and its trigger deletes
    the document. Either the write holds the row now, and SKIP LOCKED leaves it (nothing stored:
    the customer is changing), or it comes after, waits for this transaction, and deletes what
    it stored. SQLite has one writer: the check and the insert cannot be split by a write."""
    lock = " FOR SHARE SKIP LOCKED" if dialect.name == "postgresql" else ""
    return (
        "INSERT INTO customer_documents (customer_id, account_id, revision, format, body)"
        " SELECT id, account_id, revision, $4, $5 FROM customers"
        f" WHERE account_id = $1 AND id = $2 AND revision = $3{lock}"
        " ON CONFLICT (customer_id) DO UPDATE SET revision = excluded.revision,"
        " format = excluded.format, body = excluded.body"
    )


async def stored(
    db: Database, account_id: str, customer_id: str, format_tag: str
) -> tuple[int, bytes] | None:
    """The customer's stored document (in `format_tag`) and its revision, None when there is
    none."""
    row = await db.fetchrow(STORED_SQL, customer_id, account_id, format_tag)
    return None if row is None else (row[0], bytes(row[1]))


async def keep(
    conn: Connection,
    dialect: Dialect,
    account_id: str,
    customer_id: str,
    revision: int,
    format_tag: str,
    body: bytes,
) -> bool:
    """Store `body` as the customer's document if it is still at `revision`; answers whether it
    was stored."""
    changed = await conn.execute(
        keep_sql(dialect), account_id, customer_id, revision, format_tag, body
    )
    return changed > 0
