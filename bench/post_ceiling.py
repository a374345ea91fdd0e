"""POST create's ceiling on PostgreSQL: the statement Patron sends for a create, driven by pgbench
(a C client) at the same concurrency, against Patron's POST, alternating.

    .venv/bin/python bench/post_ceiling.py --rounds 2 --seconds 10 \
        --auth var/bench/auth-postgresql --pg-url postgresql://postgres@127.0.0.1:5432/patron_bench1m

Runs after `bench/run.py` (its database, var/bench/requests/post.tsv and credential). First one
create is sent to a Patron server whose asyncpg connections log every statement, and its one
INSERT (customer, contacts, properties and events in one statement) is kept, its values as
literals; the ids become fresh ones per transaction (from a sequence, in a CTE of the same
statement). Then, per round: pgbench `-c32 -M prepared` with that statement (one create per
transaction, autocommit, as Patron sends it), and Patron's POST with wrk `-c32`, each for
`--seconds`; with requests/s, PostgreSQL's CPU per create (its backends, WAL writer, background
writer and checkpointer, from /proc; for pgbench, whose backends exit with it, the machine's busy
time less pgbench's own) and, for Patron, the server's. pgbench's own CPU is small: what it
reaches is about the most any client could get from this PostgreSQL for Patron's create, on
this machine.

`--clients C --per-transaction K --pgbench-only`: pgbench alone, with C connections, each
transaction K creates between BEGIN and COMMIT (what grouping concurrent creates into one
transaction would save PostgreSQL: docs/performance.md, "Session 9: group commit").

`--on SQL --off SQL`: each round runs pgbench twice, on the database as it is and with `--on`
applied (`--off` undoing it): a schema change's cost to PostgreSQL per create, without the
server's share (docs/performance.md, "Session 10: the create's triggers").
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ab import ROOT, measure, schema_change

PGBENCH = next(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), Path("pgbench"))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Logs each statement a Patron server sends through asyncpg, then serves.
_LOGGING_SERVER = """
import json, sys
from asyncpg.connection import Connection
log = open(sys.argv[1], "a")
original = Connection.fetch
async def fetch(self, query, *args, **kwargs):
    log.write(json.dumps({"sql": query, "args": list(args)}) + "\\n")
    log.flush()
    return await original(self, query, *args, **kwargs)
Connection.fetch = fetch
from patron.cli import main
sys.exit(main(sys.argv[2:]))
"""


def capture(args: argparse.Namespace, port: int, log: Path) -> dict[str, Any]:
    env = {**os.environ, "PATRON_DATABASE_URL": args.pg_url, "PATRON_LOG_LEVEL": "warning",
           "PATRON_WEBHOOK_DISPATCHER": "false", "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
    command = [sys.executable, "-c", _LOGGING_SERVER, str(log), "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        method, path, body = (ROOT / "var/bench/requests/post.tsv").read_text().split("\t", 2)
        auth = Path(args.auth).read_text().strip()
        post = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
                "-H", f"Authorization: {auth}", "-H", "Content-Type: application/json",
                "--data", body.strip(), f"http://127.0.0.1:{port}{path}"]  # fmt: skip
        for _ in range(100):
            if subprocess.run(post, capture_output=True, text=True).stdout == "201":
                break
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait()
    creates = [json.loads(line) for line in log.read_text().splitlines()]
    create: dict[str, Any] = next(
        c for c in reversed(creates) if c["sql"].startswith("WITH w0 AS (INSERT")
    )
    return create


def pgbench_script(create: dict[str, Any]) -> str:
    values: list[Any] = create["args"]
    sql: str = create["sql"]
    account = values[1]
    fresh: dict[str, int] = {}

    def literal(value: object) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool | int):
            return str(value).lower()
        text = str(value)
        if _UUID.fullmatch(text) and text != account:
            # Every id but the account's is made new per transaction (the same one for each
            # place the create uses it): ascending, as Patron's time-ordered ids are.
            k = fresh.setdefault(text, len(fresh))
            return f"(SELECT '{k:08x}-0000-7000-8000-' || lpad(to_hex(n), 12, '0') FROM ids)"
        if ":" in text:  # pgbench would read ":name" as one of its variables
            encoded = base64.b64encode(text.encode()).decode()
            return f"convert_from(decode('{encoded}', 'base64'), 'UTF8')"
        return "'" + text.replace("'", "''") + "'"

    sql = re.sub(r"\$(\d+)", lambda m: literal(values[int(m.group(1)) - 1]), sql)
    ids = "WITH ids AS (SELECT nextval('bench_post_ceiling') AS n), "
    return ids + sql.removeprefix("WITH ").replace("\n", " ") + ";\n"


def _figure(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"pgbench said nothing like {pattern!r}:\n{text}")
    return match[1]


def busy_seconds() -> float:
    """CPU time the whole machine has spent outside idle and iowait."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def pgbench(script: Path, args: argparse.Namespace) -> dict[str, float]:
    # pgbench's backends exit with it, taking their CPU figures along: PostgreSQL's CPU is the
    # machine's busy time over the run less pgbench's own.
    command = [str(PGBENCH), "-n", f"-c{args.clients}", "-j2", f"-T{args.seconds}",
               "-M", "prepared", "-f", str(script), args.pg_url]  # fmt: skip
    before = busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(command, capture_output=True, text=True)
    after = busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{run.stderr}")
    client = sum(getattr(after[1], f) - getattr(before[1], f) for f in ("ru_utime", "ru_stime"))
    creates = args.per_transaction
    done = int(_figure(r"number of transactions actually processed: (\d+)", run.stdout)) * creates
    return {"rps": float(_figure(r"tps = ([\d.]+)", run.stdout)) * creates,
            "pgbench_cpu_us": round(client / max(1, done) * 1e6),
            "db_cpu_us": round((after[0] - before[0] - client) / max(1, done) * 1e6)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/patron_bench")
    parser.add_argument("--auth", default="var/bench/auth-postgresql")
    parser.add_argument("--clients", type=int, default=32, help="pgbench's connections")
    parser.add_argument(
        "--per-transaction", type=int, default=1, help="pgbench's creates per transaction"
    )
    parser.add_argument("--pgbench-only", action="store_true", help="no Patron runs")
    parser.add_argument("--on", help="SQL applied for a second pgbench run per round")
    parser.add_argument("--off", help="SQL undoing --on")
    args = parser.parse_args()
    if (args.on is None) != (args.off is None):
        parser.error("--on and --off go together")
    port = 8040 + int(os.environ.get("BENCH_PORT_OFFSET", "0"))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "create.sql"
        create = pgbench_script(capture(args, port, Path(tmp) / "statements.jsonl"))
        grouped = args.per_transaction > 1
        script.write_text(
            f"BEGIN;\n{create * args.per_transaction}COMMIT;\n" if grouped else create
        )
        setup = ["psql", args.pg_url, "-qc", "CREATE SEQUENCE IF NOT EXISTS bench_post_ceiling"]
        subprocess.run(setup, check=True)
        for round_ in range(args.rounds):
            print(round_, "pgbench", pgbench(script, args), flush=True)
            if args.on:
                with schema_change(args.pg_url, args.on, args.off):
                    print(round_, "pgbench with --on", pgbench(script, args), flush=True)
            if args.pgbench_only:
                continue
            result = measure(str(ROOT / "src"), "post", args, port)
            print(round_, "patron", result, f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
