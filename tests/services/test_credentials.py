"""The credential cache: Argon2 runs once per client and secret, revocation still bites."""

from __future__ import annotations

import uuid
from typing import Literal

import pytest
from argon2 import PasswordHasher

from patron.domain.errors import Unauthenticated
from patron.services.credentials import CredentialService
from patron.storage.accounts import AccountStore
from patron.storage.database import Database


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def accounts(db: Database) -> AccountStore:
    return AccountStore(db)


class TestAuthenticate:
    async def test_an_expired_entry_is_renewed_without_argon2(self, accounts: AccountStore) -> None:
        hasher = CountingHasher()
        # cache_seconds=0: every call finds its entry expired, as a request does every 10 s.
        service = CredentialService(accounts, cache_seconds=0, hasher=hasher)
        issued = await service.create(f"acc-{uuid.uuid4().hex[:8]}")
        client_id, secret = issued.credential.client_id, issued.client_secret
        for _ in range(3):
            assert (await service.authenticate(client_id, secret)).client_id == client_id
        assert hasher.verified == 1
        with pytest.raises(Unauthenticated):
            await service.authenticate(client_id, secret + "x")
        assert hasher.verified == 2
        await service.authenticate(client_id, secret)
        assert hasher.verified == 2

    async def test_revocation_by_another_process_bites_at_expiry(
        self, accounts: AccountStore
    ) -> None:
        service = CredentialService(accounts, cache_seconds=0, hasher=CountingHasher())
        issued = await service.create(f"acc-{uuid.uuid4().hex[:8]}")
        client_id, secret = issued.credential.client_id, issued.client_secret
        await service.authenticate(client_id, secret)
        await accounts.revoke_credential(client_id)  # not through this service: no cache pop
        with pytest.raises(Unauthenticated, match="revoked"):
            await service.authenticate(client_id, secret)

    async def test_a_changed_hash_needs_argon2_again(
        self, accounts: AccountStore, db: Database
    ) -> None:
        hasher = CountingHasher()
        service = CredentialService(accounts, cache_seconds=0, hasher=hasher)
        issued = await service.create(f"acc-{uuid.uuid4().hex[:8]}")
        client_id, secret = issued.credential.client_id, issued.client_secret
        await service.authenticate(client_id, secret)
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE credentials SET secret_hash = $1 WHERE client_id = $2",
                hasher.hash(secret),
                client_id,
            )
        await service.authenticate(client_id, secret)
        assert hasher.verified == 2
