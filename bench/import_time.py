"""Time `patron import` of one file on fresh databases, with where the CPU went.

    python bench/generate.py --customers 100000 > var/bench/c100k.ndjson
    python bench/import_time.py var/bench/c100k.ndjson \\
        --pg-url postgresql://postgres@127.0.0.1:5432/patron_import_bench \\
        [--engines sqlite,postgresql] [--rounds 2] [--batch-sizes 2000,5000]
        [--compare-src /path/to/other/checkout/src]

Per engine and round: a fresh database (SQLite file under var/bench/, or the PostgreSQL database
dropped and made again), `patron migrate`, then `patron import FILE --account bench`. Reported:
wall time; the importing process's CPU (user + system); on PostgreSQL, the CPU of the server
processes serving that database (read from /proc, so only with the server on this machine); and
the load average, because the machine is shared and wall times move with it. `--compare-src`
runs the same rounds with another checkout's code (its `src` first on PYTHONPATH), alternating
with this one, so before/after ratios come from one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
TICK = os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """Sums the CPU time of the PostgreSQL processes serving `database` while it runs."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._first: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _snapshot(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if not cmdline.startswith(b"postgres:") or self._database.encode() not in cmdline:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12])
            self._first.setdefault(pid, ticks)
            self._last[pid] = ticks

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self._snapshot()

    def __enter__(self) -> ServerCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._snapshot()

    @property
    def seconds(self) -> float:
        return sum(self._last[p] - self._first[p] for p in self._last) / TICK


def fresh_database(engine: str, pg_url: str, env: dict[str, str]) -> str:
    if engine == "sqlite":
        for path in VAR.glob("import-time.db*"):
            path.unlink()
        url = f"sqlite:///{VAR / 'import-time.db'}"
    else:
        base, name = pg_url.rsplit("/", 1)
        for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", "-q", f"{base}/postgres", "-c", sql], check=True)
        url = pg_url
    patron = [sys.executable, "-m", "patron", "--database-url", url]
    subprocess.run([*patron, "migrate"], check=True, env=env, stdout=subprocess.DEVNULL)
    return url


def one_import(
    engine: str, data: Path, pg_url: str, src: Path | None, batch_size: int | None
) -> dict[str, Any]:
    env = dict(os.environ, PATRON_LOG_LEVEL="warning")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    url = fresh_database(engine, pg_url, env)
    command = [sys.executable, "-m", "patron", "--database-url", url, "import", str(data)]
    command += ["--account", "bench", "--report", str(VAR / f"import-time-{engine}.ndjson")]
    if batch_size is not None:
        command += ["--batch-size", str(batch_size)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.monotonic()
    with ServerCpu(pg_url.rsplit("/", 1)[1] if engine == "postgresql" else "-") as server:
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "engine": engine,
        "code": "compare" if src is not None else "this",
        "batch_size": batch_size,
        "wall": round(wall, 1),
        "client_cpu": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1),
        "server_cpu": round(server.seconds, 1) if engine == "postgresql" else None,
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/patron_bench")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--compare-src", type=Path)
    parser.add_argument("--batch-sizes", default="", help="comma-separated; default: the CLI's")
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    sources: list[Path | None] = [None] if args.compare_src is None else [args.compare_src, None]
    for _ in range(args.rounds):
        for engine in args.engines.split(","):
            for src in sources:
                for size in [int(n) for n in args.batch_sizes.split(",") if n] or [None]:
                    result = one_import(engine, args.file.resolve(), args.pg_url, src, size)
                    print(result, flush=True)


if __name__ == "__main__":
    main()
