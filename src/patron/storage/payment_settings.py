"""Customer payment settings rows: one per customer, enforced by a unique index."""

from __future__ import annotations

from patron.domain.ids import new_id
from patron.domain.payment_settings import PaymentProvider, PaymentSettings
from patron.storage.database import Connection, Dialect, Row

_COLUMNS = "id, account_id, customer_id, payment_provider, created_at, updated_at, revision"


def _settings(row: Row) -> PaymentSettings:
    return PaymentSettings(
        id=row["id"],
        account_id=row["account_id"],
        customer_id=row["customer_id"],
        payment_provider=PaymentProvider(row["payment_provider"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        revision=row["revision"],
    )


class PaymentSettingsRepo:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._account = account_id

    async def get(self, settings_id: str) -> PaymentSettings | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM customer_payment_settings WHERE account_id = $1 AND id = $2",
            self._account,
            settings_id,
        )
        return None if row is None else _settings(row)

    async def lock(self, settings_id: str) -> PaymentSettings | None:
        """The settings, their row locked for this transaction; changes nothing."""
        row = await self._conn.fetchrow(
            "UPDATE customer_payment_settings SET revision = revision"
            f" WHERE account_id = $1 AND id = $2 RETURNING {_COLUMNS}",
            self._account,
            settings_id,
        )
        return None if row is None else _settings(row)

    async def of_customer(self, customer_id: str) -> PaymentSettings | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM customer_payment_settings"
            " WHERE account_id = $1 AND customer_id = $2",
            self._account,
            customer_id,
        )
        return None if row is None else _settings(row)

    async def insert(
        self, customer_id: str, provider: PaymentProvider, at: int
    ) -> PaymentSettings | None:
        """The new settings, or None when the customer has some already.

        ON CONFLICT DO NOTHING rather than catching the unique violation: a racing insert waits
        for the other to commit and then answers None, and the transaction stays usable, so the
        caller can still read the settings that won.
        """
        row = await self._conn.fetchrow(
            "INSERT INTO customer_payment_settings (id, account_id, customer_id, payment_provider,"
            " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
            " ON CONFLICT (account_id, customer_id) DO NOTHING"
            f" RETURNING {_COLUMNS}",
            new_id(),
            self._account,
            customer_id,
            provider.value,
            at,
        )
        return None if row is None else _settings(row)

    async def update(
        self, settings_id: str, provider: PaymentProvider, at: int
    ) -> PaymentSettings | None:
        row = await self._conn.fetchrow(
            "UPDATE customer_payment_settings SET payment_provider = $3, updated_at = $4,"
            " revision = revision + 1"
            f" WHERE account_id = $1 AND id = $2 RETURNING {_COLUMNS}",
            self._account,
            settings_id,
            provider.value,
            at,
        )
        return None if row is None else _settings(row)

    async def delete(self, settings_id: str) -> PaymentSettings | None:
        """Removes the row (a hard delete) and answers what it held."""
        row = await self._conn.fetchrow(
            "DELETE FROM customer_payment_settings WHERE account_id = $1 AND id = $2"
            f" RETURNING {_COLUMNS}",
            self._account,
            settings_id,
        )
        return None if row is None else _settings(row)
