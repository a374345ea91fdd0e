"""The 2024-07-30 rendering of a customer is kept for the same object (a write renders it for its
event and for its answer): each object still gets its own, and only a few are kept."""

from __future__ import annotations

import dataclasses

import msgspec

from patron.api.versions import LATEST
from patron.api.wire import v2024_07_30
from patron.domain.customers import Address, Contact, Customer
from patron.domain.enums import BillingPreference, CustomerStatus, TaxStatus

_AT = 1_765_000_000_123_456


def _customer(n: int) -> Customer:
    contact = Contact(f"c-{n}", "Ann", "ann@example.com", BillingPreference.PRIMARY, _AT, _AT)
    return Customer(
        id=f"id-{n}",
        account_id="account",
        created_at=_AT,
        updated_at=_AT,
        legal_name=f"Customer {n} Ltd",
        address=Address("1 Market Street", "Springfield", "10000", "GB"),
        tax_status=TaxStatus.TAXED,
        status=CustomerStatus.ACTIVE,
        contacts=[contact],
        custom_properties={"region": "emea"},
        revision=1,
    )


def _json(c: Customer) -> object:
    return msgspec.to_builtins(LATEST.customer(c))


class TestRenderedCustomers:
    def test_the_same_object_gets_the_same_rendering(self) -> None:
        customer = _customer(1)
        assert LATEST.customer(customer) is LATEST.customer(customer)

    def test_an_equal_looking_object_with_other_fields_gets_its_own(self) -> None:
        first = _customer(2)
        changed = dataclasses.replace(first, legal_name="Renamed Ltd", revision=2)
        shown = _json(first)
        assert _json(changed) == {**shown, "legalName": "Renamed Ltd"}  # type: ignore[dict-item]
        assert _json(first) == shown

    def test_only_a_few_are_kept(self) -> None:
        customers = [_customer(n) for n in range(3 * v2024_07_30._RENDERED_KEPT)]
        for customer in [*customers, *reversed(customers)]:
            shown = LATEST.customer(customer)
            assert isinstance(shown, v2024_07_30.CustomerOut)
            assert (shown.id, shown.legal_name, shown.contacts[0].id) == (
                customer.id,
                customer.legal_name,
                customer.contacts[0].id,
            )
        assert len(v2024_07_30._rendered) <= v2024_07_30._RENDERED_KEPT
