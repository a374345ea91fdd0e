"""`iso`: instants as the API writes them, also when the same instant is asked for again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.api.wire.common import iso

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSTANTS = st.integers(0, 253_402_300_799_999_999)  # to the end of year 9999


def _expected(micros: int) -> str:
    at = _EPOCH + timedelta(microseconds=micros)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class TestIso:
    @settings(deadline=None)
    @given(st.lists(st.one_of(_INSTANTS, st.sampled_from([0, 1_765_000_000_123_456])), max_size=8))
    def test_each_instant_in_turn_as_iso_8601(self, instants: list[int]) -> None:
        for micros in [*instants, *reversed(instants)]:
            assert iso(micros) == _expected(micros)

    def test_an_instant_after_another_in_the_same_second(self) -> None:
        assert iso(1_765_000_000_123_456) == "2025-12-06T05:46:40.123Z"
        assert iso(1_765_000_000_999_999) == "2025-12-06T05:46:40.999Z"
        assert iso(1_765_000_000_123_456) == "2025-12-06T05:46:40.123Z"
