"""JSON request bodies written the many ways a client or a file may write them, for property
tests of the body checks' shorter ways (`decode`'s and the import's)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.factories import contact, customer_body

# Characters the checks care about: escapes, controls (C0, DEL, C1), quotes, colons, whitespace,
# a lone surrogate.
TRICKY = st.sampled_from(
    ["a", "é", ":", " ", '"', "\\", "\t", "\x00", "\x7f", "\x85", "\u2028", "\ud800"]
)
TEXT = st.lists(TRICKY, max_size=6).map("".join)


@st.composite
def json_text(draw: st.DrawFn, value: Any, colon: str) -> str:
    """`value` as JSON text, written the many ways a file may write it: `colon` with its spacing,
    escaped or raw non-ASCII, and now and then a key given twice."""

    def text(s: str) -> str:
        return json.dumps(s, ensure_ascii=draw(st.booleans()))

    if isinstance(value, dict):
        pairs = [(k, draw(json_text(v, colon))) for k, v in value.items()]
        if pairs and draw(st.integers(0, 39)) == 0:
            # A key given twice, with its own value again (the record stays otherwise valid)
            # or with some text.
            key, again = draw(st.sampled_from(pairs))
            pairs.append((key, draw(st.sampled_from([again, text(draw(TEXT))]))))
        return "{" + ",".join(f"{text(k)}{colon}{v}" for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(draw(json_text(v, colon)) for v in value) + "]"
    if isinstance(value, str):
        return text(value)
    return json.dumps(value)


@st.composite
def records(draw: st.DrawFn) -> bytes:
    """A valid record with at most one field made tricky or nested deep."""
    body: dict[str, Any] = customer_body(
        contacts=[contact(), contact(billingPreference="NONE")],
        customerAliases=["crm-1"],
        customProperties={"region": "emea"},
        url="https://example.com:8443/a",
    )
    where = draw(st.sampled_from(["none", "legalName", "contact", "alias", "key", "deep", "deep"]))
    tricky = draw(TEXT)
    if where == "legalName":
        body["legalName"] = tricky
    elif where == "contact":
        body["contacts"][0]["name"] = tricky
    elif where == "alias":
        body["customerAliases"] = [tricky]
    elif where == "key":
        body["customProperties"] = {tricky: "x"}
    elif where == "deep":
        nested: Any = "deep"
        for _ in range(draw(st.sampled_from([5, 28, 29, 30, 40]))):
            nested = draw(st.sampled_from([[nested], {"k": nested}]))
        body["unknownField"] = nested
    colon = draw(st.sampled_from([":", ": ", " :", "\t:"]))
    return draw(json_text(body, colon)).encode("utf-8", "surrogatepass")
