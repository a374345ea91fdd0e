"""What a write says about itself in headers, and ETags on single-resource responses.

- `Patron-Change-Reason`: why the change is made, recorded with its event (at most 500
  characters; longer is a 400 naming the header).
- `ETag`: `"<revision>.<API version>"`. The revision names the resource's state; the version names
  the representation, so a client that switches versions never gets a 304 for a body it has in
  another shape. `If-Match` compares revisions only (a tag read in any version names the same
  state); `*` matches any existing resource. `If-None-Match` on GET compares whole tags and
  answers 304 on a match.

None of these headers is required: without them every operation behaves as Sequence's does.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from starlette.responses import Response

from patron.api.endpoint import Call, json_response
from patron.domain.errors import FieldError, Invalid
from patron.domain.writes import REASON_MAX, Actor, IfMatch

REASON_HEADER = "Patron-Change-Reason"
_STRONG = re.compile(r'^"(\d{1,18})(?:\.[^"]*)?"$')


def actor(call: Call) -> Actor:
    """Who makes this write (the credential's client id) and why (the reason header)."""
    raw = call.request.headers.get(REASON_HEADER)
    reason = None
    if raw is not None:
        # HTTP carries header bytes; Starlette hands them over as Latin-1. UTF-8 is read as such.
        with contextlib.suppress(UnicodeError):
            raw = raw.encode("latin-1").decode("utf-8")
        reason = raw.strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise Invalid.of([FieldError(REASON_HEADER, f"must be at most {REASON_MAX} characters")])
    return Actor(call.credential.client_id, reason)


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def if_match(call: Call) -> IfMatch | None:
    """The `If-Match` condition, None without the header. Weak or foreign tags match nothing."""
    header = call.request.headers.get("if-match")
    if header is None:
        return None
    tags = _tags(header)
    if tags == ["*"]:
        return IfMatch(any_revision=True)
    return IfMatch(
        frozenset(int(m.group(1)) for t in tags if (m := _STRONG.fullmatch(t)) is not None)
    )


def etag(call: Call, revision: int) -> str:
    return etag_of(revision, call.version.name)


def etag_of(revision: int, version_name: str) -> str:
    return f'"{revision}.{version_name}"'


def none_match(header: str | None, tag: str) -> bool:
    """Whether an `If-None-Match` header (None when absent) names `tag`."""
    if header is None:
        return False
    tags = _tags(header)
    # If-None-Match compares weakly: W/"x" matches "x".
    return tags == ["*"] or tag in {t.removeprefix("W/") for t in tags}


def _unchanged(call: Call, tag: str) -> bool:
    return none_match(call.request.headers.get("if-none-match"), tag)


def tagged(call: Call, body: Any, revision: int, status_code: int = 200) -> Response:
    """The single resource `body` with its ETag; a GET whose If-None-Match names it gets 304."""
    tag = etag(call, revision)
    if call.request.method == "GET" and _unchanged(call, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response = json_response(body, status_code)
    response.headers["ETag"] = tag
    return response
