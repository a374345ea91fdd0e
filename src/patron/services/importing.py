"""Bulk import of customers: check every row by the API's rules, write the good ones in batches.

Rows arrive already decoded (the file formats belong to the API layer, see `patron.api.importing`);
this module decides, per row, created / skipped / error, and writes each batch in one transaction.

Re-running a file creates nothing twice. A row is matched to a customer made *before this run*
by its `id`, or (without an id) by any of its aliases: such a row is skipped. A value that a
customer made *during this run* holds is a repeat inside the file: an error. Telling the two apart
by the holder's creation time keeps memory flat: nothing about earlier batches stays in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal

from patron.domain.customers import CustomerDraft, IntegrationId, check_draft
from patron.domain.errors import FieldError
from patron.domain.ids import new_id, now_micros
from patron.services.customers import with_pushes
from patron.storage.bulk import BulkStore, Holder, NewCustomer
from patron.storage.database import BulkRows, UniqueViolation

Outcome = Literal["created", "skipped", "error"]

_ROWS_PER_TURN = 100
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


# The import's own records are made once or twice per row, millions of times: plain slotted
# classes, since a frozen dataclass sets each field through object.__setattr__ (four times the
# cost). Nothing changes them after they are made.


@dataclass(slots=True)
class ImportRow:
    """One record of the file: its line, the id it asks for, and its draft or why it has none."""

    line: int
    id: str | None = None
    draft: CustomerDraft | None = None
    errors: list[FieldError] = field(default_factory=list)
    # The record's own bytes, from which a row with neither id nor alias gets a stable id.
    source: bytes = b""


@dataclass(slots=True)
class Planned:
    """A row that will be created, once its batch is written."""

    line: int
    customer: NewCustomer


@dataclass(slots=True)
class Checked:
    """A batch after the checks that need no database: each row with its error result or the key
    it is matched by, the ids and alias values to look up, and (once looked up) their holders."""

    rows: list[tuple[ImportRow, RowResult | None, str | None]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    id_holders: dict[str, Holder] = field(default_factory=dict)
    alias_holders: dict[str, Holder] = field(default_factory=dict)


@dataclass(slots=True)
class RowResult:
    line: int
    result: Outcome
    id: str | None = None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors)


@dataclass(slots=True)
class ImportCounts:
    created: int = 0
    skipped: int = 0
    error: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def _error(row: ImportRow, message: str, where: str = "") -> RowResult:
    return RowResult(row.line, "error", row.id, [FieldError(where, message)])


def _stable_id(account_id: str, source: bytes) -> str:
    """A row with neither id nor alias has nothing to be matched by, so its id is derived from
    its content: the same row imported again finds itself (a UUIDv8 from a SHA-256)."""
    digest = bytearray(hashlib.sha256(account_id.encode() + b"\0" + source).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def _checked(row: ImportRow) -> RowResult | None:
    """The row's error result, if its content alone rules it out."""
    if row.errors:
        return RowResult(row.line, "error", row.id, row.errors)
    assert row.draft is not None
    errors = check_draft(row.draft)
    if row.draft.parent_id is not None:
        errors.append(FieldError("parentId", "not supported in import"))
    if row.id is not None and not _CANONICAL_UUID.fullmatch(row.id):
        try:
            uuid.UUID(row.id)  # the other spellings it takes (no hyphens, braces, urn:uuid:)
        except ValueError:
            errors.append(FieldError("id", "must be a UUID"))
    if errors:
        return RowResult(row.line, "error", row.id, errors)
    return None


class ImportService:
    """Imports into one account through `store`; `batch_size` rows per transaction."""

    def __init__(self, store: BulkStore, account_id: str, *, batch_size: int = 2000) -> None:
        self._store = store
        self._account = account_id
        self._batch_size = max(1, batch_size)
        self._started = now_micros()

    async def run(
        self, rows: Iterable[ImportRow], on_result: Callable[[RowResult], None]
    ) -> ImportCounts:
        counts = ImportCounts()

        def report(results: list[RowResult]) -> None:
            for result in results:
                counts.add(result.result)
                on_result(result)

        # While a batch is written the next ones are read, checked, looked up, planned and
        # their rows built (`BulkStore.batches_in_flight` batches may be written at once): with
        # one side at a time, each waited for the other (docs/performance.md, "Session 7: import"
        # and "Session 8: import"). A batch is looked up before the write of the batch before it
        # begins: on SQLite the look-ups share the one connection with the writes, so this is
        # the one moment they wait for nothing. Whatever the batches not yet committed at that
        # moment take counts as held by earlier rows of this import, as it will once they commit.
        # Results are reported in file order. A clash with a concurrent writer is caught by the
        # unique indexes, and that batch is then written row by row. `writing`: each batch being
        # written, as its write, what it takes, and its plan.
        writing: deque[
            tuple[asyncio.Task[dict[str, FieldError]], dict[str, str], list[RowResult | Planned]]
        ] = deque()
        analyzing: asyncio.Task[None] | None = None
        iterator: Iterator[ImportRow] = iter(rows)
        batches = 0

        async def read_and_check() -> Checked | None:
            nonlocal batches, analyzing
            batch = await self._read(iterator)
            if not batch:
                return None
            batches += 1
            if batches & (batches - 1) == 0 and batches > 1 and analyzing is None:
                # Before batches 2, 4, 8, ...: the tables have doubled since statistics were
                # read. On a connection of its own, alongside the batches (ANALYZE blocks no
                # insert).
                analyzing = asyncio.ensure_future(self._store.refresh_statistics())
            return self._check(batch)

        await self._store.prepare()
        try:
            checked = await read_and_check()
            if checked is not None:
                await self._look_up(checked, {})
            while checked is not None:
                planned, taken = self._plan(checked)
                new = [p.customer for p in planned if isinstance(p, Planned)]
                rows_of_new = self._store.rows(new, now_micros()) if new else []
                following = await read_and_check()
                written: list[RowResult] = []
                if len(writing) == self._store.batches_in_flight:
                    write, _, done = writing.popleft()
                    written = self._results(done, await write)
                if following is not None:
                    in_flight = dict(taken)
                    for _, earlier, _ in writing:
                        in_flight.update(earlier)
                    await self._look_up(following, in_flight)
                writing.append(
                    (asyncio.ensure_future(self._write(new, rows_of_new)), taken, planned)
                )
                await asyncio.sleep(0)  # the write starts before anything else is done
                report(written)
                checked = following
                if analyzing is not None and analyzing.done():
                    await analyzing
                    analyzing = None
            while writing:
                write, _, done = writing.popleft()
                report(self._results(done, await write))
        except BaseException:
            # The batches still being written roll back; nothing is left running.
            unfinished = [task for task, _, _ in writing] + ([analyzing] if analyzing else [])
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            raise
        if analyzing is not None:
            await analyzing
        if batches:
            await self._store.refresh_statistics(final=True)
        return counts

    async def _read(self, rows: Iterator[ImportRow]) -> list[ImportRow]:
        """The next batch. Reading decodes, which takes a while: the loop is given a turn every
        few rows, so that the writes in flight go on (on PostgreSQL the loop sends their rows)
        and one that has finished is noticed."""
        batch: list[ImportRow] = []
        while len(batch) < self._batch_size:
            wanted = min(_ROWS_PER_TURN, self._batch_size - len(batch))
            chunk = list(islice(rows, wanted))
            batch += chunk
            if len(chunk) < wanted:
                break  # the file is done
            await asyncio.sleep(0)
        return batch

    def _check(self, batch: list[ImportRow]) -> Checked:
        checked = Checked()
        for row in batch:
            result = _checked(row)
            key = None
            if result is None:
                key = self._key(row)
                if key is not None:
                    checked.ids.append(key)
                if row.draft is not None and row.draft.aliases:
                    checked.values += row.draft.aliases
            checked.rows.append((row, result, key))
        return checked

    async def _look_up(self, checked: Checked, in_flight: dict[str, str]) -> None:
        """Finds who holds the batch's ids and alias values. `in_flight`: what batches not yet
        committed take (each id and alias, to the customer that takes it), which counts as held
        by earlier rows of this import, as it will once they commit."""
        ids, values = checked.ids, checked.values
        checked.id_holders = await self._store.id_holders(ids)
        checked.alias_holders = await self._store.alias_holders(values)
        if in_flight:
            self._hold(in_flight, ids, checked.id_holders, ids_only=True)
            self._hold(in_flight, values, checked.alias_holders, ids_only=False)

    def _plan(self, checked: Checked) -> tuple[list[RowResult | Planned], dict[str, str]]:
        """Each row's result, or the customer to create for it, in file order; and what the
        created ones take (each id and alias, to the customer that takes it)."""
        id_holders, alias_holders = checked.id_holders, checked.alias_holders
        claimed: dict[str, int] = {}  # id or alias -> the line of this batch that takes it
        planned = [
            self._decide(row, key, id_holders, alias_holders, claimed) if result is None else result
            for row, result, key in checked.rows
        ]
        taken: dict[str, str] = {}
        for item in planned:
            if isinstance(item, Planned):
                new = item.customer
                taken[new.id] = new.id
                for value in new.draft.aliases or ():
                    taken[value] = new.id
        return planned, taken

    def _hold(
        self,
        in_flight: dict[str, str],
        wanted: list[str],
        holders: dict[str, Holder],
        *,
        ids_only: bool,
    ) -> None:
        """Adds to `holders` the customers of batches in flight holding any of `wanted`, as
        the look-up will find them once they commit: an id is held by the customer with that
        id; an alias value by the customer with that alias or that id."""
        for value in wanted:
            holder = in_flight.get(value)
            if holder is not None and (holder == value or not ids_only):
                holders[value] = Holder(holder, self._account, self._started)

    def _key(self, row: ImportRow) -> str | None:
        """The id a row is matched by: its own, or (with no alias either) one from its content."""
        if row.id is not None or (row.draft is not None and row.draft.aliases):
            return row.id
        return _stable_id(self._account, row.source)

    def _decide(
        self,
        row: ImportRow,
        key: str | None,
        id_holders: dict[str, Holder],
        alias_holders: dict[str, Holder],
        claimed: dict[str, int],
    ) -> RowResult | Planned:
        draft = row.draft
        assert draft is not None
        aliases = draft.aliases or []
        if key is not None and key in claimed:
            what = "alias" if key in aliases else "id" if row.id else "the row"
            return _error(row, f"{what} {key!r} repeats line {claimed[key]}")
        for value in aliases:
            if value in claimed:
                return _error(row, f"alias {value!r} repeats line {claimed[value]}")
        if key is not None and key in id_holders:
            holder = id_holders[key]
            if holder.account_id != self._account:
                return _error(row, "is already used by a customer of another account", "id")
            if holder.created_at >= self._started:
                return _error(row, f"{key!r} repeats an earlier row of this import", "id")
            return RowResult(row.line, "skipped", key)
        if alias_holders and any(v in alias_holders for v in aliases):
            holders = {
                alias_holders[v].customer_id: alias_holders[v]
                for v in aliases
                if v in alias_holders
            }
            taken = ", ".join(repr(v) for v in aliases if v in alias_holders)
            (holder, *others) = holders.values()
            if row.id is not None or others:
                return _error(row, f"alias already in use by another customer: {taken}")
            if holder.created_at >= self._started:
                return _error(row, f"alias {taken} repeats an earlier row of this import")
            return RowResult(row.line, "skipped", holder.customer_id)
        customer_id = key or new_id()
        claimed[customer_id] = row.line
        for value in aliases:
            claimed[value] = row.line
        # As the API does on create: the written ids, then pending pushes for other services.
        integration_ids: list[IntegrationId] = []
        if draft.integration_ids or draft.push_to_integrations:
            written = [IntegrationId(x.service, x.external_id) for x in draft.integration_ids or ()]
            integration_ids = with_pushes(written, draft.push_to_integrations)
        return Planned(row.line, NewCustomer(customer_id, draft, integration_ids))

    def _results(
        self, planned: list[RowResult | Planned], failed: dict[str, FieldError]
    ) -> list[RowResult]:
        """Each row's result once its batch is written; `failed`: the customers that were not."""
        results: list[RowResult] = []
        for item in planned:
            if isinstance(item, RowResult):
                results.append(item)
                continue
            customer_id = item.customer.id
            if customer_id in failed:
                results.append(RowResult(item.line, "error", customer_id, [failed[customer_id]]))
            else:
                results.append(RowResult(item.line, "created", customer_id))
        return results

    async def _write(self, new: list[NewCustomer], rows: list[BulkRows]) -> dict[str, FieldError]:
        """Writes the batch (`rows`, made of `new`); on a clash, each customer alone. Answers
        the ones that failed, and why."""
        if not new:
            return {}
        try:
            await self._store.write(rows)
            return {}
        except UniqueViolation:
            pass
        failed: dict[str, FieldError] = {}
        for customer in new:
            try:
                await self._store.insert([customer], now_micros())
            except UniqueViolation as exc:
                what = "an alias" if "alias" in exc.constraint else "its id"
                failed[customer.id] = FieldError(
                    "", f"{what} is already in use (taken by another row or a concurrent write)"
                )
        return failed
