"""The shorter ways of two checks that run on every request: the control-character test of
text (`text_problem`) and the Basic credentials' base64. Each must refuse exactly what the plain
way refuses."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from patron.api.decoding import _CONTROL, CONTROL_MESSAGE, text_problem
from patron.api.endpoint import _basic_credentials
from patron.domain.errors import Unauthenticated

# Every code point, surrogates and controls included (hypothesis leaves surrogates out unless
# told), weighted towards the ones the check is about.
_ANY_CHARACTER = st.characters(blacklist_categories=())
_TRICKY = st.sampled_from("\x00\x1f \x7f\x80\x85\x9f\xa0\xad\u200b\u200d\u2028\ud800\udfff\ufeff")


class TestTextProblem:
    @settings(max_examples=2000, deadline=None)
    @given(st.text(alphabet=st.one_of(_ANY_CHARACTER, _TRICKY)))
    @example("plain ascii")
    @example("Zoë\u00a0\u200dé")  # not printable in Python's sense, but no control in it
    @example("a\u0085b")
    @example("\ud83d")
    def test_refuses_exactly_what_the_search_finds(self, value: str) -> None:
        expected = CONTROL_MESSAGE if _CONTROL.search(value) else None
        assert text_problem(value) == expected


def _plain_decoding(encoded: str) -> str | None:
    """What the credentials decoded to with `base64.b64decode(validate=True)`, None when refused."""
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None


class TestBasicCredentials:
    @settings(max_examples=2000, deadline=None)
    @given(
        st.one_of(
            st.text(alphabet="ABCabc019+/=-_ \t\né"),
            st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
        )
    )
    @example("aWQ6c2VjcmV0")  # id:secret
    @example("aWQ6c2VjcmV0=")
    @example("aWQ6c2Vj=cmV0")
    @example("=aWQ6c2VjcmV0")
    @example("aWQ6 c2VjcmV0")
    def test_accepts_exactly_what_the_plain_decoding_accepts(self, encoded: str) -> None:
        decoded = _plain_decoding(encoded)
        client_id: str | None
        try:
            client_id, secret = _basic_credentials(f"Basic {encoded}")
        except Unauthenticated:
            client_id = secret = None
        if decoded is None:
            assert client_id is None
            return
        expected_id, colon, expected_secret = decoded.partition(":")
        if colon and expected_id and expected_secret and text_problem(decoded) is None:
            assert (client_id, secret) == (expected_id, expected_secret)
        else:
            assert client_id is None

    def test_strict_decoding_refuses_what_validate_refuses(self) -> None:
        # The two refusals the plain way's regular expression made that a lenient decoder would
        # not: characters outside the alphabet and padding in the middle.
        for encoded in ("aWQ6c2Vj!cmV0", "aWQ=6c2VjcmV0"):
            with pytest.raises(binascii.Error):
                base64.b64decode(encoded, validate=True)
            with pytest.raises(Unauthenticated, match="Malformed"):
                _basic_credentials(f"Basic {encoded}")
