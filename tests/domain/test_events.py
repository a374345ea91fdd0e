"""`every_field`: the changes of a resource that appears or disappears, as `diff` gives them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.domain.events import Change, diff, every_field

_KEYS = st.sampled_from(["id", "name", "email", "address", "contacts", "x", ""])
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_KEYS, inner, max_size=3)
        | st.lists(st.fixed_dictionaries({"id": st.text(max_size=2), "v": inner}), max_size=3)
    ),
    max_leaves=12,
)
_RESOURCES = st.dictionaries(_KEYS, _JSON, max_size=6)


class TestEveryField:
    @settings(deadline=None)  # a shared machine's pauses are not this rule's business
    @given(_RESOURCES)
    def test_a_new_resource_is_diff_from_nothing(self, resource: dict[str, Any]) -> None:
        assert every_field(resource) == diff({}, resource)

    @settings(deadline=None)  # a shared machine's pauses are not this rule's business
    @given(_RESOURCES)
    def test_a_gone_resource_is_diff_to_nothing(self, resource: dict[str, Any]) -> None:
        assert every_field(resource, gone=True) == diff(resource, {})

    def test_absent_fields_are_no_change(self) -> None:
        resource: dict[str, Any] = {
            "id": "c1",
            "url": None,
            "address": {"town": "Leeds"},
            "tags": [],
        }
        assert every_field(resource) == [
            Change("id", None, "c1"),
            Change("address", None, {"town": "Leeds"}),
            Change("tags", None, []),
        ]
