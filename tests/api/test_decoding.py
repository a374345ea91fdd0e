"""`decode`'s shorter way (`_plainly_clean`): a body whose bytes show that the control-character
walk and the repeated-key pass would find nothing skips them, with the same outcome (the struct,
or the same errors in the same order) as when they run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from patron.api import decoding
from patron.api.decoding import decode
from patron.api.wire.v2024_07_30 import CreateOrUpdateCustomerRequest
from patron.domain import limits
from patron.domain.errors import Invalid
from tests.api.json_bodies import records
from tests.factories import contact, customer_body


def _outcome(body: bytes) -> Any:
    try:
        return decode(body, CreateOrUpdateCustomerRequest)
    except Invalid as exc:
        return (type(exc), str(exc), exc.errors)


def _the_long_way(monkeypatch: pytest.MonkeyPatch, body: bytes) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(decoding, "_plainly_clean", lambda body, data: False)
        return _outcome(body)


@pytest.fixture
def long_way_taken(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies the repeated-key pass ran on."""
    seen: list[bytes] = []
    duplicate_key = decoding._duplicate_key

    def counted(body: bytes) -> str | None:
        seen.append(body)
        return duplicate_key(body)

    monkeypatch.setattr(decoding, "_duplicate_key", counted)
    return seen


def _ordinary() -> dict[str, Any]:
    return customer_body(
        contacts=[contact(), contact(billingPreference="NONE")],
        customProperties={"region": "emea", "score": "267459"},
        label="segment-00",
    )


class TestPlainlyClean:
    @settings(max_examples=400, deadline=None)
    @given(records())
    def test_same_outcome_as_the_long_way(self, body: bytes) -> None:
        with pytest.MonkeyPatch.context() as monkeypatch:
            assert _outcome(body) == _the_long_way(monkeypatch, body)

    @pytest.mark.parametrize("indent", [None, 2, "\t"])
    def test_an_ordinary_body_takes_the_short_way(
        self, long_way_taken: list[bytes], indent: int | str | None
    ) -> None:
        raw = json.dumps(_ordinary(), indent=indent, ensure_ascii=False).encode()
        assert isinstance(_outcome(raw), CreateOrUpdateCustomerRequest)
        assert long_way_taken == []

    def test_a_colon_in_a_string_is_told_from_a_key(self, long_way_taken: list[bytes]) -> None:
        raw = json.dumps(customer_body(url="https://example.com:8443/a", label="x: y")).encode()
        assert isinstance(_outcome(raw), CreateOrUpdateCustomerRequest)
        assert long_way_taken == []

    @pytest.mark.parametrize(
        ("change", "field", "words"),
        [
            (('"taxStatus"', '"legalName": "B", "taxStatus"'), "legalName", "more than once"),
            (('"region"', '"region": "apac", "region"'), "region", "more than once"),
            (('"name"', '"name": "x:y", "name"'), "name", "more than once"),
            (("Ltd", "Ltd\\u0007"), "legalName", "control characters"),
            (("Ltd", "Ltd\x7f"), "legalName", "control characters"),
            (("Ltd", "Ltd\u0085"), "legalName", "control characters"),
            (('"region"', '"re\\u0000gion"'), "customProperties", "keys must not"),
        ],
        ids=["field", "map key", "colon in a value", "escape", "DEL", "C1", "in a key"],
    )
    def test_what_the_long_way_refuses_goes_the_long_way(
        self,
        monkeypatch: pytest.MonkeyPatch,
        long_way_taken: list[bytes],
        change: tuple[str, str],
        field: str,
        words: str,
    ) -> None:
        text = json.dumps(_ordinary(), ensure_ascii=False)
        assert change[0] in text
        raw = text.replace(*change, 1).encode()
        refused = _outcome(raw)
        assert long_way_taken != []
        assert refused == _the_long_way(monkeypatch, raw)
        kind, _, (error,) = refused
        assert kind is Invalid
        assert error.field == field
        assert words in error.message

    @pytest.mark.parametrize("containers", [limits.JSON_DEPTH_MAX, limits.JSON_DEPTH_MAX + 1])
    def test_nesting_at_and_over_the_limit(
        self, monkeypatch: pytest.MonkeyPatch, long_way_taken: list[bytes], containers: int
    ) -> None:
        inner = containers - 1  # the body's object is one
        raw = b'{"x": ' + b"[" * inner + b'"deep"' + b"]" * inner + b"}"
        outcome = _outcome(raw)
        short = list(long_way_taken)
        assert outcome == _the_long_way(monkeypatch, raw)
        if containers > limits.JSON_DEPTH_MAX:
            assert outcome[1] == f"Request body is nested over {limits.JSON_DEPTH_MAX} levels deep"
        else:
            assert outcome[1] == "Invalid request: check legalName, address, taxStatus, contacts"
            assert short == []
