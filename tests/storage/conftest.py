"""Fixtures of the storage tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest


@pytest.fixture
async def fresh_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, not migrated: a new SQLite file, or a new PostgreSQL database on
    the suite's server (dropped after the test)."""
    if not database_url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    base, name = database_url.rsplit("/", 1)
    fresh = f"{name}_fresh_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f"CREATE DATABASE {fresh}")
        yield f"{base}/{fresh}"
        await admin.execute(f"DROP DATABASE {fresh} WITH (FORCE)")
    finally:
        await admin.close()
