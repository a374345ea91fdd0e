"""Customer aliases: other keys for a customer (CRM ids, old ids), unique among live ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from patron.domain.aliases import Alias, AliasFilters
from patron.domain.enums import SortOrder
from patron.domain.errors import Conflict
from patron.domain.ids import new_id
from patron.domain.listing import Position, SortKey
from patron.storage.database import Connection, Dialect, Row, UniqueViolation, bind

_COLUMNS = "id, account_id, customer_id, value, label, created_at, deleted_at, revision"


def alias_from_row(row: Row) -> Alias:
    return Alias(
        id=row["id"],
        account_id=row["account_id"],
        customer_id=row["customer_id"],
        value=row["value"],
        label=row["label"],
        created_at=row["created_at"],
        deleted_at=row["deleted_at"],
        revision=row["revision"],
    )


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
                "UPDATE aliases SET deleted_at = $3, revision = revision + 1"
                " WHERE account_id = $1 AND customer_id = $2"
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

    # -- single aliases -------------------------------------------------------------------------

    async def get(self, alias_id: str) -> Alias | None:
        """The alias, deleted or not."""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM aliases WHERE account_id = $1 AND id = $2",
            self._account,
            alias_id,
        )
        return None if row is None else alias_from_row(row)

    async def lock(self, alias_id: str) -> Alias | None:
        """The alias (deleted or not), its row locked for this transaction; changes nothing."""
        row = await self._conn.fetchrow(
            "UPDATE aliases SET revision = revision WHERE account_id = $1 AND id = $2"
            f" RETURNING {_COLUMNS}",
            self._account,
            alias_id,
        )
        return None if row is None else alias_from_row(row)

    async def live_with_value(self, value: str) -> Alias | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM aliases WHERE account_id = $1 AND value = $2"
            " AND deleted_at IS NULL",
            self._account,
            value,
        )
        return None if row is None else alias_from_row(row)

    async def create(self, customer_id: str, value: str, label: str | None, at: int) -> str:
        """Insert a live alias; Conflict when the value is taken (also by a racing write)."""
        alias_id = new_id()
        try:
            await self._conn.execute(
                "INSERT INTO aliases (id, account_id, customer_id, value, label, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                alias_id,
                self._account,
                customer_id,
                value,
                label,
                at,
            )
        except UniqueViolation as exc:
            # A concurrent write took the value between our check and this insert.
            raise Conflict(f"Alias {value!r} is already in use") from exc
        return alias_id

    async def set_label(self, alias_id: str, label: str | None) -> None:
        await self._conn.execute(
            "UPDATE aliases SET label = $3, revision = revision + 1"
            " WHERE account_id = $1 AND id = $2",
            self._account,
            alias_id,
            label,
        )

    async def delete(self, alias_id: str, at: int) -> None:
        """Soft-deletes a live alias once; deleting again keeps the first time."""
        await self._conn.execute(
            "UPDATE aliases SET deleted_at = $3, revision = revision + 1"
            " WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
            self._account,
            alias_id,
            at,
        )

    async def of_customer(self, customer_id: str) -> list[Alias]:
        """The customer's live aliases, oldest first."""
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM aliases WHERE account_id = $1 AND customer_id = $2"
            " AND deleted_at IS NULL ORDER BY created_at, id",
            self._account,
            customer_id,
        )
        return [alias_from_row(r) for r in rows]

    async def customer_of(self, value: str) -> str | None:
        """The customer `value` names: the customer with that id, else the one holding it as a
        live alias. (Both at once can only be one customer: an alias may not be another
        customer's id.)"""
        row = await self._conn.fetchrow(
            "SELECT id FROM customers WHERE account_id = $1 AND id = $2"
            " UNION ALL SELECT customer_id FROM aliases WHERE account_id = $1 AND value = $2"
            " AND deleted_at IS NULL",
            self._account,
            value,
        )
        return None if row is None else str(row["id"])

    # -- the list -------------------------------------------------------------------------------

    def _where(self, filters: AliasFilters, args: list[Any]) -> str:
        """Live aliases only; `args` starts with the account id and collects the rest."""
        where = "account_id = $1 AND deleted_at IS NULL"
        if filters.value is not None:
            where += f" AND value = {bind(args, filters.value)}"
        return where

    async def count(self, filters: AliasFilters) -> int:
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        return int(await self._conn.fetchval(f"SELECT count(*) FROM aliases WHERE {where}", *args))

    async def page(
        self,
        filters: AliasFilters,
        sort: SortKey,
        *,
        forward: bool,
        start: Position | None,
        limit: int,
    ) -> list[tuple[Position, Row]]:
        """Like `CustomerRepo.page`; aliases sort by creation time only."""
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        ascending = (sort.order is SortOrder.ASC) == forward
        if start is not None:
            args += [start.value, start.id]
            op = ">" if ascending else "<"
            where += f" AND (created_at, id) {op} (${len(args) - 1}, ${len(args)})"
        direction = "ASC" if ascending else "DESC"
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM aliases WHERE {where}"
            f" ORDER BY created_at {direction}, id {direction} LIMIT {int(limit)}",
            *args,
        )
        return [(Position(r["created_at"], r["id"]), r) for r in rows]
