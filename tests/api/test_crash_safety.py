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
class SideLog:
    """Writes to one worker's side customer (never updated whole, so that its contacts and
    aliases are only these writes'): alias creates and deletes, contact creates, updates and
    archives, and the members of an organization it owns. Values map to their last write's
    outcome: True acknowledged, False refused, None lost."""

    customer_id: str
    organization_id: str
    pool: list[str]  # customers the organization's members are picked from
    aliases: dict[str, list[tuple[str, bool | None]]] = field(default_factory=dict)
    alias_ids: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, list[tuple[str, bool | None]]] = field(default_factory=dict)
    unknown_contacts: set[str] = field(default_factory=set)  # emails of lost creates
    initial_contacts: set[str] = field(default_factory=set)  # ids, from the customer's create
    members: list[tuple[frozenset[str], bool | None]] = field(default_factory=list)


@dataclass
class Journal:
    lock: threading.Lock = field(default_factory=threading.Lock)
    customers: dict[str, CustomerLog] = field(default_factory=dict)
    unknown_creates: set[str] = field(default_factory=set)  # markers
    # Keyed creates whose answer was lost, retried after the kills: key -> marker.
    unknown_keyed: dict[str, str] = field(default_factory=dict)
    sides: dict[int, SideLog] = field(default_factory=dict)
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
        self.seed = seed

    def send(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> httpx.Response | None:
        """The answer, or None when it was lost (killed mid-request: may have been applied)."""
        headers = {"Idempotency-Key": key} if key else None
        while True:
            try:
                return self.http.request(method, path, json=body, headers=headers)
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


def keyed_create(worker: Worker) -> None:
    """A create with an Idempotency-Key, retried once with the same key: the retry replays the
    first answer (after a kill too), never a second customer."""
    key = f"key-{uuid.uuid4().hex}"
    marker = f"i{uuid.uuid4().hex[:10]}"
    first = worker.send("POST", "/customers", marked(marker), key=key)
    retry = worker.send("POST", "/customers", marked(marker), key=key)
    answers = [r for r in (first, retry) if r is not None]
    with worker.journal.lock:
        if not answers:
            worker.journal.unknown_keyed[key] = marker
            return
        for answer in answers:
            assert answer.status_code == 201, answer.text
        if first is not None and retry is not None:
            assert retry.headers.get("Idempotent-Replayed") == "true", retry.headers
            assert retry.json() == first.json()
        created = answers[0].json()
        worker.journal.customers[created["id"]] = CustomerLog(
            created=created, writes=[Write("create", marker, True)]
        )
        worker.journal.acknowledged += 1
    worker.mine.append(created["id"])


def _side(worker: Worker) -> SideLog:
    return worker.journal.sides[worker.seed]


def _note(history: list[tuple[str, bool | None]], kind: str, response: Any, ok: int) -> bool:
    acknowledged = None if response is None else response.status_code == ok
    history.append((kind, acknowledged))
    return acknowledged is True


def alias_change(worker: Worker) -> None:
    side = _side(worker)
    live = [v for v, h in side.aliases.items() if h[-1] == ("create", True)]
    if live and worker.rng.random() < 0.4:
        value = worker.rng.choice(live)
        response = worker.send("DELETE", f"/customer-aliases/{side.alias_ids[value]}")
        if response is not None:
            assert response.status_code == 200, response.text
        _note(side.aliases[value], "delete", response, 200)
        return
    value = f"s-{uuid.uuid4().hex[:10]}"
    response = worker.send(
        "POST", "/customer-aliases", {"customerId": side.customer_id, "value": value}
    )
    side.aliases[value] = []
    if _note(side.aliases[value], "create", response, 201):
        side.alias_ids[value] = response.json()["id"]  # type: ignore[union-attr]
    elif response is not None:
        raise AssertionError(response.text)


def contact_change(worker: Worker) -> None:
    side = _side(worker)
    base = f"/customers/{side.customer_id}/contacts"
    live = [i for i, h in side.contacts.items() if h[-1][0] != "archive" and h[-1][1] is True]
    choice = worker.rng.random()
    if live and choice < 0.3:
        contact_id = worker.rng.choice(live)
        response = worker.send("POST", f"{base}/{contact_id}/archive")
        if response is not None:
            assert response.status_code == 200, response.text
        _note(side.contacts[contact_id], "archive", response, 200)
    elif live and choice < 0.6:
        contact_id = worker.rng.choice(live)
        name = f"n-{uuid.uuid4().hex[:10]}"
        body = {
            "name": name,
            "email": f"{contact_id}@side.example",
            "billingPreference": "STANDARD",
        }
        response = worker.send("PUT", f"{base}/{contact_id}", body)
        if response is not None:
            assert response.status_code == 200, response.text
        _note(side.contacts[contact_id], name, response, 200)
    else:
        tag = uuid.uuid4().hex[:10]
        body = {
            "name": "created",
            "email": f"c-{tag}@side.example",
            "billingPreference": "STANDARD",
        }
        response = worker.send("POST", base, body)
        if response is None:
            side.unknown_contacts.add(body["email"])
            return
        assert response.status_code == 201, response.text
        created = response.json()
        # Updates rename it and keep one email per contact: its id's.
        side.contacts[created["id"]] = [("created", True)]
        rename = {**body, "email": f"{created['id']}@side.example"}
        response = worker.send("PUT", f"{base}/{created['id']}", rename)
        if response is not None:
            assert response.status_code == 200, response.text
        _note(side.contacts[created["id"]], "created", response, 200)


def member_change(worker: Worker) -> None:
    side = _side(worker)
    members = frozenset(worker.rng.sample(side.pool, worker.rng.randint(0, len(side.pool))))
    response = worker.send(
        "PUT",
        f"/customer-organizations/{side.organization_id}/members",
        {"customerIds": sorted(members)},
    )
    if response is not None:
        assert response.status_code == 200, response.text
    side.members.append((members, None if response is None else True))


# Write kinds and their weights; new write endpoints add a kind here (and what it leaves behind
# to `check_customer` or `check_side`).
WRITE_KINDS: list[tuple[Callable[[Worker], None], int]] = [
    (create, 4),
    (update, 4),
    (archive, 1),
    (keyed_create, 1),
    (alias_change, 2),
    (contact_change, 2),
    (member_change, 1),
]


def make_side(http: httpx.Client) -> SideLog:
    owner = http.post("/customers", json=marked(f"side{uuid.uuid4().hex[:8]}"))
    assert owner.status_code == 201, owner.text
    pool = []
    for _ in range(3):
        member = http.post("/customers", json=marked(f"pool{uuid.uuid4().hex[:8]}"))
        assert member.status_code == 201, member.text
        pool.append(member.json()["id"])
    org = http.post(
        "/customer-organizations", json={"ownerId": owner.json()["id"], "memberIds": pool[:1]}
    )
    assert org.status_code == 201, org.text
    side = SideLog(owner.json()["id"], org.json()["id"], pool)
    side.initial_contacts = {c["id"] for c in owner.json()["contacts"]}
    side.members.append((frozenset(pool[:1]), True))
    return side


def _possible(history: list[tuple[Any, bool | None]]) -> list[Any]:
    """The outcomes a history may have left: its last acknowledged write's, or any later lost
    write's (a lost write may or may not have been applied)."""
    acknowledged = [i for i, (_, ok) in enumerate(history) if ok]
    start = acknowledged[-1] if acknowledged else 0
    outcomes = [value for value, ok in history[start:] if ok is not False]
    if not acknowledged:
        outcomes.append(None)  # never applied at all
    return outcomes


def check_side(http: httpx.Client, side: SideLog) -> None:
    aliases = http.get(f"/customers/{side.customer_id}/aliases").json()["items"]
    found = {a["value"] for a in aliases}
    for value, history in side.aliases.items():
        possible = _possible(history)
        if value in found:
            assert "create" in possible, (value, history)
        else:
            assert "delete" in possible or None in possible, (value, history)
    stray = {v for v in found if v.startswith("s-")} - set(side.aliases)
    assert not stray, stray
    contacts = http.get(
        f"/customers/{side.customer_id}/contacts", params={"includeArchived": "true"}
    ).json()["items"]
    by_id = {c["id"]: c for c in contacts}
    for contact_id, history in side.contacts.items():
        shown = by_id[contact_id]  # an acknowledged create is never lost
        if shown.get("archivedAt"):
            assert "archive" in _possible(history), (shown, history)
        else:
            assert shown["name"] in _possible(history), (shown, history)
    for shown in contacts:
        if shown["id"] not in side.contacts.keys() | side.initial_contacts:
            assert shown["email"] in side.unknown_contacts, shown
    live_primaries = [
        c for c in contacts if c["billingPreference"] == "PRIMARY" and not c.get("archivedAt")
    ]
    assert len(live_primaries) == 1, contacts
    owner = http.get(f"/customers/{side.customer_id}").json()
    (org,) = [o for o in owner["organizations"] if o["id"] == side.organization_id]
    members = frozenset(m["id"] for m in org["members"]) - {side.customer_id}
    possible = _possible(side.members)
    assert members in possible or (not members and None in possible), (members, side.members)


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
    try:
        with httpx.Client(base_url=server.base, auth=auth, timeout=10) as http:
            journal.sides = {i: make_side(http) for i in range(WORKERS)}
    except BaseException:
        server.stop()
        raise
    side_ids = {i for s in journal.sides.values() for i in (s.customer_id, *s.pool)}
    stop = threading.Event()
    workers = [Worker(server.base, auth, journal, seed=i, stop=stop) for i in range(WORKERS)]
    threads = [threading.Thread(target=run_load, args=(w, stop)) for w in workers]
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for _ in range(KILLS):
            # Kill once the load has had some writes answered since the last start, at a random
            # moment after: on a busy machine a fixed interval could kill before any write.
            wanted = journal.acknowledged + 3
            deadline = time.monotonic() + 30
            while journal.acknowledged < wanted and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))
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
            for key, marker in journal.unknown_keyed.items():
                # Lost both times: a retry now answers the one customer it made, or makes it.
                retry = http.post(
                    "/customers", json=marked(marker), headers={"Idempotency-Key": key}
                )
                assert retry.status_code == 201, retry.text
                again = http.post(
                    "/customers", json=marked(marker), headers={"Idempotency-Key": key}
                )
                assert again.json()["id"] == retry.json()["id"]
                journal.customers[retry.json()["id"]] = CustomerLog(
                    created=retry.json(), writes=[Write("create", marker, True)]
                )
            for side in journal.sides.values():
                check_side(http, side)
            found = {c["id"]: c for c in all_customers(http) if c["id"] not in side_ids}
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
