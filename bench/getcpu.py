"""GET by id: server CPU per request of Patron (one or more source trees) and the yardstick,
alternating, on the same database and request file. Steadier than requests/s on a shared machine.

    git archive main src | tar -x -C /tmp/base
    .venv/bin/python bench/getcpu.py /tmp/base/src,src \
        --database-url sqlite:///var/bench/patron.db --auth var/bench/auth-sqlite \
        --rounds 2 --seconds 8

Runs after `bench/run.py --scenarios get` (its database with `yardstick_docs`, its request file
var/bench/requests/get.tsv; `--auth` is a file holding an Authorization header value for the
`bench` account). Each Patron server is `python -m patron serve` with the tree on PYTHONPATH and
gets one unmeasured warm-up run first (it stores the documents GET answers from; the yardstick's
are stored by bench/run.py). CPU is the server process's user and system time from /proc around
one `wrk -t1 -c32` run, divided by the requests it served.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Several benchmark runs on one machine (parallel work trees) need ports of their own.
PORT_OFFSET = int(os.environ.get("BENCH_PORT_OFFSET", "0"))
TICK = os.sysconf("SC_CLK_TCK")
REQUESTS = "var/bench/requests/get.tsv"


def cpu(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def wrk(port: int, auth: str, seconds: int) -> dict[str, Any]:
    cmd = ["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", "bench/wrk/replay.lua",
           f"http://127.0.0.1:{port}", "--", REQUESTS, auth]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def start(
    src: str,
    url: str,
    port: int,
    wrapper: tuple[str, ...] = (),
    patience: float = 10.0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A server for `src` (a source tree, or "yardstick"), run under `wrapper` (e.g. valgrind)
    with `env` added to its environment, once it answers on `port`, waiting at most `patience`
    seconds."""
    extra = env or {}
    if src == "yardstick":
        args = [str(ROOT / ".venv/bin/uvicorn"), "--factory", "bench.yardstick:create_app",
                "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        environment = {**os.environ, "BENCH_DATABASE_URL": url, **extra}
    else:
        args = [sys.executable, "-m", "patron", "serve", "--port", str(port)]
        environment = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_LOG_LEVEL": "warning",
                       "PYTHONPATH": str(Path(src).resolve()), **extra}  # fmt: skip
    server = subprocess.Popen([*wrapper, *args], env=environment, cwd=ROOT)
    for _ in range(int(patience * 10)):
        probe = ["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/api/customers/x"]
        if subprocess.run(probe).returncode == 0:
            break
        time.sleep(0.1)
    return server


def measure(src: str, args: argparse.Namespace, port: int) -> dict[str, Any]:
    auth = Path(args.auth).read_text().strip()
    server = start(src, args.database_url, port)
    try:
        if src != "yardstick":
            wrk(port, auth, args.warmup)
        before = cpu(server.pid)
        r = wrk(port, auth, args.seconds)
        after = cpu(server.pid)
        n = max(1, r["requests"])
        return {"rps": r["rps"], "p99_ms": r["p99_ms"], "non_2xx": r["non_2xx"],
                "user_us": round((after[0] - before[0]) / n * 1e6),
                "sys_us": round((after[1] - before[1]) / n * 1e6)}  # fmt: skip
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", help="src directories, comma-separated ('yardstick' is added)")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--auth", default="var/bench/auth")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=4)
    args = parser.parse_args()
    sources = [*args.sources.split(","), "yardstick"]
    for round_ in range(args.rounds):
        for i, src in enumerate(sources):
            result = measure(src, args, 8040 + PORT_OFFSET + i)
            print(round_, src, result, f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
