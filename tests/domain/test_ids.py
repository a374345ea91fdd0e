"""Ids: UUIDv7s that sort in the order they were made, one at a time or a batch at once."""

from __future__ import annotations

import uuid

from patron.domain.ids import new_id, new_ids


class TestNewIds:
    def test_a_batch_sorts_in_order_with_single_ids_around_it(self) -> None:
        made = [new_id(), *new_ids(5000), new_id(), *new_ids(1), new_id()]
        assert made == sorted(made)
        assert len(set(made)) == len(made)

    def test_each_is_a_canonical_uuid_v7(self) -> None:
        for made in new_ids(100):
            parsed = uuid.UUID(made)
            assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, made)

    def test_none_asked_none_made(self) -> None:
        assert new_ids(0) == []
