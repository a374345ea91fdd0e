"""Which database a read may go to: a request marks the reads that may come from a standby
(`standby_reads`), and `Store.reading` sends them there when one is configured. Only reads that no
write of the same request precedes are marked (the API marks GET requests), so a request always
sees its own writes; docs/deploy.md has the lag trade-off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_standby_allowed: ContextVar[bool] = ContextVar("patron_standby_reads", default=False)


@contextmanager
def standby_reads() -> Iterator[None]:
    token = _standby_allowed.set(True)
    try:
        yield
    finally:
        _standby_allowed.reset(token)


def standby_allowed() -> bool:
    return _standby_allowed.get()
