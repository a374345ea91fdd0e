"""Whether this process can do its work: the readiness a load balancer asks for (`/readyz`)."""

from __future__ import annotations

from patron.storage.database import Database


class Health:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def check_ready(self) -> None:
        """Returns when the database answers and takes writes; raises `Unavailable` if not."""
        await self._db.check_writable()
