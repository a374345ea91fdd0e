"""`Deadlines`: asyncio.timeout's behaviour for the pool acquire, kept by one periodic check."""

from __future__ import annotations

import asyncio

import pytest

from patron.storage.deadlines import Deadlines

PERIOD = 0.01


async def _value_later(value: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return value


async def test_an_await_done_in_time_gives_its_value() -> None:
    deadlines = Deadlines(PERIOD)
    assert await deadlines.bounded(_value_later("done", 0.02), timeout=5) == "done"
    assert await deadlines.bounded(_value_later("again", 0), timeout=5) == "again"


async def test_an_await_past_its_deadline_raises_timeout_error() -> None:
    deadlines = Deadlines(PERIOD)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await deadlines.bounded(asyncio.sleep(30), timeout=0.05)
    elapsed = loop.time() - started
    assert 0.05 <= elapsed < 5  # not early; late by about PERIOD (5 s: a loaded machine)
    # The cancellation that ended the wait is spent: the task goes on as any other.
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)


async def test_the_check_starts_again_after_an_idle_spell() -> None:
    deadlines = Deadlines(PERIOD)
    await deadlines.bounded(_value_later("quick", 0), timeout=5)
    await asyncio.sleep(PERIOD * 5)  # nothing waits: the check has stopped
    with pytest.raises(TimeoutError):
        await deadlines.bounded(asyncio.sleep(30), timeout=0.05)


async def test_only_the_late_await_times_out() -> None:
    deadlines = Deadlines(PERIOD)
    slow = asyncio.create_task(deadlines.bounded(asyncio.sleep(30), timeout=0.05))
    quick = asyncio.create_task(deadlines.bounded(_value_later("quick", 0.2), timeout=30))
    with pytest.raises(TimeoutError):
        await slow
    assert await quick == "quick"


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    deadlines = Deadlines(PERIOD)
    waiting = asyncio.create_task(deadlines.bounded(asyncio.sleep(30), timeout=30))
    await asyncio.sleep(PERIOD * 3)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


class _AlsoCancelledElsewhere(Deadlines):
    """Cancels the task a second time, from elsewhere, in the turn its deadline cancels it."""

    victim: asyncio.Task[bool]

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        super()._check(loop)
        if self.victim.cancelling():
            self.victim.cancel()


async def test_a_cancellation_in_the_same_turn_as_the_deadline_is_not_swallowed() -> None:
    deadlines = _AlsoCancelledElsewhere(PERIOD)
    deadlines.victim = asyncio.create_task(deadlines.bounded(asyncio.Event().wait(), timeout=0.05))
    with pytest.raises(asyncio.CancelledError):
        await deadlines.victim
