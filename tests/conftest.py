"""Fixtures for the one suite that runs on both engines.

`PATRON_TEST_DATABASE_URL` picks the engine: unset, a fresh SQLite file; a postgresql:// URL, that
database (its public schema is dropped and migrated at the start of the run). Every test gets its
own account, so tests never see each other's records.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from patron.api.state import Services
from patron.app import build_services, create_app
from patron.config import Settings
from patron.domain.accounts import IssuedCredential
from patron.services.credentials import CredentialService
from patron.storage import open_database
from patron.storage.accounts import AccountStore
from patron.storage.database import Database
from patron.storage.migrate import migrate

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


def _reset_postgres(url: str) -> None:
    import asyncio

    import asyncpg

    async def reset() -> None:
        try:
            conn = await asyncpg.connect(url, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            # Under CI an unreachable PostgreSQL fails the run; it is never a skip.
            pytest.exit(f"PostgreSQL at {url} is unreachable: {exc}", returncode=3)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("PATRON_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'patron.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgres") else "sqlite"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, pool_min=1, pool_max=4)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    # Argon2 at its cheapest: the suite makes hundreds of credentials; production keeps the default.
    built, store = await build_services(
        settings, password_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    try:
        yield built
    finally:
        await store.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A database handle of the test's own, to read or write tables directly (its pool as
    `patron import` opens it: two writers, the look-ups and ANALYZE)."""
    database = await open_database(database_url, pool_min=1, pool_max=4)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def account(db: Database) -> str:
    """The id of a new account, made the way the CLI makes one (with a credential)."""
    issued = await CredentialService(AccountStore(db)).create(f"account-{uuid.uuid4().hex[:12]}")
    return issued.credential.account_id


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_app(services.settings, services=services)


def auth_header(issued: IssuedCredential) -> dict[str, str]:
    token = httpx.BasicAuth(issued.credential.client_id, issued.client_secret)
    request = httpx.Request("GET", "http://x")
    return dict(next(token.auth_flow(request)).headers)


@pytest.fixture
async def new_client(app: Starlette, services: Services) -> AsyncIterator[ClientFactory]:
    """Makes HTTP clients, each authenticated as a credential of a new (or named) account."""
    clients: list[httpx.AsyncClient] = []

    async def make(account: str | None = None, **credential: str | None) -> httpx.AsyncClient:
        issued = await services.credentials.create(
            account or f"account-{uuid.uuid4().hex[:12]}", **credential
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver/api",
            headers={**auth_header(issued), "Content-Type": "application/json"},
        )
        client.issued = issued  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(new_client: ClientFactory) -> httpx.AsyncClient:
    """A client of a fresh account."""
    return await new_client()


@pytest.fixture
async def other_client(new_client: ClientFactory) -> httpx.AsyncClient:
    """A client of a second, unrelated account."""
    return await new_client()


@pytest.fixture
def contract_dir() -> Path:
    return Path(
        os.environ.get("PATRON_CONTRACT_DIR", Path(__file__).parents[2] / "shared/contract")
    )


_POSTGRES_MARKERS = ("postgres_plans", "postgres_only")


def _postgres_only(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in _POSTGRES_MARKERS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL's plan tests, its server's failures (outage, failover, standby) and what only
    its engine does (a statement sent without a transaction) run in the PostgreSQL pass (`make
    test-postgres`); on SQLite they are deselected, not skipped: SQLite's plans have their own
    test (tests/storage/test_query_plans.py), a file has no server to lose, and a SQLite
    transaction costs no round trip to save."""
    if (os.environ.get("PATRON_TEST_DATABASE_URL") or "").startswith("postgres"):
        return
    dropped = [item for item in items if _postgres_only(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not _postgres_only(item)]
