"""Customer organizations: an owner (the parent) and its members (the children)."""

from __future__ import annotations

from collections.abc import Sequence

from patron.domain.customers import CustomerRef, Organization
from patron.domain.ids import new_id
from patron.storage.database import Connection, Dialect


class OrganizationRepo:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._any = dialect.any_of
        self._account = account_id

    async def of_customers(self, customer_ids: Sequence[str]) -> dict[str, list[Organization]]:
        """For each customer, the organizations it owns or belongs to, oldest first."""
        ids = list(customer_ids)
        found: dict[str, list[Organization]] = {cid: [] for cid in ids}
        if not ids:
            return found
        orgs = await self._conn.fetch(
            "SELECT o.id, o.owner_id, c.legal_name AS owner_name, o.created_at"
            " FROM organizations o JOIN customers c ON c.id = o.owner_id"
            f" WHERE o.account_id = $1 AND (o.owner_id {self._any('$2')} OR o.id IN"
            " (SELECT organization_id FROM organization_members"
            f"  WHERE account_id = $1 AND customer_id {self._any('$2')}))"
            " ORDER BY o.created_at, o.id",
            self._account,
            ids,
        )
        if not orgs:
            return found
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
        for o in orgs:
            org = Organization(
                id=o["id"],
                owner=CustomerRef(o["owner_id"], o["owner_name"]),
                members=members_of[o["id"]],
            )
            for cid in {org.owner.id, *(m.id for m in org.members)}:
                if cid in found:
                    found[cid].append(org)
        return found

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
            "INSERT INTO organizations (id, account_id, owner_id, created_at) VALUES ($1, $2, $3, $4)",
            org_id,
            self._account,
            owner_id,
            at,
        )
        return org_id

    async def add_members(self, org_id: str, customer_ids: Sequence[str], at: int) -> None:
        await self._conn.executemany(
            "INSERT INTO organization_members (organization_id, customer_id, account_id, created_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id, customer_id) DO NOTHING",
            [(org_id, cid, self._account, at) for cid in customer_ids],
        )

    async def is_above(self, ancestor_id: str, customer_id: str) -> bool:
        """True when `ancestor_id` is `customer_id` or owns, through any chain of organizations,
        an organization `customer_id` belongs to: making it a child of `customer_id` would loop."""
        found = await self._conn.fetchval(
            "WITH RECURSIVE up(id) AS (SELECT CAST($2 AS TEXT) UNION"
            " SELECT o.owner_id FROM organization_members m"
            " JOIN organizations o ON o.id = m.organization_id"
            " JOIN up ON m.customer_id = up.id WHERE m.account_id = $1)"
            " SELECT 1 FROM up WHERE id = $3",
            self._account,
            customer_id,
            ancestor_id,
        )
        return found is not None
