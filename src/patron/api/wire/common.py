"""Wire pieces every API version shares: bounded field types, addresses, timestamps."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Annotated

import msgspec

from patron.domain import limits
from patron.domain.customers import Address, Contact, IntegrationId
from patron.domain.enums import BillingPreference, CountryCode, StateCode

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.NAME_MAX)]
OptionalText = Annotated[str, msgspec.Meta(max_length=limits.NAME_MAX)]
Postcode = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.POSTCODE_MAX)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.URL_MAX)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=limits.EMAIL_MAX)]
AliasValue = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.ALIAS_MAX)]
ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.INTEGRATION_ID_MAX)]
Telephone = Annotated[str, msgspec.Meta(max_length=limits.TELEPHONE_MAX)]
PropertyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.CUSTOM_PROPERTY_KEY_MAX)]
PropertyValue = Annotated[str, msgspec.Meta(max_length=limits.CUSTOM_PROPERTY_VALUE_MAX)]
CustomProperties = Annotated[
    dict[PropertyKey, PropertyValue], msgspec.Meta(max_length=limits.CUSTOM_PROPERTIES_MAX)
]
# A customer id given in a body (ownerId, memberIds, customerId).
CustomerId = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.CUSTOMER_ID_MAX)]


class Wire(msgspec.Struct, rename="camel", omit_defaults=True):
    """Base of wire structs: camelCase names; optional fields left out, never sent as null."""


class PaginationMeta(Wire):
    after: str | None = None
    before: str | None = None
    total_result_size: int | None = None


# The last instant rendered: a write stamps every row it makes with one instant, which its
# answer and its events' snapshots show many times over (14 times for a create with two contacts).
_last_iso = (-1, "")


def iso(micros: int) -> str:
    """`2024-07-30T12:00:00.123Z`: ISO 8601, UTC, millisecond precision."""
    global _last_iso
    last = _last_iso
    if last[0] == micros:
        return last[1]
    seconds, rest = divmod(micros, 1_000_000)
    text = f"{_second(seconds)}.{rest // 1000:03d}Z"
    _last_iso = (micros, text)
    return text


@lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    # A write renders the same few instants many times (its resource, the event's snapshot).
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def iso_or_none(micros: int | None) -> str | None:
    return None if micros is None else iso(micros)


class AddressWire(Wire):
    line1: Name
    town: Name
    postcode: Postcode
    country: CountryCode
    line2: OptionalText | None = None
    state: StateCode | None = None

    def to_domain(self) -> Address:
        # Positional, in the fields' order: keywords out of order cost twice as much to bind,
        # and an import makes millions of these.
        return Address(
            self.line1,
            self.town,
            self.postcode,
            self.country.value,
            self.line2,
            None if self.state is None else self.state.value,
        )

    @classmethod
    def of(cls, a: Address) -> AddressWire:
        return cls(
            line1=a.line1,
            line2=a.line2,
            town=a.town,
            state=None if a.state is None else StateCode(a.state),
            postcode=a.postcode,
            country=CountryCode(a.country),
        )


class ContactOut(Wire):
    id: str
    name: str
    email: str
    billing_preference: BillingPreference
    created_at: str
    updated_at: str
    archived_at: str | None = None

    @classmethod
    def of(cls, c: Contact) -> ContactOut:
        return cls(
            id=c.id,
            name=c.name,
            email=c.email,
            billing_preference=c.billing_preference,
            created_at=iso(c.created_at),
            updated_at=iso(c.updated_at),
            archived_at=iso_or_none(c.archived_at),
        )


class IntegrationIdOut(Wire):
    service: str
    id: str
    is_pending: bool
    last_synced: str | None = None

    @classmethod
    def of(cls, x: IntegrationId) -> IntegrationIdOut:
        return cls(
            service=x.service.value,
            id=x.external_id,
            is_pending=x.is_pending,
            last_synced=iso_or_none(x.last_synced),
        )
