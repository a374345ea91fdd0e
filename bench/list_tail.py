"""List p99s from a client that timestamps every request: the tail a list scenario adds over the
first page, without wrk.

    .venv/bin/python bench/list_tail.py list20 deep sortprop label --rounds 2 --seconds 8 \
        --database-url sqlite:///var/bench/patron.db --auth var/bench/auth-sqlite

Runs after `bench/run.py` (its database and credential). One Patron server; per round, each
scenario in turn for `--seconds`: 32 keep-alive connections, each sending the scenario's request
as soon as the answer to the last one is in (as `wrk -c32` does), every request's start and
duration kept. Prints requests/s, p50, p99 and max, each scenario's p99 ÷ the first scenario's in
the same round, and when the requests over the p99 began (seconds into the run): spread over the
run, or bunched in a stall. Scenarios: list20, deep (10,000 rows down, the cursor fetched from
this server, as bench/run.py does), email, alias, label, sortprop (the first request of each in
var/bench/requests/). docs/performance.md, "Session 8: the SQLite list tail".
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx
from getcpu import PORT_OFFSET, ROOT, start

CONNECTIONS = 32


async def _one_connection(
    port: int, request: bytes, until: float, kept: list[tuple[float, float]]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            kept.append((began, time.perf_counter() - began))
    finally:
        writer.close()


async def run_for(port: int, path: str, auth: str, seconds: float) -> list[tuple[float, float]]:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\r\n".encode()
    kept: list[tuple[float, float]] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(_one_connection(port, request, until, kept) for _ in range(CONNECTIONS)))
    return kept


def paths(names: list[str], port: int, auth: str) -> dict[str, str]:
    found = {}
    for name in names:
        if name == "deep":
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": auth}
            )
            after = None
            for _ in range(100):  # 100 pages of 100 = 10,000 rows deep
                page = api.get(
                    "/customers", params={"limit": 100, **({"after": after} if after else {})}
                )
                after = page.json()["pagination"]["after"]
            found[name] = f"/api/customers?limit=20&after={after}"
        else:
            first = (ROOT / f"var/bench/requests/{name}.tsv").read_text().splitlines()[0]
            found[name] = first.split("\t")[1]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--auth", required=True)
    args = parser.parse_args()
    auth = Path(args.auth).read_text().strip()
    port = 8050 + PORT_OFFSET
    server = start("src", args.database_url, port)
    try:
        requests = paths(args.scenarios, port, auth)
        for round_ in range(args.rounds):
            first_p99 = None
            for name, path in requests.items():
                kept = sorted(asyncio.run(run_for(port, path, auth, args.seconds)))
                durations = sorted(d for _, d in kept)
                p50, p99 = durations[len(durations) // 2], durations[int(len(durations) * 0.99)]
                first_p99 = first_p99 or p99
                over = sorted({round(b - kept[0][0], 1) for b, d in kept if d > p99})
                print(f"{round_} {name}: {len(kept) / args.seconds:.0f}/s, p50 {p50 * 1e3:.1f},"
                      f" p99 {p99 * 1e3:.1f}, max {durations[-1] * 1e3:.1f} ms,"
                      f" p99 ÷ {args.scenarios[0]} {p99 / first_p99:.2f};"
                      f" over the p99 at {over[:12]}{' ...' if len(over) > 12 else ''} s",
                      flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
