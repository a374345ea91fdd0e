"""Time limits on awaits that almost never wait, kept by one periodic check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Deadlines:
    """`bounded(awaitable, timeout)` is `asyncio.timeout` for an await on the hot path.

    asyncio.timeout schedules a timer, and cancels it, on every use: for the pool acquire that
    every PostgreSQL request makes, 7 % of a GET by id's instructions (docs/performance.md,
    "Session 6"). Here an await costs a dict entry; a check every `period` seconds, running only
    while something is waiting, cancels the tasks past their deadline, and their `bounded` raises
    TimeoutError. A deadline is therefore kept to within `period`, late rather than early."""

    def __init__(self, period: float = 0.1) -> None:
        self._period = period
        self._due: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._check_handle: asyncio.TimerHandle | None = None

    async def bounded(self, awaitable: Awaitable[T], timeout: float) -> T:
        # The loop named, not looked up twice: Python 3.11 makes a system call (getpid) for each
        # look-up of the running loop.
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("Deadlines.bounded needs a task to cancel")
        self._due[task] = loop.time() + timeout
        if self._check_handle is None:
            self._check_handle = loop.call_later(self._period, self._check, loop)
        try:
            return await awaitable
        except asyncio.CancelledError:
            # Ours only if nothing else asked for the cancellation too (as asyncio.timeout).
            if task in self._expired:
                self._expired.discard(task)
                if task.uncancel() == 0:
                    raise TimeoutError from None
            raise
        finally:
            del self._due[task]

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, due in list(self._due.items()):
            # A task already being cancelled is left to that cancellation.
            if due <= now and task not in self._expired and not task.cancelling():
                self._expired.add(task)
                task.cancel()
        self._expired.intersection_update(self._due)  # tasks gone by another way
        waiting = bool(self._due)
        self._check_handle = loop.call_later(self._period, self._check, loop) if waiting else None

    def close(self) -> None:
        if self._check_handle is not None:
            self._check_handle.cancel()
            self._check_handle = None
