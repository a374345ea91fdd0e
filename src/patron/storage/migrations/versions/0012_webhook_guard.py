"""PostgreSQL: `patron_no_live_policies(account)`, a guard for a write sent without a transaction.

A create is one statement (the customer, its parts and its events: storage/deferred.py), so it
can go to PostgreSQL on its own, atomic by itself, instead of between BEGIN and COMMIT: one round
trip instead of three (docs/performance.md, "Session 5: create in one round trip"). That holds
only while nothing else must commit with it. The webhook deliveries of its events must
(docs/webhooks.md), and which are wanted is known only from the account's live policies, read
in the same statement. The statement therefore calls this guard: it raises (SQLSTATE PA001, the
whole statement undone) when the account has a live policy, and the write is sent again in a
transaction with its deliveries (`Unit.finish`).

SQLite: nothing (its writes cost no round trips and always run in a transaction).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION patron_no_live_policies(account TEXT) RETURNS BOOLEAN
        LANGUAGE plpgsql STABLE AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM notification_policies
                       WHERE account_id = account AND deleted_at IS NULL) THEN
                RAISE EXCEPTION 'account % has live notification policies', account
                    USING ERRCODE = 'PA001';
            END IF;
            RETURN TRUE;
        END $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION patron_no_live_policies(TEXT)")
