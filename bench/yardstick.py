"""The yardstick: the least a Python server can do for GET by id on the same engine.

A bare ASGI app (no framework, no auth, no model): it looks the id up in `yardstick_docs`, a table
of pre-rendered JSON documents, and sends the bytes. `bench/run.py` fills the table with the exact
documents Patron renders for the ids it asks for, then serves this with one uvicorn worker:

    BENCH_DATABASE_URL=sqlite:///var/bench/patron.db \
        .venv/bin/uvicorn --factory bench.yardstick:create_app --port 8001 --log-level warning
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_PREFIX = "/api/customers/"
_HEADERS = [(b"content-type", b"application/json")]


def create_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    url = os.environ["BENCH_DATABASE_URL"]
    pool: list[asyncpg.Pool] = []
    lite: list[sqlite3.Connection] = []

    async def lookup(doc_id: str) -> bytes | None:
        if lite:
            row = (
                lite[0]
                .execute("SELECT body FROM yardstick_docs WHERE id = ?", (doc_id,))
                .fetchone()
            )
        else:
            async with pool[0].acquire() as conn:
                row = await conn.fetchrow("SELECT body FROM yardstick_docs WHERE id = $1", doc_id)
        return None if row is None else bytes(row[0])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if url.startswith("sqlite:"):
                        lite.append(
                            sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False)
                        )
                    else:
                        pool.append(
                            await asyncpg.create_pool(url, min_size=2, max_size=10, reset=_no_reset)
                        )
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        body = await lookup(path.removeprefix(_PREFIX)) if path.startswith(_PREFIX) else None
        status = 200 if body is not None else 404
        await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": body or b"{}"})

    return app


async def _no_reset(connection: asyncpg.Connection) -> None:
    return None
