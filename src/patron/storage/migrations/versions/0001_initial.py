"""Accounts, credentials, customers and what hangs off them.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Timestamps are BIGINT microseconds since the epoch (UTC) on both engines: one format, sortable.
TS = sa.BigInteger()
# Sorted and compared text uses byte order on both engines: PostgreSQL's "C" collation is what
# SQLite's BINARY does, so a list sorts the same whichever engine serves it.
SORTED_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.Text(), primary_key=True)


def _account() -> sa.Column[str]:
    return sa.Column("account_id", sa.Text(), sa.ForeignKey("accounts.id"), nullable=False)


def _customer() -> sa.Column[str]:
    return sa.Column(
        "customer_id", sa.Text(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "instance_settings",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "accounts",
        _id(),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("client_id", sa.Text(), primary_key=True),
        _account(),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("api_version", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
    )
    op.create_index("credentials_account", "credentials", ["account_id"])

    op.create_table(
        "customers",
        _id(),
        _account(),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("legal_name_key", SORTED_TEXT, nullable=False),
        sa.Column("line1", sa.Text(), nullable=False),
        sa.Column("line2", sa.Text()),
        sa.Column("town", sa.Text(), nullable=False),
        sa.Column("state", sa.Text()),
        sa.Column("postcode", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("domain", sa.Text()),
        sa.Column("label", sa.Text()),
        sa.Column("label_key", SORTED_TEXT),
        sa.Column("telephone", sa.Text()),
        sa.Column("tax_status", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("archived_at", TS),
    )
    op.create_index("customers_account_created", "customers", ["account_id", "created_at", "id"])
    op.create_index("customers_account_name", "customers", ["account_id", "legal_name_key", "id"])
    op.create_index("customers_account_label", "customers", ["account_id", "label_key", "id"])

    op.create_table(
        "contacts",
        _id(),
        _account(),
        _customer(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("email_key", SORTED_TEXT, nullable=False),
        sa.Column("billing_preference", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("archived_at", TS),
    )
    op.create_index("contacts_customer", "contacts", ["customer_id", "created_at", "id"])
    op.create_index("contacts_account_email", "contacts", ["account_id", "email_key"])

    op.create_table(
        "aliases",
        _id(),
        _account(),
        _customer(),
        sa.Column("value", SORTED_TEXT, nullable=False),
        sa.Column("label", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("deleted_at", TS),
    )
    # One live alias per value and account; deleted ones free the value (both engines do partial
    # indexes the same way).
    op.create_index(
        "aliases_live_value",
        "aliases",
        ["account_id", "value"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index("aliases_customer", "aliases", ["customer_id", "created_at"])
    op.create_index("aliases_account_created", "aliases", ["account_id", "created_at", "id"])

    op.create_table(
        "integration_ids",
        _account(),
        _customer(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("is_pending", sa.Boolean(), nullable=False),
        sa.Column("last_synced", TS),
        sa.PrimaryKeyConstraint("customer_id", "position"),
    )

    op.create_table(
        "customer_properties",
        _account(),
        _customer(),
        sa.Column("key", SORTED_TEXT, nullable=False),
        sa.Column("value", SORTED_TEXT, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "key"),
    )
    op.create_index(
        "customer_properties_account_key",
        "customer_properties",
        ["account_id", "key", "value", "customer_id"],
    )

    op.create_table(
        "organizations",
        _id(),
        _account(),
        sa.Column("owner_id", sa.Text(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("organizations_account_owner", "organizations", ["account_id", "owner_id"])
    op.create_table(
        "organization_members",
        sa.Column(
            "organization_id",
            sa.Text(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _customer(),
        _account(),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "customer_id"),
    )
    op.create_index("organization_members_customer", "organization_members", ["customer_id"])


def downgrade() -> None:
    for table in (
        "organization_members",
        "organizations",
        "customer_properties",
        "integration_ids",
        "aliases",
        "contacts",
        "customers",
        "credentials",
        "accounts",
        "instance_settings",
    ):
        op.drop_table(table)
