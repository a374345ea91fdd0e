"""GET by id or POST create: user-space instructions per request of Patron (one or more source
trees) and, for GET, the yardstick, counted by callgrind. Unlike time or CPU per request, the count
stays within a few per cent for the same build and inputs however busy the machine is.

    git archive main src | tar -x -C /tmp/base
    .venv/bin/python bench/instructions.py /tmp/base/src,src \
        --database-url postgresql://postgres@127.0.0.1:5432/patron_bench \
        --auth var/bench/auth-postgresql [--scenario post]

Runs after `bench/run.py --scenarios get` (or `post`: its database and request file; for GET its
yardstick documents). Each server runs under `valgrind --tool=callgrind --instr-atstart=no` and
is sent requests one after another on one keep-alive connection: first unmeasured ones, then
`--count` with counting switched on (`callgrind_control -i on`); the total is divided by
`--count`. GET: the same `--count` GETs twice (Patron stores each customer's rendering on its
first GET; a build stores its own, tagged by its source). POST: 30 creates, then `--count`
(default 200) more, with the webhook dispatcher off (`PATRON_WEBHOOK_DISPATCHER=false`: it polls
on a timer, so with it on the count would depend on how long the run took). Not counted: the
kernel's TCP work and the database server's (the same for every server measured).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import tempfile
from itertools import cycle, islice
from pathlib import Path

from getcpu import PORT_OFFSET, REQUESTS, ROOT, start

# What each scenario sends: its request file, the status it answers with, how many requests go
# before counting starts (None: the counted ones, sent once unmeasured), its default --count, and
# the environment of the server.
SCENARIOS = {
    "get": (REQUESTS, 200, None, 2000, {}),
    "post": ("var/bench/requests/post.tsv", 201, 30, 200, {"PATRON_WEBHOOK_DISPATCHER": "false"}),
}

Request = tuple[str, str, bytes | None]


def requests(file: str, count: int) -> list[Request]:
    """`count` requests of a request file ("METHOD<TAB>PATH[<TAB>BODY]"), round-robin."""
    lines = (ROOT / file).read_text().splitlines()
    parsed = [(*line.split("\t", 2), "")[:3] for line in lines]
    chosen = islice(cycle(parsed), count)
    return [(method, target, body.encode() or None) for method, target, body in chosen]


def send(port: int, auth: str, batch: list[Request], status: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    try:
        for method, target, body in batch:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != status:
                raise SystemExit(f"{method} {target} answered {response.status}")
    finally:
        conn.close()


def instructions(src: str, args: argparse.Namespace, port: int) -> float:
    auth = Path(args.auth).read_text().strip()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.keep or scratch
        Path(out).mkdir(parents=True, exist_ok=True)
        for old in Path(out).glob(f"callgrind.out.{port}*"):
            old.unlink()
        wrapper = ("valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={out}/callgrind.out.{port}")  # fmt: skip
        file, status, warmup, _, env = SCENARIOS[args.scenario]
        server = start(src, args.database_url, port, wrapper, patience=300, env=env)
        try:
            counted = requests(file, args.count)
            send(port, auth, counted if warmup is None else requests(file, warmup), status)
            control = ["callgrind_control"]
            subprocess.run([*control, "-i", "on", str(server.pid)], check=True, capture_output=True)
            send(port, auth, counted, status)
            subprocess.run(
                [*control, "-i", "off", str(server.pid)], check=True, capture_output=True
            )
            subprocess.run([*control, "-d", str(server.pid)], check=True, capture_output=True)
        finally:
            server.terminate()
            server.wait()
        totals = [int(m) for f in Path(out).glob(f"callgrind.out.{port}*")
                  for m in re.findall(r"^totals: (\d+)", f.read_text(), re.M)]  # fmt: skip
    return max(totals) / args.count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sources", help="src directories, comma-separated ('yardstick' is added for GET)"
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--auth", required=True)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="get")
    parser.add_argument("--count", type=int, help="requests counted (GET 2000, POST 200)")
    parser.add_argument(
        "--keep", help="a directory to keep callgrind's files in (callgrind_annotate)"
    )
    args = parser.parse_args()
    args.count = args.count or SCENARIOS[args.scenario][3]
    sources = args.sources.split(",")
    if args.scenario == "get":
        sources.append("yardstick")
    counts = {src: instructions(src, args, 8050 + PORT_OFFSET + i) for i, src in enumerate(sources)}
    for src, count in counts.items():
        line = f"{src}: {count:,.0f} instructions per {args.scenario.upper()}"
        if "yardstick" in counts:
            line += f", yardstick ÷ this {counts['yardstick'] / count:.2f}"
        print(line, flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
