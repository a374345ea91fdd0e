"""Idempotency keys of one account: claim a key, read it back, store the answer; purge old ones."""

from __future__ import annotations

import json

from patron.domain.idempotency import KeyRecord, RequestPrint, StoredResponse
from patron.storage.database import Connection, Database, Dialect


class IdempotencyRepo:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self._account = account_id

    async def claim(
        self, key: str, request: RequestPrint, now: int, expires_at: int, *, wait_millis: int
    ) -> bool:
        """Take the key for the open transaction; False when a live record of it exists already.

        The row is inserted with no response: "in progress". Nobody else ever sees it so, because
        the response is written in the same transaction and both commit together. A concurrent
        claim of the same key waits on the primary key until this transaction ends (PostgreSQL;
        SQLite's single writer serialises the two instead), at most `wait_millis`: then
        `LockTimeoutError`. A record that expired is taken over in place.
        """
        bound, unbound = self._dialect.lock_timeout(wait_millis), self._dialect.lock_timeout(None)
        if bound is not None:
            await self._conn.execute(bound)
        row = await self._conn.fetchrow(
            "INSERT INTO idempotency_keys"
            " (account_id, key, method, target, request_hash, created_at, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (account_id, key) DO UPDATE SET"
            " method = excluded.method, target = excluded.target,"
            " request_hash = excluded.request_hash, status = NULL, response_body = NULL,"
            " response_headers = NULL, version = NULL,"
            " created_at = excluded.created_at, expires_at = excluded.expires_at"
            " WHERE idempotency_keys.expires_at <= excluded.created_at"
            " RETURNING key",
            self._account,
            key,
            request.method,
            request.target,
            request.digest,
            now,
            expires_at,
        )
        if unbound is not None:
            # The bound is for the claim only: the operation's own locks wait as they always do.
            await self._conn.execute(unbound)
        return row is not None

    async def find(self, key: str) -> KeyRecord | None:
        row = await self._conn.fetchrow(
            "SELECT method, target, request_hash, status, response_body, response_headers, version"
            " FROM idempotency_keys WHERE account_id = $1 AND key = $2",
            self._account,
            key,
        )
        if row is None:
            return None
        response = None
        if row["status"] is not None:
            response = StoredResponse(
                status=row["status"],
                body=bytes(row["response_body"]),
                headers=[(k, v) for k, v in json.loads(row["response_headers"])],
                version=row["version"],
            )
        return KeyRecord(RequestPrint(row["method"], row["target"], row["request_hash"]), response)

    async def save(self, key: str, response: StoredResponse) -> None:
        """Store the answer on the key claimed in this transaction."""
        changed = await self._conn.execute(
            "UPDATE idempotency_keys SET status = $3, response_body = $4, response_headers = $5,"
            " version = $6 WHERE account_id = $1 AND key = $2",
            self._account,
            key,
            response.status,
            response.body,
            json.dumps(response.headers),
            response.version,
        )
        if changed != 1:
            # Cannot happen while the claim holds; if it did, failing rolls the operation back too.
            raise RuntimeError(f"idempotency key {key!r} is not claimed in this transaction")


async def purge_expired(db: Database, now: int, *, limit: int) -> int:
    """Delete up to `limit` keys that expired by `now`, oldest first; answers how many went.

    The one query not scoped by account: it is housekeeping over every account's expired keys, by
    the expiry index. The outer `expires_at` test matters on PostgreSQL: a key taken over (given a
    new expiry) after the subquery picked it is re-checked and kept.
    """
    async with db.transaction() as conn:
        return await conn.execute(
            "DELETE FROM idempotency_keys WHERE expires_at <= $1 AND (account_id, key) IN"
            " (SELECT account_id, key FROM idempotency_keys WHERE expires_at <= $1"
            " ORDER BY expires_at LIMIT $2)",
            now,
            limit,
        )
