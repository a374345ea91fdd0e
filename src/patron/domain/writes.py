"""What every write carries besides its input: who makes it and why, and on what condition."""

from __future__ import annotations

from dataclasses import dataclass

from patron.domain.errors import PreconditionFailed

REASON_MAX = 500  # characters of a change reason


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change (an API credential's client id) and, optionally, why."""

    client_id: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class IfMatch:
    """The write goes ahead only while the resource is at one of `revisions` (or, with
    `any_revision`, as long as it exists). Checked under the write's row lock."""

    revisions: frozenset[int] = frozenset()
    any_revision: bool = False

    def allows(self, revision: int) -> bool:
        return self.any_revision or revision in self.revisions


def require(if_match: IfMatch | None, revision: int, what: str) -> None:
    """PreconditionFailed unless `if_match` (None: no condition) allows `revision`."""
    if if_match is not None and not if_match.allows(revision):
        raise PreconditionFailed(
            f"{what} has changed since the version If-Match names; read it again and retry"
        )
