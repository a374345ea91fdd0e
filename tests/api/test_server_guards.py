"""A real `patron serve` process against abusive clients: oversized heads and bodies, idle and
slow connections; and its logs: JSON lines with request ids, never a secret."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess, issue_credential

READ_TIMEOUT = 1.0
KEEP_ALIVE = 1
MAX_HEADER = 8192
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("guards") / "server.log"
    env = {
        "PATRON_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "PATRON_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
        "PATRON_MAX_HEADER_BYTES": str(MAX_HEADER),
        "PATRON_MAX_BODY_BYTES": str(MAX_BODY),
        "PATRON_AUTH_FAILURE_DELAY_MAX_SECONDS": "0.2",
    }
    with ServerProcess(database_url, log, env) as running:
        yield running


@pytest.fixture(scope="module")
def credential(database_url: str, server: ServerProcess) -> tuple[str, str]:
    return issue_credential(database_url, "guards")


def connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    began = time.monotonic()
    sock.settimeout(limit)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received, time.monotonic() - began
        received += chunk


def serves(server: ServerProcess, credential: tuple[str, str]) -> None:
    began = time.monotonic()
    response = httpx.get(f"{server.base}/customers", auth=credential, timeout=5)
    assert response.status_code == 200, response.text
    assert time.monotonic() - began < 2


class TestHeadCap:
    @pytest.mark.parametrize(
        ("headers", "params"),
        [({"X-Big": "a" * (MAX_HEADER + 1)}, {}), ({}, {"legalName": "a" * (MAX_HEADER + 1)})],
        ids=["header", "url"],
    )
    def test_a_head_over_the_cap_is_a_431(
        self,
        server: ServerProcess,
        credential: tuple[str, str],
        headers: dict[str, str],
        params: dict[str, str],
    ) -> None:
        response = httpx.get(
            f"{server.base}/customers", headers=headers, params=params, auth=credential
        )
        assert response.status_code == 431
        assert response.json()["error"]["type"] == "RequestHeaderFieldsTooLarge"
        serves(server, credential)

    def test_many_small_headers_add_up(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        headers = {f"X-H{i}": "v" * 50 for i in range(MAX_HEADER // 50)}
        response = httpx.get(f"{server.base}/customers", headers=headers, auth=credential)
        assert response.status_code == 431
        serves(server, credential)

    def test_a_header_that_never_ends_is_cut_off(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        with connect(server) as sock:
            sock.sendall(b"GET /api/customers HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            sent = 0
            try:
                while sent < 50 * 1024 * 1024:
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except OSError:
                pass  # the server answered and closed
            received, _ = read_until_closed(sock, 5)
        assert received.startswith(b"HTTP/1.1 431"), received[:100]
        assert sent < 10 * 1024 * 1024
        serves(server, credential)


def _list_request(credential: tuple[str, str]) -> bytes:
    """A whole authenticated `GET /api/customers`, as raw bytes for a socket."""
    token = base64.b64encode(":".join(credential).encode()).decode()
    return (
        b"GET /api/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + token.encode()
        + b"\r\n\r\n"
    )


class TestBodyCap:
    def test_a_chunked_body_over_the_cap_is_a_413(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        token = base64.b64encode(":".join(credential).encode()).decode()
        with connect(server) as sock:
            sock.sendall(
                b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Basic " + token.encode() + b"\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b" " * 4096
            received = b""
            sock.settimeout(5)
            for _ in range(MAX_BODY // len(chunk) + 4):
                try:
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                except OSError:
                    break  # the server answered and closed: fine
            sock.sendall(b"0\r\n\r\n")
            while b"\r\n\r\n" not in received:
                received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 413"), received[:200]
        serves(server, credential)


class TestSlowClients:
    def test_an_idle_connection_is_closed(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        with connect(server) as sock:
            received, took = read_until_closed(sock, 5)
        assert received.startswith(b"HTTP/1.1 408"), received
        assert took < READ_TIMEOUT + 1.5

    def test_a_slowloris_client_is_cut_off_and_others_are_served(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        slow = [connect(server) for _ in range(30)]
        try:
            for sock in slow:
                sock.sendall(b"GET /api/customers HTTP/1.1\r\nHost: x\r\n")
            began = time.monotonic()
            closed: set[int] = set()
            while len(closed) < len(slow) and time.monotonic() - began < READ_TIMEOUT + 3:
                serves(server, credential)
                for i, sock in enumerate(slow):
                    if i in closed:
                        continue
                    try:
                        sock.sendall(b"X")  # one more byte of a header that never ends
                    except OSError:
                        closed.add(i)
                time.sleep(0.2)
            assert len(closed) == len(slow)
            assert time.monotonic() - began < READ_TIMEOUT + 3
        finally:
            for sock in slow:
                sock.close()

    def test_a_kept_alive_connection_is_closed_when_idle(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        with connect(server) as sock:
            sock.sendall(_list_request(credential))
            received, took = read_until_closed(sock, 5)
        assert received.startswith(b"HTTP/1.1 200")
        assert took < KEEP_ALIVE + 1.5

    def test_each_request_on_a_kept_alive_connection_has_its_own_deadline(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        """The deadline's one timer per connection is re-aimed, not replaced (server.py): a second
        request that stalls is cut off a full timeout after it began, not at the first's."""
        with connect(server) as sock:
            sock.sendall(_list_request(credential))
            sock.settimeout(5)
            first = b""
            while b"\r\n\r\n" not in first or not first.endswith(b"}"):  # the whole answer
                first += sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200")
            time.sleep(READ_TIMEOUT * 0.6)  # within the keep-alive time
            sock.sendall(b"GET /api/customers HTTP/1.1\r\nHost: x\r\n")
            received, took = read_until_closed(sock, 5)
        assert received.startswith(b"HTTP/1.1 408"), received
        assert READ_TIMEOUT - 0.1 < took < READ_TIMEOUT + 1.5


class TestLogs:
    def test_lines_are_json_with_request_ids_and_never_a_secret(
        self, server: ServerProcess, credential: tuple[str, str]
    ) -> None:
        client_id, secret = credential
        good = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        wrong_secret = secret[:-4] + "abcd"
        bad = base64.b64encode(f"{client_id}:{wrong_secret}".encode()).decode()
        with httpx.Client(base_url=server.base, timeout=5) as http:
            ok = http.post(
                "/customers",
                json={"legalName": "Logged Ltd", "secretish": secret},
                headers={"Authorization": f"Basic {good}", "X-Request-Id": "req-good-1"},
            )
            assert ok.status_code == 400  # a body the log must not repeat
            refused = http.get(
                "/customers",
                headers={"Authorization": f"Basic {bad}", "X-Request-Id": "req-bad-1"},
            )
            assert refused.status_code == 401
            listed = http.get("/customers", headers={"Authorization": f"Basic {good}"})
            assert listed.status_code == 200
        time.sleep(0.2)  # let the server's log handler write
        text = server.log.read_text()
        for forbidden in (secret, wrong_secret, good, bad, "Logged Ltd", "secretish"):
            assert forbidden not in text
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        access = {line.get("request_id"): line for line in lines if line["message"] == "request"}
        assert access["req-good-1"] | {"duration_ms": 0} == {
            "time": access["req-good-1"]["time"],
            "level": "info",
            "logger": "patron.access",
            "message": "request",
            "request_id": "req-good-1",
            "method": "POST",
            "path": "/api/customers",
            "status": 400,
            "duration_ms": 0,
            "client_id": client_id,
            "client": "127.0.0.1",
        }
        assert access["req-bad-1"]["status"] == 401
        assert access["req-bad-1"]["client_id"] is None
        generated = access[listed.headers["x-request-id"]]
        assert generated["status"] == 200
        assert any(line["logger"].startswith("uvicorn") for line in lines)


def test_log_config_is_json(tmp_path: Path) -> None:
    import logging
    import logging.config

    from patron.logs import log_config

    config = log_config("info")
    config["handlers"]["stderr"] = {
        "class": "logging.FileHandler",
        "formatter": "json",
        "filename": str(tmp_path / "log"),
    }
    logging.config.dictConfig(config)
    try:
        logging.getLogger("patron.test").info("hello %s", "there", extra={"request_id": "r1"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("patron.test").exception("failed")
    finally:
        for name in ("patron", "uvicorn"):
            for handler in logging.getLogger(name).handlers:
                handler.close()
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
            logging.getLogger(name).setLevel(logging.NOTSET)
    first, second = (json.loads(line) for line in (tmp_path / "log").read_text().splitlines())
    assert first["message"] == "hello there"
    assert first["request_id"] == "r1"
    assert "ValueError: boom" in second["exception"]
