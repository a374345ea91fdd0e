"""PostgreSQL's plans for every customer list: an index leading with the account, never a
sequential scan of customers. Runs in the PostgreSQL pass only (marker `postgres_plans`, deselected
by tests/conftest.py on SQLite, whose plans tests/storage/test_query_plans.py checks)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from patron.storage.postgres import PostgresConnection
from tests.conftest import ClientFactory
from tests.test_import import ndjson, run_import

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres_plans]

CUSTOMERS = 3000


def _body(n: int, tag: str) -> dict[str, Any]:
    return {
        "legalName": f"Customer {n:05d}",
        "address": {"line1": "1 Main St", "town": "Leeds", "postcode": "LS1", "country": "GB"},
        "taxStatus": "TAXED",
        "label": f"segment-{n % 50:02d}",
        "contacts": [
            {"name": "B", "email": f"b{n}@{tag}.example.com", "billingPreference": "PRIMARY"}
        ],
        "customerAliases": [f"{tag}-{n}"],
        "customProperties": {"score": f"{n * 7919 % 10000:04d}"},
    }


def _scans(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(node type, relation, index) of every scan node in a JSON plan."""
    found = []
    if "Relation Name" in plan:
        found.append((plan["Node Type"], plan["Relation Name"], plan.get("Index Name", "")))
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


@pytest.fixture
async def big_account(
    database_url: str, tmp_path: Path, new_client: ClientFactory
) -> tuple[str, httpx.AsyncClient]:
    """An account of CUSTOMERS customers next to another of as many, statistics fresh."""
    tag = uuid.uuid4().hex[:8]
    for name in (f"plans-other-{tag}", f"plans-{tag}"):
        path = ndjson(tmp_path / f"{name}.ndjson", *(_body(n, name) for n in range(CUSTOMERS)))
        code, _ = await run_import(database_url, path, name)
        assert code == 0
    client = await new_client(f"plans-{tag}")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return f"plans-{tag}", client


LISTS = [
    pytest.param("default sort", {}, id="default sort"),
    pytest.param("legalName sort", {"sortBy": "legalName", "sortOrder": "DESC"}, id="legalName"),
    # Every customer holds `score`: the walk of customer_properties_account_key alone.
    pytest.param("custom-property sort", {"sortBy": "customProperties.score"}, id="custom"),
    # No customer holds `absent`: the walk of the customers lacking it (they sort as "").
    pytest.param(
        "custom-property sort, key held by none",
        {"sortBy": "customProperties.absent", "sortOrder": "DESC"},
        id="custom absent",
    ),
    pytest.param("email", {"email": "b17@{name}.example.com"}, id="email"),
    pytest.param("alias", {"alias": "{name}-17"}, id="alias"),
    pytest.param("label", {"label": "segment-07"}, id="label"),
]


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Every SELECT the app sends to PostgreSQL from now on, with its arguments."""
    seen: list[tuple[str, tuple[Any, ...]]] = []
    for method in ("fetch", "fetchrow", "fetchval"):
        original = getattr(PostgresConnection, method)

        def recorder(original: Any = original) -> Any:
            async def call(self: PostgresConnection, sql: str, *args: Any) -> Any:
                if sql.lstrip().upper().startswith("SELECT"):
                    seen.append((sql, args))
                return await original(self, sql, *args)

            return call

        monkeypatch.setattr(PostgresConnection, method, recorder())
    return seen


async def _plans(
    database_url: str, statements: list[tuple[str, tuple[Any, ...]]], table: str
) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The scan nodes of each recorded statement reading `table`."""
    conn = await asyncpg.connect(database_url)
    try:
        found = []
        for sql, args in statements:
            if f"FROM {table} " not in sql + " " and f"CROSS JOIN {table} " not in sql:
                continue
            raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
            found.append((sql, _scans(json.loads(raw)[0]["Plan"])))
        return found
    finally:
        await conn.close()


@pytest.mark.parametrize(("case", "query"), LISTS)
async def test_list_queries_use_an_account_index(
    case: str,
    query: dict[str, str],
    database_url: str,
    big_account: tuple[str, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, client = big_account
    params = {k: v.format(name=name) for k, v in query.items()}
    seen = _recording(monkeypatch)
    first = await client.get("/customers", params={**params, "limit": 20})
    assert first.status_code == 200, first.text
    after = first.json()["pagination"].get("after")
    if after:  # a page further on: the keyset condition must keep the index
        assert (
            await client.get("/customers", params={**params, "limit": 20, "after": after})
        ).is_success
    plans = await _plans(database_url, seen, "customers")
    assert plans
    for sql, scans in plans:
        assert all(node != "Seq Scan" for node, _, _ in scans), (case, sql, scans)
        on_customers = [s for s in scans if s[1] == "customers"]
        for _, _, index in on_customers:
            assert index.startswith("customers_account") or index == "customers_pkey", (
                case,
                sql,
                scans,
            )
    assert any(s[1] == "customers" for _, scans in plans for s in scans)
    if case == "custom-property sort":
        indexes = {index for _, scans in plans for _, _, index in scans}
        assert "customer_properties_account_key" in indexes, plans


async def test_alias_list_uses_an_account_index(
    database_url: str, big_account: tuple[str, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = big_account
    seen = _recording(monkeypatch)
    assert (await client.get("/customer-aliases", params={"limit": 20})).status_code == 200
    plans = await _plans(database_url, seen, "aliases")
    assert plans
    for sql, scans in plans:
        assert all(node != "Seq Scan" for node, _, _ in scans), (sql, scans)
    assert any(index.startswith("aliases_account") for _, s in plans for _, _, index in s)


async def test_label_list_total_reads_the_label_counts(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The label alone: its total from `label_counts` (migration 0010), not a COUNT over every
    customer holding the label; with another filter beside it, a COUNT."""
    for n, name in ((0, "Alpha Ltd"), (50, "Beta Ltd")):  # both label segment-00
        created = await client.post("/customers", json=_body(n, "counts") | {"legalName": name})
        assert created.status_code == 201, created.text
    seen = _recording(monkeypatch)
    only = await client.get("/customers", params={"label": "SEGMENT-00", "includeArchived": "true"})
    assert only.json()["pagination"]["totalResultSize"] == 2
    assert any("FROM label_counts" in sql for sql, _ in seen)
    assert not any("count(*)" in sql for sql, _ in seen)
    seen.clear()
    both = await client.get("/customers", params={"label": "segment-00", "legalName": "alpha ltd"})
    assert both.json()["pagination"]["totalResultSize"] == 1
    assert any("count(*) FROM customers" in sql for sql, _ in seen)
