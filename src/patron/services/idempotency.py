"""Run a keyed request at most once: claim the key, let the operation run in the same transaction,
keep its answer with the key, replay that answer to repeats. Expired keys are purged in batches.

Crash safety comes from the transaction: the claim, the operation's changes and the stored answer
are one commit (see docs/decisions/idempotency.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from patron.domain.idempotency import (
    KEY_HEADER,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    KeyRecord,
    RequestPrint,
    StoredResponse,
    check_key,
)
from patron.domain.ids import now_micros
from patron.storage.database import LockTimeoutError
from patron.storage.idempotency import purge_expired
from patron.storage.unit import Store

log = logging.getLogger("patron.idempotency")

PURGE_BATCH = 1000


@dataclass(slots=True)
class Claim:
    """A keyed request's turn. `replay` is the earlier answer when the request ran before; else the
    request is to run now, and `keep()` its answer to commit it, or leave it to undo everything."""

    replay: StoredResponse | None = None
    answer: StoredResponse | None = None

    def keep(self, answer: StoredResponse) -> None:
        self.answer = answer


class _DiscardError(Exception):
    """Leaves the request transaction by rolling it back: the request's answer is not kept."""


class IdempotencyService:
    def __init__(self, store: Store, *, ttl_seconds: int, wait_seconds: float) -> None:
        self._store = store
        self._ttl_micros = ttl_seconds * 1_000_000
        self._wait_seconds = wait_seconds

    @asynccontextmanager
    async def once(self, account_id: str, key: str, request: RequestPrint) -> AsyncIterator[Claim]:
        """The block runs inside one transaction that holds the key. Everything the block's
        services write joins it (`Store.request_transaction`) and commits with the kept answer
        when the block ends; an error, or an answer not kept, rolls all of it back, key included.

        A concurrent request with the key waits here until this one commits (then replays it) or
        rolls back (then runs itself), at most `wait_seconds`: then `IdempotencyKeyInUse`."""
        check_key(key)
        now = now_micros()
        try:
            async with AsyncExitStack() as stack:
                try:
                    async with asyncio.timeout(self._wait_seconds):
                        unit = await stack.enter_async_context(
                            self._store.request_transaction(account_id)
                        )
                    claimed = await unit.idempotency.claim(
                        key,
                        request,
                        now,
                        now + self._ttl_micros,
                        wait_millis=int(self._wait_seconds * 1000),
                    )
                except (TimeoutError, LockTimeoutError) as exc:
                    raise _in_use() from exc
                if not claimed:
                    yield Claim(replay=_replayable(await unit.idempotency.find(key), request))
                    return
                claim = Claim()
                yield claim
                if claim.answer is None:
                    raise _DiscardError
                await unit.idempotency.save(key, claim.answer)
        except _DiscardError:
            pass

    async def purge_expired(self, *, limit: int = PURGE_BATCH) -> int:
        """Delete one batch of expired keys; answers how many."""
        return await purge_expired(self._store.db, now_micros(), limit=limit)

    async def purge_periodically(
        self, interval_seconds: float, *, batch: int = PURGE_BATCH
    ) -> None:
        """Purge expired keys every `interval_seconds`, batch after batch, until cancelled. Each
        batch is its own short transaction, so requests wait at most one batch for it."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                while await self.purge_expired(limit=batch) == batch:
                    await asyncio.sleep(0)  # let requests in between batches
            except Exception:
                # A failed purge is retried next round; it must never stop the loop.
                log.exception("purging expired idempotency keys failed")


def _in_use() -> IdempotencyKeyInUse:
    return IdempotencyKeyInUse(
        f"A request with this {KEY_HEADER} is still being processed; retry shortly"
    )


def _replayable(record: KeyRecord | None, request: RequestPrint) -> StoredResponse:
    """The stored answer when `request` repeats the one the key was first used for."""
    if record is None or record.response is None:
        # Neither happens (claim and answer commit together, live keys are not purged), but if it
        # did, the safe answer is "try again", never running the operation a second time.
        raise _in_use()
    first = record.request
    if (first.method, first.target) != (request.method, request.target):
        raise IdempotencyKeyReused(
            f"This {KEY_HEADER} was already used for {first.method} {first.target}; "
            "use a new key for a different request"
        )
    if first.digest != request.digest:
        raise IdempotencyKeyReused(
            f"This {KEY_HEADER} was already used with a different request body; "
            "use a new key for a different request"
        )
    return record.response
