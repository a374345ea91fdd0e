"""The serving side of the drill: two single-process `patron serve` behind nginx, one
`patron worker` delivering webhooks, and the webhook receiver."""

from __future__ import annotations

import os
import shutil
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

from drill.procs import Process, port_open, wait_for

NGINX_TEMPLATE = (
    Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "patron.conf.template"
)
PATRON = str(Path(sys.executable).with_name("patron"))


def nginx_conf(root: Path, listen: int, api_ports: list[int]) -> str:
    """A whole nginx.conf for an unprivileged nginx under `root`, around the deploy template."""
    servers = "\n    ".join(
        f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in api_ports
    )
    site = string.Template(NGINX_TEMPLATE.read_text()).safe_substitute(
        PATRON_LISTEN=f"127.0.0.1:{listen}", PATRON_SERVERS=servers
    )
    return f"""
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/nginx-body;
    proxy_temp_path {root}/nginx-proxy;
    fastcgi_temp_path {root}/nginx-fastcgi;
    uwsgi_temp_path {root}/nginx-uwsgi;
    scgi_temp_path {root}/nginx-scgi;
{site}
}}
"""


@dataclass
class Stack:
    root: Path
    database_url: str
    nginx_port: int
    api_ports: list[int]
    receiver_port: int
    receiver_path: str = "/drill-hook"
    apis: dict[int, Process] = field(default_factory=dict)
    worker: Process | None = None
    nginx: Process | None = None
    receiver: Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}{self.receiver_path}"

    @property
    def received_file(self) -> Path:
        return self.root / "received.tsv"

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
        env.update(
            PATRON_DATABASE_URL=self.database_url,
            PATRON_LOG_LEVEL="warning",
            PATRON_WEBHOOK_DISPATCHER="false",
        )
        env.update(extra)
        return env

    def start_api(self, port: int) -> None:
        self.apis[port] = Process(
            f"serve-{port}",
            [PATRON, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            log=self.root / f"serve-{port}.log",
            env=self._env(),
        )
        wait_for(f"patron serve on {port}", lambda: port_open(port), 30)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.receiver = Process(
            "receiver",
            [sys.executable, "-m", "drill.receiver", str(self.receiver_port),
             self.receiver_path, str(self.received_file)],
            log=self.root / "receiver.log",
            env=self._env(PYTHONPATH=str(Path(__file__).resolve().parent.parent)),
        )  # fmt: skip
        wait_for("the webhook receiver", lambda: port_open(self.receiver_port), 15)
        for port in self.api_ports:
            self.start_api(port)
        self.worker = Process(
            "worker",
            [PATRON, "worker"],
            log=self.root / "worker.log",
            env=self._env(
                PATRON_WEBHOOK_DISPATCHER="true",
                PATRON_WEBHOOK_POLL_SECONDS="0.2",
                PATRON_WEBHOOK_BACKOFF_BASE_SECONDS="1",
                PATRON_WEBHOOK_BACKOFF_MAX_SECONDS="2",
            ),
        )
        conf = self.root / "nginx.conf"
        conf.write_text(nginx_conf(self.root, self.nginx_port, self.api_ports))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = Process(
            "nginx", [nginx, "-c", str(conf), "-p", str(self.root)],
            log=self.root / "nginx.log", env=self._env(),
        )  # fmt: skip
        wait_for("nginx", lambda: port_open(self.nginx_port), 15)

    def stop(self) -> None:
        for process in [self.nginx, self.worker, *self.apis.values(), self.receiver]:
            if process is not None:
                process.stop()
