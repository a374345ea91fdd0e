"""Change history (the event log) and per-resource revisions for ETags.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Another branch may also add a 0003; the chain is to be renumbered when both are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.BigInteger()  # microseconds since the epoch, UTC, as in 0001

# Tables whose rows get a revision counter, bumped by every change (the customers table has one).
_REVISED = ("contacts", "aliases", "organizations", "customer_payment_settings")


def upgrade() -> None:
    for table in _REVISED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("revision", sa.Integer(), nullable=False, server_default="1")
            )
    op.create_table(
        "events",
        # The outbox order: one sequence per database, strictly increasing (AUTOINCREMENT on
        # SQLite never reuses a number; BIGSERIAL on PostgreSQL).
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        # The customer the resource belongs to (itself, for a customer; the owner, for an
        # organization): what `GET /customers/{id}/events` reads by.
        sa.Column("customer_id", sa.Text()),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("resource", sa.Text(), nullable=False),  # JSON
        sa.Column("changes", sa.Text(), nullable=False),  # JSON
        sqlite_autoincrement=True,
    )
    op.create_index("events_account_seq", "events", ["account_id", "seq"])
    op.create_index("events_account_customer", "events", ["account_id", "customer_id", "seq"])
    op.create_index(
        "events_account_resource", "events", ["account_id", "resource_type", "resource_id", "seq"]
    )


def downgrade() -> None:
    op.drop_table("events")
    for table in _REVISED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("revision")
