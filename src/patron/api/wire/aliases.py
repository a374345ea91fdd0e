"""Customer alias requests and responses: the same shape in every API version."""

from __future__ import annotations

from typing import Annotated

import msgspec

from patron.api.wire.common import AliasValue, OptionalText, PaginationMeta, Wire, iso, iso_or_none
from patron.domain.aliases import Alias, AliasDraft

CustomerId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class CreateCustomerAliasRequestModel(Wire):
    """Unknown fields (older clients still send `sequenceAccountId`) are ignored."""

    customer_id: CustomerId
    value: AliasValue
    label: OptionalText | None = None

    def to_domain(self) -> AliasDraft:
        return AliasDraft(customer_id=self.customer_id, value=self.value, label=self.label)


class UpdateCustomerAliasRequestModel(Wire):
    """Only the label changes. Absent: left as it is; `null`: removed; a string: set."""

    label: OptionalText | msgspec.UnsetType | None = msgspec.UNSET


class CustomerAliasResponseModel(Wire):
    id: str
    sequence_account_id: str
    customer_id: str
    value: str
    created_at: str
    deleted_at: str | None = None
    label: str | None = None

    @classmethod
    def of(cls, a: Alias) -> CustomerAliasResponseModel:
        return cls(
            id=a.id,
            sequence_account_id=a.account_id,
            customer_id=a.customer_id,
            value=a.value,
            created_at=iso(a.created_at),
            deleted_at=iso_or_none(a.deleted_at),
            label=a.label,
        )


class CustomerAlias(Wire):
    """The smaller model `GET /customers/{id}/aliases` lists: live aliases, so no `deletedAt`."""

    id: str
    sequence_account_id: str
    customer_id: str
    value: str
    created_at: str

    @classmethod
    def of(cls, a: Alias) -> CustomerAlias:
        return cls(
            id=a.id,
            sequence_account_id=a.account_id,
            customer_id=a.customer_id,
            value=a.value,
            created_at=iso(a.created_at),
        )


class ListCustomerAliasPaginatedResponseModel(Wire):
    items: list[CustomerAliasResponseModel]
    pagination: PaginationMeta


class GetCustomerAliasesResponse(Wire):
    items: list[CustomerAlias]
