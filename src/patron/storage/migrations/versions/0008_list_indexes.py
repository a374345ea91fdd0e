"""Indexes and counts for the filtered and custom-property-sorted lists (docs/performance.md).

- `customers_account_label_created`: a label filter's page in the default order is a walk of
  `(account_id, label_key, created_at, id)`, and its count an index-only read (`archived_at` is
  in the index), instead of reading and sorting every customer holding the label. It replaces
  0001's `customers_account_label (account_id, label_key, id)`.
- `customers_account_id`: the walk of the customers lacking a sort key, in id order within the
  account (the primary key alone would walk every account's customers).
- `property_counts`: per account and key, how many customers hold the key, kept by triggers like
  `customer_counts` (0006). `customer_counts.total - holders` is how many customers lack the key;
  when none does, a custom-property sort walks `customer_properties_account_key` alone, without
  looking for customers that lack the key (they sort as "", and finding them is a walk of the
  account). PostgreSQL: statement-level triggers (a COPY batch bumps a stripe once), striped by
  backend so concurrent creates do not queue on one row; SQLite: row triggers, one row per key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

Another branch may also add a 0007; the chain is to be renumbered when both are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SORTED_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")  # as in 0001

_POSTGRES = [
    """
    CREATE FUNCTION patron_property_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO property_counts (account_id, key, stripe, holders)
            SELECT account_id, key, pg_backend_pid() % 16, count(*) FROM added
            GROUP BY account_id, key
            ON CONFLICT (account_id, key, stripe) DO UPDATE
            SET holders = property_counts.holders + EXCLUDED.holders;
        ELSE
            INSERT INTO property_counts (account_id, key, stripe, holders)
            SELECT account_id, key, pg_backend_pid() % 16, -count(*) FROM removed
            GROUP BY account_id, key
            ON CONFLICT (account_id, key, stripe) DO UPDATE
            SET holders = property_counts.holders + EXCLUDED.holders;
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER customer_properties_count_insert AFTER INSERT ON customer_properties"
    " REFERENCING NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION patron_property_counts_add()",
    "CREATE TRIGGER customer_properties_count_delete AFTER DELETE ON customer_properties"
    " REFERENCING OLD TABLE AS removed FOR EACH STATEMENT"
    " EXECUTE FUNCTION patron_property_counts_add()",
]

_SQLITE = [
    """
    CREATE TRIGGER customer_properties_count_insert AFTER INSERT ON customer_properties BEGIN
        INSERT INTO property_counts (account_id, key, stripe, holders)
        VALUES (NEW.account_id, NEW.key, 0, 1)
        ON CONFLICT (account_id, key, stripe) DO UPDATE SET holders = holders + 1;
    END
    """,
    """
    CREATE TRIGGER customer_properties_count_delete AFTER DELETE ON customer_properties BEGIN
        UPDATE property_counts SET holders = holders - 1
        WHERE account_id = OLD.account_id AND key = OLD.key AND stripe = 0;
    END
    """,
]

_TRIGGERS = ("customer_properties_count_insert", "customer_properties_count_delete")


def upgrade() -> None:
    op.create_index(
        "customers_account_label_created",
        "customers",
        ["account_id", "label_key", "created_at", "id", "archived_at"],
    )
    # Served only the label filter, which the index above serves better: one index less to
    # write per customer.
    op.drop_index("customers_account_label", "customers")
    op.create_index("customers_account_id", "customers", ["account_id", "id"])
    op.create_table(
        "property_counts",
        sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("key", SORTED_TEXT, nullable=False),
        sa.Column("stripe", sa.Integer(), nullable=False),
        sa.Column("holders", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "key", "stripe"),
    )
    op.execute(
        "INSERT INTO property_counts (account_id, key, stripe, holders)"
        " SELECT account_id, key, 0, COUNT(*) FROM customer_properties GROUP BY account_id, key"
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for sql in _POSTGRES if postgres else _SQLITE:
        op.execute(sql)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGERS:
        op.execute(
            f"DROP TRIGGER {name} ON customer_properties" if postgres else f"DROP TRIGGER {name}"
        )
    if postgres:
        op.execute("DROP FUNCTION patron_property_counts_add()")
    op.drop_table("property_counts")
    op.drop_index("customers_account_id", "customers")
    op.create_index("customers_account_label", "customers", ["account_id", "label_key", "id"])
    op.drop_index("customers_account_label_created", "customers")
