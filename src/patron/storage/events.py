"""The event log: appended in the transaction of the change it records, read back by sequence.

`seq` is one strictly increasing number per database, so the table doubles as an outbox: a
deliverer can walk it in order. Events of one resource are appended under that resource's row
lock, so their `seq` order is their commit order; across resources, a lower `seq` may commit
after a higher one (PostgreSQL hands out sequence numbers before commit), which a reader that
keeps a high-water mark must allow for.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import msgspec

from patron.domain.enums import SortOrder
from patron.domain.events import Change, Event, EventFilters, EventType, ResourceType
from patron.domain.listing import Position
from patron.storage.database import Connection, Dialect, Row, Statement, placeholder_rows
from patron.storage.database import bind as bind_arg

_COLUMNS = (
    "seq, id, account_id, resource_type, resource_id, customer_id, type, occurred_at, actor,"
    " reason, resource, changes"
)


def _event(row: Row) -> Event:
    return Event(
        id=row["id"],
        sequence=int(row["seq"]),
        account_id=row["account_id"],
        type=EventType(row["type"]),
        resource_type=ResourceType(row["resource_type"]),
        resource_id=row["resource_id"],
        customer_id=row["customer_id"],
        occurred_at=row["occurred_at"],
        actor=row["actor"],
        reason=row["reason"],
        resource=json.loads(row["resource"]),
        changes=[Change(c["path"], c["from"], c["to"]) for c in json.loads(row["changes"])],
    )


# For readers elsewhere (the webhook queue reads the events it delivers).
EVENT_COLUMNS = _COLUMNS
event_of_row = _event


_encode = msgspec.json.Encoder().encode


def _json(value: Any) -> str:
    # msgspec: several times json.dumps's speed for the same JSON (read back with json.loads).
    return _encode(value).decode()


class EventRepo:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._any = dialect.any_of
        self._account = account_id
        self._pending: list[Event] = []

    def add(self, event: Event) -> None:
        """Appends the event when the unit ends (`Unit.finish`), with the unit's other events in
        one statement; they get their `seq` in the order they were added."""
        assert event.account_id == self._account
        self._pending.append(event)

    def take_pending(self) -> list[Event]:
        taken, self._pending = self._pending, []
        return taken

    def insert_statement(self, events: list[Event], *, also: str | None = None) -> Statement:
        """One INSERT of `events` answering each one's `id` and `seq` (and the `also` column,
        an expression that may use $1, the account). A multi-row VALUES takes its sequence
        numbers row by row, in order."""
        groups = placeholder_rows(len(events), 10, lead="$1, ")
        args: list[Any] = [self._account]
        for e in events:
            args += [
                e.id,
                e.resource_type.value,
                e.resource_id,
                e.customer_id,
                e.type.value,
                e.occurred_at,
                e.actor,
                e.reason,
                _json(e.resource),
                _json([{"path": c.path, "from": c.before, "to": c.after} for c in e.changes]),
            ]
        returning = "id, seq" + ("" if also is None else f", {also}")
        return (
            "INSERT INTO events (account_id, id, resource_type, resource_id, customer_id, type,"
            f" occurred_at, actor, reason, resource, changes) VALUES {groups}"
            f" RETURNING {returning}",
            args,
        )

    def _where(self, filters: EventFilters, args: list[Any]) -> str:
        bind = partial(bind_arg, args)

        where = ["account_id = $1"]
        if filters.types:
            where.append(f"type {self._any(bind(sorted(t.value for t in filters.types)))}")
        if filters.resource_type is not None:
            where.append(f"resource_type = {bind(filters.resource_type.value)}")
        if filters.resource_id is not None:
            where.append(f"resource_id = {bind(filters.resource_id)}")
        if filters.customer_id is not None:
            where.append(f"customer_id = {bind(filters.customer_id)}")
        if filters.since is not None:
            where.append(f"occurred_at >= {bind(filters.since)}")
        return " AND ".join(where)

    async def count(self, filters: EventFilters) -> int:
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        return int(await self._conn.fetchval(f"SELECT count(*) FROM events WHERE {where}", *args))

    async def page(
        self, filters: EventFilters, *, forward: bool, start: Position | None, limit: int
    ) -> list[tuple[Position, Event]]:
        """Like `CustomerRepo.page`, in sequence order (`filters.order`)."""
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        ascending = (filters.order is SortOrder.ASC) == forward
        if start is not None:
            args.append(int(start.value))
            where += f" AND seq {'>' if ascending else '<'} ${len(args)}"
        direction = "ASC" if ascending else "DESC"
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY seq {direction}"
            f" LIMIT {int(limit)}",  # a literal: see storage/customers.py _limit
            *args,
        )
        return [(Position(int(r["seq"]), r["id"]), _event(r)) for r in rows]
