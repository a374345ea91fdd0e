"""What PostgreSQL does for one POST /customers: the create's single statement, captured from the
app in-process, run under `EXPLAIN (ANALYZE, BUFFERS, WAL)` again and again with fresh ids, and
the medians of its execution time, shared-buffer hits, WAL records and trigger time. Buffer hits
and WAL records are counts, the same on a busy machine as on an idle one.

    .venv/bin/python bench/create_plan.py \\
        --pg-url postgresql://postgres@127.0.0.1:5432/patron_bench \\
        --on "ALTER TABLE events DROP CONSTRAINT events_id_key" \\
        --off "ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id)"

With `--on` and `--off`, rounds alternate A (as the database is) and B (`--on` applied before the
round, `--off` after it): a schema change measured on the same statement. Runs on the database
`bench/run.py` left (its account `bench`, var/bench/one.json); each run inserts a customer."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from ab import schema_change

from patron.app import build_services, create_app
from patron.config import Settings
from patron.storage.postgres import PostgresConnection

ROOT = Path(__file__).resolve().parents[1]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def capture(url: str) -> tuple[str, tuple[Any, ...]]:
    """The statement a create sends alone (`fetch_last`) and its arguments."""
    os.environ["PATRON_DATABASE_URL"] = url
    settings = Settings.from_env()
    services, _ = await build_services(settings)
    app = create_app(settings, services=services)
    seen: list[tuple[str, tuple[Any, ...]]] = []
    original = PostgresConnection.fetch_last

    async def recording(self: PostgresConnection, sql: str, *args: Any) -> Any:
        seen.append((sql, args))
        return await original(self, sql, *args)

    PostgresConnection.fetch_last = recording  # type: ignore[method-assign]
    one = json.loads((ROOT / "var/bench/one.json").read_text())
    body = {k: v for k, v in one.items() if k not in ("id", "customerAliases")}
    auth = (ROOT / "var/bench/auth-postgresql").read_text().strip()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench/api",
        headers={"Authorization": auth},
    ) as client:
        response = await client.post("/customers", json=body)
        assert response.status_code == 201, response.text
    PostgresConnection.fetch_last = original  # type: ignore[method-assign]
    return seen[-1]


def renewed(args: tuple[Any, ...], ids: set[str]) -> list[Any]:
    """The arguments with every new id (the customer's, its contacts', its events') replaced."""
    fresh = {i: str(uuid.uuid4()) for i in ids}

    def sub(value: Any) -> Any:
        if isinstance(value, str):
            return _UUID.sub(lambda m: fresh.get(m.group(0), m.group(0)), value)
        if isinstance(value, list | tuple):
            return type(value)(sub(v) for v in value)
        return value

    return [sub(a) for a in args]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/patron_bench")
    parser.add_argument("--on", help="SQL applied before each B round")
    parser.add_argument("--off", help="SQL undoing --on after each B round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--runs", type=int, default=50, help="per round, after 10 unmeasured")
    args = parser.parse_args()
    sql, sql_args = await capture(args.pg_url)
    conn = await asyncpg.connect(args.pg_url)
    account = await conn.fetchval("SELECT id FROM accounts WHERE name = 'bench'")
    ids = set(_UUID.findall(repr(sql_args))) - {account}
    sides = "AB" if args.on else "A"
    results: dict[str, list[tuple[float, int, int, float]]] = {side: [] for side in sides}
    try:
        for _ in range(args.rounds):
            for side in sides:
                with schema_change(args.pg_url, args.on if side == "B" else None, args.off):
                    for i in range(10 + args.runs):
                        raw = await conn.fetchval(
                            f"EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) {sql}",
                            *renewed(sql_args, ids),
                        )
                        plan = json.loads(raw)[0]
                        if i >= 10:
                            results[side].append(
                                (
                                    plan["Execution Time"],
                                    plan["Plan"]["Shared Hit Blocks"],
                                    plan["Plan"]["WAL Records"],
                                    sum(t["Time"] for t in plan.get("Triggers", [])),
                                )
                            )
    finally:
        await conn.close()
    for side, rows in results.items():
        print(
            side,
            f"execution {statistics.median(r[0] for r in rows):.3f} ms,",
            f"buffer hits {statistics.median(r[1] for r in rows)},",
            f"WAL records {statistics.median(r[2] for r in rows)},",
            f"triggers {statistics.median(r[3] for r in rows):.3f} ms",
            f"({len(rows)} runs, load {os.getloadavg()[0]:.1f})",
        )


if __name__ == "__main__":
    asyncio.run(main())
