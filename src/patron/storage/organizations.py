"""Customer organizations: an owner (the parent) and its members (the children)."""

from __future__ import annotations

from collections.abc import Sequence

from patron.domain.customers import CustomerRef, Organization
from patron.domain.ids import new_id
from patron.storage.database import Connection, Dialect, Row


class OrganizationRepo:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self._any = dialect.any_of
        self._account = account_id

    async def lock_hierarchy(self) -> None:
        """Serialise the account's organization writes until this transaction ends.

        Whether a new link makes a cycle depends on links anywhere above the owner, so locking
        the rows a write touches is not enough: `A joins B's organization` and `B joins A's`
        lock different rows, each sees no cycle, and both would commit one. One lock per
        account makes every organization write check against the committed outcome of the
        previous one. Reads and other accounts are not held up.
        """
        sql = self._dialect.transaction_lock("$1")
        if sql is not None:
            await self._conn.fetchval(sql, f"patron.organizations:{self._account}")

    async def of_customers(self, customer_ids: Sequence[str]) -> dict[str, list[Organization]]:
        """For each customer, the organizations it owns or belongs to, oldest first."""
        ids = list(customer_ids)
        found: dict[str, list[Organization]] = {cid: [] for cid in ids}
        if not ids:
            return found
        orgs = await self._conn.fetch(
            "SELECT o.id, o.owner_id, c.legal_name AS owner_name, o.created_at, o.revision"
            " FROM organizations o JOIN customers c ON c.id = o.owner_id"
            f" WHERE o.account_id = $1 AND (o.owner_id {self._any('$2')} OR o.id IN"
            " (SELECT organization_id FROM organization_members"
            f"  WHERE account_id = $1 AND customer_id {self._any('$2')}))"
            " ORDER BY o.created_at, o.id",
            self._account,
            ids,
        )
        for org in await self._assemble(orgs):
            for cid in {org.owner.id, *(m.id for m in org.members)}:
                if cid in found:
                    found[cid].append(org)
        return found

    async def get(self, org_id: str) -> Organization | None:
        orgs = await self._conn.fetch(
            "SELECT o.id, o.owner_id, c.legal_name AS owner_name, o.revision"
            " FROM organizations o JOIN customers c ON c.id = o.owner_id"
            " WHERE o.account_id = $1 AND o.id = $2",
            self._account,
            org_id,
        )
        assembled = await self._assemble(orgs)
        return assembled[0] if assembled else None

    async def _assemble(self, orgs: Sequence[Row]) -> list[Organization]:
        """Organizations from their rows (with owner_name), members in the order they joined."""
        if not orgs:
            return []
        members = await self._conn.fetch(
            "SELECT m.organization_id, c.id, c.legal_name FROM organization_members m"
            " JOIN customers c ON c.id = m.customer_id"
            f" WHERE m.account_id = $1 AND m.organization_id {self._any('$2')}"
            " ORDER BY m.created_at, c.id",
            self._account,
            [o["id"] for o in orgs],
        )
        members_of: dict[str, list[CustomerRef]] = {o["id"]: [] for o in orgs}
        for m in members:
            members_of[m["organization_id"]].append(CustomerRef(m["id"], m["legal_name"]))
        return [
            Organization(
                id=o["id"],
                owner=CustomerRef(o["owner_id"], o["owner_name"]),
                members=members_of[o["id"]],
                revision=o["revision"],
            )
            for o in orgs
        ]

    async def lock(self, org_id: str) -> Row | None:
        """The organization's row (`owner_id`, `revision`), locked for this transaction."""
        return await self._conn.fetchrow(
            "UPDATE organizations SET revision = revision WHERE account_id = $1 AND id = $2"
            " RETURNING owner_id, revision",
            self._account,
            org_id,
        )

    async def touch(self, org_ids: Sequence[str]) -> None:
        """Bump the organizations' revisions: what they show has changed."""
        if org_ids:
            await self._conn.execute(
                "UPDATE organizations SET revision = revision + 1"
                f" WHERE account_id = $1 AND id {self._any('$2')}",
                self._account,
                list(org_ids),
            )

    async def neighbours(self, customer_id: str) -> tuple[list[str], list[str]]:
        """The organizations the customer owns or belongs to, and every customer in them (owners
        and members, the customer too): what shows the customer's name."""
        rows = await self._conn.fetch(
            "SELECT o.id, o.owner_id, m.customer_id FROM organizations o"
            " LEFT JOIN organization_members m ON m.organization_id = o.id"
            " WHERE o.account_id = $1 AND (o.owner_id = $2 OR o.id IN"
            " (SELECT organization_id FROM organization_members"
            "  WHERE account_id = $1 AND customer_id = $2))",
            self._account,
            customer_id,
        )
        orgs = sorted({r["id"] for r in rows})
        customers = {r["owner_id"] for r in rows} | {
            r["customer_id"] for r in rows if r["customer_id"] is not None
        }
        return orgs, sorted(customers)

    async def owner_of(self, org_id: str) -> str | None:
        value = await self._conn.fetchval(
            "SELECT owner_id FROM organizations WHERE account_id = $1 AND id = $2",
            self._account,
            org_id,
        )
        return None if value is None else str(value)

    async def member_ids(self, org_id: str) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT customer_id FROM organization_members"
            " WHERE account_id = $1 AND organization_id = $2 ORDER BY created_at, customer_id",
            self._account,
            org_id,
        )
        return [r["customer_id"] for r in rows]

    async def owned_by(self, owner_id: str) -> str | None:
        """The id of the oldest organization `owner_id` owns."""
        value = await self._conn.fetchval(
            "SELECT id FROM organizations WHERE account_id = $1 AND owner_id = $2"
            " ORDER BY created_at, id LIMIT 1",
            self._account,
            owner_id,
        )
        return None if value is None else str(value)

    async def create(self, owner_id: str, at: int) -> str:
        org_id = new_id()
        await self._conn.execute(
            "INSERT INTO organizations (id, account_id, owner_id, created_at)"
            " VALUES ($1, $2, $3, $4)",
            org_id,
            self._account,
            owner_id,
            at,
        )
        return org_id

    async def add_members(self, org_id: str, customer_ids: Sequence[str], at: int) -> None:
        """Members already in the organization stay as they are (and keep their join time)."""
        # One microsecond apart: members list in the order they were given, not by id.
        await self._conn.executemany(
            "INSERT INTO organization_members"
            " (organization_id, customer_id, account_id, created_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (organization_id, customer_id) DO NOTHING",
            [(org_id, cid, self._account, at + i) for i, cid in enumerate(customer_ids)],
        )

    async def remove_members(self, org_id: str, customer_ids: Sequence[str]) -> None:
        if not customer_ids:
            return
        await self._conn.execute(
            "DELETE FROM organization_members WHERE account_id = $1 AND organization_id = $2"
            f" AND customer_id {self._any('$3')}",
            self._account,
            org_id,
            list(customer_ids),
        )

    async def above(self, customer_id: str) -> set[str]:
        """`customer_id` and every customer above it: the owners of the organizations it belongs
        to, their owners', and so on. Making any of them a member under it would close a loop."""
        rows = await self._conn.fetch(
            "WITH RECURSIVE up(id) AS (SELECT CAST($2 AS TEXT) UNION"
            " SELECT o.owner_id FROM organization_members m"
            " JOIN organizations o ON o.id = m.organization_id"
            " JOIN up ON m.customer_id = up.id WHERE m.account_id = $1)"
            " SELECT id FROM up",
            self._account,
            customer_id,
        )
        return {r["id"] for r in rows}
