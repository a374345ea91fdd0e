"""GET by id: user-space instructions per request of Patron (one or more source trees) and the
yardstick, counted by callgrind. Unlike time or CPU per request, the count stays within a few
per cent for the same build and inputs however busy the machine is.

    git archive main src | tar -x -C /tmp/base
    .venv/bin/python bench/instructions.py /tmp/base/src,src \
        --database-url postgresql://postgres@127.0.0.1:5432/patron_bench \
        --auth var/bench/auth-postgresql

Runs after `bench/run.py --scenarios get` (its database, request file and yardstick documents).
Each server runs under `valgrind --tool=callgrind --instr-atstart=no` and gets the same `--count`
GETs twice, one after another on one keep-alive connection: first unmeasured (Patron stores each
customer's rendering on its first GET; a build stores its own, tagged by its source), then with
counting switched on (`callgrind_control -i on`); the total is divided by `--count`. Not
counted: the kernel's TCP work and the database server's (the same for every server measured).
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


def paths(count: int) -> list[str]:
    lines = (ROOT / REQUESTS).read_text().splitlines()
    return [line.split("\t")[1] for line in islice(cycle(lines), count)]


def send(port: int, auth: str, targets: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for target in targets:
            conn.request("GET", target, headers={"Authorization": auth})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"GET {target} answered {response.status}")
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
        server = start(src, args.database_url, port, wrapper, patience=300)
        try:
            targets = paths(args.count)
            send(port, auth, targets)
            control = ["callgrind_control"]
            subprocess.run([*control, "-i", "on", str(server.pid)], check=True, capture_output=True)
            send(port, auth, targets)
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
    parser.add_argument("sources", help="src directories, comma-separated ('yardstick' is added)")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--auth", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument(
        "--keep", help="a directory to keep callgrind's files in (callgrind_annotate)"
    )
    args = parser.parse_args()
    sources = [*args.sources.split(","), "yardstick"]
    counts = {src: instructions(src, args, 8050 + PORT_OFFSET + i) for i, src in enumerate(sources)}
    for src, count in counts.items():
        ratio = counts["yardstick"] / count
        print(f"{src}: {count:,.0f} instructions per GET, yardstick ÷ this {ratio:.2f}", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
