"""Crash safety: a real server under a concurrent write load is killed with SIGKILL at random
moments and restarted, several times. Afterwards every write it acknowledged is there, and no
customer is half-written.

The load is a table of write kinds (`WRITE_KINDS`); each kind sends one write and notes in the
journal what it sent and whether it was acknowledged. A write whose answer was lost in a kill is
"unknown": it may or may not have been applied, but if it was, it was applied whole.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import address, contact, customer_body
from tests.servers import ServerProcess, issue_credential

KILLS = 4
WORKERS = 4
# Creates stop here (the load goes on with updates and archives), which bounds the checking time.
MAX_CUSTOMERS = 120


@dataclass
class Write:
    kind: str
    marker: str | None  # the data a write carries; None for an archive
    acknowledged: bool | None  # True: 2xx; False: refused; None: answer lost


@dataclass
class CustomerLog:
    """What was sent for one customer, in order (one worker owns each customer)."""

    parent: str | None = None
    created: dict[str, Any] | None = None  # the acknowledged create's answer
    writes: list[Write] = field(default_factory=list)


@dataclass
class Journal:
    lock: threading.Lock = field(default_factory=threading.Lock)
    customers: dict[str, CustomerLog] = field(default_factory=dict)
    unknown_creates: set[str] = field(default_factory=set)  # markers
    acknowledged: int = 0
    failures: list[BaseException] = field(default_factory=list)


def marked(marker: str, parent: str | None = None) -> dict[str, Any]:
    """A customer body whose every field, contact, alias and property carries `marker`."""
    body = customer_body(
        legalName=f"{marker} Ltd",
        label=f"label {marker}",
        address=address(line1=f"{marker} Street"),
        customerAliases=[f"alias-{marker}", f"alt-{marker}"],
        customProperties={"marker": marker},
        contacts=[
            contact(
                name=f"{marker} A", email=f"a.{marker}@example.com", billingPreference="PRIMARY"
            ),
            contact(
                name=f"{marker} B", email=f"b.{marker}@example.com", billingPreference="STANDARD"
            ),
        ],
    )
    if parent is not None:
        body["parentId"] = parent
    return body


def markers_in(customer: dict[str, Any]) -> set[str]:
    return {
        customer["legalName"].removesuffix(" Ltd"),
        customer["label"].removeprefix("label "),
        customer["address"]["line1"].removesuffix(" Street"),
        customer["customProperties"].get("marker", "<none>"),
        *(c["name"].rsplit(" ", 1)[0] for c in customer["contacts"]),
    }


class Worker:
    def __init__(
        self, base: str, auth: tuple[str, str], journal: Journal, seed: int, stop: threading.Event
    ) -> None:
        self.stop = stop
        self.http = httpx.Client(base_url=base, auth=auth, timeout=10)
        self.journal = journal
        self.rng = random.Random(seed)
        self.mine: list[str] = []  # live customers this worker created and saw acknowledged

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response | None:
        """The answer, or None when it was lost (killed mid-request: may have been applied)."""
        while True:
            try:
                return self.http.request(method, path, json=body)
            except httpx.ConnectError:
                if self.stop.is_set():
                    return None
                time.sleep(0.02)  # not up yet: nothing was sent, send it again
            except httpx.TransportError:
                return None

    def log(self, customer_id: str) -> CustomerLog:
        return self.journal.customers[customer_id]


def create(worker: Worker) -> None:
    with worker.journal.lock:
        full = len(worker.journal.customers) + len(worker.journal.unknown_creates) >= MAX_CUSTOMERS
    if full:
        time.sleep(0.01)
        return None
    marker = f"k{uuid.uuid4().hex[:10]}"
    parent = worker.rng.choice(worker.mine) if worker.mine and worker.rng.random() < 0.3 else None
    response = worker.send("POST", "/customers", marked(marker, parent))
    with worker.journal.lock:
        if response is None:
            worker.journal.unknown_creates.add(marker)
            return
        if response.status_code == 400 and parent is not None:
            # The parent's archive was applied although its answer was lost.
            assert "parentId" in response.text, response.text
            worker.mine.remove(parent)
            return
        assert response.status_code == 201, response.text
        created = response.json()
        worker.journal.customers[created["id"]] = CustomerLog(
            parent=parent, created=created, writes=[Write("create", marker, True)]
        )
        worker.journal.acknowledged += 1
    worker.mine.append(created["id"])


def update(worker: Worker) -> None:
    if not worker.mine:
        return create(worker)
    customer_id = worker.rng.choice(worker.mine)
    marker = f"u{uuid.uuid4().hex[:10]}"
    response = worker.send("PUT", f"/customers/{customer_id}", marked(marker))
    write = Write("update", marker, None if response is None else response.status_code == 200)
    if response is not None and response.status_code != 200:
        # Only a lost archive makes an update fail: the customer is archived after all.
        assert response.json()["error"]["type"] == "ArchivedResource", response.text
        worker.mine.remove(customer_id)
    with worker.journal.lock:
        worker.log(customer_id).writes.append(write)
        worker.journal.acknowledged += bool(write.acknowledged)
    return None


def archive(worker: Worker) -> None:
    if len(worker.mine) < 3:
        return create(worker)
    customer_id = worker.rng.choice(worker.mine)
    response = worker.send("POST", f"/customers/{customer_id}/archive")
    write = Write("archive", None, None if response is None else response.status_code == 200)
    if response is not None:
        assert response.status_code == 200, response.text
        worker.mine.remove(customer_id)
    with worker.journal.lock:
        worker.log(customer_id).writes.append(write)
        worker.journal.acknowledged += bool(write.acknowledged)
    return None


# Write kinds and their weights; new write endpoints add a kind here (and what it leaves behind
# to `check_customer`).
WRITE_KINDS: list[tuple[Callable[[Worker], None], int]] = [(create, 4), (update, 4), (archive, 1)]


def run_load(worker: Worker, stop: threading.Event) -> None:
    kinds = [k for k, weight in WRITE_KINDS for _ in range(weight)]
    try:
        while not stop.is_set():
            worker.rng.choice(kinds)(worker)
    except BaseException as exc:  # reported by the test, not lost in the thread
        worker.journal.failures.append(exc)


def all_customers(http: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"includeArchived": "true", "limit": 100}
    while True:
        page = http.get("/customers", params=params).json()
        found += page["items"]
        if not page["pagination"].get("after"):
            return found
        params["after"] = page["pagination"]["after"]


def check_customer(http: httpx.Client, customer: dict[str, Any], log: CustomerLog | None) -> str:
    """Asserts the customer is whole and, if it has a log, that it holds its acknowledged writes.
    Answers its marker."""
    (marker,) = markers_in(customer)  # one version in every field: never half-written
    assert len(customer["contacts"]) == 2
    assert [c["billingPreference"] for c in customer["contacts"]] == ["PRIMARY", "STANDARD"]
    assert {c["email"] for c in customer["contacts"]} == {
        f"a.{marker}@example.com",
        f"b.{marker}@example.com",
    }
    for alias in (f"alias-{marker}", f"alt-{marker}"):
        by_alias = http.get("/customers", params={"alias": alias, "includeArchived": "true"})
        assert [c["id"] for c in by_alias.json()["items"]] == [customer["id"]], alias
    if log is None:
        return marker
    writes = log.writes
    last_acknowledged_data = max(
        i for i, w in enumerate(writes) if w.marker is not None and w.acknowledged
    )
    possible = {
        w.marker
        for w in writes[last_acknowledged_data:]
        if w.marker is not None and w.acknowledged is not False
    }
    assert marker in possible, (marker, writes)
    if any(w.kind == "archive" and w.acknowledged for w in writes):
        assert customer.get("archivedAt"), writes
    if customer.get("archivedAt"):
        assert any(w.kind == "archive" and w.acknowledged is not False for w in writes)
    if log.parent is not None:
        owners = {o["owner"]["id"] for o in customer["organizations"]}
        assert log.parent in owners, customer["organizations"]
    assert log.created is not None
    if marker == writes[0].marker and not customer.get("archivedAt"):
        # Never changed since its create: exactly what the create answered.
        ignore = {"organizations"}
        assert {k: v for k, v in customer.items() if k not in ignore} == {
            k: v for k, v in log.created.items() if k not in ignore
        }
    for old in [w.marker for w in writes if w.marker not in (None, marker)][-3:]:
        gone = http.get("/customers", params={"alias": f"alias-{old}", "includeArchived": "true"})
        assert gone.json()["items"] == [], old
    return marker


def test_acknowledged_writes_survive_sigkill(database_url: str, tmp_path: Path) -> None:
    rng = random.Random()
    auth = issue_credential(database_url, f"crash-{uuid.uuid4().hex[:8]}")
    server = ServerProcess(
        database_url, tmp_path / "server.log", {"PATRON_AUTH_CACHE_SECONDS": "60"}
    ).start()
    journal = Journal()
    stop = threading.Event()
    workers = [Worker(server.base, auth, journal, seed=i, stop=stop) for i in range(WORKERS)]
    threads = [threading.Thread(target=run_load, args=(w, stop)) for w in workers]
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))
            server.kill()
            server.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for worker in workers:
            worker.http.close()
    try:
        assert not any(t.is_alive() for t in threads)
        if journal.failures:
            raise journal.failures[0]
        assert journal.acknowledged >= 10, journal.acknowledged
        with httpx.Client(base_url=server.base, auth=auth, timeout=10) as http:
            found = {c["id"]: c for c in all_customers(http)}
            for customer_id in journal.customers:
                assert customer_id in found, f"acknowledged create {customer_id} is lost"
            for customer_id in found:
                full = http.get(f"/customers/{customer_id}").json()
                marker = check_customer(http, full, journal.customers.get(customer_id))
                if customer_id not in journal.customers:
                    # A create whose answer was lost in a kill: applied whole.
                    assert marker in journal.unknown_creates
    finally:
        server.stop()
    assert time.monotonic() - began < 120  # a guard against hangs; ~20 s on an idle machine
    print(f"{journal.acknowledged} acknowledged writes, {len(found)} customers, {KILLS} kills")


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Any:
    before = set(threading.enumerate())
    yield
    assert not [t for t in threading.enumerate() if t not in before and t.is_alive()]
