"""`patron import`: run in-process through the CLI, read back through the HTTP API."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.cli import main
from tests.conftest import ClientFactory
from tests.factories import contact, customer_body


async def run_import(database_url: str, path: Path, account: str, *extra: str) -> tuple[int, Path]:
    as_csv = "--report-csv" in extra
    report = path.with_name(path.name + ".report" + (".csv" if as_csv else ".ndjson"))
    extra = tuple(e for e in extra if e != "--report-csv")
    code = await asyncio.to_thread(
        main,
        ["--database-url", database_url, "import", str(path), "--account", account,
         "--report", str(report), *extra],
    )  # fmt: skip
    return code, report


def ndjson(path: Path, *records: dict[str, Any] | str) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def report_rows(report: Path) -> dict[int, dict[str, Any]]:
    if report.suffix == ".csv":
        with open(report, newline="") as f:
            return {int(r["line"]): r for r in csv.DictReader(f)}
    return {r["line"]: r for r in map(json.loads, report.read_text().splitlines())}


def full_body(**overrides: Any) -> dict[str, Any]:
    n = uuid.uuid4().hex[:8]
    fields: dict[str, Any] = {
        "contacts": [contact(), contact(billingPreference="NONE")],
        "customerAliases": [f"crm-{n}"],
        "customProperties": {"region": "emea", "tier": "gold"},
        "integrationIds": [{"service": "Xero", "id": f"xero-{n}"}],
        "label": "Key account",
        "url": "https://www.example.com/about",
    }
    return customer_body(**{**fields, **overrides})


@pytest.fixture
async def account(new_client: ClientFactory) -> tuple[str, httpx.AsyncClient]:
    name = f"import-{uuid.uuid4().hex[:8]}"
    return name, await new_client(name)


class TestImport:
    async def test_counts_and_reports_every_row(
        self, database_url: str, tmp_path: Path, account: tuple[str, httpx.AsyncClient]
    ) -> None:
        name, client = account
        given_id = str(uuid.uuid4())
        first = full_body()
        path = ndjson(
            tmp_path / "c.ndjson",
            first,
            {**full_body(), "id": given_id},
            customer_body(contacts=[contact(email="not-an-email")]),
            "{not json",
            full_body(customerAliases=first["customerAliases"]),
            full_body(parentId=given_id),
            customer_body(),
        )
        code, report = await run_import(database_url, path, name)
        assert code == 1  # some rows failed
        rows = report_rows(report)
        assert {n: r["result"] for n, r in rows.items()} == {
            1: "created",
            2: "created",
            3: "error",
            4: "error",
            5: "error",
            6: "error",
            7: "created",
        }
        assert rows[2]["id"] == given_id
        assert "contacts[0].email" in rows[3]["reason"]
        assert "not valid JSON" in rows[4]["reason"]
        assert "repeats line 1" in rows[5]["reason"]
        assert rows[6]["errors"] == [{"field": "parentId", "message": "not supported in import"}]
        listed = (await client.get("/customers", params={"limit": 100})).json()
        assert listed["pagination"]["totalResultSize"] == 3

    async def test_rerun_creates_nothing_twice(
        self, database_url: str, tmp_path: Path, account: tuple[str, httpx.AsyncClient]
    ) -> None:
        name, client = account
        path = ndjson(
            tmp_path / "c.ndjson",
            full_body(),  # matched again by its alias
            {**full_body(), "id": str(uuid.uuid4())},  # by its id
            customer_body(),  # neither: by its content
            customer_body(contacts=[contact(email="bad")]),
        )
        assert (await run_import(database_url, path, name))[0] == 1
        code, report = await run_import(database_url, path, name, "--batch-size", "1")
        assert code == 1
        assert [r["result"] for r in report_rows(report).values()] == [
            "skipped",
            "skipped",
            "skipped",
            "error",
        ]
        listed = (await client.get("/customers")).json()
        assert listed["pagination"]["totalResultSize"] == 3

    async def test_repeats_across_batches_are_errors(
        self, database_url: str, tmp_path: Path, account: tuple[str, httpx.AsyncClient]
    ) -> None:
        name, _ = account
        given_id = str(uuid.uuid4())
        a, b = full_body(), full_body()
        path = ndjson(
            tmp_path / "c.ndjson",
            {**a, "id": given_id},
            b,
            customer_body(),
            {**full_body(), "id": given_id},
            full_body(customerAliases=b["customerAliases"]),
            customer_body(),
        )
        code, report = await run_import(database_url, path, name, "--batch-size", "2")
        rows = report_rows(report)
        assert code == 1
        assert [rows[n]["result"] for n in range(1, 7)] == ["created"] * 3 + ["error"] * 2 + [
            "created"
        ]

    async def test_alias_held_by_an_api_customer(
        self, database_url: str, tmp_path: Path, account: tuple[str, httpx.AsyncClient]
    ) -> None:
        name, client = account
        api_body = full_body()
        held = (await client.post("/customers", json=api_body)).json()
        # With an id of their own, these rows are new customers whose alias is in use: one
        # takes the API customer's alias, one its id.
        path = ndjson(
            tmp_path / "c.ndjson",
            {
                **full_body(),
                "id": str(uuid.uuid4()),
                "customerAliases": api_body["customerAliases"],
            },
            {**full_body(), "id": str(uuid.uuid4()), "customerAliases": [held["id"]]},
            full_body(),
        )
        code, report = await run_import(database_url, path, name)
        rows = report_rows(report)
        assert code == 1
        assert [rows[n]["result"] for n in (1, 2, 3)] == ["error", "error", "created"]
        assert "already in use" in rows[1]["reason"]

    async def test_reads_back_exactly_like_an_api_created_customer(
        self, database_url: str, tmp_path: Path, account: tuple[str, httpx.AsyncClient]
    ) -> None:
        name, client = account
        body = full_body(pushToIntegrations=["Xero"], integrationIds=None)
        imported_body = {**body, "customerAliases": ["imported-" + uuid.uuid4().hex]}
        code, report = await run_import(
            database_url, ndjson(tmp_path / "c.ndjson", imported_body), name
        )
        assert code == 0
        imported_id = report_rows(report)[1]["id"]
        imported = (await client.get(f"/customers/{imported_id}")).json()
        created = (await client.post("/customers", json=body)).json()
        assert normalised(imported) == normalised(created)
        for alias, cid in ((imported_body["customerAliases"][0], imported_id),):
            found = (await client.get("/customers", params={"alias": alias})).json()
            assert [c["id"] for c in found["items"]] == [cid]
        by_email = await client.get("/customers", params={"email": body["contacts"][1]["email"]})
        assert {c["id"] for c in by_email.json()["items"]} == {imported_id, created["id"]}

    async def test_csv(
        self, database_url: str, tmp_path: Path, account: tuple[str, httpx.AsyncClient]
    ) -> None:
        name, client = account
        path = tmp_path / "c.csv"
        header = (
            "id,legalName,address.line1,address.town,address.postcode,address.country,"
            "address.state,taxStatus,label,contact1.name,contact1.email,contact1.billingPreference,"
            "contact2.name,contact2.email,contact2.billingPreference,aliases,"
            "customProperties.region,integrationIds"
        )
        cid = str(uuid.uuid4())
        path.write_text(
            f"{header}\n"
            f'{cid},"Acme, Inc.",1 Main St,Austin,78701,US,TX,TAXED,vip,Ann,ann@acme.com,PRIMARY,'
            "Bob,bob@acme.com,STANDARD,acme-1|acme-2,amer,Xero:x-1\n"
            ",Beta Ltd,2 High St,Leeds,LS1 1AA,GB,,TAX_EXEMPT,,,,,,,,beta-1,,\n"
            ",Gamma Ltd,3 High St,York,YO1,GB,,NOT_A_STATUS,,,,,,,,gamma-1,,\n"
        )
        code, report = await run_import(database_url, path, name, "--report-csv")
        rows = report_rows(report)
        assert code == 1
        assert [rows[n]["result"] for n in (2, 3, 4)] == ["created", "created", "error"]
        assert "taxStatus" in rows[4]["reason"]
        got = (await client.get(f"/customers/{cid}")).json()
        assert got["legalName"] == "Acme, Inc."
        assert got["address"]["state"] == "TX"
        assert [(c["email"], c["billingPreference"]) for c in got["contacts"]] == [
            ("ann@acme.com", "PRIMARY"),
            ("bob@acme.com", "STANDARD"),
        ]
        assert got["customProperties"] == {"region": "amer"}
        assert got["integrationIds"] == [{"service": "Xero", "id": "x-1", "isPending": False}]
        found = (await client.get("/customers", params={"alias": "acme-2"})).json()
        assert [c["id"] for c in found["items"]] == [cid]
        code, report = await run_import(database_url, path, name, "--report-csv")
        assert [r["result"] for r in report_rows(report).values()] == [
            "skipped",
            "skipped",
            "error",
        ]

    def test_unknown_csv_column_stops_before_any_row(
        self, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "c.csv"
        path.write_text("legalName,colour\nA,red\n")
        code = main(["--database-url", database_url, "import", str(path), "--account", "x"])
        assert code == 2
        assert "colour" in capsys.readouterr().err


def normalised(customer: dict[str, Any]) -> dict[str, Any]:
    """The customer without what differs between any two customers (ids and times)."""
    out = {k: v for k, v in customer.items() if k not in ("id", "createdAt")}
    out["contacts"] = [
        {k: v for k, v in c.items() if k not in ("id", "createdAt", "updatedAt")}
        for c in customer["contacts"]
    ]
    return out
