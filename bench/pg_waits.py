"""What a PostgreSQL `patron import` waits on: wait events, process states, checkpoints, disk.

    python bench/pg_waits.py var/bench/c200k.ndjson \\
        --pg-url postgresql://postgres@127.0.0.1:5432/patron_import_waits [--interval 0.1] \\
        [--set max_wal_size=8GB --set wal_compression=on] [--batch-size N] [--src OTHER/src]

Makes a fresh database (as bench/import_time.py does), starts `patron import`, and every
`--interval` seconds samples:
- `pg_stat_activity` for the database's client backends and for the checkpointer, background
  writer and WAL writer: state and wait event (none = on CPU or runnable, as far as PostgreSQL
  knows);
- /proc for those processes and the importer: R (on CPU or runnable), S (asleep), D
  (uninterruptible, i.e. in the kernel waiting on I/O);
and, before and after the import: `pg_stat_bgwriter`, `pg_stat_wal`, /proc/diskstats of the
database's disk, /proc/stat (iowait), and each process's schedstat (on CPU, runnable, the rest).

`--set NAME=VALUE` applies server settings that need only a reload (`ALTER SYSTEM SET` +
`pg_reload_conf()`) for the run and resets them afterwards, also on an error or Ctrl-C. The
server is shared: never use it for settings that need a restart (this script refuses them).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_time import VAR, fresh_database

TICK = os.sysconf("SC_CLK_TCK")
HELPERS = ("checkpointer", "background writer", "walwriter")


def proc_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat[stat.rindex(")") + 2]


def schedstat(pid: int) -> tuple[float, float] | None:
    """(seconds on CPU, seconds runnable but waiting for a CPU)."""
    try:
        on_cpu, waiting, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    except OSError:
        return None
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def disk_of(path: str) -> str:
    device = os.stat(path).st_dev
    name = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}/uevent").read_text()
    return dict(line.split("=", 1) for line in name.split())["DEVNAME"]


def diskstats(device: str) -> dict[str, int]:
    for line in Path("/proc/diskstats").read_text().splitlines():
        f = line.split()
        if f[2] == device:
            return {
                "reads": int(f[3]),
                "read_mb": int(f[5]) // 2048,
                "writes": int(f[7]),
                "write_mb": int(f[9]) // 2048,
                "write_ms": int(f[10]),
                "flushes": int(f[18]) if len(f) > 18 else 0,
                "io_ms": int(f[12]),
            }
    raise LookupError(device)


def cpu_times() -> dict[str, float]:
    f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return {"user": int(f[0]) / TICK, "system": int(f[2]) / TICK, "iowait": int(f[4]) / TICK}


async def counters(conn: asyncpg.Connection) -> dict[str, Any]:
    bg = dict(await conn.fetchrow("SELECT * FROM pg_stat_bgwriter") or {})
    wal = dict(await conn.fetchrow("SELECT * FROM pg_stat_wal") or {})
    out = {k: v for k, v in bg.items() if not k.endswith("reset")}
    out.update({k if k.startswith("wal") else f"wal_{k}": v for k, v in wal.items()})
    out.pop("stats_reset", None)
    out["wal_bytes"] = int(out["wal_bytes"])
    return out


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: round(after[k] - before[k], 3) for k in before if after[k] != before[k]}


async def apply_settings(conn: asyncpg.Connection, settings: list[str], *, reset: bool) -> None:
    for item in settings:
        name = item.split("=", 1)[0]
        if reset:
            await conn.execute(f"ALTER SYSTEM RESET {name}")
            continue
        context = await conn.fetchval("SELECT context FROM pg_settings WHERE name = $1", name)
        if context not in ("sighup", "user", "superuser"):
            raise SystemExit(f"{name}: context {context}, needs more than a reload; not touched")
        await conn.execute(f"ALTER SYSTEM SET {name} = '{item.split('=', 1)[1]}'")
    await conn.execute("SELECT pg_reload_conf()")
    await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> None:
    env = dict(os.environ, PATRON_LOG_LEVEL="warning")
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src)
    url = fresh_database("postgresql", args.pg_url, env)
    database = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(url)
    data_dir = await conn.fetchval("SHOW data_directory")
    device = disk_of(data_dir)
    if args.set:
        await apply_settings(conn, args.set, reset=False)
    try:
        await conn.execute("CHECKPOINT")  # every run starts from the same point
        shown = await conn.fetch(
            "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1)",
            ["max_wal_size", "checkpoint_timeout", "wal_compression", "shared_buffers",
             "synchronous_commit", "full_page_writes", "bgwriter_lru_maxpages", "wal_buffers"],
        )  # fmt: skip
        print("settings:", {r["name"]: r["value"] for r in shown})
        c0, d0, p0 = await counters(conn), diskstats(device), cpu_times()
        lsn0 = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        command = [sys.executable, "-m", "patron", "--database-url", url, "import", str(args.file)]
        command += ["--account", "bench", "--report", str(VAR / "pg-waits-report.ndjson")]
        if args.batch_size:
            command += ["--batch-size", str(args.batch_size)]
        started = time.monotonic()
        importer = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        waits: collections.Counter[tuple[str, str]] = collections.Counter()
        states: collections.Counter[tuple[str, str]] = collections.Counter()
        sched0: dict[int, tuple[float, float]] = {}
        sched1: dict[int, tuple[float, float]] = {}
        kinds: dict[int, str] = {}
        samples = 0
        while importer.poll() is None:
            rows = await conn.fetch(
                "SELECT pid, backend_type, state, wait_event_type, wait_event"
                " FROM pg_stat_activity WHERE (datname = $1 AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend') OR backend_type = ANY($2)",
                database,
                list(HELPERS),
            )
            samples += 1
            watched = {importer.pid: "importer"}
            for r in rows:
                kind = r["backend_type"] if r["backend_type"] in HELPERS else "backend"
                watched[r["pid"]] = kind
                if kind == "backend" and r["state"] == "idle":
                    event = "idle (pool)"
                elif r["wait_event"] is None:
                    event = "CPU (no wait event)"
                else:
                    event = f"{r['wait_event_type']}:{r['wait_event']}"
                if kind == "backend" and r["state"] != "idle":
                    event += f" [{r['state']}]"
                waits[(kind, event)] += 1
            for pid, kind in watched.items():
                states[(kind, proc_state(pid))] += 1
                s = schedstat(pid)
                if s is not None:
                    sched0.setdefault(pid, s)
                    sched1[pid] = s
                    kinds[pid] = kind
            await asyncio.sleep(args.interval)
        wall = time.monotonic() - started
        c1, d1, p1 = await counters(conn), diskstats(device), cpu_times()
        lsn1 = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        await asyncio.sleep(1.0)  # backends flush their table statistics within a second
        statio = await conn.fetch(
            "SELECT indexrelname AS name, idx_blks_read AS read, idx_blks_hit AS hit,"
            " pg_relation_size(indexrelid) AS size FROM pg_statio_user_indexes"
            " UNION ALL SELECT relname, heap_blks_read, heap_blks_hit, pg_relation_size(relid)"
            " FROM pg_statio_user_tables ORDER BY read DESC LIMIT 12"
        )
        for pid in list(sched1):
            s = schedstat(pid)
            if s is not None:
                sched1[pid] = s
    finally:
        if args.set:
            await apply_settings(conn, args.set, reset=True)
        await conn.close()
    print(f"import exit {importer.returncode}, wall {wall:.1f} s, {samples} samples, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print("\npg_stat_activity (share of samples, per kind of process):")
    per_kind = collections.Counter[str]()
    for (kind, _), n in waits.items():
        per_kind[kind] += n
    for (kind, event), n in sorted(waits.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print(f"  {kind:18} {event:44} {n / samples:6.2f}  ({100 * n / per_kind[kind]:4.1f} %)")
    print("\n/proc state (share of samples; R = on CPU or runnable, D = waiting in the kernel):")
    for (kind, state), n in sorted(states.items()):
        print(f"  {kind:18} {state}  {n / samples:6.2f}")
    print("\nschedstat over the run, summed per kind (s): on CPU, runnable, asleep")
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for pid, kind in kinds.items():
        cpu = sched1[pid][0] - sched0[pid][0]
        queued = sched1[pid][1] - sched0[pid][1]
        totals[kind][0] += cpu
        totals[kind][1] += queued
    for kind, (cpu, queued, _) in sorted(totals.items()):
        count = sum(1 for k in kinds.values() if k == kind)
        asleep = count * wall - cpu - queued if kind != "backend" else float("nan")
        print(f"  {kind:18} {cpu:7.1f} {queued:7.1f} {asleep:7.1f}  ({count} process(es))")
    print("  per backend (s): on CPU, runnable, asleep")
    for pid, kind in kinds.items():
        if kind == "backend":
            cpu, queued = (sched1[pid][i] - sched0[pid][i] for i in (0, 1))
            print(f"    pid {pid:<8} {cpu:7.1f} {queued:7.1f} {wall - cpu - queued:7.1f}")
    print("\npg_stat_bgwriter / pg_stat_wal, change:", delta(c0, c1))
    print(f"disk {device}, change:", delta(d0, d1))
    print("machine CPU (s), change:", delta(p0, p1))
    print("\nshared-buffer misses (read from the OS: page cache or disk), top tables and indexes:")
    for r in statio:
        print(
            f"  {r['name']:38} {r['size'] / 2**20:6.0f} MB  read {r['read']:>9}  hit {r['hit']:>10}"
        )
    print(
        f"database {size / 2**20:.0f} MB; WAL {lsn0} .. {lsn1} (pg_waldump --stats=record"
        f" -p {data_dir}/pg_wal -s {lsn0} -e {lsn1}, while the segments are still there)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/patron_waits")
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--src", type=Path, help="another checkout's src to import with")
    args = parser.parse_args()
    args.file = args.file.resolve()
    VAR.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
