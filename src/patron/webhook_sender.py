"""Sending a webhook over HTTP (httpx): one POST, bounded by a timeout, never following redirects.

Errors are described by kind only (timeout, refused, TLS, ...): an exception's text can carry the
URL, which may hold a token, and delivery records are readable through the API.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import httpx

from patron.domain.notifications import address_denied, host_denied
from patron.services.dispatcher import Sent

_KINDS: list[tuple[type[Exception], str]] = [
    (httpx.TimeoutException, "timed out"),
    (httpx.ConnectError, "could not connect"),
    (httpx.RemoteProtocolError, "the recipient broke the HTTP protocol"),
    (httpx.TransportError, "the connection failed"),
]


class HttpSender:
    def __init__(self, *, timeout_seconds: float, deny_private: bool = False) -> None:
        self._deny_private = deny_private
        # trust_env=False: no proxy or .netrc from the environment; deliveries go where the
        # policy says, with nothing added.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._timeout = timeout_seconds

    async def _denied(self, url: str) -> bool:
        """With the deny-list on: whether the URL's host is, or resolves to, a denied address.
        (The connection resolves again; a name that changes its answer in between could still
        slip through: docs/webhooks.md.)"""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host_denied(host):
            return True
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return any(address_denied(str(info[4][0])) for info in infos)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent:
        try:
            if self._deny_private and await self._denied(url):
                return Sent(None, "the recipient's address is in a denied range")
            async with asyncio.timeout(self._timeout + 1):
                response = await self._client.post(url, content=body, headers=headers)
                await response.aclose()
        except (TimeoutError, OSError) as exc:
            kind = "timed out" if isinstance(exc, TimeoutError) else "could not resolve or connect"
            return Sent(None, f"{kind} ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            for cls, kind in _KINDS:
                if isinstance(exc, cls):
                    return Sent(None, f"{kind} ({type(exc).__name__})")
            return Sent(None, f"the request failed ({type(exc).__name__})")
        return Sent(response.status_code)

    async def close(self) -> None:
        await self._client.aclose()
