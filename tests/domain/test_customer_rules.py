"""`check_draft`'s field paths and messages: the same for every API version and for the import.
Each rule asks again with the item's path only when the item has something to report, so a
wrong index or a missing error would show here."""

from __future__ import annotations

from dataclasses import replace

import pytest

from patron.domain.customers import Address, ContactDraft, CustomerDraft, check_draft
from patron.domain.enums import BillingPreference, TaxStatus
from patron.domain.errors import FieldError

PRIMARY, STANDARD, NONE = (
    BillingPreference.PRIMARY,
    BillingPreference.STANDARD,
    BillingPreference.NONE,
)
_NO_PRIMARY = (
    "at least one contact must be PRIMARY when any contact receives billing communications "
    "(PRIMARY or STANDARD)"
)


def draft(**overrides: object) -> CustomerDraft:
    base = CustomerDraft(
        legal_name="Rules Ltd",
        address=Address(line1="1 Main St", town="Leeds", postcode="LS1 1AA", country="GB"),
        tax_status=TaxStatus.TAXED,
        contacts=[ContactDraft("Ann", "ann@example.com", PRIMARY)],
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


class TestCheckDraft:
    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            ({}, []),
            (
                {
                    "contacts": [
                        ContactDraft("Ann", "ann@example.com", PRIMARY),
                        ContactDraft(" ", "not-an-email", STANDARD),
                        ContactDraft("Bo", "ANN@example.com ", NONE),
                    ]
                },
                [
                    FieldError("contacts[1].name", "must not be blank"),
                    FieldError("contacts[1].email", "is not a valid email address"),
                    # Unstripped here (the wire strips it), so also not valid as it stands.
                    FieldError("contacts[2].email", "is not a valid email address"),
                    FieldError("contacts[2].email", "repeats the email of contacts[0]"),
                ],
            ),
            (
                {
                    "contacts": [
                        ContactDraft("Ann", "ann@example.com", STANDARD),
                        ContactDraft("Bo", "bo@example.com", NONE),
                    ]
                },
                [FieldError("contacts", _NO_PRIMARY)],
            ),
            ({"contacts": [ContactDraft("Bo", "bo@example.com", NONE)]}, []),
            (
                {"aliases": ["a", " ", "a", "b", "", "b"]},
                [
                    FieldError("customerAliases[1]", "must not be blank"),
                    FieldError("customerAliases[2]", "repeats the alias 'a'"),
                    FieldError("customerAliases[4]", "must not be blank"),
                    FieldError("customerAliases[5]", "repeats the alias 'b'"),
                ],
            ),
        ],
        ids=["valid", "contacts", "no primary", "no billing contact", "aliases"],
    )
    def test_names_each_problem_at_its_path(
        self, overrides: dict[str, object], expected: list[FieldError]
    ) -> None:
        assert check_draft(draft(**overrides)) == expected
