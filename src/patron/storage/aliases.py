"""Customer aliases: other keys for a customer (CRM ids, old ids), unique among live ones."""

from __future__ import annotations

from collections.abc import Sequence

from patron.domain.errors import Conflict
from patron.domain.ids import new_id
from patron.storage.database import Connection, Dialect, UniqueViolation


class AliasRepo:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._any = dialect.any_of
        self._account = account_id

    async def live_values(self, customer_id: str) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT value FROM aliases WHERE account_id = $1 AND customer_id = $2"
            " AND deleted_at IS NULL ORDER BY created_at, id",
            self._account,
            customer_id,
        )
        return [r["value"] for r in rows]

    async def ensure_free(self, customer_id: str, values: Sequence[str]) -> None:
        """Conflict, naming the values, when another customer holds one as alias or as its id."""
        taken = await self._conn.fetch(
            f"SELECT value FROM aliases WHERE account_id = $1 AND value {self._any('$2')}"
            " AND deleted_at IS NULL AND customer_id <> $3"
            f" UNION SELECT id FROM customers WHERE account_id = $1 AND id {self._any('$2')}"
            " AND id <> $3",
            self._account,
            list(values),
            customer_id,
        )
        if taken:
            names = ", ".join(sorted(repr(r[0]) for r in taken))
            raise Conflict(f"Alias already in use by another customer: {names}")

    async def replace(self, customer_id: str, values: Sequence[str], at: int) -> None:
        """Make the customer's live aliases exactly `values`; dropped ones are soft-deleted."""
        await self.ensure_free(customer_id, values)
        current = await self.live_values(customer_id)
        gone = [v for v in current if v not in set(values)]
        if gone:
            await self._conn.execute(
                f"UPDATE aliases SET deleted_at = $3 WHERE account_id = $1 AND customer_id = $2"
                f" AND deleted_at IS NULL AND value {self._any('$4')}",
                self._account,
                customer_id,
                at,
                gone,
            )
        fresh = [v for v in values if v not in set(current)]
        if fresh:
            try:
                await self._conn.executemany(
                    "INSERT INTO aliases (id, account_id, customer_id, value, created_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    [(new_id(), self._account, customer_id, v, at) for v in fresh],
                )
            except UniqueViolation as exc:
                # Lost a race with a concurrent write that took the value after ensure_free.
                raise Conflict("Alias already in use by another customer") from exc
