"""PostgreSQL: a customer write no longer locks its account's row.

Every foreign-key check takes a KEY SHARE lock on the row it finds. Before this migration a
create checked its account's row eight times (the customer, two contacts, two custom properties,
three events). All concurrent creates of an account locked that one row, so PostgreSQL made a
MultiXact (the row's list of lockers) for nearly every create: 5,149 MultiXacts with 25,766
members for 6,075 of Patron's creates under wrk. Each is written to the MultiXact SLRU and the
WAL under one lock, and autovacuum must freeze them before they wrap around
(docs/performance.md, "Session 11: the account's row").

What the references meant, and what replaces them:

- **The per-customer tables** (contacts, custom properties, aliases, integration ids) checked
  their `account_id` and their `customer_id` separately: nothing said they were the same
  account. They now reference `customers (account_id, id)`, one check that the row's customer
  belongs to the row's account, on the customer's row (which a create has just inserted). That is
  stronger than before: a database holding such a row (which Patron never wrote) makes the
  upgrade roll back, and `patron migrate` says which tables and how to list the rows.
  `ON DELETE CASCADE` is kept. `customers_account_id` becomes unique, which
  the reference needs; `(account_id, id)` was unique already through the primary key `(id)`.
- **Customers, events, the counts and the idempotency keys** no longer reference `accounts`.
  (The counts are a row per account and stripe, upserted by the triggers: a stripe's first insert
  was checked. An idempotency key is claimed by every POST that sends one.) Accounts are
  permanent instead:
  `accounts_permanent` refuses deleting an account, changing its id and truncating the table,
  so no reference to an account can dangle. An account id is only ever written from an
  authenticated credential (which keeps its reference) or from `patron import --account`,
  which looks the account up by name.
- The other references to `accounts` stay: organizations, payment settings, webhook policies and
  deliveries, and credentials are written by other requests, or only when webhooks are set up.

SQLite: unchanged. It has one writer and no row locks, so its checks cost no contention.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from patron.storage.database import MigrationRefused

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CHILDREN = ("contacts", "customer_properties", "aliases", "integration_ids")
UNREFERENCED = (
    "customers",
    "events",
    "customer_counts",
    "label_counts",
    "property_counts",
    "idempotency_keys",
)


def _index(unique: bool) -> list[str]:
    """`customers_account_id` rebuilt, unique or not, under its own name."""
    kind = "UNIQUE INDEX" if unique else "INDEX"
    return [
        f"CREATE {kind} customers_account_id_next ON customers (account_id, id)",
        "DROP INDEX customers_account_id",
        "ALTER INDEX customers_account_id_next RENAME TO customers_account_id",
    ]


UPGRADE = [
    *_index(unique=True),
    *(
        statement
        for table in CHILDREN
        for statement in (
            f"ALTER TABLE {table} DROP CONSTRAINT {table}_account_id_fkey",
            f"ALTER TABLE {table} DROP CONSTRAINT {table}_customer_id_fkey",
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_customer_fkey"
            " FOREIGN KEY (account_id, customer_id) REFERENCES customers (account_id, id)"
            " ON DELETE CASCADE",
        )
    ),
    *(f"ALTER TABLE {table} DROP CONSTRAINT {table}_account_id_fkey" for table in UNREFERENCED),
    """
    CREATE FUNCTION patron_accounts_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'accounts are permanent: customer records and events refer to them'
                USING ERRCODE = 'PA002';
        END
    $$
    """,
    "CREATE TRIGGER accounts_permanent BEFORE DELETE OR UPDATE OF id ON accounts"
    " FOR EACH ROW EXECUTE FUNCTION patron_accounts_permanent()",
    "CREATE TRIGGER accounts_not_truncated BEFORE TRUNCATE ON accounts"
    " FOR EACH STATEMENT EXECUTE FUNCTION patron_accounts_permanent()",
]

DOWNGRADE = [
    "DROP TRIGGER accounts_not_truncated ON accounts",
    "DROP TRIGGER accounts_permanent ON accounts",
    "DROP FUNCTION patron_accounts_permanent()",
    *(
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_account_id_fkey"
        " FOREIGN KEY (account_id) REFERENCES accounts (id)"
        for table in UNREFERENCED
    ),
    *(
        statement
        for table in CHILDREN
        for statement in (
            f"ALTER TABLE {table} DROP CONSTRAINT {table}_customer_fkey",
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_account_id_fkey"
            " FOREIGN KEY (account_id) REFERENCES accounts (id)",
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_customer_id_fkey"
            " FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE",
        )
    ),
    *_index(unique=False),
]


# The parts whose account is not their customer's: the new reference would refuse them.
MISMATCHED = (
    "FROM {table} x JOIN customers c ON c.id = x.customer_id WHERE c.account_id <> x.account_id"
)


def _refusal() -> MigrationRefused | None:
    """Which tables hold parts the new reference refused, and how to list them (None: none do).
    Counted only after the reference failed: its own validation already reads every part once."""
    bind = op.get_bind()
    found = {
        table: count
        for table in CHILDREN
        if (
            count := bind.execute(
                sa.text(f"SELECT count(*) {MISMATCHED.format(table=table)}")
            ).scalar_one()
        )
    }
    if not found:
        return None
    listed = ", ".join(f"{table}: {count}" for table, count in found.items())
    first = next(iter(found))
    return MigrationRefused(
        f"migration 0015 changed nothing: rows name a customer of another account ({listed})."
        f" List them with `SELECT x.* {MISMATCHED.format(table=first)}` (and likewise for"
        " each table named), then correct their account_id or delete them."
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    try:
        # A savepoint, so that the counts can still be read in the migration's transaction.
        with op.get_bind().begin_nested():
            for statement in UPGRADE:
                op.execute(statement)
    except sa.exc.IntegrityError:
        refusal = _refusal()
        if refusal is None:
            raise
        raise refusal from None


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
