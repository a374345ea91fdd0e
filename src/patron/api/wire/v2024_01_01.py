"""API version 2024-01-01, stated as its differences from 2024-05-09.

- Integration ids are `externalIds: [{key, value, syncTime}]` (requests: `[{key, value}]`).
- Customers carry `sequenceAccountId`; create answers `{"customer": {...}}`.
- Create: `taxStatus` optional (default TAXED). Update: `billingEmails` optional (left out, the
  billing contacts stay as they are).
- No contacts endpoints.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from patron.api.wire import legacy
from patron.api.wire.common import AddressWire, ExternalId, PaginationMeta, Wire, iso, iso_or_none
from patron.api.wire.v2024_05_09 import (
    V20240509,
    BillingEmails,
    legacy_address,
)
from patron.api.wire.v2024_05_09 import (
    CreateCustomerRequest as CreateCustomerRequest20240509,
)
from patron.domain import limits
from patron.domain.customers import Customer, IntegrationIdDraft
from patron.domain.enums import IntegrationService, TaxStatus


class IntegrationExternalIdentifier(Wire):
    key: IntegrationService
    value: ExternalId


ExternalIds = Annotated[
    list[IntegrationExternalIdentifier], msgspec.Meta(max_length=limits.INTEGRATION_IDS_MAX)
]


class CreateCustomerRequest(CreateCustomerRequest20240509, kw_only=True):
    tax_status: TaxStatus | None = None  # type: ignore[assignment]
    external_ids: ExternalIds | None = None

    def integration_drafts(self) -> list[IntegrationIdDraft] | None:
        if self.external_ids is None:
            return None
        return [IntegrationIdDraft(x.key, x.value) for x in self.external_ids]


class UpdateCustomerRequest(CreateCustomerRequest, kw_only=True):
    tax_status: TaxStatus
    billing_emails: BillingEmails | None = None  # type: ignore[assignment]


class KeyValueLinkInfo(Wire):
    key: str
    value: str
    sync_time: str


class Customer20240101(Wire):
    id: str
    created_at: str
    sequence_account_id: str
    legal_name: str
    address: AddressWire
    email: str
    billing_emails: list[str]
    tax_status: TaxStatus
    external_ids: list[KeyValueLinkInfo]
    contact_name: str | None = None
    telephone: str | None = None
    url: str | None = None
    label: str | None = None
    archived_at: str | None = None

    @classmethod
    def of(cls, c: Customer) -> Customer20240101:
        return cls(
            id=c.id,
            created_at=iso(c.created_at),
            sequence_account_id=c.account_id,
            legal_name=c.legal_name,
            contact_name=legacy.main_name(c),
            address=legacy_address(c.address),
            email=legacy.main_email(c),
            billing_emails=c.billing_emails,
            telephone=c.telephone,
            url=c.url,
            tax_status=c.tax_status,
            label=c.label,
            external_ids=[
                # syncTime is required here: an id never synced shows the customer's creation.
                KeyValueLinkInfo(x.service.value, x.external_id, iso(x.last_synced or c.created_at))
                for x in c.integration_ids
                if x.service in legacy.LEGACY_SERVICES and not x.is_pending
            ],
            archived_at=iso_or_none(c.archived_at),
        )


class CreateCustomerResponse(Wire):
    customer: Customer20240101


class ListCustomersResponse(Wire):
    items: list[Customer20240101]
    pagination: PaginationMeta


class V20240101(V20240509):
    name: ClassVar[str] = "2024-01-01"
    operations: ClassVar[frozenset[str]] = (
        V20240509.operations
        - {
            "getCustomersByCustomerContacts",
            "postCustomersByCustomerContacts",
            "putCustomersByCustomerContactsById",
            "postCustomersByCustomerContactsByIdArchive",
            "postPaymentsSettingsCustomers",
            "getPaymentsSettingsCustomersById",
            "putPaymentsSettingsCustomersById",
            "deletePaymentsSettingsCustomersById",
        }
    ) | {
        "postCustomerSettings",
        "getCustomerSettingsById",
        "putCustomerSettingsById",
        "deleteCustomerSettingsById",
    }

    create_request: ClassVar[type[CreateCustomerRequest20240509]] = CreateCustomerRequest
    update_request: ClassVar[type[CreateCustomerRequest20240509]] = UpdateCustomerRequest
    list_response: ClassVar[type[Wire]] = ListCustomersResponse

    def customer(self, c: Customer) -> Wire:
        return Customer20240101.of(c)

    def created_customer(self, c: Customer) -> Wire:
        return CreateCustomerResponse(Customer20240101.of(c))
