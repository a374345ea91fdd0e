"""Indexes on what hangs off a customer lead with (account_id, customer_id).

Every query is scoped by account, so reads of one customer's contacts, aliases, integration ids,
properties and memberships say `account_id = $1 AND customer_id ...`. With indexes leading with
customer_id alone, SQLite (which plans without statistics until ANALYZE runs) picked the
account-wide indexes instead and read every row of the account. An index on both columns is the
best match for that condition on both engines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_REPLACED = {
    "contacts_customer": ("contacts", ["customer_id", "created_at", "id"]),
    "aliases_customer": ("aliases", ["customer_id", "created_at"]),
    "organization_members_customer": ("organization_members", ["customer_id"]),
}
_ADDED = {
    "contacts_account_customer": ("contacts", ["account_id", "customer_id", "created_at", "id"]),
    "aliases_account_customer": ("aliases", ["account_id", "customer_id", "created_at", "id"]),
    "organization_members_account_customer": (
        "organization_members",
        ["account_id", "customer_id"],
    ),
    "integration_ids_account_customer": ("integration_ids", ["account_id", "customer_id"]),
    "customer_properties_account_customer": (
        "customer_properties",
        ["account_id", "customer_id", "key", "value"],
    ),
}


def upgrade() -> None:
    for name, (table, columns) in _ADDED.items():
        op.create_index(name, table, columns)
    for name, (table, _) in _REPLACED.items():
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, (table, columns) in _REPLACED.items():
        op.create_index(name, table, columns)
    for name, (table, _) in _ADDED.items():
        op.drop_index(name, table_name=table)
