"""Customers and what hangs off them: the records, the input a write carries, and its rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from patron.domain import limits
from patron.domain.enums import (
    CANADIAN_PROVINCES,
    COUNTRIES_REQUIRING_STATE,
    BillingPreference,
    CustomerStatus,
    IntegrationService,
    PushIntegration,
    TaxStatus,
)
from patron.domain.errors import FieldError


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    town: str
    postcode: str
    country: str
    line2: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str
    email: str
    billing_preference: BillingPreference
    created_at: int
    updated_at: int
    archived_at: int | None = None
    revision: int = 0  # bumped by every change: what its ETag names


@dataclass(frozen=True, slots=True)
class IntegrationId:
    service: IntegrationService
    external_id: str
    is_pending: bool = False
    last_synced: int | None = None


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    owner: CustomerRef
    members: list[CustomerRef]
    revision: int = 0  # bumped by every change, including its members' names


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as stored, with live contacts, integration ids, organizations and properties."""

    id: str
    account_id: str
    created_at: int
    updated_at: int
    legal_name: str
    address: Address
    tax_status: TaxStatus
    status: CustomerStatus
    url: str | None = None
    domain: str | None = None
    label: str | None = None
    telephone: str | None = None
    archived_at: int | None = None
    contacts: list[Contact] = field(default_factory=list)
    integration_ids: list[IntegrationId] = field(default_factory=list)
    organizations: list[Organization] = field(default_factory=list)
    custom_properties: dict[str, str] = field(default_factory=dict)
    # Bumped by every change of what the customer's responses show (its contacts, organizations
    # and their members' names included): what its ETag names.
    revision: int = 0

    @property
    def primary_contact(self) -> Contact | None:
        """The earliest-created live PRIMARY contact: the one older API versions call `email`."""
        return next(
            (c for c in self.contacts if c.billing_preference is BillingPreference.PRIMARY), None
        )

    @property
    def billing_emails(self) -> list[str]:
        return [c.email for c in self.contacts if c.billing_preference.gets_billing_mail]


@dataclass(frozen=True, slots=True)
class ContactDraft:
    name: str
    email: str
    billing_preference: BillingPreference


@dataclass(frozen=True, slots=True)
class IntegrationIdDraft:
    service: IntegrationService
    external_id: str


@dataclass(frozen=True, slots=True)
class CustomerDraft:
    """What a create or a full update asks for, whatever API version it came in through.

    `None` on a collection means "leave as it is" on update (and "none" on create).
    """

    legal_name: str
    address: Address
    tax_status: TaxStatus
    contacts: list[ContactDraft]
    url: str | None = None
    label: str | None = None
    telephone: str | None = None
    status: CustomerStatus | None = None
    aliases: list[str] | None = None
    integration_ids: list[IntegrationIdDraft] | None = None
    parent_id: str | None = None
    push_to_integrations: list[PushIntegration] | None = None
    custom_properties: dict[str, str] | None = None


# What a create or update carries: a draft, or (for API versions that can express only part of a
# customer) a function from the customer as it is (None on create) to the full draft.
CustomerWrite = CustomerDraft | Callable[[Customer | None], CustomerDraft]


def draft_of(write: CustomerWrite, current: Customer | None) -> CustomerDraft:
    return write(current) if callable(write) else write


# Deliberately permissive: one @, no spaces, a dot in the domain. Deliverability is for the mailer.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def is_valid_email(email: str) -> bool:
    return _EMAIL.fullmatch(email) is not None


def email_key(email: str) -> str:
    """Emails compare case-insensitively: the key they are matched and filtered by."""
    return email.strip().casefold()


def text_key(text: str) -> str:
    """Legal names and labels filter and sort case-insensitively, the same on every engine."""
    return text.casefold()


def domain_of(url: str | None) -> str | None:
    """The customer's domain, derived from its URL: the host, without a leading `www.`."""
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    host = host.removeprefix("www.")
    return host or None


def check_address(address: Address, path: str = "address") -> list[FieldError]:
    errors: list[FieldError] = []
    if address.country in COUNTRIES_REQUIRING_STATE:
        if address.state is None:
            errors.append(
                FieldError(f"{path}.state", f"is required when country is {address.country}")
            )
        elif (address.state in CANADIAN_PROVINCES) != (address.country == "CA"):
            errors.append(
                FieldError(f"{path}.state", f"{address.state} is not a state of {address.country}")
            )
    for name in ("line1", "town", "postcode"):
        if not getattr(address, name).strip():
            errors.append(FieldError(f"{path}.{name}", "must not be blank"))
    return errors


def check_url(url: str | None, path: str = "url") -> list[FieldError]:
    if url is None:
        return []
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [FieldError(path, "must be an absolute http or https URL")]
    return []


def check_contacts(contacts: list[ContactDraft], path: str = "contacts") -> list[FieldError]:
    """Every email valid and unique among the set, and the PRIMARY rule over the set."""
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, contact in enumerate(contacts):
        # Asked again with the contact's path only when there is something to report: an import
        # checks millions of contacts, nearly all fine, and the path is most of the cost.
        if check_contact(contact):
            errors += check_contact(contact, f"{path}[{i}].")
        key = email_key(contact.email)
        if key in seen:
            errors.append(
                FieldError(f"{path}[{i}].email", f"repeats the email of {path}[{seen[key]}]")
            )
        seen.setdefault(key, i)
    errors.extend(check_primary_rule([c.billing_preference for c in contacts], path))
    return errors


def check_contact(contact: ContactDraft, prefix: str = "") -> list[FieldError]:
    """One contact's own fields; `prefix` leads each field name (`contacts[0].`, or none)."""
    errors: list[FieldError] = []
    if not contact.name.strip():
        errors.append(FieldError(f"{prefix}name", "must not be blank"))
    if not is_valid_email(contact.email):
        errors.append(FieldError(f"{prefix}email", "is not a valid email address"))
    return errors


def check_primary_rule(preferences: list[BillingPreference], path: str) -> list[FieldError]:
    """If any contact gets billing communications, at least one must be PRIMARY."""
    if BillingPreference.PRIMARY in preferences:
        return []  # the common case, without asking every contact
    if any(p.gets_billing_mail for p in preferences):
        return [
            FieldError(
                path,
                "at least one contact must be PRIMARY when any contact receives billing "
                "communications (PRIMARY or STANDARD)",
            )
        ]
    return []


def check_alias_value(value: str, path: str) -> list[FieldError]:
    return [FieldError(path, "must not be blank")] if not value.strip() else []


def check_aliases(aliases: list[str], path: str = "customerAliases") -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, alias in enumerate(aliases):
        blank = check_alias_value(alias, path)
        if blank:  # again, with the alias' own path (made only for an error, as above)
            errors += check_alias_value(alias, f"{path}[{i}]")
        elif alias in seen:
            errors.append(FieldError(f"{path}[{i}]", f"repeats the alias {alias!r}"))
        seen.add(alias)
    return errors


def check_custom_properties(
    properties: dict[str, str], path: str = "customProperties"
) -> list[FieldError]:
    errors = [
        FieldError(f"{path}.{key}", "keys must not be blank")
        for key in properties
        if not key.strip()
    ]
    # Values are indexed for sorting; an index entry must fit a third of a PostgreSQL page.
    byte_max = limits.CUSTOM_PROPERTY_VALUE_MAX_BYTES
    errors += [
        FieldError(f"{path}.{key}", f"must be at most {byte_max} bytes in UTF-8")
        for key, value in properties.items()
        if len(value.encode()) > byte_max
    ]
    return errors


def check_draft(draft: CustomerDraft) -> list[FieldError]:
    """Every rule a customer write must satisfy beyond the shape of its fields."""
    errors: list[FieldError] = []
    if not draft.legal_name.strip():
        errors.append(FieldError("legalName", "must not be blank"))
    errors += check_address(draft.address)
    errors += check_url(draft.url)
    errors += check_contacts(draft.contacts)
    if draft.aliases is not None:
        errors += check_aliases(draft.aliases)
    if draft.custom_properties is not None:
        errors += check_custom_properties(draft.custom_properties)
    return errors
