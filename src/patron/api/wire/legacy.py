"""How the pre-2024-07-30 customer fields map onto the one internal model, both ways.

Versions 2024-05-09 and 2024-01-01 have no contacts: a customer has a main `email` (with an optional
`contactName`) and a list of `billingEmails`. Patron keeps contacts, and translates:

- read: `email`/`contactName` are the main contact (the earliest-created live PRIMARY contact;
  `email` is "" when there is none), `billingEmails` the emails of the live PRIMARY and STANDARD
  contacts, oldest first;
- write: see `contacts_for`. A write through an old version never erases what only a newer version
  can express: contacts it does not mention, integration ids of services it does not know, pending
  integration ids, custom properties, status and organizations all stay.
"""

from __future__ import annotations

from collections.abc import Iterable

from patron.domain.customers import (
    Contact,
    ContactDraft,
    Customer,
    IntegrationIdDraft,
    email_key,
)
from patron.domain.enums import BillingPreference, IntegrationService

# The services versions 2024-05-09 and 2024-01-01 list; later ones are invisible to them.
LEGACY_SERVICES = frozenset(
    {
        IntegrationService.AMAZON_REDSHIFT,
        IntegrationService.GOOGLE_BIGQUERY,
        IntegrationService.GOOGLE_SHEETS,
        IntegrationService.HUBSPOT,
        IntegrationService.NETSUITE,
        IntegrationService.QUICKBOOKS_ONLINE,
        IntegrationService.SALESFORCE,
        IntegrationService.SLACK,
        IntegrationService.SNOWFLAKE,
        IntegrationService.STRIPE,
        IntegrationService.XERO,
    }
)
# States the older versions list (the territories NT, NU and YT came later).
LEGACY_STATES_MISSING = frozenset({"NT", "NU", "YT"})


def main_email(c: Customer) -> str:
    primary = c.primary_contact
    return "" if primary is None else primary.email


def main_name(c: Customer) -> str | None:
    primary = c.primary_contact
    return None if primary is None else primary.name


def legacy_state(state: str | None) -> str | None:
    """The state as an older version may show it (omitted where its enum has no such value)."""
    return None if state in LEGACY_STATES_MISSING else state


def contacts_for(
    current: Iterable[Contact],
    *,
    email: str,
    contact_name: str | None,
    billing_emails: list[str] | None,
) -> list[ContactDraft]:
    """The live contact set an old-version write asks for, given the live contacts now.

    - The contact with `email` becomes PRIMARY (created when missing; named `contact_name`, else
      kept, else named by its email), and becomes the main contact: PRIMARY contacts older than it
      are demoted to STANDARD so that reading back gives the same `email`.
    - Each of `billing_emails` keeps a PRIMARY or STANDARD contact (a NONE contact is raised to
      STANDARD; a missing one is created STANDARD, named by its email).
    - Billing contacts (PRIMARY or STANDARD) not in `billing_emails` are archived; `None` (the
      field left out, allowed on 2024-01-01 updates) keeps them all.
    - NONE contacts the write does not mention are kept as they are.
    """
    main = email_key(email)
    billing = None if billing_emails is None else {email_key(e) for e in billing_emails}
    kept: list[ContactDraft] = []
    seen: set[str] = set()
    for c in current:
        key = email_key(c.email)
        seen.add(key)
        preference = c.billing_preference
        if key == main:
            kept.append(ContactDraft(contact_name or c.name, email, BillingPreference.PRIMARY))
            continue
        if billing is not None and key in billing:
            if preference is BillingPreference.NONE:
                preference = BillingPreference.STANDARD
        elif billing is not None and preference.gets_billing_mail:
            continue  # dropped from the billing list: archived
        kept.append(ContactDraft(c.name, c.email, preference))
    if main not in seen:
        kept.append(ContactDraft(contact_name or email, email, BillingPreference.PRIMARY))
        seen.add(main)
    for address in billing_emails or []:
        if email_key(address) not in seen:
            kept.append(ContactDraft(address, address, BillingPreference.STANDARD))
            seen.add(email_key(address))
    main_at = next(i for i, d in enumerate(kept) if email_key(d.email) == main)
    return [
        ContactDraft(d.name, d.email, BillingPreference.STANDARD)
        if i < main_at and d.billing_preference is BillingPreference.PRIMARY
        else d
        for i, d in enumerate(kept)
    ]


def integration_ids_for(
    current: Customer | None, written: list[IntegrationIdDraft] | None
) -> list[IntegrationIdDraft] | None:
    """The written ids, plus the current ones of services an old version does not know (it can
    neither see nor send them). `None` (not written) leaves them all as they are."""
    if written is None or current is None:
        return written
    # Written ids take the places of the visible ones, in order, so writing back what was read
    # changes nothing, order included.
    sent = iter(written)
    merged: list[IntegrationIdDraft] = []
    for x in current.integration_ids:
        if x.is_pending:
            continue
        if x.service not in LEGACY_SERVICES:
            merged.append(IntegrationIdDraft(x.service, x.external_id))
        elif (replacement := next(sent, None)) is not None:
            merged.append(replacement)
    return merged + list(sent)
