"""What the drill checks on the primary after the fact: every acknowledged write there once, no
key done twice, every webhook event delivered to the receiver exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from drill.receiver import received


@dataclass(frozen=True, slots=True)
class Writes:
    acknowledged: int
    lost: int  # acknowledged, but no such customer
    duplicates: int  # customers beyond the first for one Idempotency-Key
    unacknowledged: int  # customers whose key never got an answer (the client always waits for one)


@dataclass(frozen=True, slots=True)
class Webhooks:
    events: int  # CUSTOMER_CREATED events in the history
    delivered: int  # deliveries the database says were delivered
    received: int  # distinct webhook-ids the receiver got
    duplicates: int  # requests beyond the first for one webhook-id
    missing: int  # deliveries (or events without one) the receiver never got
    undelivered: int  # deliveries not DELIVERED in the database


async def check_writes(conn: asyncpg.Connection, account_id: str, acked: dict[str, str]) -> Writes:
    rows = await conn.fetch(
        "SELECT id, legal_name FROM customers WHERE account_id = $1 AND legal_name LIKE 'Drill %'",
        account_id,
    )
    ids = {r["id"] for r in rows}
    per_key = Counter(r["legal_name"].removeprefix("Drill ") for r in rows)
    return Writes(
        acknowledged=len(acked),
        lost=sum(1 for customer_id in acked.values() if customer_id not in ids),
        duplicates=sum(n - 1 for n in per_key.values()),
        unacknowledged=sum(1 for key in per_key if key not in acked),
    )


async def check_webhooks(
    conn: asyncpg.Connection, account_id: str, received_file: Path, *, settle_seconds: float
) -> Webhooks:
    """Waits (up to `settle_seconds`) for nothing to be pending and for the receiver to have as
    many requests as deliveries, then compares the two sides."""
    deadline = time.monotonic() + settle_seconds
    while True:
        pending = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE account_id = $1 AND status = 'PENDING'",
            account_id,
        )
        total = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE account_id = $1", account_id
        )
        got = received(received_file)
        if (pending == 0 and len(got) >= total) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    events = await conn.fetch(
        "SELECT id FROM events WHERE account_id = $1 AND type = 'CUSTOMER_CREATED'", account_id
    )
    deliveries = await conn.fetch(
        "SELECT id, event_id, status FROM webhook_deliveries WHERE account_id = $1", account_id
    )
    got = received(received_file)
    per_id = Counter(webhook_id for webhook_id, _, _ in got)
    per_event = Counter(d["event_id"] for d in deliveries)
    delivery_ids = {d["id"] for d in deliveries}
    missing = sum(1 for d in deliveries if per_id[d["id"]] == 0)
    missing += sum(1 for e in events if per_event[e["id"]] == 0)
    return Webhooks(
        events=len(events),
        delivered=sum(1 for d in deliveries if d["status"] == "DELIVERED"),
        received=sum(1 for webhook_id in per_id if webhook_id in delivery_ids),
        duplicates=sum(n - 1 for n in per_id.values()) + sum(n - 1 for n in per_event.values()),
        missing=missing,
        undelivered=sum(1 for d in deliveries if d["status"] != "DELIVERED"),
    )
