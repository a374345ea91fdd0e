"""Where each thread of a command spends its run: on a CPU, runnable (waiting for one), asleep.

    python bench/thread_states.py .venv/bin/python -m patron --database-url sqlite:///var/x.db \\
        import var/bench/c100k.ndjson --account bench --report var/x.report.ndjson

Runs the command and samples /proc/PID/task/*/schedstat every 20 ms; prints the wall time and,
for the four busiest threads, seconds on CPU, runnable and asleep over the time each was seen.
For an import on SQLite the loop's thread and the write's worker thread show which side waits
for the other (docs/performance.md, "Session 7: import"); a thread asleep while the other is busy
is work that does not overlap. Runnable time is the machine's other jobs taking the cores.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    started = time.monotonic()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last: dict[str, tuple[int, int, float]] = {}
    first_seen: dict[str, float] = {}
    while proc.poll() is None:
        try:
            tasks = list(Path(f"/proc/{proc.pid}/task").iterdir())
        except OSError:
            break
        for task in tasks:
            try:
                on_cpu, runnable, _ = map(int, (task / "schedstat").read_text().split())
            except (OSError, ValueError):
                continue
            now = time.monotonic()
            first_seen.setdefault(task.name, now)
            last[task.name] = (on_cpu, runnable, now)
        time.sleep(0.02)
    print(f"exit {proc.wait()}, wall {time.monotonic() - started:.1f} s")
    busiest = sorted(last.items(), key=lambda item: -item[1][0])[:4]
    for tid, (on_cpu, runnable, seen) in busiest:
        life = seen - first_seen[tid]
        cpu, wait = on_cpu / 1e9, runnable / 1e9
        asleep = life - cpu - wait
        print(
            f"  thread {tid}: on CPU {cpu:6.1f} s, runnable {wait:6.1f} s, asleep {asleep:6.1f} s"
        )


if __name__ == "__main__":
    main()
