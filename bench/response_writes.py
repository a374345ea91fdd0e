"""Server CPU per response with uvicorn's protocol, Patron's (`patron.server`) and Patron's with
uvicorn's two writes per response (head, then body) put back, on an app
that answers every request with the same small JSON body: the cost of the response writes alone,
without a database. Alternates the two for `--rounds`, one wrk run each, CPU from /proc.

    .venv/bin/python bench/response_writes.py --rounds 4 --seconds 5

Each server runs in its own process (uvloop, as `patron serve`) from `src`, or from the tree in
BENCH_SRC; the port is 8050 + BENCH_PORT_OFFSET. Prints requests/s, the server's user and system
CPU per request and write(2) calls per request (from /proc/PID/io's syscw), and their medians."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 8050 + int(os.environ.get("BENCH_PORT_OFFSET", "0"))
TICK = os.sysconf("SC_CLK_TCK")
BODY = json.dumps({"id": "0" * 36, "legalName": "Acme Ltd", "padding": "x" * 900}).encode()

SERVER = """
import sys, uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from patron.server import GuardedHttpToolsProtocol
body = sys.argv[2].encode()
headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
class TwoWrites(GuardedHttpToolsProtocol):  # Patron's guards, uvicorn's two writes
    def on_headers_complete(self):
        GuardedHttpToolsProtocol.on_headers_complete(self)
        if self.cycle is not None:
            self.cycle.transport = self.transport
protocol = {"uvicorn": HttpToolsProtocol, "patron-two-writes": TwoWrites,
            "patron": GuardedHttpToolsProtocol}[sys.argv[1]]
uvicorn.run(app, port=int(sys.argv[3]), http=protocol, lifespan="off", log_level="warning",
            access_log=False, loop="uvloop")
"""


def cpu_and_writes(pid: int) -> tuple[float, float, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields[11]) / TICK, int(fields[12]) / TICK, int(io["syscw"])


def measure(protocol: str, seconds: int) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, protocol, BODY.decode(), str(PORT)],
        env={**os.environ, "PYTHONPATH": os.environ.get("BENCH_SRC", str(ROOT / "src"))},
    )
    try:
        for _ in range(100):
            probe = ["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{PORT}/"]
            if subprocess.run(probe).returncode == 0:
                break
            time.sleep(0.1)
        before = cpu_and_writes(server.pid)
        out = subprocess.run(
            ["wrk", "-t1", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{PORT}/"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        after = cpu_and_writes(server.pid)
    finally:
        server.terminate()
        server.wait()
    requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    return {
        "rps": round(requests / seconds),
        "user_us": round((after[0] - before[0]) / requests * 1e6, 1),
        "sys_us": round((after[1] - before[1]) / requests * 1e6, 1),
        "writes": round((after[2] - before[2]) / requests, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for protocol in ("uvicorn", "patron-two-writes", "patron"):
            result = measure(protocol, args.seconds)
            runs.setdefault(protocol, []).append(result)
            print(round_, protocol, result, f"load {os.getloadavg()[0]:.1f}", flush=True)
    for protocol, results in runs.items():
        medians = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print("median", protocol, medians)


if __name__ == "__main__":
    main()
