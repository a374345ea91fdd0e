"""`ImportService` with batches in flight: a batch is looked up before the write of the batch
before it begins, so it sees the ids and aliases of batches not yet committed as taken, exactly as
it would once they commit; results come in file order; an error rolls back the batches still in
flight."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from patron.domain.customers import Address, ContactDraft, CustomerDraft
from patron.domain.enums import BillingPreference, TaxStatus
from patron.services.importing import ImportRow, ImportService, RowResult
from patron.storage.bulk import BulkStore, Holder
from patron.storage.database import BulkRows, Database


class GatedStore(BulkStore):
    """Holds the first batch's write until the second batch's write begins, so that two are
    uncommitted at once; with `writes=1`, one write at a time. `fail_first`: the first write then
    fails, and the second one waits for ever (until cancelled). `events` records the look-ups
    and the writes, in order."""

    def __init__(
        self, db: Database, account_id: str, *, writes: int, fail_first: bool = False
    ) -> None:
        super().__init__(db, account_id)
        self._writes = writes
        self._fail_first = fail_first
        self._second_began = asyncio.Event()
        self.calls = 0
        self.writing = self.most_writing = 0
        self.cancelled = 0
        self.events: list[str] = []

    @property
    def batches_in_flight(self) -> int:
        return self._writes

    async def id_holders(self, ids: Sequence[str]) -> dict[str, Holder]:
        self.events.append("look-up")
        return await super().id_holders(ids)

    async def write(self, rows: Sequence[BulkRows]) -> None:
        self.calls += 1
        call = self.calls
        self.writing += 1
        self.most_writing = max(self.most_writing, self.writing)
        self.events.append(f"write {call}")
        try:
            if call == 1 and self._writes > 1:
                await self._second_began.wait()
                if self._fail_first:
                    raise RuntimeError("the database went away")
            if call == 2:
                self._second_began.set()
                if self._fail_first:
                    await asyncio.Event().wait()
            await super().write(rows)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.writing -= 1
            self.events.append(f"written {call}")


def row(line: int, *, alias: str | None = None, name: str = "Bulk Ltd") -> ImportRow:
    draft = CustomerDraft(
        legal_name=name,
        address=Address(line1="1 Main St", town="Leeds", postcode="LS1 1AA", country="GB"),
        tax_status=TaxStatus.TAXED,
        contacts=[ContactDraft("Ann", "ann@example.com", BillingPreference.PRIMARY)],
        aliases=[alias] if alias is not None else None,
    )
    return ImportRow(line, draft=draft, source=f"{name}|{alias}".encode())


def rows(tag: str) -> list[ImportRow]:
    """Batches of three: the second batch repeats an alias and a content-keyed row of the first,
    and so does the third, which is looked up once the first has committed even with one write
    at a time."""
    return [
        row(1, alias=f"a-{tag}"),
        row(2, name=f"Same {tag}"),
        row(3, alias=f"b-{tag}"),
        row(4, alias=f"a-{tag}", name="Other Ltd"),
        row(5, name=f"Same {tag}"),
        row(6, name=f"Fresh {tag}"),
        row(7, alias=f"b-{tag}", name="Third Ltd"),
        row(8, name=f"Same {tag}"),
        row(9, name=f"Last {tag}"),
    ]


async def import_rows(store: GatedStore, account: str, tag: str) -> list[RowResult]:
    results: list[RowResult] = []
    counts = await ImportService(store, account, batch_size=3).run(rows(tag), results.append)
    assert (counts.created, counts.skipped, counts.error) == (5, 0, 4)
    return results


async def customer_count(db: Database, account: str) -> int:
    async with db.read() as conn:
        n = await conn.fetchval("SELECT count(*) FROM customers WHERE account_id = $1", account)
    return int(n)


class TestBatchesInFlight:
    @pytest.mark.parametrize("writes", [2, 1])
    async def test_repeats_of_a_batch_in_flight_read_as_repeats_of_a_committed_one(
        self, db: Database, account: str, writes: int
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        store = GatedStore(db, account, writes=writes)
        results = await import_rows(store, account, tag)
        # With two writes the second batch really was written while the first was uncommitted.
        assert store.most_writing == writes
        assert [r.line for r in results] == list(range(1, 10))
        assert [r.result for r in results] == (
            ["created"] * 3 + ["error"] * 2 + ["created"] + ["error"] * 2 + ["created"]
        )
        alias_repeat = [("", f"alias 'a-{tag}' repeats an earlier row of this import")]
        content_repeat = [("id", f"{results[1].id!r} repeats an earlier row of this import")]
        # Line 4 and 5 repeat a batch not committed when they were looked up, line 7 and 8 (with
        # one write at a time) one that was: the same messages.
        assert [(e.field, e.message) for e in results[3].errors] == alias_repeat
        assert [(e.field, e.message) for e in results[4].errors] == content_repeat
        assert [(e.field, e.message) for e in results[6].errors] == [
            ("", f"alias 'b-{tag}' repeats an earlier row of this import")
        ]
        assert [(e.field, e.message) for e in results[7].errors] == content_repeat
        assert await customer_count(db, account) == 5

    async def test_each_batch_is_looked_up_before_the_write_before_it_begins(
        self, db: Database, account: str
    ) -> None:
        # One write at a time, as on SQLite, where the look-ups share the writes' connection:
        # the next batch is looked up between two writes, then planned while one is written.
        store = GatedStore(db, account, writes=1)
        await import_rows(store, account, uuid.uuid4().hex[:8])
        # alias_holders looks up ids too: two look-ups a batch.
        assert store.events == [
            *["look-up"] * 2,
            *["look-up"] * 2,
            "write 1",
            "written 1",
            *["look-up"] * 2,
            "write 2",
            "written 2",
            "write 3",
            "written 3",
        ]

    async def test_a_failed_write_stops_the_batch_in_flight(
        self, db: Database, account: str
    ) -> None:
        store = GatedStore(db, account, writes=2, fail_first=True)
        reported: list[RowResult] = []
        service = ImportService(store, account, batch_size=3)
        with pytest.raises(RuntimeError, match="went away"):
            await asyncio.wait_for(service.run(rows("x"), reported.append), timeout=30)
        # The second batch was still being written when the first failed: it is cancelled,
        # not left to write after the import has stopped.
        assert store.cancelled == 1
        assert reported == []
        assert await customer_count(db, account) == 0
