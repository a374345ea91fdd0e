"""PostgreSQL engine: an asyncpg pool whose per-release reset is a no-op, and whose failures to
reach a writable primary become `Unavailable` (a 503 the client retries, docs/deploy.md).

asyncpg resets every connection it takes back (RESET ALL, UNLISTEN, advisory unlocks), which costs
30-50 % of read throughput here. Patron sets no session state, takes only transaction-scoped
advisory locks (released at commit) and never LISTENs, so there is nothing to reset.

The pool heals by itself: asyncpg replaces a connection that closed (server gone, failover) on the
next acquire, and a multi-host URL with `target_session_attrs=read-write` makes each new
connection find the current primary. A connection that is open but read-only (its server was
demoted to a standby under it) would go on failing writes, so the first read-only error expires
every connection of the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from patron.domain.errors import Unavailable
from patron.storage.database import (
    BulkRows,
    Dialect,
    GuardRefused,
    LockTimeoutError,
    Row,
    UniqueViolation,
)
from patron.storage.deadlines import Deadlines

log = logging.getLogger("patron.storage")
T = TypeVar("T")

# Errors that say "no writable primary here right now", not "this statement is wrong": the server
# is unreachable or slow (OSError, TimeoutError included), shutting down or starting up (class 57),
# out of connections or disk (class 53), the link broke (class 08), or no host of a multi-host URL
# is a primary (TargetServerAttributeNotMatched).
_UNREACHABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.TargetServerAttributeNotMatched,
)


async def _no_reset(connection: asyncpg.Connection) -> None:
    return None


def _closed(raw: asyncpg.Connection | PoolConnectionProxy) -> bool:
    """Whether the connection is gone. asyncpg detaches a pool's proxy from a connection the
    server dropped, and the proxy then raises on every call: that is gone too (found by
    `make drill`: a 500 instead of a 503 when the primary died mid-transaction)."""
    try:
        return raw.is_closed()
    except asyncpg.InterfaceError:
        return True


@contextmanager
def _translated(
    raw: asyncpg.Connection | PoolConnectionProxy | None = None,
    on_read_only: Callable[[], None] | None = None,
) -> Iterator[None]:
    """asyncpg's errors that callers act on, as the engine-neutral ones in `database`, and the
    database's unavailability as the domain's `Unavailable`."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise UniqueViolation(exc.constraint_name or "") from exc
    except asyncpg.LockNotAvailableError as exc:
        raise LockTimeoutError(str(exc)) from exc
    except asyncpg.ReadOnlySQLTransactionError as exc:
        if on_read_only is not None:
            on_read_only()
        raise Unavailable("The database is read-only right now (failing over)") from exc
    except _UNREACHABLE as exc:
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        raise Unavailable("The database cannot be reached right now") from exc
    except asyncpg.InterfaceError as exc:
        # Most interface errors are misuse (a bug, left as it is); on a connection that closed
        # under the statement, they are the server going away.
        if raw is None or not _closed(raw):
            raise
        raise Unavailable("The database connection was lost") from exc
    except asyncpg.exceptions.InternalClientError as exc:
        # What asyncpg raises when the server ended the session while the connection sat idle
        # in the pool ("cannot switch to state ..."): the connection is of no further use.
        log.warning("database connection broken: %s", exc)
        if raw is not None:
            with contextlib.suppress(asyncpg.InterfaceError):  # detached already: gone anyway
                raw.terminate()
        raise Unavailable("The database connection was lost") from exc
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == GuardRefused.SQLSTATE:
            raise GuardRefused(str(exc)) from exc
        raise


class PostgresConnection:
    """A connection; in `PostgresDatabase.transaction`, one whose transaction begins with its
    first statement (`begin`), so that a transaction of one statement can be sent alone
    (`fetch_last`)."""

    def __init__(
        self,
        raw: asyncpg.Connection | PoolConnectionProxy,
        on_read_only: Callable[[], None] | None = None,
        *,
        begin: Transaction | None = None,
    ) -> None:
        self._raw = raw
        self._on_read_only = on_read_only
        self._begin = begin
        # Whether a statement may be sent now: not before BEGIN (sent first), nor after the one
        # statement `fetch_last` sent alone.
        self._ready = begin is None
        self.began = False
        self.sent_alone = False

    def _translated(self) -> contextlib.AbstractContextManager[None]:
        return _translated(self._raw, self._on_read_only)

    async def _start(self) -> None:
        if self.sent_alone or self._begin is None:
            raise RuntimeError("the transaction ended with its last statement")
        with self._translated():
            await self._begin.start()
        self.began = self._ready = True

    @property
    def untouched(self) -> bool:
        """Whether its transaction has sent nothing yet (its first statement may be its last)."""
        return not self._ready and not self.sent_alone

    async def _run(
        self,
        method: Callable[..., Awaitable[T]],
        first: str,
        args: Sequence[Any],
        *,
        alone: bool = False,
    ) -> T:
        """`method(first, *args)`, one of asyncpg's statement methods (`first` the statement, or
        the table of a COPY), after BEGIN when that is still to go (unless the statement goes
        `alone`). `args` is passed on as the caller's tuple, not packed again: a create has ~75.
        Enters `_translated` only on an error, as `PostgresDatabase.fetchrow` does: a generator's
        context manager around every statement was a per cent of a create."""
        if not (alone or self._ready):
            await self._start()
        try:
            return await method(first, *args)
        except Exception:
            with self._translated():
                raise

    async def fetch_last(self, sql: str, *args: Any) -> list[Row]:
        """The transaction's last statement. When it is also the first, it is sent alone,
        without BEGIN and COMMIT (one round trip instead of three): a single statement is atomic
        by itself. Nothing may be sent after it."""
        if not self.untouched:
            return await self.fetch(sql, *args)
        rows = list(await self._run(self._raw.fetch, sql, args, alone=True))
        self.sent_alone = True
        return rows

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._run(self._raw.fetch, sql, args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._run(self._raw.fetchrow, sql, args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._run(self._raw.fetchval, sql, args)

    async def execute(self, sql: str, *args: Any) -> int:
        status = await self._run(self._raw.execute, sql, args)
        # The status tag ends with the row count: "UPDATE 1", "INSERT 0 1".
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._run(self._raw.executemany, sql, (rows,))

    async def copy_records(
        self, table: str, columns: Sequence[str], records: Sequence[Sequence[Any]]
    ) -> None:
        # COPY: one round trip and no per-row statement, several times a multi-row INSERT.
        copy = partial(self._raw.copy_records_to_table, records=records, columns=list(columns))
        await self._run(copy, table, ())


class PostgresDatabase:
    dialect = Dialect("postgresql")

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float | None = None) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._deadlines = Deadlines()
        self._expiring: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float | None = None,
        statement_cache_size: int = 100,
    ) -> PostgresDatabase:
        """`connect_timeout` bounds each attempt to open a connection (every host of a multi-host
        URL in turn); `command_timeout` each statement, COMMIT included (None: no bound). A
        request waits for a free connection at most as long as it may wait for a new one."""
        with _translated():
            pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                reset=_no_reset,
                timeout=connect_timeout,
                command_timeout=command_timeout,
                statement_cache_size=statement_cache_size,
            )
        return cls(pool, acquire_timeout=connect_timeout + (command_timeout or 0.0))

    def _read_only(self) -> None:
        log.warning("database turned read-only under this process: reconnecting to the primary")
        # Every connection is replaced on its next acquire; the task is kept so it is not lost.
        self._expiring = asyncio.get_running_loop().create_task(self._pool.expire_connections())

    async def _acquire(self) -> PoolConnectionProxy:
        """A pooled connection, which the caller hands back by `self._pool.release`."""
        # `_translated` entered only on an error, here and in `fetchrow`: a generator's context
        # manager on every acquire and keyed read is a few per cent of a GET by id
        # (docs/performance.md, Session 9).
        try:
            if self._acquire_timeout is None:
                raw: PoolConnectionProxy = await self._pool.acquire()
                return raw
            # Not acquire(timeout=...): asyncpg applies that through wait_for, a task per
            # acquire, a noticeable share of a keyed read (GET by id); nor asyncio.timeout, a
            # timer per acquire (see Deadlines).
            return await self._deadlines.bounded(self._pool.acquire(), self._acquire_timeout)
        except Exception:
            with _translated(on_read_only=self._read_only):
                raise

    # `read`, `fetchrow` and `transaction` each take their connection by hand (`_acquire`, then
    # `self._pool.release`): a shared context manager around it was one more generator per
    # request.

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PostgresConnection]:
        raw = await self._acquire()
        try:
            yield PostgresConnection(raw, self._read_only)
        finally:
            await self._pool.release(raw)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        # The lone keyed read of GET by id: without `read()`'s context manager and the
        # `PostgresConnection` it makes.
        raw = await self._acquire()
        try:
            return await raw.fetchrow(sql, *args)
        except Exception:
            with _translated(raw, self._read_only):
                raise
        finally:
            await self._pool.release(raw)

    @asynccontextmanager
    async def transaction(self, *, best_effort: bool = False) -> AsyncIterator[PostgresConnection]:
        raw = await self._acquire()
        try:
            # BEGIN goes out with the first statement (none for a block that sends nothing).
            tx = raw.transaction()
            connection = PostgresConnection(raw, None if best_effort else self._read_only, begin=tx)
            try:
                yield connection
            except BaseException:
                if not connection.began:
                    raise
                try:
                    await tx.rollback()
                except Exception:
                    # The link is gone (or broken): the server rolls back on its own. Close the
                    # connection so no one gets it back mid-transaction. (When the server died,
                    # asyncpg may have detached it from the pool already: terminating that
                    # raises, and would hide the error that counts. Found by `make drill`.)
                    with contextlib.suppress(asyncpg.InterfaceError):
                        raw.terminate()
                raise
            if connection.began:
                with connection._translated():
                    await tx.commit()
        finally:
            await self._pool.release(raw)

    def read_beside(self) -> contextlib.AbstractAsyncContextManager[PostgresConnection]:
        return self.read()

    async def bulk_insert(self, tables: Sequence[BulkRows], *, setup: Sequence[str] = ()) -> None:
        async with self.transaction() as conn:
            for sql in setup:
                await conn.execute(sql)
            for table, columns, records in tables:
                if records:
                    await conn.copy_records(table, columns, records)

    async def check_writable(self) -> None:
        async with self.transaction() as conn:
            if await conn.fetchval("SELECT current_setting('transaction_read_only') = 'on'"):
                self._read_only()
                raise Unavailable("The database is read-only right now (failing over)")

    async def close(self) -> None:
        self._deadlines.close()
        await self._pool.close()
