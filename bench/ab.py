"""A/B of two source trees on one write scenario: requests/s and CPU per request, alternating.

    git archive BASE src | tar -x -C /tmp/base
    .venv/bin/python bench/ab.py /tmp/base/src,src post --rounds 2 --seconds 8 \
        --pg-url postgresql://postgres@127.0.0.1:5432/patron_bench --auth var/bench/auth-postgresql

Runs after `bench/run.py` (its database, request files and a credential: `--auth` is the file
holding the Authorization header value, which bench/run.py writes to var/bench/auth-<engine>). Each
server is `python -m patron serve` with the tree on PYTHONPATH; CPU is read from /proc around one
wrk run (the server process, and the database's backends plus PostgreSQL's WAL writer, background
writer and checkpointer), divided by the requests served: on a machine shared with other jobs that
is steadier than requests/s. A scenario with `{ab}` in its name reads a request file per tree and
round (`put-a0`, `put-b0`, ...), for writes that change their targets (a second archive of the same
customer is a no-op). """

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Several benchmark runs on one machine (parallel work trees) need ports of their own.
PORT_OFFSET = int(os.environ.get("BENCH_PORT_OFFSET", "0"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: str | int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def database_cpu(database: str) -> float:
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            shared = ("walwriter", "background writer", "checkpointer")
            if f" {database} " in cmd or any(name in cmd for name in shared):
                total += cpu_seconds(proc.name)
        except OSError:
            continue
    return total


def wrk(port: int, scenario: str, auth: str, seconds: int) -> dict[str, Any]:
    requests = f"var/bench/requests/{scenario}.tsv"
    cmd = ["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", "bench/wrk/replay.lua",
           f"http://127.0.0.1:{port}", "--", requests, auth]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@contextmanager
def schema_change(url: str, on: str | None, off: str | None) -> Iterator[None]:
    """`on` applied for the block's length (`off` undoes it after), or nothing when `on` is None."""
    if on is None:
        yield
        return
    subprocess.run(["psql", "-q", url, "-c", on], check=True)
    try:
        yield
    finally:
        subprocess.run(["psql", "-q", url, "-c", off], check=True)


def measure(src: str, scenario: str, args: argparse.Namespace, port: int) -> dict[str, Any]:
    env = {**os.environ, "PATRON_DATABASE_URL": args.pg_url, "PATRON_LOG_LEVEL": "warning",
           "PYTHONPATH": str(Path(src).resolve())}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "patron", "serve", "--port", str(port)], env=env, cwd=ROOT
    )
    try:
        for _ in range(100):
            probe = ["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/api/openapi.json"]
            if subprocess.run(probe).returncode == 0:
                break
            time.sleep(0.1)
        auth = Path(args.auth).read_text().strip()
        database = args.pg_url.rsplit("/", 1)[1]
        before = cpu_seconds(server.pid), database_cpu(database)
        r = wrk(port, scenario, auth, args.seconds)
        after = cpu_seconds(server.pid), database_cpu(database)
        n = max(1, r["requests"])
        return {"rps": r["rps"], "p99_ms": r["p99_ms"], "non_2xx": r["non_2xx"],
                "server_cpu_us": round((after[0] - before[0]) / n * 1e6),
                "db_cpu_us": round((after[1] - before[1]) / n * 1e6)}  # fmt: skip
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", help="two (or more) src directories, comma-separated")
    parser.add_argument("scenario")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/patron_bench")
    parser.add_argument("--auth", default="var/bench/auth")
    parser.add_argument("--on", help="SQL applied for the B runs (the second tree's)")
    parser.add_argument("--off", help="SQL undoing --on")
    args = parser.parse_args()
    sources = args.sources.split(",")
    if (args.on is None) != (args.off is None) or (args.on and len(sources) > 2):
        parser.error("--on and --off go together, with one or two trees")
    sides = (
        [(sources[0], None), (sources[-1], args.on)] if args.on else [(s, None) for s in sources]
    )
    for round_ in range(args.rounds):
        for i, (src, on) in enumerate(sides):
            scenario = args.scenario.replace("{ab}", "ab"[i % 2] + str(round_))
            with schema_change(args.pg_url, on, args.off):
                result = measure(src, scenario, args, 8030 + PORT_OFFSET + i)
            label = f"{src} with --on" if on else src
            print(round_, label, scenario, result, f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
