"""A label-filtered list's `totalResultSize` (read from `label_counts`, migration 0011) stays the
exact count through every write path: creates, imports, label changes, archive and restore."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.storage.database import Database
from tests.conftest import ClientFactory
from tests.factories import customer_body, make_customer
from tests.test_import import ndjson, run_import

pytestmark = pytest.mark.asyncio


def account_of(client: httpx.AsyncClient) -> str:
    account: str = client.issued.credential.account_id  # type: ignore[attr-defined]
    return account


async def total(client: httpx.AsyncClient, label: str, archived: bool = False) -> int:
    params: dict[str, Any] = {"label": label, "limit": 1}
    if archived:
        params["includeArchived"] = "true"
    response = await client.get("/customers", params=params)
    assert response.status_code == 200, response.text
    found: int = response.json()["pagination"]["totalResultSize"]
    return found


async def counted(db: Database, account: str) -> dict[str, tuple[int, int]]:
    """(live, total) per label key, as `label_counts` says; keys summing to nothing left out."""
    async with db.read() as conn:
        rows = await conn.fetch(
            "SELECT label_key, SUM(live) AS live, SUM(total) AS total FROM label_counts"
            " WHERE account_id = $1 GROUP BY label_key",
            account,
        )
    return {r["label_key"]: (int(r["live"]), int(r["total"])) for r in rows if r["total"]}


async def actual(db: Database, account: str) -> dict[str, tuple[int, int]]:
    """(live, total) per label key, by a real COUNT over the account's customers."""
    async with db.read() as conn:
        rows = await conn.fetch(
            "SELECT label_key, SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END) AS live,"
            " COUNT(*) AS total FROM customers WHERE account_id = $1 AND label_key IS NOT NULL"
            " GROUP BY label_key",
            account,
        )
    return {r["label_key"]: (int(r["live"]), int(r["total"])) for r in rows}


async def relabel(client: httpx.AsyncClient, customer_id: str, label: str | None) -> int:
    """PUT the customer as it is but for its label (none: omitted); the response's status."""
    current = (await client.get(f"/customers/{customer_id}")).json()
    body = {k: current[k] for k in ("legalName", "address", "taxStatus", "contacts")}
    response = await client.put(
        f"/customers/{customer_id}", json={**body, **({} if label is None else {"label": label})}
    )
    if response.status_code == 200:
        assert response.json().get("label") == label
    return response.status_code


async def put_label(client: httpx.AsyncClient, customer: dict[str, Any], label: str | None) -> None:
    assert await relabel(client, customer["id"], label) == 200


class TestLabelTotal:
    async def test_follows_creates_label_changes_archive_and_restore(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        gold = [await make_customer(client, label=label) for label in ("Gold", "GOLD", "gold ")]
        await make_customer(client, label="Silver")
        await make_customer(client)
        # Matched ignoring case; "gold " (trailing space) is another label.
        assert await total(client, "gOLD") == 2
        assert await total(client, "gold ") == 1

        await put_label(client, gold[0], "Silver")
        assert (await total(client, "gold"), await total(client, "silver")) == (1, 2)
        await put_label(client, gold[1], None)
        assert await total(client, "gold") == 0
        await put_label(client, gold[1], "Gold")  # back again
        assert await total(client, "gold") == 1

        assert (await client.post(f"/customers/{gold[1]['id']}/archive")).status_code == 200
        assert (await total(client, "gold"), await total(client, "gold", archived=True)) == (0, 1)
        # Archiving again changes nothing.
        assert (await client.post(f"/customers/{gold[1]['id']}/archive")).status_code == 200
        assert (await total(client, "gold"), await total(client, "gold", archived=True)) == (0, 1)
        assert (await client.post(f"/customers/{gold[1]['id']}/restore")).status_code == 200
        assert (await total(client, "gold"), await total(client, "gold", archived=True)) == (1, 1)
        assert await counted(db, account_of(client)) == await actual(db, account_of(client))

    async def test_accounts_count_apart(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        for _ in range(3):
            await make_customer(client, label="Partner")
        await make_customer(other_client, label="partner")
        assert await total(client, "PARTNER") == 3
        assert await total(other_client, "PARTNER") == 1

    async def test_total_beside_other_filters_is_still_exact(
        self, client: httpx.AsyncClient
    ) -> None:
        """Label and another filter: a COUNT, not the label's count."""
        await make_customer(client, label="Mixed", legalName="Alpha Ltd")
        await make_customer(client, label="Mixed", legalName="Beta Ltd")
        response = await client.get(
            "/customers", params={"label": "mixed", "legalName": "alpha ltd"}
        )
        assert response.json()["pagination"]["totalResultSize"] == 1

    async def test_follows_imports_and_their_reruns(
        self, database_url: str, tmp_path: Path, new_client: ClientFactory, db: Database
    ) -> None:
        name = f"labels-{uuid.uuid4().hex[:8]}"
        client = await new_client(name)
        await make_customer(client, label="Wholesale")
        rows = [
            customer_body(
                label=["Wholesale", "WHOLESALE", "Retail", None][n % 4], id=str(uuid.uuid4())
            )
            for n in range(40)
        ]
        path = ndjson(tmp_path / "labels.ndjson", *rows)
        code, _ = await run_import(database_url, path, name)
        assert code == 0
        assert (await total(client, "wholesale"), await total(client, "retail")) == (21, 10)
        # The same file again creates nothing, so counts nothing.
        code, _ = await run_import(database_url, path, name)
        assert code == 0
        assert (await total(client, "wholesale"), await total(client, "retail")) == (21, 10)
        assert await counted(db, account_of(client)) == await actual(db, account_of(client))


LABELS = ["Gold", "gold", "GOLD", "Silver", "silver", "Bronze", None]
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(LABELS)),
        st.tuples(st.just("relabel"), st.integers(0, 30), st.sampled_from(LABELS)),
        st.tuples(st.just("archive"), st.integers(0, 30)),
        st.tuples(st.just("restore"), st.integers(0, 30)),
        st.tuples(st.just("import"), st.lists(st.sampled_from(LABELS), max_size=6)),
    ),
    max_size=14,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
async def test_counts_match_a_real_count_after_any_writes(
    new_client: ClientFactory,
    database_url: str,
    tmp_path: Path,
    db: Database,
    ops: list[tuple[Any, ...]],
) -> None:
    """Whatever the writes, `label_counts` equals a COUNT, and so does every label's total."""
    name = f"labels-{uuid.uuid4().hex[:8]}"
    client = await new_client(name)
    other = await new_client()  # the same labels in another account must not leak in
    await make_customer(other, label="Gold")
    made: list[str] = []
    for op in ops:
        if op[0] == "create":
            made.append((await make_customer(client, label=op[1]))["id"])
        elif op[0] == "import":
            path = ndjson(
                tmp_path / f"{uuid.uuid4().hex}.ndjson",
                *(customer_body(label=label, id=str(uuid.uuid4())) for label in op[1]),
            )
            code, _ = await run_import(database_url, path, name)
            assert code == 0
        elif made:
            customer_id = made[op[1] % len(made)]
            if op[0] == "relabel":
                # An archived customer refuses updates (400): its counts must stay as they are.
                assert await relabel(client, customer_id, op[2]) in (200, 400)
            else:
                assert (await client.post(f"/customers/{customer_id}/{op[0]}")).status_code == 200
    truth = await actual(db, account_of(client))
    assert await counted(db, account_of(client)) == truth
    for label in {label.casefold() for label in LABELS if label is not None}:
        live, all_ = truth.get(label, (0, 0))
        assert await total(client, label.upper()) == live
        assert await total(client, label, archived=True) == all_
