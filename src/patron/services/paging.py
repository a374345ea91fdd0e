"""Keyset pagination over any sorted list a repository can walk in both directions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from patron.domain.listing import PageRequest, Position

R = TypeVar("R")

# fetch(forward, start, limit): up to `limit` rows strictly beyond `start` (None: from the
# beginning), walking the sort order (`forward`) or against it; each with its position; as walked.
Fetch = Callable[[bool, Position | None, int], Awaitable[list[tuple[Position, R]]]]


@dataclass(frozen=True, slots=True)
class Window(Generic[R]):
    """One page of rows in sort order, and where the neighbouring pages start."""

    rows: list[R]
    next: Position | None
    previous: Position | None


async def window(fetch: Fetch[R], request: PageRequest) -> Window[R]:
    """The page `request` asks for. `next` is set only when rows follow the page, `previous` only
    when rows precede it, so the last page has no `after` cursor and the first no `before`."""
    forward = request.before is None
    start = request.after if forward else request.before
    found = await fetch(forward, start, request.limit + 1)
    more = len(found) > request.limit
    found = found[: request.limit]
    if not forward:
        found.reverse()
    first = found[0][0] if found else None
    last = found[-1][0] if found else None

    async def rows_beyond(position: Position | None, ahead: bool) -> bool:
        return position is not None and bool(await fetch(ahead, position, 1))

    if forward:
        next_ = last if more else None
        # Without a cursor this is the first page: nothing precedes it.
        previous = first if start is not None and await rows_beyond(first, False) else None
    else:
        previous = first if more else None
        next_ = last if await rows_beyond(last, True) else None
    return Window([row for _, row in found], next_, previous)
