"""The dispatcher's side of the outbox: claiming due deliveries of every account, recording
attempts.

A claim is a short transaction: pick due deliveries whose resource has no earlier pending
delivery to the same recipient (order per resource), lock them (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so concurrent dispatchers pass over each other's rows instead of waiting; a SQLite
write transaction already excludes every other writer), and move their `next_attempt_at` past the
attempt's lease. Nothing else claims them until the lease ends, and a dispatcher that dies
mid-attempt leaves them to be claimed again then, under the same id (the `webhook-id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patron.domain.events import Event
from patron.domain.notifications import Delivery, DeliveryStatus
from patron.storage.database import Database
from patron.storage.events import EVENT_COLUMNS, event_of_row
from patron.storage.notifications import DELIVERY_COLUMNS, DELIVERY_FROM, delivery

_WAITING = (
    "NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.recipient_id = d.recipient_id"
    " AND e.resource_type = d.resource_type AND e.resource_id = d.resource_id"
    " AND e.event_seq < d.event_seq AND e.status = 'PENDING')"
)


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery: Delivery
    event: Event
    secret: str
    first_attempt_at: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    at: int
    duration_ms: int
    status_code: int | None
    error: str | None
    delivered: bool
    next_attempt_at: int | None  # None when delivered or given up


class DeliveryQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, now: int, limit: int, lease_until: int) -> list[Claimed]:
        # A plain read first: an idle dispatcher polls often, and should not open a write
        # transaction (SQLite's single write lock) each time to find nothing.
        async with self._db.read() as conn:
            due = await conn.fetchval(
                "SELECT 1 FROM webhook_deliveries WHERE status = 'PENDING'"
                " AND next_attempt_at <= $1 LIMIT 1",
                now,
            )
        if due is None:
            return []
        lock = " FOR UPDATE OF d SKIP LOCKED" if self._db.dialect.name == "postgresql" else ""
        any_of = self._db.dialect.any_of
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                "SELECT d.id FROM webhook_deliveries d WHERE d.status = 'PENDING'"
                f" AND d.next_attempt_at <= $1 AND {_WAITING}"
                f" ORDER BY d.next_attempt_at, d.event_seq LIMIT $2{lock}",
                now,
                limit,
            )
            ids = [r["id"] for r in rows]
            if not ids:
                return []
            await conn.execute(
                f"UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id {any_of('$1')}",
                ids,
                lease_until,
            )
            found = await conn.fetch(
                f"SELECT {DELIVERY_COLUMNS}, d.first_attempt_at, p.webhook_secret"
                f" FROM {DELIVERY_FROM} JOIN notification_policies p ON p.id = d.policy_id"
                f" WHERE d.id {any_of('$1')} ORDER BY d.event_seq",
                ids,
            )
            # By `seq`, the primary key: events have no index on `id` (migration 0013).
            events = await conn.fetch(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE seq {any_of('$1', 'bigint')}",
                sorted({int(r["event_seq"]) for r in found}),
            )
        by_seq = {e.sequence: e for e in map(event_of_row, events)}
        claimed = []
        for r in found:
            if r["webhook_secret"] is None:  # the policy went meanwhile: its delete cancels it
                continue
            claimed.append(
                Claimed(
                    delivery=delivery(r, []),
                    event=by_seq[int(r["event_seq"])],
                    secret=r["webhook_secret"],
                    first_attempt_at=r["first_attempt_at"],
                )
            )
        return claimed

    async def record(self, claimed: Claimed, outcome: Outcome) -> None:
        """Records the attempt and what it decided, unless the delivery changed meanwhile (its
        policy deleted, or redelivered on demand while in flight: then that wins)."""
        d = claimed.delivery
        number = d.attempts + 1
        if outcome.delivered:
            status = DeliveryStatus.DELIVERED
        elif outcome.next_attempt_at is None:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
        args: list[Any] = [
            d.id,
            d.attempts,
            status.value,
            outcome.next_attempt_at if outcome.next_attempt_at is not None else outcome.at,
            outcome.at,
            outcome.status_code,
            outcome.error,
            outcome.at if outcome.delivered else None,
        ]
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1,"
                " next_attempt_at = $4, last_attempt_at = $5, last_status_code = $6,"
                " last_error = $7, delivered_at = $8,"
                " first_attempt_at = COALESCE(first_attempt_at, $5)"
                " WHERE id = $1 AND attempts = $2 AND status = 'PENDING'",
                *args,
            )
            if changed:
                await conn.execute(
                    "INSERT INTO webhook_attempts (delivery_id, number, at, duration_ms,"
                    " status_code, error) VALUES ($1, $2, $3, $4, $5, $6)",
                    d.id,
                    number,
                    outcome.at,
                    outcome.duration_ms,
                    outcome.status_code,
                    outcome.error,
                )
