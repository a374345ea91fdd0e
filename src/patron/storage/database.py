"""The one interface both engines implement: run `$n`-parameter SQL, read rows, group writes.
Either engine raises `domain.errors.Unavailable` when the database cannot take the request now.

SQL is written once, PostgreSQL-style (`$1`, `$2`); the SQLite engine rewrites the numbers to `?1`,
which SQLite reads the same way. The few spots where the engines' SQL differs are in `Dialect`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any, Protocol

# A result row: sqlite3.Row and asyncpg.Record both read by column name.
Row = Any
# One statement and its arguments.
Statement = tuple[str, Sequence[Any]]

_PLACEHOLDER = re.compile(r"\$(\d+)")


def bind(args: list[Any], value: Any) -> str:
    """Append `value` to a statement's arguments; answers its placeholder (`$n`)."""
    args.append(value)
    return f"${len(args)}"


class UniqueViolation(Exception):
    """A write hit a unique index; `constraint` names the index so the caller can say which."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


class GuardRefused(Exception):
    """A guard function the statement called refused it (it raised SQLSTATE `PA001`, migration
    0012): the whole statement was undone."""

    SQLSTATE = "PA001"


class LockTimeoutError(Exception):
    """A statement waited longer than its transaction's lock timeout (`Dialect.lock_timeout`)."""


class MigrationRefused(Exception):
    """A migration found rows it cannot carry over; its transaction is rolled back, so nothing
    changed (PostgreSQL runs a migration in one transaction). The message names the rows'
    tables and how to find them."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str

    def any_of(self, placeholder: str, element: str = "text") -> str:
        """`col <this>` is true when col is one of the list bound to `placeholder` (a list of
        `element`s: PostgreSQL's type name)."""
        if self.name == "postgresql":
            return f"= ANY({placeholder}::{element}[])"
        return f"IN (SELECT value FROM json_each({placeholder}))"

    def json_list(self, columns: Sequence[str], source: str, order_by: str) -> str:
        """A scalar subquery: the rows of `source` ("table WHERE ...") as a JSON array of objects
        holding `columns`, in `order_by` order ("[]" when there are none). Lets one statement
        answer a customer with its collections (one round trip instead of five)."""
        pairs = ", ".join(f"'{c}', {c}" for c in columns)
        if self.name == "postgresql":
            return (
                f"(SELECT COALESCE(json_agg(json_build_object({pairs}) ORDER BY {order_by}),"
                f" '[]') FROM {source})"
            )
        # SQLite aggregates in the order the ordered subquery yields its rows.
        return (
            f"(SELECT json_group_array(json_object({pairs}))"
            f" FROM (SELECT * FROM {source} ORDER BY {order_by}))"
        )

    def transaction_lock(self, placeholder: str) -> str | None:
        """SQL that holds a lock named by the text bound to `placeholder` until the transaction
        ends, or None where there is nothing to take: a SQLite write transaction already
        excludes every other writer (BEGIN IMMEDIATE)."""
        if self.name == "postgresql":
            # Transaction-scoped: released at COMMIT or ROLLBACK, so the pool needs no reset.
            return f"SELECT pg_advisory_xact_lock(hashtextextended({placeholder}, 0))"
        return None

    def lock_timeout(self, millis: int | None) -> str | None:
        """SQL bounding how long the rest of the transaction waits for a row or key another
        transaction holds (`None`: back to the server's setting). SQLite has one writer, so there is
        nothing to wait for inside a transaction: no SQL."""
        if self.name != "postgresql":
            return None
        if millis is None:
            return "SET LOCAL lock_timeout = DEFAULT"
        return f"SET LOCAL lock_timeout = {max(1, int(millis))}"

    def combined(self, statements: Sequence[Statement]) -> list[Statement]:
        """Independent writes as few statements as the engine runs them in; the last answers
        what the last of `statements` answers (its RETURNING rows).

        PostgreSQL: one statement, the others as data-modifying CTEs before the last (one round
        trip instead of n). They all see the database as it was before it, so this is only for
        writes none of the others depends on, such as inserts of new rows (foreign keys are
        checked at the end of the statement, so a new row's children may come with it). SQLite
        has no data-modifying CTEs, and a statement costs no round trip there: unchanged."""
        if self.name != "postgresql" or len(statements) < 2:
            return list(statements)
        args = [value for _, values in statements for value in values]
        shape = tuple((sql, len(values)) for sql, values in statements)
        return [(_with_ctes(shape), args)]


def _renumbered(sql: str, offset: int) -> str:
    """`sql` with each `$n` moved up by `offset`."""
    return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


@lru_cache(maxsize=256)
def _with_ctes(shape: tuple[tuple[str, int], ...]) -> str:
    """The statements (each with its argument count) as one: the last after the others as
    CTEs, placeholders numbered through. Cached: a write path sends the same few shapes."""
    parts: list[str] = []
    offset = 0
    for sql, count in shape:
        parts.append(_renumbered(sql, offset))
        offset += count
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(parts[:-1]))
    return f"WITH {ctes} {parts[-1]}"


def rows_values(rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """`VALUES (...), (...)` for several rows of one shape, and the flat arguments: one INSERT
    statement instead of `executemany` (one execution, one firing of statement triggers; the
    shape, hence the cached statement, varies only with the row count)."""
    return "VALUES " + placeholder_rows(len(rows), len(rows[0])), list(chain.from_iterable(rows))


@lru_cache(maxsize=256)
def placeholder_rows(count: int, width: int, *, lead: str = "") -> str:
    """`($1, $2), ($3, $4)` for `count` rows of `width` arguments each, numbered on from the
    last of `lead` (`$1, `: a first argument every row repeats). Cached: a write path sends the
    same few shapes."""
    first = lead.count("$") + 1
    return ", ".join(
        "(" + lead + ", ".join(f"${first + i * width + j}" for j in range(width)) + ")"
        for i in range(count)
    )


# A table, its columns and the rows to append (Database.bulk_insert).
BulkRows = tuple[str, Sequence[str], Sequence[Sequence[Any]]]


class Connection(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; answers the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @property
    def untouched(self) -> bool:
        """Whether this is a transaction's connection that has sent nothing yet, so that its
        next statement may be sent alone (`fetch_last`). Always False on SQLite, where a
        transaction costs no round trips."""
        ...

    async def fetch_last(self, sql: str, *args: Any) -> list[Row]:
        """`fetch` for a transaction's last statement; nothing may be sent after it. PostgreSQL
        sends it alone, without BEGIN and COMMIT, when it is also the first (`untouched`)."""
        ...


class Database(Protocol):
    dialect: Dialect

    def read(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads that need no atomicity across statements."""
        ...

    def read_beside(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads while this process's bulk writes go on (the import's look-ups
        during a batch's write): it sees committed rows only. PostgreSQL's `read()`; on SQLite
        the one connection, once the write in progress is done."""
        ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """One read statement on its own (as `read()` would run it), for the hottest keyed reads:
        no context manager to enter on SQLite, where that is a noticeable share of the read."""
        ...

    def transaction(self, *, best_effort: bool = False) -> AbstractAsyncContextManager[Connection]:
        """A connection in a transaction: committed when the block ends, rolled back on error.
        PostgreSQL begins it with the block's first statement (`Connection.fetch_last`).

        `best_effort`: for writes that may as well not happen (a stored rendering, made by a
        GET). SQLite raises `Unavailable` at once rather than queue behind another writer (its
        one write lock, or another process's); PostgreSQL does not take a read-only error as the
        sign of a failover (the pool is expired by the next real write instead)."""
        ...

    async def bulk_insert(self, tables: Sequence[BulkRows], *, setup: Sequence[str] = ()) -> None:
        """Append many rows to several tables (in order) in one transaction, the engine's fastest
        way, for bulk import only: COPY on PostgreSQL; on SQLite the whole transaction on a worker
        thread, so the event loop's thread goes on working. `setup`: statements run first in the
        transaction. Raises UniqueViolation on a clash, with nothing written."""
        ...

    async def check_writable(self) -> None:
        """Returns when a write could be made now; raises `domain.errors.Unavailable` if not."""
        ...

    async def close(self) -> None: ...
