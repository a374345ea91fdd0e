"""Customer payment settings: at most one record per customer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.BigInteger()  # microseconds since the epoch, UTC, as in 0001


def upgrade() -> None:
    op.create_table(
        "customer_payment_settings",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column(
            "customer_id",
            sa.Text(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("payment_provider", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # The rule "one settings record per customer", held by the database so that two racing
    # creates cannot both insert; deleted settings are removed, so the index needs no condition.
    op.create_index(
        "customer_payment_settings_account_customer",
        "customer_payment_settings",
        ["account_id", "customer_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("customer_payment_settings")
