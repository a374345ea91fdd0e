"""Per-(account, label) customer counts, kept by triggers, for a label-filtered list's total.

The label filter's page is a short walk of `customers_account_label_created` (0008), but its
`totalResultSize` (exact, by the contract) was a COUNT over every customer holding the label: at
1,000,000 customers, 20,000 index entries on every call, five times the page's own cost
(docs/performance.md, "Session 4: label counts"). `label_counts` keeps, per account and
case-folded label (`label_key`, what the filter matches), `live` (not archived) and `total`, in
the same transaction as every insert, delete, archive/restore and label change, whichever path
writes (API, `patron import`'s COPY). Customers without a label are not counted: no filter
matches them.

PostgreSQL, as `customer_counts` (0006): striped by backend (pg_backend_pid() % 16) so
concurrent writers do not queue on one row until their commits, a read sums the stripes; inserts
and deletes counted per statement from transition tables (a COPY batch of 5,000 rows is one
grouped upsert); updates per row, only when the label key or the archived state changes (a
statement-level UPDATE trigger cannot name columns and would build transition tables on every
revision bump). Every trigger fires ALWAYS, as 0009 set for the others: the import may write in
the replica role, which skips ordinary triggers. SQLite: one writer, one row per (account,
label), row-level triggers.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SORTED_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")  # as in 0001

_POSTGRES = [
    """
    CREATE FUNCTION patron_label_counts_add(acc TEXT, key TEXT, d_live BIGINT, d_total BIGINT)
    RETURNS void LANGUAGE sql AS $$
        INSERT INTO label_counts (account_id, label_key, stripe, live, total)
        VALUES (acc, key, pg_backend_pid() % 16, d_live, d_total)
        ON CONFLICT (account_id, label_key, stripe) DO UPDATE
        SET live = label_counts.live + EXCLUDED.live,
            total = label_counts.total + EXCLUDED.total
    $$
    """,
    """
    CREATE FUNCTION patron_label_customers_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO label_counts (account_id, label_key, stripe, live, total)
        SELECT account_id, label_key, pg_backend_pid() % 16,
               count(*) FILTER (WHERE archived_at IS NULL), count(*)
        FROM inserted WHERE label_key IS NOT NULL GROUP BY account_id, label_key
        ON CONFLICT (account_id, label_key, stripe) DO UPDATE
        SET live = label_counts.live + EXCLUDED.live,
            total = label_counts.total + EXCLUDED.total;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION patron_label_customers_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO label_counts (account_id, label_key, stripe, live, total)
        SELECT account_id, label_key, pg_backend_pid() % 16,
               -count(*) FILTER (WHERE archived_at IS NULL), -count(*)
        FROM deleted WHERE label_key IS NOT NULL GROUP BY account_id, label_key
        ON CONFLICT (account_id, label_key, stripe) DO UPDATE
        SET live = label_counts.live + EXCLUDED.live,
            total = label_counts.total + EXCLUDED.total;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION patron_label_customer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.label_key IS NOT DISTINCT FROM NEW.label_key THEN  -- archived or restored
            PERFORM patron_label_counts_add(NEW.account_id, NEW.label_key,
                CASE WHEN NEW.archived_at IS NULL THEN 1 ELSE -1 END, 0);
            RETURN NULL;
        END IF;
        IF OLD.label_key IS NOT NULL THEN
            PERFORM patron_label_counts_add(OLD.account_id, OLD.label_key,
                CASE WHEN OLD.archived_at IS NULL THEN -1 ELSE 0 END, -1);
        END IF;
        IF NEW.label_key IS NOT NULL THEN
            PERFORM patron_label_counts_add(NEW.account_id, NEW.label_key,
                CASE WHEN NEW.archived_at IS NULL THEN 1 ELSE 0 END, 1);
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER customers_label_count_insert AFTER INSERT ON customers"
    " REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT"
    " EXECUTE FUNCTION patron_label_customers_inserted()",
    "CREATE TRIGGER customers_label_count_delete AFTER DELETE ON customers"
    " REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT"
    " EXECUTE FUNCTION patron_label_customers_deleted()",
    "CREATE TRIGGER customers_label_count_update AFTER UPDATE OF label_key, archived_at"
    " ON customers FOR EACH ROW WHEN ((OLD.label_key IS DISTINCT FROM NEW.label_key"
    " OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL))"
    " AND (OLD.label_key IS NOT NULL OR NEW.label_key IS NOT NULL))"
    " EXECUTE FUNCTION patron_label_customer_changed()",
]

# `IS NOT` is SQLite's IS DISTINCT FROM.
_SQLITE = [
    """
    CREATE TRIGGER customers_label_count_insert AFTER INSERT ON customers
    WHEN NEW.label_key IS NOT NULL BEGIN
        INSERT INTO label_counts (account_id, label_key, stripe, live, total)
        VALUES (NEW.account_id, NEW.label_key, 0, NEW.archived_at IS NULL, 1)
        ON CONFLICT (account_id, label_key, stripe) DO UPDATE
        SET live = live + excluded.live, total = total + 1;
    END
    """,
    """
    CREATE TRIGGER customers_label_count_delete AFTER DELETE ON customers
    WHEN OLD.label_key IS NOT NULL BEGIN
        UPDATE label_counts SET live = live - (OLD.archived_at IS NULL), total = total - 1
        WHERE account_id = OLD.account_id AND label_key = OLD.label_key AND stripe = 0;
    END
    """,
    """
    CREATE TRIGGER customers_label_count_update AFTER UPDATE OF label_key, archived_at
    ON customers WHEN (OLD.label_key IS NOT NEW.label_key
        OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL))
        AND (OLD.label_key IS NOT NULL OR NEW.label_key IS NOT NULL) BEGIN
        UPDATE label_counts SET live = live - (OLD.archived_at IS NULL), total = total - 1
        WHERE OLD.label_key IS NOT NULL
          AND account_id = OLD.account_id AND label_key = OLD.label_key AND stripe = 0;
        INSERT INTO label_counts (account_id, label_key, stripe, live, total)
        SELECT NEW.account_id, NEW.label_key, 0, NEW.archived_at IS NULL, 1
        WHERE NEW.label_key IS NOT NULL
        ON CONFLICT (account_id, label_key, stripe) DO UPDATE
        SET live = live + excluded.live, total = total + 1;
    END
    """,
]

_TRIGGERS = (
    "customers_label_count_insert",
    "customers_label_count_delete",
    "customers_label_count_update",
)


def upgrade() -> None:
    op.create_table(
        "label_counts",
        sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("label_key", SORTED_TEXT, nullable=False),
        sa.Column("stripe", sa.Integer(), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "label_key", "stripe"),
    )
    op.execute(
        "INSERT INTO label_counts (account_id, label_key, stripe, live, total)"
        " SELECT account_id, label_key, 0,"
        " SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END), COUNT(*)"
        " FROM customers WHERE label_key IS NOT NULL GROUP BY account_id, label_key"
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for sql in _POSTGRES if postgres else _SQLITE:
        op.execute(sql)
    if postgres:
        for name in _TRIGGERS:
            op.execute(f"ALTER TABLE customers ENABLE ALWAYS TRIGGER {name}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON customers" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        for fn in (
            "patron_label_customer_changed()",
            "patron_label_customers_deleted()",
            "patron_label_customers_inserted()",
            "patron_label_counts_add(TEXT, TEXT, BIGINT, BIGINT)",
        ):
            op.execute(f"DROP FUNCTION {fn}")
    op.drop_table("label_counts")
