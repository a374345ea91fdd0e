"""Webhook delivery by real processes: a `patron serve` SIGKILLed mid-delivery and restarted, and
two `patron worker` processes sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import customer_body
from tests.servers import ServerProcess, issue_credential
from tests.webhook_receiver import Receiver, verify_standard

FAST_ENV = {
    "PATRON_WEBHOOK_TIMEOUT_SECONDS": "1",  # a claim's lease: 3 s
    "PATRON_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
    "PATRON_WEBHOOK_BACKOFF_MAX_SECONDS": "0.3",
    "PATRON_WEBHOOK_POLL_SECONDS": "0.05",
    "PATRON_LOG_LEVEL": "info",
}
# The two-worker test's own database (its public schema is dropped): PostgreSQL only, so it runs
# in the SQLite pass too. This project's CI always has PostgreSQL at 127.0.0.1:5432.
SPARE_URL = os.environ.get(
    "PATRON_TEST_SPARE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/patron_webhook_workers"
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _client(base: str, credential: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=base, auth=credential, timeout=30)


def test_killed_mid_delivery_then_restarted(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """SIGKILL while a recipient holds a delivery: after a restart it is sent again with the same
    webhook-id, and nothing is lost."""
    credential = issue_credential(database_url, "webhook-kill")
    log = tmp_path / "serve.log"
    server = ServerProcess(database_url, log, env=FAST_ENV).start()
    try:
        with _client(server.base, credential) as api:
            policy = api.post(
                "/notifications/policies",
                json={
                    "name": "kill",
                    "channel": "WEBHOOK",
                    "recipients": [receiver.url],
                    "notificationTypes": ["CUSTOMER_CREATED", "CUSTOMER_UPDATED"],
                },
            ).json()
            receiver.hold()  # the first request waits: the server is killed while it does
            customer = api.post("/customers", json=customer_body()).json()
            receiver.wait_until(lambda got: len(got) >= 1)
            server.kill()
            held_id = receiver.snapshot()[0].webhook_id
        receiver.release()  # the killed server never hears the answer
        time.sleep(0.2)
        server = ServerProcess(database_url, log, env=FAST_ENV).start()
        with _client(server.base, credential) as api:
            # A second event of the same resource: queued behind the first until that is done.
            body = customer_body(legalName="After the crash")
            assert api.put(f"/customers/{customer['id']}", json=body).status_code == 200
            receiver.wait_until(lambda got: len({r.webhook_id for r in got}) >= 2, timeout=30)
            got = receiver.snapshot()
            ids = [r.webhook_id for r in got]
            assert ids.count(held_id) == 2, "the claimed delivery was sent again after the crash"
            assert ids.index(held_id) == 0
            assert ids[1] == held_id
            assert [r.json["notificationType"] for r in got][-1] == "CUSTOMER_UPDATED"
            assert all(verify_standard(policy["webhookSecret"], r) for r in got)
            deadline = time.monotonic() + 15
            while True:
                items = api.get(
                    "/notifications/deliveries", params={"resourceId": customer["id"]}
                ).json()["items"]
                if all(d["status"] == "DELIVERED" for d in items) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert [d["status"] for d in items] == ["DELIVERED", "DELIVERED"]
    finally:
        server.stop()
        receiver.release()
    assert policy["webhookSecret"] not in log.read_text()


def _spare_database() -> str:
    """SPARE_URL, reachable and empty (made if missing); unreachable is a skip, or under CI a
    failure."""
    import asyncpg

    async def prepare() -> None:
        try:
            try:
                conn = await asyncpg.connect(SPARE_URL, timeout=10)
            except asyncpg.InvalidCatalogNameError:
                name = SPARE_URL.rsplit("/", 1)[1].split("?")[0]
                admin = await asyncpg.connect(SPARE_URL.rsplit("/", 1)[0] + "/postgres", timeout=10)
                try:
                    await admin.execute(f'CREATE DATABASE "{name}"')
                finally:
                    await admin.close()
                conn = await asyncpg.connect(SPARE_URL, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL at {SPARE_URL} is unreachable: {exc}")
            pytest.skip(f"PostgreSQL at {SPARE_URL} is unreachable (not CI): {exc}")
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()

    asyncio.run(prepare())
    subprocess.run(
        [sys.executable, "-m", "patron", "migrate"],
        env={**os.environ, "PATRON_DATABASE_URL": SPARE_URL},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return SPARE_URL


def test_two_workers_deliver_each_event_once(tmp_path: Path, receiver: Receiver) -> None:
    url = _spare_database()
    credential = issue_credential(url, "webhook-workers")
    receiver.delay = 0.02  # slow enough that both workers have claims in flight
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    env = {**os.environ, **FAST_ENV, "PATRON_DATABASE_URL": url, "PATRON_WEBHOOK_CONCURRENCY": "4"}
    workers = []
    api_env = {**FAST_ENV, "PATRON_WEBHOOK_DISPATCHER": "off"}  # only the workers deliver
    server = ServerProcess(url, tmp_path / "serve.log", env=api_env).start()
    try:
        for log in logs:
            with log.open("wb") as sink:
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "patron", "worker"],
                        env=env,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )
        with _client(server.base, credential) as api:
            api.post(
                "/notifications/policies",
                json={
                    "name": "workers",
                    "channel": "WEBHOOK",
                    "recipients": [receiver.url],
                    "notificationTypes": ["CUSTOMER_CREATED", "CUSTOMER_UPDATED"],
                },
            ).raise_for_status()
            created = [api.post("/customers", json=customer_body()).json() for _ in range(40)]
            for c in created[:10]:
                body = customer_body(legalName=f"{c['legalName']} renamed")
                api.put(f"/customers/{c['id']}", json=body).raise_for_status()
            receiver.wait_until(lambda got: len({r.webhook_id for r in got}) == 50, timeout=60)
            time.sleep(1.5)  # room for a duplicate to show up, if there were one
            ids = [r.webhook_id for r in receiver.snapshot()]
            assert len(ids) == 50 == len(set(ids)), "an event was delivered twice"
            for c in created[:10]:
                mine = [r for r in receiver.snapshot() if r.json["resourceId"] == c["id"]]
                assert [r.json["notificationType"] for r in mine] == [
                    "CUSTOMER_CREATED",
                    "CUSTOMER_UPDATED",
                ]
            delivered = api.get("/notifications/deliveries", params={"status": "DELIVERED"})
            assert delivered.json()["pagination"]["totalResultSize"] == 50
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait(timeout=5)
        server.stop()
    # An attempt that timed out on a loaded machine is retried (and logged as a retry): what
    # must hold is one successful delivery per event, and both workers taking part.
    per_worker = [_delivered_ids(log) for log in logs]
    everything = per_worker[0] + per_worker[1]
    assert len(everything) == 50 == len(set(everything)), "a delivery succeeded twice"
    assert all(per_worker), f"both workers should have delivered: {[len(d) for d in per_worker]}"


def _delivered_ids(log: Path) -> list[str]:
    """The delivery ids of the attempts a worker's JSON log records as delivered."""
    lines = (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
    return [
        line["delivery_id"]
        for line in lines
        if line.get("message") == "webhook attempt" and line.get("outcome") == "delivered"
    ]
