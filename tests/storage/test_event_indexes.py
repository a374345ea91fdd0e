"""The events table's indexes on PostgreSQL (migration 0013): the primary key and the three list
indexes that lead with the account, none on `id`; what reads events by their key uses `seq`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from patron.storage.database import Database
from patron.storage.events import EVENT_COLUMNS

# SQLite keeps its automatic index on `id` (see migration 0013; deselected on SQLite).
pytestmark = pytest.mark.postgres_only


async def test_events_are_indexed_by_seq_and_the_list_keys_only(db: Database) -> None:
    async with db.read() as conn:
        rows = await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'events'")
    assert {r["indexname"] for r in rows} == {
        "events_pkey",
        "events_account_seq",
        "events_account_customer",
        "events_account_resource",
    }


async def test_the_dispatchers_event_read_uses_the_primary_key(db: Database) -> None:
    # The statement of storage/queue.py's claim, with SET enable_seqscan off so that an empty
    # table still shows which index the query can use.
    sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE seq {db.dialect.any_of('$1', 'bigint')}"
    async with db.transaction() as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", [1, 2, 3]))
    assert _indexes(plan[0]["Plan"]) == {"events_pkey"}, plan


def _indexes(node: dict[str, Any]) -> set[str]:
    found = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        found |= _indexes(child)
    return found
