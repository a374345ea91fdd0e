"""Per-account customer counts, kept by triggers, for an unfiltered list's `totalResultSize`.

The contract's total is exact ("Total number of entries across all pages"), and a COUNT over an
account's customers on every list call grows with the account (38 ms at 100,000 on SQLite, more
than the page itself). Triggers keep `live` (not archived) and `total` per account in the same
transaction as every insert, archive and delete, whichever path writes (API, import's COPY).
On PostgreSQL the counts are striped by backend (pg_backend_pid() % 16) so concurrent creates do
not queue on one row until their commits; a read sums the stripes. Inserts are counted per
statement (a COPY of 5,000 rows bumps a stripe once); archives per row (one at a time anyway).
SQLite has one writer: one row per account, row-level triggers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_POSTGRES = [
    """
    CREATE FUNCTION patron_counts_add(acc TEXT, d_live BIGINT, d_total BIGINT) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO customer_counts (account_id, stripe, live, total)
        VALUES (acc, pg_backend_pid() % 16, d_live, d_total)
        ON CONFLICT (account_id, stripe) DO UPDATE
        SET live = customer_counts.live + EXCLUDED.live,
            total = customer_counts.total + EXCLUDED.total
    $$
    """,
    """
    CREATE FUNCTION patron_customers_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM patron_counts_add(account_id, count(*) FILTER (WHERE archived_at IS NULL),
                                  count(*))
        FROM inserted GROUP BY account_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION patron_customers_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM patron_counts_add(account_id, -count(*) FILTER (WHERE archived_at IS NULL),
                                  -count(*))
        FROM deleted GROUP BY account_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION patron_customer_archived() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM patron_counts_add(NEW.account_id,
            CASE WHEN NEW.archived_at IS NULL THEN 1 ELSE -1 END, 0);
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER customers_count_insert AFTER INSERT ON customers"
    " REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT"
    " EXECUTE FUNCTION patron_customers_inserted()",
    "CREATE TRIGGER customers_count_delete AFTER DELETE ON customers"
    " REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT"
    " EXECUTE FUNCTION patron_customers_deleted()",
    "CREATE TRIGGER customers_count_archive AFTER UPDATE OF archived_at ON customers"
    " FOR EACH ROW WHEN ((OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL))"
    " EXECUTE FUNCTION patron_customer_archived()",
]

_SQLITE = [
    """
    CREATE TRIGGER customers_count_insert AFTER INSERT ON customers BEGIN
        INSERT INTO customer_counts (account_id, stripe, live, total)
        VALUES (NEW.account_id, 0, NEW.archived_at IS NULL, 1)
        ON CONFLICT (account_id, stripe) DO UPDATE
        SET live = live + excluded.live, total = total + 1;
    END
    """,
    """
    CREATE TRIGGER customers_count_delete AFTER DELETE ON customers BEGIN
        UPDATE customer_counts SET live = live - (OLD.archived_at IS NULL), total = total - 1
        WHERE account_id = OLD.account_id AND stripe = 0;
    END
    """,
    """
    CREATE TRIGGER customers_count_archive AFTER UPDATE OF archived_at ON customers
    WHEN (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL) BEGIN
        UPDATE customer_counts
        SET live = live + CASE WHEN NEW.archived_at IS NULL THEN 1 ELSE -1 END
        WHERE account_id = NEW.account_id AND stripe = 0;
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "customer_counts",
        sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("stripe", sa.Integer(), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "stripe"),
    )
    op.execute(
        "INSERT INTO customer_counts (account_id, stripe, live, total)"
        " SELECT account_id, 0, SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END), COUNT(*)"
        " FROM customers GROUP BY account_id"
    )
    statements = _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    for name in ("customers_count_insert", "customers_count_delete", "customers_count_archive"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {name} ON customers")
        else:
            op.execute(f"DROP TRIGGER {name}")
    if op.get_bind().dialect.name == "postgresql":
        for fn in (
            "patron_customers_inserted()",
            "patron_customers_deleted()",
            "patron_customer_archived()",
            "patron_counts_add(TEXT, BIGINT, BIGINT)",
        ):
            op.execute(f"DROP FUNCTION {fn}")
    op.drop_table("customer_counts")
