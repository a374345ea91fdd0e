"""Ids: UUIDv7s that sort in the order they were made, one at a time or a batch at once."""

from __future__ import annotations

import uuid

import pytest

from patron.domain import ids
from patron.domain.ids import _formatted, new_id, new_ids


class TestNewIds:
    def test_a_batch_sorts_in_order_with_single_ids_around_it(self) -> None:
        made = [new_id(), *new_ids(5000), new_id(), *new_ids(1), new_id()]
        assert made == sorted(made)
        assert len(set(made)) == len(made)

    def test_each_is_a_canonical_uuid_v7(self) -> None:
        for made in new_ids(100):
            parsed = uuid.UUID(made)
            assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, made)

    def test_each_single_id_is_a_canonical_uuid_v7(self) -> None:
        for made in [new_id() for _ in range(100)]:
            parsed = uuid.UUID(made)
            assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, made)

    @pytest.mark.parametrize(
        ("millis", "rand"),
        [(1_720_000_000_123, 0), (1_720_000_000_123, (1 << 74) - 1), ((1 << 48) - 1, 5 << 62)],
    )
    def test_a_single_id_is_formatted_as_a_batch_of_one(
        self, monkeypatch: pytest.MonkeyPatch, millis: int, rand: int
    ) -> None:
        monkeypatch.setattr(ids, "_reserve", lambda count: (millis, rand))
        assert new_id() == _formatted(millis, rand, 1)[0]

    def test_none_asked_none_made(self) -> None:
        assert new_ids(0) == []

    def test_formatted_as_uuid_writes_them_across_a_carry(self) -> None:
        # The first three groups are made once per run of ids sharing them: a count that carries
        # from the low 62 random bits into the top 12 changes them mid-batch.
        millis = 1_720_000_000_123
        first = (5 << 62) - 3
        expected = [
            str(uuid.UUID(int=millis << 80 | 0x7 << 76 | (n >> 62) << 64 | 0b10 << 62
                          | (n & ((1 << 62) - 1))))
            for n in range(first, first + 6)
        ]  # fmt: skip
        assert _formatted(millis, first, 6) == expected
        assert len({made[:19] for made in expected}) == 2
