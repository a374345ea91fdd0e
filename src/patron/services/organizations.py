"""Organization use cases: create one, add members, replace members; and `join_parent`, the same
rules applied to `parentId` on customer create and update.

Every write here first takes the account's organization lock (`lock_hierarchy`), then reads and
checks, then writes: the check always sees the committed result of the previous write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from patron.domain.customers import Organization
from patron.domain.errors import ArchivedResource, NotFound
from patron.domain.events import EventType
from patron.domain.ids import now_micros
from patron.domain.organizations import (
    Candidate,
    CustomerState,
    candidates,
    member_errors,
    owner_errors,
    refusal,
)
from patron.domain.writes import Actor, IfMatch, require
from patron.services.history import History
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


@dataclass(frozen=True, slots=True)
class Joined:
    """What `join_parent` did, for the caller to record once its own event is in."""

    kind: EventType
    before: Organization | None
    org_id: str


async def touch(unit: Unit, orgs: Sequence[Organization]) -> None:
    """Bump the revisions of the organizations and of every customer in them: each shows the
    organization (customers list their organizations with every member)."""
    await unit.organizations.touch([o.id for o in orgs])
    await unit.customers.touch(
        sorted({cid for o in orgs for cid in (o.owner.id, *(m.id for m in o.members))})
    )


async def join_parent(unit: Unit, customer_id: str, parent_id: str, at: int) -> Joined | None:
    """Make the customer a member of the oldest organization its parent owns (made if none);
    None when it is a member already."""
    await unit.organizations.lock_hierarchy()
    await check_links(unit, parent_id, [Candidate("parentId", customer_id)], owner_field="parentId")
    org_id = await unit.organizations.owned_by(parent_id)
    before = None if org_id is None else await unit.organizations.get(org_id)
    if before is not None and customer_id in {m.id for m in before.members}:
        return None
    if org_id is None:
        org_id = await unit.organizations.create(parent_id, at)
    await unit.organizations.add_members(org_id, [customer_id], at)
    if before is not None:
        await touch(unit, [before])
        return Joined(EventType.ORGANIZATION_MEMBERS_ADDED, before, org_id)
    await unit.customers.touch([parent_id])
    return Joined(EventType.ORGANIZATION_CREATED, None, org_id)


async def record_joined(
    unit: Unit, history: History, actor: Actor, joined: Joined | None, at: int
) -> None:
    if joined is not None:
        org = await unit.organizations.get(joined.org_id)
        assert org is not None
        await history.organization(unit, actor, joined.kind, joined.before, org, at)


class OrganizationService:
    def __init__(self, store: Store, history: History) -> None:
        self._store = store
        self._history = history

    async def create(
        self, account_id: str, owner_id: str, member_ids: list[str], *, actor: Actor
    ) -> Organization:
        """A new organization; an owner may own several (the contract sets no limit)."""
        joining = candidates("memberIds", member_ids)
        at = now_micros()
        async with self._store.writing(account_id) as unit:
            await unit.organizations.lock_hierarchy()
            await check_links(unit, owner_id, joining, owner_field="ownerId")
            org_id = await unit.organizations.create(owner_id, at)
            await unit.organizations.add_members(org_id, [c.customer_id for c in joining], at)
            org = await self._load(unit, org_id)
            await unit.customers.touch([owner_id, *(m.id for m in org.members)])
            await self._history.organization(
                unit, actor, EventType.ORGANIZATION_CREATED, None, org, at
            )
            return org

    async def add_members(
        self,
        account_id: str,
        org_id: str,
        customer_ids: list[str],
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Organization:
        """Adds those not yet members; the others, and other organizations, are left as they are."""
        async with self._store.writing(account_id) as unit:
            return await self._change(
                unit, org_id, customer_ids, replace=False, actor=actor, if_match=if_match
            )

    async def replace_members(
        self,
        account_id: str,
        org_id: str,
        customer_ids: list[str],
        *,
        actor: Actor,
        if_match: IfMatch | None = None,
    ) -> Organization:
        """Makes the members exactly `customer_ids`. Members that stay are not re-checked, so an
        archived member can be kept (a client may GET, edit and PUT back); new ones must be live."""
        async with self._store.writing(account_id) as unit:
            return await self._change(
                unit, org_id, customer_ids, replace=True, actor=actor, if_match=if_match
            )

    async def _change(
        self,
        unit: Unit,
        org_id: str,
        customer_ids: list[str],
        *,
        replace: bool,
        actor: Actor,
        if_match: IfMatch | None,
    ) -> Organization:
        at = now_micros()
        await unit.organizations.lock_hierarchy()
        locked = await unit.organizations.lock(org_id)
        if locked is None:
            raise _not_found(org_id)
        require(if_match, locked["revision"], f"Customer organization {org_id}")
        owner_id = str(locked["owner_id"])
        before = await self._load(unit, org_id)
        current = [m.id for m in before.members]
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
        after = await self._load(unit, org_id)
        if after.members == before.members:
            return before
        await touch(unit, [before, after])
        after = dataclasses.replace(after, revision=after.revision + 1)
        kind = (
            EventType.ORGANIZATION_MEMBERS_REPLACED
            if replace
            else EventType.ORGANIZATION_MEMBERS_ADDED
        )
        await self._history.organization(unit, actor, kind, before, after, at)
        return after

    async def _load(self, unit: Unit, org_id: str) -> Organization:
        org = await unit.organizations.get(org_id)
        if org is None:
            raise _not_found(org_id)
        return org
