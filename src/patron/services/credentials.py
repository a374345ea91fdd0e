"""API credentials: issue, list, revoke, and authenticate a request's client id and secret.

Secrets are stored only as Argon2id hashes. Verifying one costs tens of milliseconds by design, so
a request does not pay it every time: after one successful verification the process keeps a keyed
BLAKE2b hash (a MAC) of the secret under a random key that never leaves memory, and later requests
compare against that in constant time. The entry expires after `cache_seconds`, which bounds how
long a revocation made by another process (the CLI) takes to bite: the next request reads the
credential again, and renews the entry without Argon2 when it is not revoked and its stored hash is
the one the secret was verified against.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from hashlib import blake2b

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from patron.domain.accounts import Credential, IssuedCredential
from patron.domain.errors import NotFound, Unauthenticated
from patron.domain.ids import new_id, now_micros
from patron.storage.accounts import AccountStore

_BAD_CREDENTIALS = "Invalid credentials: check the client id and secret"


@dataclass(frozen=True, slots=True)
class _Verified:
    digest: bytes
    credential: Credential
    expires: float
    # The stored hash the secret was verified against: while it is unchanged, an expired entry is
    # renewed by reading the credential (revoked?) without running Argon2 again.
    secret_hash: str


class CredentialService:
    def __init__(
        self,
        accounts: AccountStore,
        *,
        cache_seconds: float = 10.0,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher or PasswordHasher()
        self._cache_key = os.urandom(32)
        self._cache: dict[str, _Verified] = {}
        self._cache_seconds = cache_seconds
        # Verifications running now, by digest: requests arriving together with the same client id
        # and secret share one Argon2 run (each holds ~64 MB while it runs; 32 of them at once
        # after the cache entry expires took a worker past 450 MB under load).
        self._verifying: dict[bytes, asyncio.Future[Credential]] = {}

    async def create(
        self, account_name: str, *, api_version: str | None = None
    ) -> IssuedCredential:
        account = await self._accounts.get_or_create_account(account_name)
        secret = secrets.token_urlsafe(32)
        credential = Credential(
            client_id=new_id(),
            account_id=account.id,
            account_name=account.name,
            created_at=now_micros(),
            api_version=api_version,
        )
        await self._accounts.add_credential(credential, self._hasher.hash(secret))
        return IssuedCredential(credential, secret)

    async def list(self) -> list[Credential]:
        return await self._accounts.list_credentials()

    async def revoke(self, client_id: str) -> Credential:
        credential = await self._accounts.revoke_credential(client_id)
        if credential is None:
            raise NotFound(f"No credential with client id {client_id}")
        self._cache.pop(client_id, None)
        return credential

    async def count(self) -> int:
        return await self._accounts.count_credentials()

    def _digest(self, client_id: str, secret: str) -> bytes:
        # BLAKE2b in its keyed mode, a MAC by design: 0.6 µs against HMAC-SHA256's 2 µs through
        # OpenSSL (hmac.digest), on every request (docs/performance.md, Session 5).
        return blake2b(
            f"{client_id}:{secret}".encode(), key=self._cache_key, digest_size=32
        ).digest()

    async def authenticate(self, client_id: str, secret: str) -> Credential:
        digest = self._digest(client_id, secret)
        cached = self._cache.get(client_id)
        if cached is not None and cached.expires > time.monotonic():
            # A client id has one secret: a mismatch here is a wrong secret, no need to rehash.
            if hmac.compare_digest(cached.digest, digest):
                return cached.credential
            raise Unauthenticated(_BAD_CREDENTIALS)
        running = self._verifying.get(digest)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Credential] = asyncio.get_running_loop().create_future()
        self._verifying[digest] = future
        try:
            credential = await self._verify(client_id, secret, digest)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: no warning when nobody else waited
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._verifying[digest]
        future.set_result(credential)
        return credential

    async def _verify(self, client_id: str, secret: str, digest: bytes) -> Credential:
        found = await self._accounts.credential_with_hash(client_id)
        if found is None:
            raise Unauthenticated(_BAD_CREDENTIALS)
        credential, secret_hash = found
        if credential.revoked_at is not None:
            self._cache.pop(client_id, None)
            raise Unauthenticated("This credential has been revoked")
        expired = self._cache.get(client_id)
        renewable = (
            expired is not None
            and expired.secret_hash == secret_hash
            and hmac.compare_digest(expired.digest, digest)
        )
        if not renewable:
            # Renewing instead saves ~100 ms of Argon2 per client every `cache_seconds`, during
            # which every request of that client waited (the p99 of a GET under load).
            try:
                await asyncio.to_thread(self._hasher.verify, secret_hash, secret)
            except (VerificationError, InvalidHashError) as exc:
                raise Unauthenticated(_BAD_CREDENTIALS) from exc
        self._cache[client_id] = _Verified(
            digest, credential, time.monotonic() + self._cache_seconds, secret_hash
        )
        return credential
