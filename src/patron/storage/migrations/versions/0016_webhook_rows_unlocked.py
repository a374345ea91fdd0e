"""PostgreSQL: a write of an account with webhooks no longer locks its policies' rows.

The same problem as 0015, on the webhook side. When an account has a live notification policy,
every write inserts a delivery per recipient, and each delivery referenced its account, its
policy and its recipient. Each of those checks takes a KEY SHARE lock on a row that every
concurrent write of the account shares. With one policy, 0015 in place and the dispatcher off,
Patron's POST under wrk made 3,961 MultiXacts for 4,328 creates
(docs/performance.md, "Session 11: the account's row").

A delivery's account, policy and recipient are read in the write's own transaction
(`NotificationRepo`'s live policies), so what the references checked holds by construction.
What they also guaranteed, that the rows a delivery names stay, is now a rule of the rows
themselves: policies and recipients are never deleted. A policy's DELETE sets its `deleted_at`
and clears its secret, which cancels its deliveries. The `*_permanent` triggers refuse deleting,
re-keying and truncating both tables (SQLSTATE PA002), as 0015's do for accounts.

`webhook_attempts` keeps its reference to its delivery: one delivery's row, not a shared one.

SQLite: unchanged (one writer, no row locks).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# What a delivery referenced: (column, table).
REFERENCES = (
    ("account_id", "accounts"),
    ("policy_id", "notification_policies"),
    ("recipient_id", "notification_recipients"),
)
PERMANENT = ("notification_policies", "notification_recipients")

UPGRADE = [
    *(
        f"ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_{column}_fkey"
        for column, _ in REFERENCES
    ),
    """
    CREATE FUNCTION patron_rows_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are permanent: webhook deliveries refer to them',
                TG_TABLE_NAME USING ERRCODE = 'PA002';
        END
    $$
    """,
    *(
        statement
        for table in PERMANENT
        for statement in (
            f"CREATE TRIGGER {table}_permanent BEFORE DELETE OR UPDATE OF id ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION patron_rows_permanent()",
            f"CREATE TRIGGER {table}_not_truncated BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION patron_rows_permanent()",
        )
    ),
]

DOWNGRADE = [
    *(
        statement
        for table in PERMANENT
        for statement in (
            f"DROP TRIGGER {table}_not_truncated ON {table}",
            f"DROP TRIGGER {table}_permanent ON {table}",
        )
    ),
    "DROP FUNCTION patron_rows_permanent()",
    *(
        f"ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_{column}_fkey"
        f" FOREIGN KEY ({column}) REFERENCES {table} (id)"
        for column, table in REFERENCES
    ),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
