"""Schema migrations: Alembic, one history for both engines, applied by `patron migrate`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from patron.storage.sqlite import sqlite_path

_HERE = Path(__file__).parent / "migrations"


def alembic_url(url: str) -> str:
    """SQLAlchemy's spelling of a Patron database URL (migrations only; requests never use it)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    # ConfigParser interpolation would eat a % in a password.
    config.set_main_option("sqlalchemy.url", alembic_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision`; a no-op when it is there already."""
    command.upgrade(_config(url), revision)
