"""Organization use cases: create one, add members, replace members; and `join_parent`, the same
rules applied to `parentId` on customer create and update.

Every write here first takes the account's organization lock (`lock_hierarchy`), then reads and
checks, then writes: the check always sees the committed result of the previous write.
"""

from __future__ import annotations

from collections.abc import Sequence

from patron.domain.customers import Organization
from patron.domain.errors import ArchivedResource, NotFound
from patron.domain.ids import now_micros
from patron.domain.organizations import (
    Candidate,
    CustomerState,
    candidates,
    member_errors,
    owner_errors,
    refusal,
)
from patron.storage.unit import Store, Unit


def _not_found(org_id: str) -> NotFound:
    return NotFound(f"Customer organization {org_id} not found")


async def _states(unit: Unit, customer_ids: Sequence[str]) -> dict[str, CustomerState]:
    rows = await unit.customers.rows(customer_ids)
    return {cid: CustomerState(archived=r["archived_at"] is not None) for cid, r in rows.items()}


async def check_links(
    unit: Unit,
    owner_id: str,
    joining: Sequence[Candidate],
    *,
    owner_field: str | None = None,
) -> None:
    """Refuse (400, naming every bad id) unless each of `joining` may become a member under
    `owner_id`. With `owner_field`, the owner is new to the request and is checked too."""
    states = await _states(unit, [owner_id, *(c.customer_id for c in joining)])
    errors = (
        [] if owner_field is None else owner_errors(owner_field, owner_id, states.get(owner_id))
    )
    if not errors:
        above = await unit.organizations.above(owner_id) if joining else set()
        errors = member_errors(owner_id, joining, states, above)
    if errors:
        raise refusal(errors)


async def join_parent(unit: Unit, customer_id: str, parent_id: str, at: int) -> None:
    """Make the customer a member of the oldest organization its parent owns (made if none)."""
    await unit.organizations.lock_hierarchy()
    await check_links(unit, parent_id, [Candidate("parentId", customer_id)], owner_field="parentId")
    org_id = await unit.organizations.owned_by(parent_id)
    if org_id is None:
        org_id = await unit.organizations.create(parent_id, at)
    await unit.organizations.add_members(org_id, [customer_id], at)


class OrganizationService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, account_id: str, owner_id: str, member_ids: list[str]) -> Organization:
        """A new organization; an owner may own several (the contract sets no limit)."""
        joining = candidates("memberIds", member_ids)
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            await unit.organizations.lock_hierarchy()
            await check_links(unit, owner_id, joining, owner_field="ownerId")
            org_id = await unit.organizations.create(owner_id, at)
            await unit.organizations.add_members(org_id, [c.customer_id for c in joining], at)
            return await self._load(unit, org_id)

    async def add_members(
        self, account_id: str, org_id: str, customer_ids: list[str]
    ) -> Organization:
        """Adds those not yet members; the others, and other organizations, are left as they are."""
        async with self._store.writing(account_id) as unit:
            await self._change(unit, org_id, customer_ids, replace=False)
            return await self._load(unit, org_id)

    async def replace_members(
        self, account_id: str, org_id: str, customer_ids: list[str]
    ) -> Organization:
        """Makes the members exactly `customer_ids`. Members that stay are not re-checked, so an
        archived member can be kept (a client may GET, edit and PUT back); new ones must be live."""
        async with self._store.writing(account_id) as unit:
            await self._change(unit, org_id, customer_ids, replace=True)
            return await self._load(unit, org_id)

    async def _change(
        self, unit: Unit, org_id: str, customer_ids: list[str], *, replace: bool
    ) -> None:
        at = now_micros()
        await unit.organizations.lock_hierarchy()
        owner_id = await unit.organizations.owner_of(org_id)
        if owner_id is None:
            raise _not_found(org_id)
        current = await unit.organizations.member_ids(org_id)
        wanted = candidates("customerIds", customer_ids)
        members = set(current)
        joining = [c for c in wanted if c.customer_id not in members]
        if joining and (await _states(unit, [owner_id]))[owner_id].archived:
            raise ArchivedResource(
                f"The owner of organization {org_id}, customer {owner_id}, is archived: "
                "an archived customer's organization takes no new members"
            )
        await check_links(unit, owner_id, joining)
        if replace:
            kept = {c.customer_id for c in wanted}
            await unit.organizations.remove_members(
                org_id, [cid for cid in current if cid not in kept]
            )
        await unit.organizations.add_members(org_id, [c.customer_id for c in joining], at)

    async def _load(self, unit: Unit, org_id: str) -> Organization:
        org = await unit.organizations.get(org_id)
        if org is None:
            raise _not_found(org_id)
        return org
