"""Events lose the unique index on `id` (PostgreSQL).

Every create writes three events (the customer and its two contacts in the benchmark's body), each
into five indexes: the primary key (`seq`), `id`, and the three list indexes that lead with the
account (0005). Nothing looks an event up by `id`: the lists read by account, customer or
resource in `seq` order, and the webhook dispatcher reads the events of the deliveries it claims,
which carry the event's `seq` as well as its id (0007), by `seq` (storage/queue.py). The ids are
UUIDv7s made by the writer (domain/ids.py), unique without an index checking it. The index was a
fifth of the events' index entries, the widest key of them (36-character text), and a uniqueness
search on every insert (docs/performance.md, "Session 6: write path").

SQLite: unchanged. There the index is the automatic index of a table constraint, which only a
rebuild of the table (a copy of the whole event log at upgrade) can remove, and a SQLite write
costs no round trip: the PostgreSQL write path is what this is for.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE events DROP CONSTRAINT events_id_key")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id)")
