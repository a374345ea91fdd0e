"""Accounts, credentials and the instance's own secrets."""

from __future__ import annotations

import secrets

from patron.domain.accounts import Account, Credential
from patron.domain.ids import new_id, now_micros
from patron.storage.database import Database, Row

_CREDENTIAL = """
SELECT c.client_id, c.account_id, a.name AS account_name, c.created_at, c.api_version,
       c.revoked_at, c.secret_hash
FROM credentials c JOIN accounts a ON a.id = c.account_id
"""


def _credential(row: Row) -> Credential:
    return Credential(
        client_id=row["client_id"],
        account_id=row["account_id"],
        account_name=row["account_name"],
        created_at=row["created_at"],
        api_version=row["api_version"],
        revoked_at=row["revoked_at"],
    )


class AccountStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_or_create_account(self, name: str) -> Account:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO NOTHING",
                new_id(),
                name,
                now_micros(),
            )
            row = await conn.fetchrow(
                "SELECT id, name, created_at FROM accounts WHERE name = $1", name
            )
        assert row is not None  # inserted above, or there already
        return Account(row["id"], row["name"], row["created_at"])

    async def add_credential(self, credential: Credential, secret_hash: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO credentials (client_id, account_id, secret_hash, api_version,"
                " created_at) VALUES ($1, $2, $3, $4, $5)",
                credential.client_id,
                credential.account_id,
                secret_hash,
                credential.api_version,
                credential.created_at,
            )

    async def credential_with_hash(self, client_id: str) -> tuple[Credential, str] | None:
        async with self._db.read() as conn:
            row = await conn.fetchrow(_CREDENTIAL + " WHERE c.client_id = $1", client_id)
        return None if row is None else (_credential(row), row["secret_hash"])

    async def list_credentials(self) -> list[Credential]:
        async with self._db.read() as conn:
            rows = await conn.fetch(_CREDENTIAL + " ORDER BY c.created_at, c.client_id")
        return [_credential(r) for r in rows]

    async def revoke_credential(self, client_id: str) -> Credential | None:
        """Marks the credential revoked (once: a second revoke keeps the first time)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE credentials SET revoked_at = $2"
                " WHERE client_id = $1 AND revoked_at IS NULL",
                client_id,
                now_micros(),
            )
            row = await conn.fetchrow(_CREDENTIAL + " WHERE c.client_id = $1", client_id)
        return None if row is None else _credential(row)

    async def count_credentials(self) -> int:
        async with self._db.read() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM credentials"))

    async def instance_secret(self, key: str) -> bytes:
        """A random secret kept in the database, made on first use: the same for every process."""
        async with self._db.transaction() as conn:
            value = await conn.fetchval("SELECT value FROM instance_settings WHERE key = $1", key)
            if value is None:
                value = secrets.token_hex(32)
                await conn.execute(
                    "INSERT INTO instance_settings (key, value) VALUES ($1, $2)"
                    " ON CONFLICT (key) DO NOTHING",
                    key,
                    value,
                )
                value = await conn.fetchval(
                    "SELECT value FROM instance_settings WHERE key = $1", key
                )
        return bytes.fromhex(value)
