"""`make drill`: kill the primary PostgreSQL node under write load, then one API process (SIGTERM,
then SIGKILL), and check what clients and webhook receivers saw. docs/deploy.md describes it.

    python -m drill [--keep]   (--keep leaves the temporary directory with every log)

Exits non-zero when an acknowledged write is lost, a write or a webhook happens twice, or a phase
sees errors it must not (during the failover: any 5xx but 503, unless DRILL_ALLOW_5XX is set,
which a Patron without its 503 for an unreachable database needs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from drill.cluster import Cluster
from drill.load import Load
from drill.stack import PATRON, Stack
from drill.verify import Webhooks, Writes, check_webhooks, check_writes

# Loopback ports below the kernel's ephemeral range (32768-60999 on Linux): a port in that range
# can be taken at any moment as the local end of some outgoing connection, and a listener then
# fails to bind. DRILL_PORT_BASE moves them all (default 25400).
BASE = int(os.environ.get("DRILL_PORT_BASE") or 25400)
MONITOR_PORT = BASE + 10
NODE_PORTS = (BASE + 11, BASE + 12)
NGINX_PORT = BASE + 20
API_PORTS = [BASE + 21, BASE + 22]
RECEIVER_PORT = BASE + 30
WRITERS = 8


class Drill:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cluster = Cluster(root / "pg", MONITOR_PORT, NODE_PORTS)
        self.stack = Stack(root / "stack", self.cluster.url, NGINX_PORT, API_PORTS, RECEIVER_PORT)
        self.account_id = ""
        self.auth: tuple[str, str] = ("", "")
        self.failures: list[str] = []
        self.acked: dict[str, str] = {}

    def say(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    async def set_up(self) -> None:
        self.say("starting the pg_auto_failover monitor and two PostgreSQL 15 nodes")
        await self.cluster.start()
        primary = await self.cluster.primary()
        self.say(f"{primary.name} is primary; migrating and issuing a credential")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
        env["PATRON_DATABASE_URL"] = primary.url
        subprocess.run([PATRON, "migrate"], env=env, check=True, capture_output=True)
        issued = json.loads(
            subprocess.run(
                [PATRON, "credentials", "create", "--account", "drill", "--json"],
                env=env, check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
        self.account_id = issued["accountId"]
        self.auth = (issued["clientId"], issued["clientSecret"])
        self.say("starting two patron serve behind nginx, a patron worker and the receiver")
        self.stack.start()
        async with self.client() as client:
            response = await client.post(
                "/api/notifications/policies",
                json={
                    "name": "drill",
                    "channel": "WEBHOOK",
                    "recipients": [self.stack.receiver_url],
                    "notificationTypes": ["CUSTOMER_CREATED"],
                },
            )
            response.raise_for_status()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.stack.base_url,
            auth=self.auth,
            timeout=httpx.Timeout(15.0),
            limits=httpx.Limits(max_connections=WRITERS * 2),
            trust_env=False,
        )

    async def under_load(
        self, before: float, act: Callable[[], None], after_ok: float
    ) -> tuple[Load, float]:
        """Writes for `before` seconds, calls `act()`, and goes on until writes have succeeded
        for `after_ok` seconds since the first success after the act (at most a minute)."""
        async with self.client() as client:
            load = Load(client, writers=WRITERS)
            stop = asyncio.Event()
            running = asyncio.create_task(load.run(stop))
            await asyncio.sleep(before)
            acted_at = time.monotonic()
            act()
            deadline = acted_at + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                oks = sorted(
                    a.ended for a in load.attempts if a.outcome == "ok" and a.ended > acted_at
                )
                failures_after = [
                    a.ended for a in load.attempts if a.outcome != "ok" and a.ended > acted_at
                ]
                resumed = oks[0] if oks else None
                last_failure = max(failures_after, default=acted_at)
                if resumed is not None and time.monotonic() - max(resumed, last_failure) > after_ok:
                    break
            stop.set()
            await running
        self.acked.update(load.acked)
        for key, answer in load.failed_keys.items():
            self.failures.append(f"key {key} ended with {answer}")
        return load, acted_at

    async def on_primary(self) -> asyncpg.Connection:
        primary = await self.cluster.primary()
        return await asyncpg.connect(primary.url, timeout=5)

    async def verify(self) -> tuple[Writes, Webhooks]:
        conn = await self.on_primary()
        try:
            writes = await check_writes(conn, self.account_id, self.acked)
            hooks = await check_webhooks(
                conn, self.account_id, self.stack.received_file, settle_seconds=45
            )
        finally:
            await conn.close()
        return writes, hooks

    def judge(self, phase: str, writes: Writes, hooks: Webhooks) -> None:
        if writes.lost:
            self.failures.append(f"{phase}: {writes.lost} acknowledged writes lost")
        if writes.duplicates or writes.unacknowledged:
            self.failures.append(
                f"{phase}: {writes.duplicates} duplicate customers,"
                f" {writes.unacknowledged} customers no client was told about"
            )
        if hooks.duplicates or hooks.missing or hooks.undelivered:
            self.failures.append(
                f"{phase}: webhooks: {hooks.duplicates} duplicates, {hooks.missing} missing,"
                f" {hooks.undelivered} not delivered"
            )

    async def failover(self) -> None:
        primary = await self.cluster.primary()

        def kill_primary() -> None:
            self.say(f"SIGKILL to {primary.name}: its pg_autoctl keeper and postgres")
            assert primary.keeper is not None
            primary.keeper.signal_group(signal.SIGKILL)

        load, killed_at = await self.under_load(5, kill_primary, after_ok=5)
        new_primary = await self.cluster.primary()
        self.say(f"{new_primary.name} is primary now; checking")
        writes, hooks = await self.verify()
        outcomes = load.outcomes()
        other_5xx = sum(n for o, n in outcomes.items() if o.startswith("http 5"))
        if other_5xx and not os.environ.get("DRILL_ALLOW_5XX"):
            self.failures.append(f"failover: {other_5xx} answers 5xx other than 503: {outcomes}")
        self.judge("failover", writes, hooks)
        print(
            f"drill failover: outage {load.longest_gap(killed_at):.1f} s,"
            f" {outcomes['503']} answered 503, {other_5xx} other 5xx,"
            f" {outcomes['connection']} connection errors;"
            f" acknowledged writes {writes.acknowledged}, lost {writes.lost},"
            f" duplicates {writes.duplicates};"
            f" webhooks {hooks.events} events, {hooks.received} received,"
            f" duplicates {hooks.duplicates}, missing {hooks.missing}",
            flush=True,
        )

    async def api_kill(self, sig: signal.Signals) -> None:
        port = API_PORTS[0] if sig == signal.SIGTERM else API_PORTS[1]
        api = self.stack.apis[port]

        def kill_api() -> None:
            self.say(f"{sig.name} to the patron serve on {port}")
            api.signal_group(sig)

        load, _ = await self.under_load(4, kill_api, after_ok=4)
        api.wait(35)
        writes, hooks = await self.verify()
        self.judge(sig.name, writes, hooks)
        errors = load.errors()
        # SIGTERM drains: nothing may fail. SIGKILL: only requests in flight on that process,
        # at most one per writer.
        allowed = 0 if sig == signal.SIGTERM else WRITERS
        if errors > allowed:
            self.failures.append(f"{sig.name}: {errors} errors (at most {allowed} allowed)")
        print(
            f"drill api {sig.name}: {len(load.acked)} writes acknowledged, {errors} errors"
            f" {dict(load.outcomes())}; lost {writes.lost}, duplicates {writes.duplicates};"
            f" webhooks duplicates {hooks.duplicates}, missing {hooks.missing}",
            flush=True,
        )
        self.stack.start_api(port)  # back to two for the next phase

    async def run(self) -> int:
        started = time.monotonic()
        try:
            await self.set_up()
            await self.failover()
            await self.api_kill(signal.SIGTERM)
            await self.api_kill(signal.SIGKILL)
        finally:
            self.stack.stop()
            self.cluster.stop()
        self.say(f"done in {time.monotonic() - started:.0f} s")
        for failure in self.failures:
            print(f"drill FAILED: {failure}", flush=True)
        return 1 if self.failures else 0


def main() -> int:
    options = argparse.ArgumentParser(prog="python -m drill", description=__doc__)
    options.add_argument("--keep", action="store_true", help="keep the directory with the logs")
    args = options.parse_args()
    root = Path(tempfile.mkdtemp(prefix="patron-drill-"))
    root.chmod(0o755)  # the postgres user must reach its data under it
    code = 1
    try:
        code = asyncio.run(Drill(root).run())
    finally:
        if args.keep or code:
            print(f"drill: logs in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
