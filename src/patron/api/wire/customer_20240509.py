"""The customer as API version 2024-05-09 shows it (`Customer20240509`).

Version 2024-07-30 still answers `GET /customers/by-alias/{alias}` in this shape, and version
2024-05-09 uses it for every customer response, so the mapping from today's customer (contacts)
to that version's flat contact fields is `legacy.py`'s, and the shape is here, once:

- `email` / `contactName`: the main contact (the earliest-created live PRIMARY contact). With no
  PRIMARY contact, `email` is "" (it is required) and `contactName` is left out (it is optional).
- `billingEmails`: the emails of the live PRIMARY and STANDARD contacts, oldest first.
- `telephone`: the customer's own telephone (kept from older versions' writes), when set.

Under 2024-05-09 itself the values that version's enums lack are hidden (`v2024_05_09.py`).
"""

from __future__ import annotations

from patron.api.wire import legacy
from patron.api.wire.common import AddressWire, IntegrationIdOut, Wire, iso, iso_or_none
from patron.domain.customers import Customer
from patron.domain.enums import TaxStatus


class Customer20240509(Wire, kw_only=True):
    # Fields in the contract's order; kw_only lets optional ones sit between required ones.
    id: str
    created_at: str
    legal_name: str
    contact_name: str | None = None
    address: AddressWire
    email: str
    telephone: str | None = None
    url: str | None = None
    label: str | None = None
    integration_ids: list[IntegrationIdOut]
    archived_at: str | None = None
    billing_emails: list[str]
    tax_status: TaxStatus


def customer_20240509(c: Customer) -> Customer20240509:
    return Customer20240509(
        id=c.id,
        created_at=iso(c.created_at),
        legal_name=c.legal_name,
        contact_name=legacy.main_name(c),
        address=AddressWire.of(c.address),
        email=legacy.main_email(c),
        telephone=c.telephone,
        url=c.url,
        label=c.label,
        integration_ids=[IntegrationIdOut.of(x) for x in c.integration_ids],
        archived_at=iso_or_none(c.archived_at),
        billing_emails=c.billing_emails,
        tax_status=c.tax_status,
    )
