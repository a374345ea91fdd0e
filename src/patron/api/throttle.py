"""Abuse limits kept in this process's memory (docs/security.md): a token bucket per credential,
and a growing delay before answering repeated failed authentications from one client.

Both are per process: N processes behind a proxy allow N times the rate. Neither survives a
restart, which only ever makes them more lenient.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from patron.domain.errors import PatronError

Clock = Callable[[], float]


class RateLimited(PatronError):
    type = "RateLimited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests: retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`per_minute` requests a minute per key, in bursts of up to `per_minute` (a token bucket
    that refills continuously). Buckets that refilled completely are forgotten."""

    def __init__(self, per_minute: int, *, clock: Clock = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> None:
        """Spend one token of `key`'s bucket, or raise RateLimited saying when one is back."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._capacity, now)
            self._prune(now)
        bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.at) * self._per_second)
        bucket.at = now
        if bucket.tokens < 1.0:
            raise RateLimited(max(1, math.ceil((1.0 - bucket.tokens) / self._per_second)))
        bucket.tokens -= 1.0

    def _prune(self, now: float) -> None:
        if len(self._buckets) < 10_000:
            return
        full = self._capacity / self._per_second
        for key in [k for k, b in self._buckets.items() if now - b.at >= full]:
            del self._buckets[key]


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class FailedAuthDelay:
    """Slows the answer to a failed authentication once a client (its IP address, and the client
    id it presented) has failed more than `free` times: 0.1 s, doubling per further failure, at
    most `max_seconds`. A client's count is forgotten `forget_after` seconds after its last
    failure; a success forgets its client id's count. The wait is an asyncio sleep: it holds only
    the failing request, never the event loop."""

    def __init__(
        self,
        *,
        max_seconds: float = 5.0,
        free: int = 5,
        forget_after: float = 300.0,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._max = max_seconds
        self._free = free
        self._forget_after = forget_after
        self._clock = clock
        self._sleep = sleep
        self._failures: dict[str, _Failures] = {}

    def delay_for(self, *keys: str) -> float:
        """Record one failure for each key; answer the delay the worst of them has earned."""
        now = self._clock()
        worst = 0
        for key in keys:
            failures = self._failures.pop(key, None)
            if failures is None or now - failures.last > self._forget_after:
                failures = _Failures(0, now)
            failures.count += 1
            failures.last = now
            self._failures[key] = failures  # re-inserted: the dict stays oldest-first
            worst = max(worst, failures.count)
        while len(self._failures) > 100_000:
            del self._failures[next(iter(self._failures))]
        if self._max <= 0 or worst <= self._free:
            return 0.0
        return float(min(self._max, 0.1 * 2 ** min(worst - self._free - 1, 32)))

    async def failed(self, *keys: str) -> None:
        delay = self.delay_for(*keys)
        if delay > 0:
            await self._sleep(delay)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
