"""The import's shorter way through the API's body checks (`_plainly_valid`) accepts only what
`decode` accepts, as the same record; everything else goes on to `decode` for its errors."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

from patron.api import importing
from patron.api.decoding import decode
from patron.api.importing import ImportCustomerRow, _plainly_valid
from patron.domain.errors import Invalid
from tests.api.json_bodies import records
from tests.factories import contact, customer_body


def _decoded(body: bytes) -> ImportCustomerRow | None:
    try:
        return decode(body, ImportCustomerRow)
    except Invalid:
        return None


class TestPlainlyValid:
    @settings(max_examples=400, deadline=None)
    @given(records())
    def test_accepts_only_what_decode_accepts(self, body: bytes) -> None:
        fast = _plainly_valid(body)
        if fast is not None:
            assert fast == _decoded(body)

    def test_takes_the_short_way_for_an_ordinary_record(self) -> None:
        body = customer_body(url="https://example.com:8443/about", customerAliases=["crm-1"])
        assert _plainly_valid(json.dumps(body).encode()) == _decoded(json.dumps(body).encode())
        assert _plainly_valid(json.dumps(body).encode()) is not None

    @pytest.mark.parametrize(
        "body",
        [
            b'{"legalName": "A", "legalName": "B"}',
            b'{"legalName": "A\\u0007"}',
            b'{"legalName": "A\xc2\x85"}',
            b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}",
            b"[1, 2]",
            b"{not json",
        ],
        ids=["repeated key", "escaped control", "C1 control", "too deep", "not object", "bad"],
    )
    def test_leaves_to_decode_what_decode_refuses(self, body: bytes) -> None:
        assert _plainly_valid(body) is None
        assert _decoded(body) is None


def _every_field() -> dict[str, Any]:
    """A valid record that gives every field the import's struct has, and a null nowhere."""
    body = customer_body(
        id="019077fd-3000-7d8e-91b7-584a2265b1f5",
        url="https://example.com/about",
        label="Key account",
        customerAliases=["crm-1", "crm-2"],
        integrationIds=[{"service": "Xero", "id": "x-1"}],
        parentId="019077fd-3000-7d8e-91b7-584a2265b1f6",
        pushToIntegrations=["Xero"],
        status="ACTIVE",
        customProperties={"region": "emea", "tier": "gold"},
        contacts=[contact(), contact(billingPreference="NONE")],
    )
    body["address"]["line2"] = "Suite 2"
    return body


class TestKeysCountedOnTheStruct:
    """The keys are first counted on the typed record; a plain parse only when that count falls
    short (a null, an unknown field, a key given twice)."""

    @pytest.fixture
    def plain_parses(self, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
        seen: list[bytes] = []
        decode_plain = importing._decode_plain

        def counted(body: bytes) -> Any:
            seen.append(body)
            return decode_plain(body)

        monkeypatch.setattr(importing, "_decode_plain", counted)
        return seen

    def test_a_record_with_every_field_needs_no_plain_parse(
        self, plain_parses: list[bytes]
    ) -> None:
        body = _every_field()
        names = {f.encode_name for f in msgspec.structs.fields(ImportCustomerRow)}
        assert set(body) == names  # a field added to the struct belongs in this record too
        assert set(body["address"]) == {"line1", "line2", "town", "state", "postcode", "country"}
        raw = json.dumps(body).encode()
        assert _plainly_valid(raw) == _decoded(raw) is not None
        assert plain_parses == []

    @pytest.mark.parametrize("extra", [{"label": None}, {"unknown": {"a": [1, 2]}}])
    def test_a_null_or_unknown_field_is_counted_on_the_plain_parse(
        self, plain_parses: list[bytes], extra: dict[str, Any]
    ) -> None:
        raw = json.dumps({**_every_field(), **extra}).encode()
        assert _plainly_valid(raw) == _decoded(raw) is not None
        assert plain_parses == [raw]

    @pytest.mark.parametrize(
        ("text", "again"),
        [
            ('"legalName": "A"', '"legalName": "B"'),
            ('"region": "emea"', '"region": "apac"'),
            ('"name": "Ann"', '"name": "Ann"'),
        ],
        ids=["field", "map key", "contact field, same value"],
    )
    def test_a_key_given_twice_goes_to_decode(self, text: str, again: str) -> None:
        body = _every_field()
        body["legalName"] = "A"
        body["customProperties"]["region"] = "emea"
        body["contacts"][0]["name"] = "Ann"
        text_body = json.dumps(body)
        assert text in text_body
        raw = text_body.replace(text, f"{text}, {again}", 1).encode()
        assert _plainly_valid(raw) is None
        assert _decoded(raw) is None
