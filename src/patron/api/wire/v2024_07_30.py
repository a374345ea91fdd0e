"""API version 2024-07-30 (Sequence's current): the newest wire shape, which older versions
describe themselves against (see `patron.api.versions`)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

from patron.api.decoding import decode
from patron.api.wire.aliases import CreateCustomerAliasRequestModel
from patron.api.wire.common import (
    AddressWire,
    AliasValue,
    ContactOut,
    CustomProperties,
    Email,
    ExternalId,
    IntegrationIdOut,
    Name,
    OptionalText,
    PaginationMeta,
    Url,
    Wire,
    iso,
    iso_or_none,
)
from patron.api.wire.customer_20240509 import customer_20240509
from patron.api.wire.payment_settings import CustomerSettings
from patron.domain import limits
from patron.domain.aliases import AliasDraft
from patron.domain.customers import (
    ContactDraft,
    Customer,
    CustomerDraft,
    CustomerWrite,
    IntegrationIdDraft,
    Organization,
)
from patron.domain.enums import (
    BillingPreference,
    CustomerStatus,
    IntegrationService,
    PushIntegration,
    TaxStatus,
)
from patron.domain.payment_settings import PaymentSettings

# -- requests ---------------------------------------------------------------------------------


class ContactIn(Wire):
    name: Name
    email: Email
    billing_preference: BillingPreference

    def to_domain(self) -> ContactDraft:
        return ContactDraft(self.name, self.email.strip(), self.billing_preference)


class IntegrationIdIn(Wire):
    service: IntegrationService
    id: ExternalId


class CreateOrUpdateCustomerRequest(Wire):
    legal_name: Name
    address: AddressWire
    tax_status: TaxStatus
    contacts: Annotated[list[ContactIn], msgspec.Meta(max_length=limits.CONTACTS_MAX)]
    url: Url | None = None
    label: OptionalText | None = None
    customer_aliases: (
        Annotated[list[AliasValue], msgspec.Meta(max_length=limits.ALIASES_MAX)] | None
    ) = None
    integration_ids: (
        Annotated[list[IntegrationIdIn], msgspec.Meta(max_length=limits.INTEGRATION_IDS_MAX)] | None
    ) = None
    parent_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    push_to_integrations: list[PushIntegration] | None = None
    status: CustomerStatus | None = None
    custom_properties: CustomProperties | None = None

    def to_domain(self) -> CustomerDraft:
        return CustomerDraft(
            legal_name=self.legal_name,
            address=self.address.to_domain(),
            tax_status=self.tax_status,
            contacts=[c.to_domain() for c in self.contacts],
            url=self.url,
            label=self.label,
            status=self.status,
            aliases=self.customer_aliases,
            integration_ids=None
            if self.integration_ids is None
            else [IntegrationIdDraft(x.service, x.id) for x in self.integration_ids],
            parent_id=self.parent_id,
            push_to_integrations=self.push_to_integrations,
            custom_properties=self.custom_properties,
        )


# -- responses --------------------------------------------------------------------------------


class CustomerIdWithName(Wire):
    id: str
    name: str


class CustomerOrganizationOut(Wire):
    id: str
    owner: CustomerIdWithName
    members: list[CustomerIdWithName]

    @classmethod
    def of(cls, o: Organization) -> CustomerOrganizationOut:
        return cls(
            id=o.id,
            owner=CustomerIdWithName(o.owner.id, o.owner.name),
            members=[CustomerIdWithName(m.id, m.name) for m in o.members],
        )


class ListCustomerResponseModel(Wire):
    id: str
    created_at: str
    organizations: list[CustomerOrganizationOut]
    legal_name: str
    address: AddressWire
    integration_ids: list[IntegrationIdOut]
    tax_status: TaxStatus
    custom_properties: dict[str, str]
    url: str | None = None
    domain: str | None = None
    label: str | None = None
    archived_at: str | None = None


class CustomerOut(ListCustomerResponseModel, kw_only=True):
    """The full customer: a list item plus its live contacts and its status."""

    contacts: list[ContactOut]
    status: CustomerStatus


def _common(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "created_at": iso(c.created_at),
        "organizations": [CustomerOrganizationOut.of(o) for o in c.organizations],
        "legal_name": c.legal_name,
        "address": AddressWire.of(c.address),
        "integration_ids": [IntegrationIdOut.of(x) for x in c.integration_ids],
        "tax_status": c.tax_status,
        "custom_properties": c.custom_properties,
        "url": c.url,
        "domain": c.domain,
        "label": c.label,
        "archived_at": iso_or_none(c.archived_at),
    }


class ListCustomerResponse(Wire):
    items: list[ListCustomerResponseModel]
    pagination: PaginationMeta


class CustomPropertyKeys(Wire):
    items: list[str]


# -- the version --------------------------------------------------------------------------------

# Patron's own operations (docs/extensions.md): served in every version, since older versions
# inherit this one's operations.
PATRON_EXTENSIONS = frozenset(
    {
        "patronGetEvents",
        "patronGetCustomersByIdEvents",
        "patronPostCustomersByIdRestore",
        "patronPostCustomersByCustomerContactsByIdRestore",
        "patronPostNotificationsPolicies",
        "patronGetNotificationsPolicies",
        "patronGetNotificationsPoliciesById",
        "patronDeleteNotificationsPoliciesById",
        "patronGetNotificationsDeliveries",
        "patronPostNotificationsDeliveriesByIdRedeliver",
    }
)


class V20240730:
    """How version 2024-07-30 reads requests and writes responses."""

    name: ClassVar[str] = "2024-07-30"
    # The operations this version serves (Sequence's operationIds).
    operations: ClassVar[frozenset[str]] = (
        frozenset(
            {
                "getCustomers",
                "postCustomers",
                "getCustomersById",
                "putCustomersById",
                "postCustomersByIdArchive",
                "getCustomerCustomPropertyKeys",
                "postCustomerOrganizations",
                "postCustomerOrganizationsByIdMembers",
                "putCustomerOrganizationsByIdMembers",
                "postPaymentsSettingsCustomers",
                "getPaymentsSettingsCustomersById",
                "putPaymentsSettingsCustomersById",
                "deletePaymentsSettingsCustomersById",
                "getCustomersByCustomerContacts",
                "postCustomersByCustomerContacts",
                "putCustomersByCustomerContactsById",
                "postCustomersByCustomerContactsByIdArchive",
                "getCustomerAliases",
                "postCustomerAliases",
                "putCustomerAliasesById",
                "deleteCustomerAliasesById",
                "getCustomersByIdAliases",
                "getCustomersByAliasByAlias",
            }
        )
        | PATRON_EXTENSIONS
    )

    def create_write(self, body: bytes) -> CustomerWrite:
        return decode(body, CreateOrUpdateCustomerRequest).to_domain()

    def update_write(self, body: bytes) -> CustomerWrite:
        return self.create_write(body)

    def customer_by_alias(self, c: Customer) -> Wire:
        """`GET /customers/by-alias/{alias}` kept answering the 2024-05-09 shape."""
        return customer_20240509(c)

    def alias_draft(self, body: bytes, account_id: str) -> AliasDraft:
        return decode(body, CreateCustomerAliasRequestModel).to_domain()

    def payment_settings(self, s: PaymentSettings) -> Wire:
        return CustomerSettings.of(s)

    def customer(self, c: Customer) -> Wire:
        return CustomerOut(
            **_common(c),
            contacts=[ContactOut.of(x) for x in c.contacts],
            status=c.status,
        )

    def created_customer(self, c: Customer) -> Wire:
        return self.customer(c)

    def customer_list(
        self, items: list[Customer], after: str | None, before: str | None, total: int
    ) -> Wire:
        return ListCustomerResponse(
            items=[ListCustomerResponseModel(**_common(c)) for c in items],
            pagination=PaginationMeta(after=after, before=before, total_result_size=total),
        )
