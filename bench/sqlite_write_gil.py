"""How an SQLite batch write on a thread fares while the event loop's thread is busy (the import).

    python bench/sqlite_write_gil.py var/bench/c100k.ndjson [--customers 50000]

Imports the first customers of FILE once (`patron import`), then replays the same rows, in the
import's batches of 2,000, into a fresh database four times: per table one `executemany`, or one
`INSERT ... SELECT FROM json_each(?)` (what `bulk_insert` does now), each with the main thread
idle or busy with Python meanwhile (as the import is, decoding the next batch). Prints the write's
wall and CPU time. `executemany` hands the GIL back and forth around every row, and each time it
waits for the busy thread to give it up (the switch interval); one statement does not.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec

COLUMNS = {
    "customers": "id account_id created_at updated_at revision legal_name legal_name_key line1"
    " line2 town state postcode country url domain label label_key telephone tax_status status",
    "contacts": "id account_id customer_id name email email_key billing_preference created_at"
    " updated_at",
    "aliases": "id account_id customer_id value created_at",
    "customer_properties": "account_id customer_id key value",
}
BATCH = 2000


def patron(url: str, *args: str) -> None:
    command = [sys.executable, "-m", "patron", "--database-url", url, *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def replay(empty: Path, target: Path, data: dict[str, list[tuple[object, ...]]], how: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copy(empty, target)
    db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "temp_store=MEMORY",
    ):
        db.execute(f"PRAGMA {pragma}")
    customers = len(data["customers"])
    per = {table: len(rows) // customers for table, rows in data.items()}

    def write() -> None:
        for start in range(0, customers, BATCH):
            db.execute("BEGIN")
            for table, names in COLUMNS.items():
                rows = data[table][start * per[table] : (start + BATCH) * per[table]]
                columns = names.split()
                if how.startswith("json_each"):
                    values = ", ".join(
                        f"json_extract(value, '$[{i}]')" for i in range(len(columns))
                    )
                    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values}"
                    db.execute(f"{sql} FROM json_each(?)", (msgspec.json.encode(rows),))
                else:
                    marks = ", ".join("?" * len(columns))
                    db.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                    )
            db.execute("COMMIT")

    started, cpu = time.perf_counter(), time.process_time()
    writer = threading.Thread(target=write)
    writer.start()
    while how.endswith("busy") and writer.is_alive():
        sum(range(1000))  # Python work holding the GIL, as decoding does
    writer.join()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{how:22} write {wall:6.2f} s wall, process CPU {cpu:6.2f} s", flush=True)
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--customers", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source, empty = Path(tmp, "source.ndjson"), Path(tmp, "empty.db")
        with open(args.file, "rb") as whole, open(source, "wb") as part:
            part.writelines(itertools.islice(whole, args.customers))
        patron(f"sqlite:///{tmp}/full.db", "import", str(source), "--account", "bench")
        patron(f"sqlite:///{empty}", "migrate")
        full = sqlite3.connect(Path(tmp, "full.db"))
        data = {
            table: full.execute(
                f"SELECT {', '.join(names.split())} FROM {table} ORDER BY rowid"
            ).fetchall()
            for table, names in COLUMNS.items()
        }
        with sqlite3.connect(empty) as conn:
            conn.execute(f"ATTACH '{tmp}/full.db' AS full")
            conn.execute("INSERT INTO accounts SELECT * FROM full.accounts")
        for how in ("executemany", "executemany, busy", "json_each", "json_each, busy"):
            replay(empty, Path(tmp, "replay.db"), data, how)


if __name__ == "__main__":
    main()
