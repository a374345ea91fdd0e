"""PostgreSQL: the count triggers (0006, 0008) fire in every session, replica role included.

`patron import` writes its batches with `session_replication_role = replica` where the database
role may set it (docs/import.md): in that role PostgreSQL skips the foreign-key checks, which are
over half of the server's work in a COPY (every contact, alias and custom property checked against
its customer and its account, one lookup each), and the batch's rows are consistent by
construction: their customers and account are written or read in the same transaction. The role
also skips ordinary triggers, so the triggers that keep `customer_counts` and `property_counts`
are set to fire ALWAYS. Nothing changes for other sessions (the default role is `origin`, where
they fired already). A trigger added to the import's tables later must be ALWAYS too:
tests/storage/test_bulk.py checks it.

SQLite: nothing to do (the import keeps its foreign-key checks there; they are cheap in-process).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Another branch may also add a 0009; the chain is to be renumbered when both are merged.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TRIGGERS = [
    ("customers", "customers_count_insert"),
    ("customers", "customers_count_delete"),
    ("customers", "customers_count_archive"),
    ("customer_properties", "customer_properties_count_insert"),
    ("customer_properties", "customer_properties_count_delete"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, trigger in _TRIGGERS:
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, trigger in _TRIGGERS:
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
