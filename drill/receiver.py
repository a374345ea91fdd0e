"""The drill's webhook receiver, a process of its own: it answers 200 to every POST on its path and
appends one line per request to a file (`webhook-id`, notification type, resource id), so the
drill can count what arrived. It never deduplicates: that is what the drill checks for.

    python -m drill.receiver PORT PATH FILE
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def serve(port: int, path: str, out: Path) -> None:
    lock = threading.Lock()
    sink = out.open("a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's client expects

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != path:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            event = json.loads(body)
            line = "\t".join(
                [self.headers["webhook-id"], event["notificationType"], event["resourceId"]]
            )
            with lock:
                sink.write(line + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def received(out: Path) -> list[tuple[str, str, str]]:
    """What the receiver recorded: (webhook-id, notification type, resource id) per request."""
    if not out.exists():
        return []
    rows = []
    for line in out.read_text().splitlines():
        webhook_id, kind, resource_id = line.split("\t")
        rows.append((webhook_id, kind, resource_id))
    return rows


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
