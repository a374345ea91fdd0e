"""The webhook dispatcher: claims due deliveries from the outbox, POSTs them signed, records
each attempt, and schedules the next one with backoff.

It runs inside `patron serve` (a background task, the embedded default) or as `patron worker`;
several of either can share one PostgreSQL database (storage/queue.py says how claims keep them
apart). It never runs in a request: a slow or failing recipient delays only its own deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Protocol

from patron.domain.errors import Unavailable
from patron.domain.events import ResourceType
from patron.domain.ids import now_micros
from patron.domain.notifications import (
    RESOURCE_TYPE_NAMES,
    backoff_seconds,
    sequence_signature,
    standard_signature,
)
from patron.storage.queue import Claimed, DeliveryQueue, Outcome

log = logging.getLogger("patron.webhooks")
_MICROS = 1_000_000
# Recording an attempt while the database is away: pauses from 0.1 s, doubling up to 1 s.
RECORD_RETRY_FIRST_PAUSE_SECONDS = 0.1
RECORD_RETRY_MAX_PAUSE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Sent:
    """What one POST came to: the status code when one came back, else a short error that
    names what went wrong (never the URL, headers or body, which may hold secrets)."""

    status_code: int | None
    error: str | None = None


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent: ...


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    timeout_seconds: float = 10.0
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    retry_seconds: float = 86400.0  # retry for at least this long after the first attempt
    poll_seconds: float = 1.0
    concurrency: int = 10

    @property
    def lease_seconds(self) -> float:
        """How long a claim keeps a delivery from other dispatchers: the attempt's timeout and
        room for recording it. A dispatcher that dies leaves its claims for this long."""
        return self.timeout_seconds * 2 + 1


def payload(claimed: Claimed) -> bytes:
    """Sequence's envelope: `{notificationType, sequenceAccountId, resourceType, resourceId,
    resource}`; the resource as the event recorded it, in the 2024-07-30 shape."""
    event = claimed.event
    resource: dict[str, Any] = dict(event.resource)
    if event.resource_type is ResourceType.CUSTOMER:
        resource.pop("telephone", None)  # the history keeps it; 2024-07-30 has no such field
    body = {
        "notificationType": claimed.delivery.notification_type,
        "sequenceAccountId": event.account_id,
        "resourceType": RESOURCE_TYPE_NAMES[event.resource_type],
        "resourceId": event.resource_id,
        "resource": resource,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(claimed: Claimed, body: bytes, now_ms: int) -> dict[str, str]:
    """Both signatures, so a receiver can verify with either: Sequence's `Sequence-Signature`,
    and Standard Webhooks' `webhook-id` (the delivery's id, the same on every attempt),
    `webhook-timestamp` and `webhook-signature`."""
    message_id = claimed.delivery.id
    seconds = now_ms // 1000
    return {
        "Content-Type": "application/json",
        "User-Agent": "Patron-Webhooks/1",
        "Sequence-Signature": sequence_signature(claimed.secret, now_ms, body),
        "webhook-id": message_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": standard_signature(claimed.secret, message_id, seconds, body),
    }


class Dispatcher:
    def __init__(self, queue: DeliveryQueue, sender: Sender, settings: DispatchSettings) -> None:
        self._queue = queue
        self._sender = sender
        self._settings = settings
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claims what is due (up to `concurrency`), attempts it all at once; answers how many."""
        s = self._settings
        now = now_micros()
        # The lease by this process's clock (a second short of the database's): how long a
        # result that could not be recorded is worth retrying (_record).
        lease_ends = time.monotonic() + s.lease_seconds - 1
        claimed = await self._queue.claim(now, s.concurrency, now + int(s.lease_seconds * _MICROS))
        if claimed:
            await asyncio.gather(*(self._attempt(c, lease_ends) for c in claimed))
        return len(claimed)

    async def _attempt(self, claimed: Claimed, lease_ends: float) -> None:
        body = payload(claimed)
        headers = signed_headers(claimed, body, time.time_ns() // 1_000_000)
        started = time.monotonic()
        try:
            sent = await self._sender.post(claimed.delivery.recipient, body, headers)
        except Exception as exc:  # a bug in a sender must not stop the dispatcher
            sent = Sent(None, f"delivery failed: {type(exc).__name__}")
        duration_ms = int((time.monotonic() - started) * 1000)
        await self._record(claimed, self._outcome(claimed, sent, duration_ms), lease_ends)

    async def _record(self, claimed: Claimed, outcome: Outcome, lease_ends: float) -> None:
        """Records the attempt, trying again while the database does not answer (a failover, a
        restart) until the claim's lease ends. Without this, a POST that succeeded while the
        database was away is never recorded, its lease runs out, and it is sent a second time.
        Past the lease the delivery is anyone's to claim again: at least once still holds."""
        pause = RECORD_RETRY_FIRST_PAUSE_SECONDS
        while True:
            try:
                await self._queue.record(claimed, outcome)
                return
            except (Unavailable, OSError, TimeoutError) as exc:  # the database is away
                left = lease_ends - time.monotonic()
                if left <= 0:
                    log.warning(
                        "webhook attempt not recorded before its lease ended; it will be sent"
                        " again",
                        extra={"delivery_id": claimed.delivery.id, "error": type(exc).__name__},
                    )
                    return
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, RECORD_RETRY_MAX_PAUSE_SECONDS)

    def _outcome(self, claimed: Claimed, sent: Sent, duration_ms: int) -> Outcome:
        s = self._settings
        at = now_micros()
        code = sent.status_code
        delivered = code is not None and 200 <= code < 300
        error = sent.error
        if not delivered and error is None:
            error = f"recipient answered {code}"
        d = claimed.delivery
        next_at: int | None = None
        if not delivered:
            first = claimed.first_attempt_at or at
            if at - first < s.retry_seconds * _MICROS:
                wait = backoff_seconds(
                    d.attempts + 1,
                    base=s.backoff_base_seconds,
                    cap=s.backoff_max_seconds,
                    jitter=random.random(),
                )
                next_at = at + int(wait * _MICROS)
        log.info(
            "webhook attempt",
            extra={
                "delivery_id": d.id,
                "policy_id": d.policy_id,
                "attempt": d.attempts + 1,
                "status_code": code,
                "outcome": "delivered" if delivered else "retry" if next_at else "gave up",
                "duration_ms": duration_ms,
            },
        )
        return Outcome(at, duration_ms, code, None if delivered else error, delivered, next_at)

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until `stop` is set. Database trouble is logged and waited out."""
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("webhook dispatcher: claiming failed; trying again shortly")
                busy = 0
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                sleeper = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait(
                        {sleeper, stopper},
                        timeout=self._settings.poll_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    sleeper.cancel()
                    stopper.cancel()
