"""The drill's client: writers that create customers through nginx, each with an Idempotency-Key
it keeps until it gets an answer, the way a careful API client would.

A 503 (Patron: database unreachable, read-only or failing over), a 409 `IdempotencyKeyInUse`
(the key's first request still running somewhere), a connection error or a timeout are retried
with the same key after a short pause; any other answer ends the key. Every attempt is recorded
so the drill can say what a client saw.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

RETRY_PAUSE_SECONDS = 0.2  # short, so the outage is measured to within a fraction of a second


@dataclass(frozen=True, slots=True)
class Attempt:
    started: float
    ended: float
    outcome: str  # "ok", "503", "409", "http 500" (any other status), "connection"


@dataclass
class Load:
    client: httpx.AsyncClient
    writers: int = 8
    acked: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> customer id
    attempts: list[Attempt] = field(default_factory=list)
    failed_keys: dict[str, str] = field(default_factory=dict)  # key -> the final non-2xx answer

    async def run(self, stop: asyncio.Event) -> None:
        """Writes until `stop` is set; each writer finishes the key it holds before it returns."""
        await asyncio.gather(*(self._writer(stop) for _ in range(self.writers)))

    async def _writer(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._create(uuid.uuid4().hex)

    async def _create(self, key: str) -> None:
        body = {
            "legalName": f"Drill {key}",
            "address": {"line1": "1 Loopback Way", "town": "Localhost", "postcode": "00000",
                        "country": "US", "state": "NM"},
            "taxStatus": "TAXED",
            "contacts": [{"name": "Drill", "email": f"{key}@example.com",
                          "billingPreference": "PRIMARY"}],
        }  # fmt: skip
        while True:
            started = time.monotonic()
            try:
                response = await self.client.post(
                    "/api/customers", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError:
                self.attempts.append(Attempt(started, time.monotonic(), "connection"))
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            ended = time.monotonic()
            code = response.status_code
            if 200 <= code < 300:
                self.attempts.append(Attempt(started, ended, "ok"))
                self.acked[key] = response.json()["id"]
                return
            outcome = "503" if code == 503 else "409" if code == 409 else f"http {code}"
            self.attempts.append(Attempt(started, ended, outcome))
            if code in (409, 503) or code >= 500:
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            self.failed_keys[key] = f"{code} {response.text[:200]}"
            return

    def outcomes(self) -> Counter[str]:
        return Counter(a.outcome for a in self.attempts)

    def errors(self) -> int:
        """Attempts that did not succeed, whatever the reason."""
        return sum(1 for a in self.attempts if a.outcome != "ok")

    def longest_gap(self, since: float) -> float:
        """The longest time after `since` with no write acknowledged: the outage as a client saw
        it (writes go on every few milliseconds when all is well)."""
        ends = sorted(a.ended for a in self.attempts if a.outcome == "ok" and a.ended >= since)
        if not ends:
            return float("inf")
        marks = [since, *ends]
        return max(b - a for a, b in itertools.pairwise(marks))
