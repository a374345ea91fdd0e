"""Run every benchmark scenario on SQLite and PostgreSQL and print a results table.

    .venv/bin/python bench/run.py                       # 100,000 customers, both engines
    .venv/bin/python bench/run.py --customers 1000000   # the full run (README figures)
    .venv/bin/python bench/run.py --engines sqlite --scenarios get,list20

Per engine: a fresh database, `patron import` of the generated file (timed), one uvicorn worker
(`patron serve`), then for each scenario a request file under var/bench/requests/ replayed by
    wrk -t1 -c32 -d10s -s bench/wrk/replay.lua http://127.0.0.1:PORT -- FILE AUTH
(the exact command is printed), and the yardstick app (bench/yardstick.py) on the same engine
for GET by id. Peak server memory is the server process's VmHWM from /proc. `--rounds N` runs
the read scenarios N times in turn, the yardstick right after each GET run, and reports the
medians, with the ratios (GET to the yardstick, a list's p99 to the first page's) paired within
a round; results.json keeps every run. `--pin` runs the servers on the second core and wrk on
the first (`taskset`), so the load generator and the server stop taking each other's core (a
database server's processes still run where the kernel puts them).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Several benchmark runs on one machine (parallel work trees) need ports of their own.
PORT_OFFSET = int(os.environ.get("BENCH_PORT_OFFSET", "0"))
PATRON_PORT, YARDSTICK_PORT = 8010 + PORT_OFFSET, 8011 + PORT_OFFSET
VAR = ROOT / "var" / "bench"
BIN = ROOT / ".venv" / "bin"
SCENARIOS = (
    "get", "list20", "list100", "deep", "email", "alias", "label", "sortprop", "post", "put",
    "archive",
)  # fmt: skip
READS = ("get", "list20", "list100", "deep", "email", "alias", "label", "sortprop")
LISTS = ("deep", "email", "alias", "label", "sortprop")


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout


def data_file(customers: int, seed: int) -> Path:
    path = VAR / f"customers-{customers}-{seed}.ndjson"
    if not path.exists():
        with open(path, "wb") as out:
            subprocess.run(
                [sys.executable, ROOT / "bench/generate.py", f"--customers={customers}",
                 f"--seed={seed}"], stdout=out, check=True,
            )  # fmt: skip
    return path


def fresh_database(engine: str, pg_url: str) -> str:
    if engine == "sqlite":
        for f in VAR.glob("patron.db*"):
            f.unlink()
        return f"sqlite:///{VAR / 'patron.db'}"
    base, name = pg_url.rsplit("/", 1)
    admin = f"{base}/postgres"
    sh("psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    sh("psql", admin, "-qc", f"CREATE DATABASE {name}")
    return pg_url


class Server:
    def __init__(self, args: list[str], env: dict[str, str], port: int) -> None:
        self.proc = subprocess.Popen([*PIN["server"], *args], env={**os.environ, **env}, cwd=ROOT)
        self.port = port
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server on {port} did not start")

    def peak_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# Set by --pin: the command prefixes that put the load generator and the servers on their cores.
PIN: dict[str, list[str]] = {"wrk": [], "server": []}


def wrk(port: int, requests: Path, auth: str, duration: str, connections: int) -> dict[str, Any]:
    cmd = [*PIN["wrk"], "wrk", "-t1", f"-c{connections}", f"-d{duration}",
           "-s", "bench/wrk/replay.lua",
           f"http://127.0.0.1:{port}", "--", str(requests.relative_to(ROOT)), auth]  # fmt: skip
    print("  $", " ".join(cmd[:-1]), "'<auth>'", flush=True)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def request_files(api: httpx.Client, ids: list[str], n: int, rng: random.Random) -> dict[str, Path]:
    """One request file per scenario, from the generated data (see bench/generate.py)."""
    folder = VAR / "requests"
    folder.mkdir(exist_ok=True)
    sample = rng.sample(range(n), min(n, 5000))
    deep = None
    for _ in range(100):  # 100 pages of 100 = 10,000 rows deep
        page = api.get("/customers", params={"limit": 100, **({"after": deep} if deep else {})})
        deep = page.json()["pagination"]["after"]
    # The first generated customer without its id and alias, which only one customer can hold.
    one = json.loads((VAR / "one.json").read_text())
    body = json.dumps({k: v for k, v in one.items() if k not in ("id", "customerAliases")})
    lines = {
        "get": [f"GET\t/api/customers/{ids[i]}" for i in sample],
        "list20": ["GET\t/api/customers?limit=20"],
        "list100": ["GET\t/api/customers?limit=100"],
        "deep": [f"GET\t/api/customers?limit=20&after={deep}"],
        "email": [f"GET\t/api/customers?email=billing{i}@c{i}.example.com" for i in sample],
        "alias": [f"GET\t/api/customers?alias=crm-{i:07d}" for i in sample],
        "label": [f"GET\t/api/customers?label=segment-{i % 50:02d}" for i in sample],
        "sortprop": ["GET\t/api/customers?sortBy=customProperties.score&sortOrder=ASC"],
        "post": [f"POST\t/api/customers\t{body}"],
        "put": [f"PUT\t/api/customers/{ids[i]}\t{body}" for i in sample[: len(sample) // 2]],
        "archive": [f"POST\t/api/customers/{ids[i]}/archive" for i in sample[len(sample) // 2 :]],
    }
    files = {}
    for name, content in lines.items():
        files[name] = folder / f"{name}.tsv"
        files[name].write_text("\n".join(content) + "\n")
    return files


def run_engine(engine: str, args: argparse.Namespace, data: Path) -> list[dict[str, Any]]:
    url = fresh_database(engine, args.pg_url)
    env = {**os.environ, "PATRON_DATABASE_URL": url}
    sh(str(BIN / "patron"), "migrate", env=env)
    started = time.monotonic()
    out = sh(str(BIN / "patron"), "import", str(data), "--account", "bench",
             "--report", str(VAR / f"import-{engine}.ndjson"), "--batch-size", "5000",
             env=env)  # fmt: skip
    import_seconds = time.monotonic() - started
    print(f"{engine}: {out.strip()}", flush=True)
    if engine == "postgresql":
        sh("psql", url, "-qc", "VACUUM ANALYZE")
    cred = json.loads(sh(str(BIN / "patron"), "credentials", "create", "--account", "bench",
                         "--json", env=env))  # fmt: skip
    token = base64.b64encode(f"{cred['clientId']}:{cred['clientSecret']}".encode()).decode()
    auth = f"Basic {token}"
    # For bench/ab.py and bench/getcpu.py (`--auth`), which run on the database this run leaves.
    (VAR / f"auth-{engine}").write_text(auth)
    ids = [json.loads(line)["id"] for line in data.open()]
    (VAR / "one.json").write_text(data.open().readline())
    env = {"PATRON_DATABASE_URL": url, "PATRON_LOG_LEVEL": "warning"}
    patron = Server([str(BIN / "patron"), "serve", "--port", str(PATRON_PORT)], env, PATRON_PORT)
    yardstick: Server | None = None
    runs: dict[str, list[dict[str, Any]]] = {}

    def measure(name: str, server: Server, requests: Path) -> None:
        run = {**wrk(server.port, requests, auth, args.duration, args.connections),
               "peak_mb": round(server.peak_mb(), 1)}  # fmt: skip
        runs.setdefault(name, []).append(run)
        print(f"   {engine} {name}: {run}", flush=True)

    try:
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{PATRON_PORT}/api", headers={"Authorization": auth}
        )
        files = request_files(api, ids, len(ids), random.Random(args.seed))
        if "get" in args.scenarios:
            # Patron stores each customer's GET answer on its first GET (docs/performance.md,
            # "Session 4: GET by id"); imported customers have none yet. This first run renders
            # them (get-first); the rounds after it measure the steady state, as the yardstick's
            # documents are rendered beforehand.
            measure("get-first", patron, files["get"])
            sampled = [
                line.rsplit("/", 1)[1] for line in files["get"].read_text().split("\n") if line
            ]
            store_docs(url, asyncio.run(render_docs(url, sampled)))
            yardstick = Server([str(BIN / "uvicorn"), "--factory", "bench.yardstick:create_app",
                                "--port", str(YARDSTICK_PORT), "--log-level", "warning",
                                "--no-access-log"],
                               {"BENCH_DATABASE_URL": url}, YARDSTICK_PORT)  # fmt: skip
        # Reads in rounds, each round every read scenario once and the yardstick right after GET:
        # the ratios (GET to the yardstick, a list's p99 to the first page's) are taken within a
        # round, so a change in what else the shared machine runs moves both sides alike.
        reads = [s for s in args.scenarios if s in READS]
        for _ in range(args.rounds):
            for scenario in reads:
                measure(scenario, patron, files[scenario])
                if scenario == "get" and yardstick is not None:
                    measure("yardstick", yardstick, files["get"])
        # Writes once each: a second run would archive what is archived already.
        for scenario in args.scenarios:
            if scenario not in READS:
                measure(scenario, patron, files[scenario])
    finally:
        patron.stop()
        if yardstick is not None:
            yardstick.stop()
    summary = [{"engine": engine, "scenario": "import", "seconds": round(import_seconds, 1)}]
    return summary + [summarized(engine, name, rs, runs) for name, rs in runs.items()]


def summarized(
    engine: str, name: str, own: list[dict[str, Any]], runs: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The median of a scenario's runs, with its ratios paired round by round: GET's requests/s
    to the yardstick's, a list's p99 to the first page's (list20)."""
    result: dict[str, Any] = {"engine": engine, "scenario": name, "runs": own}
    for key in ("rps", "p50_ms", "p99_ms"):
        result[key] = statistics.median(r[key] for r in own)
    result["peak_mb"] = max(r["peak_mb"] for r in own)
    yard = runs.get("yardstick", [])
    if name == "get" and yard:
        result["vs_yardstick"] = statistics.median(
            r["rps"] / y["rps"] for r, y in zip(own, yard, strict=True)
        )
    elif name == "get-first" and yard:
        result["vs_yardstick"] = own[0]["rps"] / statistics.median(y["rps"] for y in yard)
    if name in LISTS and "list20" in runs:
        result["p99_vs_list20"] = statistics.median(
            r["p99_ms"] / f["p99_ms"] for r, f in zip(own, runs["list20"], strict=True)
        )
    return result


async def render_docs(url: str, ids: list[str]) -> list[tuple[str, bytes]]:
    """The exact bytes Patron answers GET /customers/{id} with, read and rendered in-process
    (Patron's own service and wire code) rather than by thousands of HTTP requests."""
    import msgspec

    from patron.api.wire.snapshots import WireSnapshots
    from patron.api.wire.v2024_07_30 import V20240730
    from patron.services.customers import CustomerService
    from patron.services.history import History
    from patron.storage import open_database
    from patron.storage.accounts import AccountStore
    from patron.storage.unit import Store

    db = await open_database(url)
    try:
        account = await AccountStore(db).get_or_create_account("bench")
        service, version = CustomerService(Store(db), History(WireSnapshots())), V20240730()
        return [
            (i, msgspec.json.encode(version.customer(await service.get(account.id, i))))
            for i in ids
        ]
    finally:
        await db.close()


def store_docs(url: str, docs: list[tuple[str, bytes]]) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("CREATE TABLE IF NOT EXISTS yardstick_docs (id TEXT PRIMARY KEY, body BLOB)")
        conn.executemany("INSERT OR REPLACE INTO yardstick_docs VALUES (?, ?)", docs)
        conn.commit()
        conn.close()
        return
    import asyncpg

    async def fill() -> None:
        conn = await asyncpg.connect(url)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS yardstick_docs (id TEXT PRIMARY KEY, body BYTEA)"
        )
        await conn.executemany(
            "INSERT INTO yardstick_docs VALUES ($1, $2) ON CONFLICT DO NOTHING", docs
        )
        await conn.close()

    asyncio.run(fill())


def table(results: list[dict[str, Any]]) -> str:
    rows = ["| engine | scenario | runs | requests/s | p50 ms | p99 ms | peak MB | vs yardstick "
            "| p99 ÷ list20 |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        if r["scenario"] == "import":
            rows.append(f"| {r['engine']} | import | | {r['seconds']} s total | | | | | |")
            continue
        ratio = f"{r['vs_yardstick']:.2f}" if "vs_yardstick" in r else ""
        tail = f"{r['p99_vs_list20']:.2f}" if "p99_vs_list20" in r else ""
        rows.append(f"| {r['engine']} | {r['scenario']} | {len(r['runs'])} | {r['rps']:.0f} |"
                    f" {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['peak_mb']} | {ratio} |"
                    f" {tail} |")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each read scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/patron_bench")
    parser.add_argument("--pin", action="store_true", help="wrk on core 0, the servers on core 1")
    args = parser.parse_args()
    if args.pin:
        PIN.update(wrk=["taskset", "-c", "0"], server=["taskset", "-c", "1"])
    args.scenarios = args.scenarios.split(",")
    VAR.mkdir(parents=True, exist_ok=True)
    data = data_file(args.customers, args.seed)
    results: list[dict[str, Any]] = []
    for engine in args.engines.split(","):
        results += run_engine(engine, args, data)
    (VAR / "results.json").write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
