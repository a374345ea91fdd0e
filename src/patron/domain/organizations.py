"""The rules on organization links, shared by the organization operations and by `parentId` on
customer create and update: whatever path makes a customer a member of an organization, the same
rules decide whether it may."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from patron.domain.errors import ArchivedResource, FieldError, Invalid


@dataclass(frozen=True, slots=True)
class Candidate:
    """A customer id as the request gave it: `field` says where (`memberIds[2]`, `parentId`)."""

    field: str
    customer_id: str


def candidates(field: str, customer_ids: Sequence[str]) -> list[Candidate]:
    """One candidate per distinct id, named by its first position: a repeated id in one request
    means the same member once, so repeats are dropped rather than refused."""
    first: dict[str, int] = {}
    for i, cid in enumerate(customer_ids):
        first.setdefault(cid, i)
    return [Candidate(f"{field}[{i}]", cid) for cid, i in first.items()]


@dataclass(frozen=True, slots=True)
class CustomerState:
    """What the rules need to know of a customer of the account."""

    archived: bool


def _unknown(customer_id: str) -> str:
    return f"no customer {customer_id} in this account"


@dataclass(frozen=True, slots=True)
class ArchivedFieldError(FieldError):
    """The field names an archived customer, which may not take a new organization link."""


def _archived(field: str, customer_id: str) -> ArchivedFieldError:
    return ArchivedFieldError(
        field,
        f"customer {customer_id} is archived: archived customers cannot own a new organization "
        "or join one",
    )


def owner_errors(field: str, owner_id: str, state: CustomerState | None) -> list[FieldError]:
    """The owner of a new organization (or the parent named by `parentId`) must be a live
    customer of the account."""
    if state is None:
        return [FieldError(field, _unknown(owner_id))]
    if state.archived:
        return [_archived(field, owner_id)]
    return []


def member_errors(
    owner_id: str,
    joining: Sequence[Candidate],
    states: Mapping[str, CustomerState],
    above_owner: set[str],
) -> list[FieldError]:
    """Rules on customers becoming members of an organization `owner_id` owns.

    `joining` are the customers not yet members (a member that stays is not re-checked, so an
    archived member can be kept); `above_owner` is the owner and every customer above it.
    """
    errors: list[FieldError] = []
    for c in joining:
        state = states.get(c.customer_id)
        if c.customer_id == owner_id:
            errors.append(
                FieldError(
                    c.field, f"customer {owner_id} cannot be a member of an organization it owns"
                )
            )
        elif state is None:
            errors.append(FieldError(c.field, _unknown(c.customer_id)))
        elif state.archived:
            errors.append(_archived(c.field, c.customer_id))
        elif c.customer_id in above_owner:
            errors.append(
                FieldError(
                    c.field,
                    f"customer {c.customer_id} is already above customer {owner_id} in the "
                    "organization hierarchy: the link would make a cycle",
                )
            )
    return errors


def refusal(errors: list[FieldError]) -> Invalid:
    """One error naming every refused id; `ArchivedResource` when archiving is the only reason."""
    message = "Invalid request: " + "; ".join(f"{e.field}: {e.message}" for e in errors)
    if all(isinstance(e, ArchivedFieldError) for e in errors):
        return ArchivedResource(message, errors)
    return Invalid(message, errors)
