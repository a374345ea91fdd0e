"""`placeholder_rows`: the numbered arguments of a multi-row VALUES, cached by shape."""

from __future__ import annotations

import re

import pytest

from patron.storage.database import placeholder_rows, rows_values


class TestPlaceholderRows:
    @pytest.mark.parametrize(("count", "width"), [(1, 1), (1, 9), (3, 10), (7, 4)])
    def test_every_argument_once_in_order(self, count: int, width: int) -> None:
        text = placeholder_rows(count, width)
        rows = re.findall(r"\(([^)]*)\)", text)
        assert len(rows) == count
        numbers = [int(n) for row in rows for n in re.findall(r"\$(\d+)", row)]
        assert numbers == list(range(1, count * width + 1))
        assert all(len(row.split(", ")) == width for row in rows)

    def test_a_lead_repeats_in_every_row_and_numbering_goes_on_after_it(self) -> None:
        assert placeholder_rows(2, 3, lead="$1, ") == "($1, $2, $3, $4), ($1, $5, $6, $7)"

    def test_rows_values_flattens_the_arguments_row_by_row(self) -> None:
        assert rows_values([("a", 1), ("b", 2)]) == ("VALUES ($1, $2), ($3, $4)", ["a", 1, "b", 2])
