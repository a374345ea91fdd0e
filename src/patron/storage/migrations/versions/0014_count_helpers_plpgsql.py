"""The count helpers in PL/pgSQL (PostgreSQL), so their one statement is planned once per session.

`patron_counts_add` (0006) and `patron_label_counts_add` (0011) were `LANGUAGE sql` functions
called with PERFORM from the count triggers. PostgreSQL inlines only a SQL function that is a
single SELECT; one whose body is an INSERT is parsed and planned again on every call, that is on
every create (customer count), archive and restore (both). A PL/pgSQL function keeps the plan
of its statement for the life of the connection. The same statement, the same arguments, the
same transaction: only where its plan comes from changes.

Measured with pgbench sending Patron's create statement (docs/performance.md, "Session 10: the
create's triggers"): PostgreSQL's CPU per create 763 to 774 µs → 682 to 694 µs.

SQLite: unchanged (its counts are trigger bodies, no functions).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COUNTS_UPSERT = """
    INSERT INTO customer_counts (account_id, stripe, live, total)
    VALUES (acc, pg_backend_pid() % 16, d_live, d_total)
    ON CONFLICT (account_id, stripe) DO UPDATE
    SET live = customer_counts.live + EXCLUDED.live,
        total = customer_counts.total + EXCLUDED.total
"""
_LABEL_COUNTS_UPSERT = """
    INSERT INTO label_counts (account_id, label_key, stripe, live, total)
    VALUES (acc, key, pg_backend_pid() % 16, d_live, d_total)
    ON CONFLICT (account_id, label_key, stripe) DO UPDATE
    SET live = label_counts.live + EXCLUDED.live,
        total = label_counts.total + EXCLUDED.total
"""
_SIGNATURES = {
    "patron_counts_add": ("acc TEXT, d_live BIGINT, d_total BIGINT", _COUNTS_UPSERT),
    "patron_label_counts_add": (
        "acc TEXT, key TEXT, d_live BIGINT, d_total BIGINT",
        _LABEL_COUNTS_UPSERT,
    ),
}


def _replace(language: str) -> None:
    for name, (parameters, upsert) in _SIGNATURES.items():
        body = upsert if language == "sql" else f"BEGIN {upsert}; END"
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}({parameters}) RETURNS void"
            f" LANGUAGE {language} AS $$ {body} $$"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace("plpgsql")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace("sql")
