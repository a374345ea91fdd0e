"""API version 2024-05-09, stated as its differences from 2024-07-30.

- Customers have `email`, `contactName`, `billingEmails` and `telephone` instead of contacts (the
  mapping is in `legacy.py`); no organizations, status or custom properties.
- Archive is `PUT /customers/{id}/archive` or `DELETE /customers/{id}`.
- No customer organizations, no custom-property keys.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, ClassVar

import msgspec

from patron.api.decoding import decode
from patron.api.wire import legacy
from patron.api.wire.common import (
    AddressWire,
    AliasValue,
    Email,
    Name,
    OptionalText,
    PaginationMeta,
    Telephone,
    Url,
    Wire,
    iso_or_none,
)
from patron.api.wire.customer_20240509 import Customer20240509, customer_20240509
from patron.api.wire.payment_settings import CustomerSettings
from patron.api.wire.v2024_07_30 import V20240730, IntegrationIdIn
from patron.domain import limits
from patron.domain.aliases import AliasDraft
from patron.domain.customers import (
    Address,
    Customer,
    CustomerDraft,
    CustomerWrite,
    IntegrationIdDraft,
)
from patron.domain.enums import StateCode, TaxStatus
from patron.domain.errors import FieldError, Invalid
from patron.domain.payment_settings import PaymentProvider, PaymentSettings

LEGACY_PROVIDERS = frozenset({PaymentProvider.STRIPE, PaymentProvider.NONE})

BillingEmails = Annotated[list[Email], msgspec.Meta(max_length=limits.CONTACTS_MAX)]
Aliases = Annotated[list[AliasValue], msgspec.Meta(max_length=limits.ALIASES_MAX)]

# -- requests ---------------------------------------------------------------------------------


class IntegrationIdIn20240509(IntegrationIdIn, kw_only=True):
    """This version's request items also name `lastSynced`: checked as text, then ignored (the
    time of the last sync is Patron's to record, not the caller's)."""

    last_synced: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class CreateCustomerRequest(Wire):
    """Create and update share this shape in 2024-05-09 (both fully required)."""

    legal_name: Name
    address: AddressWire
    email: Email
    billing_emails: BillingEmails
    tax_status: TaxStatus
    contact_name: Name | None = None
    telephone: Telephone | None = None
    url: Url | None = None
    label: OptionalText | None = None
    customer_aliases: Aliases | None = None
    integration_ids: (
        Annotated[
            list[IntegrationIdIn20240509], msgspec.Meta(max_length=limits.INTEGRATION_IDS_MAX)
        ]
        | None
    ) = None

    def integration_drafts(self) -> list[IntegrationIdDraft] | None:
        if self.integration_ids is None:
            return None
        return [IntegrationIdDraft(x.service, x.id) for x in self.integration_ids]


def legacy_write(request: CreateCustomerRequest) -> CustomerWrite:
    """The draft an old-version create or update makes, given the customer as it is."""

    def revise(current: Customer | None) -> CustomerDraft:
        return CustomerDraft(
            legal_name=request.legal_name,
            address=request.address.to_domain(),
            tax_status=request.tax_status or (current.tax_status if current else TaxStatus.TAXED),
            contacts=legacy.contacts_for(
                current.contacts if current else [],
                email=request.email.strip(),
                contact_name=request.contact_name,
                billing_emails=request.billing_emails,
            ),
            url=request.url,
            label=request.label,
            telephone=request.telephone,
            aliases=request.customer_aliases,
            integration_ids=legacy.integration_ids_for(current, request.integration_drafts()),
        )

    return revise


class CreateCustomerAliasRequest(Wire):
    """2024-05-09 and 2024-01-01 name the account in the body; it must be the caller's."""

    sequence_account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    customer_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    value: AliasValue
    label: OptionalText | None = None


# -- responses --------------------------------------------------------------------------------


class IntegrationIdOut(Wire):
    """2024-05-09 has no `isPending`: pending ids are not shown."""

    service: str
    id: str
    last_synced: str | None = None


def legacy_address(a: Address) -> AddressWire:
    shown = AddressWire.of(a)
    state = legacy.legacy_state(a.state)
    return msgspec.structs.replace(shown, state=None if state is None else StateCode(state))


class CustomerOut(Customer20240509, kw_only=True):
    """`Customer20240509` with only the values this version's enums have."""

    integration_ids: list[IntegrationIdOut]  # type: ignore[assignment]

    @classmethod
    def of(cls, c: Customer) -> CustomerOut:
        fields = msgspec.structs.asdict(customer_20240509(c))
        fields["address"] = legacy_address(c.address)
        fields["integration_ids"] = [
            IntegrationIdOut(x.service.value, x.external_id, iso_or_none(x.last_synced))
            for x in c.integration_ids
            if x.service in legacy.LEGACY_SERVICES and not x.is_pending
        ]
        return cls(**fields)


class ListCustomersResponse(Wire):
    items: list[CustomerOut]
    pagination: PaginationMeta


# -- the version --------------------------------------------------------------------------------


class V20240509(V20240730):
    name: ClassVar[str] = "2024-05-09"
    operations: ClassVar[frozenset[str]] = (
        V20240730.operations
        - {
            "postCustomersByIdArchive",
            "getCustomerCustomPropertyKeys",
            "postCustomerOrganizations",
            "postCustomerOrganizationsByIdMembers",
            "putCustomerOrganizationsByIdMembers",
        }
    ) | {"deleteCustomersById", "putCustomersByIdArchive"}

    create_request: ClassVar[type[CreateCustomerRequest]] = CreateCustomerRequest
    update_request: ClassVar[type[CreateCustomerRequest]] = CreateCustomerRequest
    list_response: ClassVar[type[Wire]] = ListCustomersResponse

    def create_write(self, body: bytes) -> CustomerWrite:
        return legacy_write(decode(body, self.create_request))

    def update_write(self, body: bytes) -> CustomerWrite:
        return legacy_write(decode(body, self.update_request))

    def customer(self, c: Customer) -> Wire:
        return CustomerOut.of(c)

    def payment_settings(self, s: PaymentSettings) -> Wire:
        """GOCARDLESS came later: these versions show it as NONE (no provider they know), since a
        value outside their enum would break clients that decode it strictly."""
        if s.payment_provider not in LEGACY_PROVIDERS:
            s = dataclasses.replace(s, payment_provider=PaymentProvider.NONE)
        return CustomerSettings.of(s)

    def customer_by_alias(self, c: Customer) -> Wire:
        return self.customer(c)

    def alias_draft(self, body: bytes, account_id: str) -> AliasDraft:
        request = decode(body, CreateCustomerAliasRequest)
        if request.sequence_account_id != account_id:
            raise Invalid.of(
                [
                    FieldError(
                        "sequenceAccountId", "must be the id of the account you authenticate as"
                    )
                ]
            )
        return AliasDraft(customer_id=request.customer_id, value=request.value, label=request.label)

    def customer_list(
        self, items: list[Customer], after: str | None, before: str | None, total: int
    ) -> Wire:
        return self.list_response(
            items=[self.customer(c) for c in items],
            pagination=PaginationMeta(after=after, before=before, total_result_size=total),
        )
