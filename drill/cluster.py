"""A pg_auto_failover formation on loopback: a monitor and two PostgreSQL 15 nodes, configured from
deploy/pg_auto_failover/, run as the `postgres` system user when the drill runs as root
(pg_autoctl and postgres refuse to run as root)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from drill.procs import Process, port_open, run, wait_for

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "pg_auto_failover"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def settings_of(path: Path) -> list[tuple[str, str]]:
    """`name = value` lines of a settings file, comments and blank lines left out."""
    pairs = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.strip()))
    return pairs


@dataclass
class Node:
    name: str
    port: int
    pgdata: Path
    keeper: Process | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/patron"


@dataclass
class Cluster:
    root: Path  # owned by the user that runs PostgreSQL
    monitor_port: int
    node_ports: tuple[int, int]
    nodes: list[Node] = field(default_factory=list)
    monitor: Process | None = None

    def __post_init__(self) -> None:
        self.nodes = [
            Node(f"node{i + 1}", port, self.root / f"node{i + 1}")
            for i, port in enumerate(self.node_ports)
        ]

    @property
    def monitor_url(self) -> str:
        return (
            f"postgres://autoctl_node@127.0.0.1:{self.monitor_port}/pg_auto_failover"
            "?sslmode=disable"
        )

    @property
    def url(self) -> str:
        """What Patron is given: every node, and only a writable one will do."""
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"postgresql://postgres@{hosts}/patron?target_session_attrs=read-write"

    def _as_pg(self, *argv: str) -> list[str]:
        if os.geteuid() != 0:
            return list(argv)
        # setpriv execs (runuser would fork and stay in between): the pid is pg_autoctl's.
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_DATA_HOME": str(self.root / "share"),
            "PG_CONFIG": str(PG_BIN / "pg_config"),
            "LANG": "C.UTF-8",
        }

    def _log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def _autoctl(self, *args: str, log: str) -> None:
        run(self._as_pg("pg_autoctl", *args), env=self._env(), log=self._log(log))

    def _keep_running(self, name: str, pgdata: Path) -> Process:
        return Process(
            name,
            self._as_pg("pg_autoctl", "run", "--pgdata", str(pgdata)),
            log=self._log(name),
            env=self._env(),
        )

    def prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    async def start(self) -> None:
        self.prepare_root()
        pgctl = str(PG_BIN / "pg_ctl")
        common = ["--auth", "trust", "--no-ssl", "--pgctl", pgctl, "--hostname", "127.0.0.1"]
        self._autoctl(
            "create", "monitor", "--pgdata", str(self.root / "monitor"),
            "--pgport", str(self.monitor_port), *common, log="monitor",
        )  # fmt: skip
        self.monitor = self._keep_running("monitor", self.root / "monitor")
        wait_for("the monitor", lambda: port_open(self.monitor_port), 30)
        await self._tune_monitor()
        for node in self.nodes:
            self._autoctl(
                "create", "postgres", "--pgdata", str(node.pgdata), "--pgport", str(node.port),
                "--listen", "127.0.0.1", "--name", node.name, "--dbname", "patron",
                "--monitor", self.monitor_url, *common, log=node.name,
            )  # fmt: skip
            for name, value in settings_of(DEPLOY / "keeper.conf"):
                self._autoctl("config", "set", "--pgdata", str(node.pgdata), name, value, log="set")
            node.keeper = self._keep_running(node.name, node.pgdata)
        await self.wait_for_states({"primary", "secondary"}, timeout=90)

    async def _tune_monitor(self) -> None:
        url = f"postgresql://postgres@127.0.0.1:{self.monitor_port}/pg_auto_failover"
        conn = await _connect_when_up(url, 30)
        try:
            for name, value in settings_of(DEPLOY / "monitor.conf"):
                await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    async def states(self) -> dict[str, tuple[str, str]]:
        """Each node's (reported, assigned) state, as the monitor has them."""
        url = f"postgresql://postgres@127.0.0.1:{self.monitor_port}/pg_auto_failover"
        conn = await asyncpg.connect(url, timeout=5)
        try:
            rows = await conn.fetch(
                "SELECT nodename, reportedstate::text AS r, goalstate::text AS g"
                " FROM pgautofailover.node"
            )
        finally:
            await conn.close()
        return {r["nodename"]: (r["r"], r["g"]) for r in rows}

    async def wait_for_states(self, wanted: set[str], *, timeout: float) -> None:
        """Until the nodes' reported and assigned states are, together, exactly `wanted`."""
        deadline = time.monotonic() + timeout
        while True:
            states = await self.states()
            if {s for pair in states.values() for s in pair} == wanted and len(states) == len(
                self.nodes
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"formation not in states {sorted(wanted)}: {states}")
            await asyncio.sleep(0.3)

    async def primary(self) -> Node:
        """The node that takes writes now."""
        for node in self.nodes:
            if node.keeper is None or not node.keeper.alive():
                continue
            try:
                conn = await asyncpg.connect(node.url, timeout=2)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                continue
            try:
                if await conn.fetchval(
                    "SELECT NOT pg_is_in_recovery()"
                    " AND current_setting('default_transaction_read_only') = 'off'"
                ):
                    return node
            finally:
                await conn.close()
        raise LookupError("no writable node")

    def stop(self) -> None:
        for node in self.nodes:
            if node.keeper is not None:
                node.keeper.stop()
        if self.monitor is not None:
            self.monitor.stop()


async def _connect_when_up(url: str, timeout: float) -> asyncpg.Connection:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncpg.connect(url, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
