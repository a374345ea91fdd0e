"""Idempotency keys: one row per account and key, with the first request's answer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.BigInteger()


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        # What the key was first used for: method and target (path) in the clear, so a reuse can
        # say which it differs in, and a SHA-256 over method, target and raw body.
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        # The answer; NULL while the request runs (only ever seen inside its own transaction).
        sa.Column("status", sa.Integer()),
        sa.Column("response_body", sa.LargeBinary()),
        sa.Column("response_headers", sa.Text()),  # JSON list of [name, value]
        sa.Column("version", sa.Text()),  # the Sequence-Version the answer was rendered in
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        # The claim: a second request with the key collides here (and waits, on PostgreSQL).
        sa.PrimaryKeyConstraint("account_id", "key", name="idempotency_keys_pkey"),
    )
    # Purging takes the oldest expired keys of every account.
    op.create_index("idempotency_keys_expires", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
