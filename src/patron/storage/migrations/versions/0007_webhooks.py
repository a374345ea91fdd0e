"""Notification policies and webhook deliveries (the outbox the dispatcher works through).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.BigInteger()  # microseconds since the epoch, UTC, as in 0001
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _account() -> sa.Column[str]:
    return sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "notification_policies",
        sa.Column("id", sa.Text(), primary_key=True),
        _account(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("notification_types", sa.Text()),  # JSON list; NULL: every type
        sa.Column("webhook_secret", sa.Text()),  # NULL once the policy is deleted
        sa.Column("created_at", TS, nullable=False),
        # Deleted policies are kept (without their secret) so their deliveries stay readable.
        sa.Column("deleted_at", TS),
    )
    op.create_index(
        "notification_policies_account", "notification_policies", ["account_id", "created_at"]
    )
    op.create_table(
        "notification_recipients",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column(
            "policy_id", sa.Text(), sa.ForeignKey("notification_policies.id"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
    )
    op.create_index("notification_recipients_policy", "notification_recipients", ["policy_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Text(), primary_key=True),  # also the webhook-id of every attempt
        _account(),
        sa.Column(
            "policy_id", sa.Text(), sa.ForeignKey("notification_policies.id"), nullable=False
        ),
        sa.Column(
            "recipient_id",
            sa.Text(),
            sa.ForeignKey("notification_recipients.id"),
            nullable=False,
        ),
        sa.Column("event_seq", SEQ, nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("notification_type", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        # When a PENDING delivery may next be claimed. A claim moves it past the attempt's lease,
        # so a dispatcher that dies mid-attempt leaves it to be claimed again when that ends.
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("first_attempt_at", TS),  # the retry window counts from here
        sa.Column("last_attempt_at", TS),
        sa.Column("delivered_at", TS),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
    )
    # The claim: due pending deliveries (a partial index keeps it small whatever the history).
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'PENDING'"),
        sqlite_where=sa.text("status = 'PENDING'"),
    )
    # Order per resource: an earlier pending delivery of the same resource to the same recipient.
    op.create_index(
        "webhook_deliveries_resource",
        "webhook_deliveries",
        ["recipient_id", "resource_type", "resource_id", "event_seq"],
    )
    op.create_index(
        "webhook_deliveries_account", "webhook_deliveries", ["account_id", "created_at", "id"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("delivery_id", sa.Text(), sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("delivery_id", "number", "at"),
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("notification_recipients")
    op.drop_table("notification_policies")
