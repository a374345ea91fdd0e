"""Stored renderings of customers for GET by id, and the triggers that keep them honest.

`customer_documents` holds, per customer, the exact bytes GET /customers/{id} answers in the
latest API version, with the revision they show (the ETag) and the format they were rendered in
(`api/stored.py`: a tag of the wire code, so a new release never serves an old shape). A GET
that finds one sends it as it is (docs/performance.md, "Session 4: GET by id"); one that finds
none renders through the normal path and stores the result, on the condition that the customer
is still at the revision it rendered.

Invalidation lives here, in the database, so no write path can forget it: every change to a row
that shows in a customer's document deletes that document in the same transaction.
- customers: any update of the customer (what it shows, its revision, archive); a new legal
  name also shows in the organizations of every customer sharing one with it.
- contacts, integration_ids, customer_properties: any insert, update or delete.
- organizations, organization_members: the owner and every member of the organization.
Aliases and payment settings are not part of the document. A deleted customer takes its document
with it (foreign key, ON DELETE CASCADE).

PostgreSQL: the child tables' triggers are per statement with transition tables (a COPY batch of
the import deletes once, by join); the others are per row. All fire ALWAYS, also in sessions with
`session_replication_role = replica` (the import's, on another branch). SQLite: row triggers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

Another branch (import) also adds a 0009; the chain is to be renumbered when both are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_CHILD_TABLES = ("contacts", "integration_ids", "customer_properties")

# The organizations customer X (`{x}`, of account `{acc}`) owns or belongs to.
_ORGS_OF = (
    "SELECT id FROM organizations WHERE account_id = {acc} AND owner_id = {x}"
    " UNION SELECT organization_id FROM organization_members"
    " WHERE account_id = {acc} AND customer_id = {x}"
)
# Every customer of organization `{o}`: its owner and its members.
_PEOPLE_OF = (
    "SELECT owner_id FROM organizations WHERE id = {o}"
    " UNION SELECT customer_id FROM organization_members WHERE organization_id = {o}"
)
# Every customer of the organizations customer X is in (X included when it is in any).
_NEIGHBOURS_OF = (
    "SELECT owner_id FROM organizations WHERE id IN (" + _ORGS_OF + ")"
    " UNION SELECT customer_id FROM organization_members WHERE organization_id IN ("
    + _ORGS_OF
    + ")"
)


def _row_function(name: str, delete: str) -> str:
    """A row trigger's function running `delete` for the old row ({r} = OLD) and the new."""
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN {delete.format(r="OLD")} END IF;
            IF TG_OP <> 'DELETE' THEN {delete.format(r="NEW")} END IF;
            RETURN NULL;
        END $$
        """


def _postgres() -> list[str]:
    statements = [
        # Child tables, per statement: the customers named by the changed rows.
        """
        CREATE FUNCTION patron_documents_new_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM customer_documents d USING new_rows n WHERE d.customer_id = n.customer_id;
            RETURN NULL;
        END $$
        """,
        """
        CREATE FUNCTION patron_documents_old_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM customer_documents d USING old_rows o WHERE d.customer_id = o.customer_id;
            RETURN NULL;
        END $$
        """,
        """
        CREATE FUNCTION patron_documents_changed_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM customer_documents d
            WHERE d.customer_id IN (SELECT customer_id FROM new_rows
                                    UNION SELECT customer_id FROM old_rows);
            RETURN NULL;
        END $$
        """,
        # customers, per row: its own document; a new name shows in its neighbours' too.
        """
        CREATE FUNCTION patron_documents_customer() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM customer_documents WHERE customer_id = NEW.id;
            IF NEW.legal_name IS DISTINCT FROM OLD.legal_name THEN
                DELETE FROM customer_documents WHERE customer_id IN ("""
        + _NEIGHBOURS_OF.format(acc="NEW.account_id", x="NEW.id")
        + """);
            END IF;
            RETURN NULL;
        END $$
        """,
        _row_function(
            "patron_documents_organization",
            "DELETE FROM customer_documents WHERE customer_id = {r}.owner_id OR customer_id IN"
            " (SELECT customer_id FROM organization_members WHERE organization_id = {r}.id);",
        ),
        _row_function(
            "patron_documents_member",
            "DELETE FROM customer_documents WHERE customer_id = {r}.customer_id OR customer_id IN"
            " (" + _PEOPLE_OF.format(o="{r}.organization_id") + ");",
        ),
        "CREATE TRIGGER customer_documents_stale AFTER UPDATE ON customers"
        " FOR EACH ROW EXECUTE FUNCTION patron_documents_customer()",
        "CREATE TRIGGER organizations_documents_stale AFTER INSERT OR UPDATE OR DELETE"
        " ON organizations FOR EACH ROW EXECUTE FUNCTION patron_documents_organization()",
        "CREATE TRIGGER organization_members_documents_stale AFTER INSERT OR UPDATE OR DELETE"
        " ON organization_members FOR EACH ROW EXECUTE FUNCTION patron_documents_member()",
    ]
    always = [
        ("customers", "customer_documents_stale"),
        ("organizations", "organizations_documents_stale"),
        ("organization_members", "organization_members_documents_stale"),
    ]
    for table in _CHILD_TABLES:
        statements += [
            f"CREATE TRIGGER {table}_documents_insert AFTER INSERT ON {table}"
            " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
            " EXECUTE FUNCTION patron_documents_new_rows()",
            f"CREATE TRIGGER {table}_documents_delete AFTER DELETE ON {table}"
            " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
            " EXECUTE FUNCTION patron_documents_old_rows()",
            f"CREATE TRIGGER {table}_documents_update AFTER UPDATE ON {table}"
            " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
            " EXECUTE FUNCTION patron_documents_changed_rows()",
        ]
        always += [(table, f"{table}_documents_{op}") for op in ("insert", "delete", "update")]
    statements += [f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER {name}" for t, name in always]
    return statements


def _sqlite() -> list[str]:
    statements = [
        """
        CREATE TRIGGER customer_documents_stale AFTER UPDATE ON customers BEGIN
            DELETE FROM customer_documents WHERE customer_id = NEW.id;
        END
        """,
        """
        CREATE TRIGGER customer_documents_renamed AFTER UPDATE OF legal_name ON customers
        WHEN OLD.legal_name IS NOT NEW.legal_name BEGIN
            DELETE FROM customer_documents WHERE customer_id IN ("""
        + _NEIGHBOURS_OF.format(acc="NEW.account_id", x="NEW.id")
        + """);
        END
        """,
    ]
    for table in _CHILD_TABLES:
        for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"), ("UPDATE", "OLD")):
            # An update that moves a row to another customer stales both.
            extra = (
                "DELETE FROM customer_documents WHERE customer_id = NEW.customer_id;"
                if event == "UPDATE"
                else ""
            )
            statements.append(
                f"CREATE TRIGGER {table}_documents_{event.lower()} AFTER {event} ON {table} BEGIN"
                f" DELETE FROM customer_documents WHERE customer_id = {row}.customer_id; {extra}"
                " END"
            )
    for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",)), ("UPDATE", ("OLD", "NEW"))):
        org = " ".join(
            f"DELETE FROM customer_documents WHERE customer_id = {r}.owner_id OR customer_id IN"
            f" (SELECT customer_id FROM organization_members WHERE organization_id = {r}.id);"
            for r in rows
        )
        statements.append(
            f"CREATE TRIGGER organizations_documents_{event.lower()} AFTER {event}"
            f" ON organizations BEGIN {org} END"
        )
        member = " ".join(
            f"DELETE FROM customer_documents WHERE customer_id = {r}.customer_id OR customer_id IN"
            f" ({_PEOPLE_OF.format(o=f'{r}.organization_id')});"
            for r in rows
        )
        statements.append(
            f"CREATE TRIGGER organization_members_documents_{event.lower()} AFTER {event}"
            f" ON organization_members BEGIN {member} END"
        )
    return statements


def upgrade() -> None:
    op.create_table(
        "customer_documents",
        sa.Column(
            "customer_id",
            sa.Text(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for sql in _postgres() if postgres else _sqlite():
        op.execute(sql)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # Dropping the table drops nothing else; the triggers name it, so they go first.
    if postgres:
        for fn in (
            "patron_documents_new_rows",
            "patron_documents_old_rows",
            "patron_documents_changed_rows",
            "patron_documents_customer",
            "patron_documents_organization",
            "patron_documents_member",
        ):
            op.execute(f"DROP FUNCTION {fn}() CASCADE")
    else:
        names = ["customer_documents_stale", "customer_documents_renamed"]
        for event in ("insert", "delete", "update"):
            names += [f"{t}_documents_{event}" for t in _CHILD_TABLES]
            names += [f"organizations_documents_{event}", f"organization_members_documents_{event}"]
        for name in names:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("customer_documents")
