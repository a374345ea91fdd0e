"""The errors services raise. They know nothing of HTTP: api/errors.py maps them to statuses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of the input; `field` is a path such as `contacts[0].email`."""

    field: str
    message: str


class PatronError(Exception):
    """Base of every error that is the caller's to fix; `type` is the stable code to match on."""

    type: str = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(PatronError):
    """The input breaks a rule. Carries every bad field found, not only the first."""

    type = "ValidationError"

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def of(cls, errors: list[FieldError]) -> Invalid:
        fields = ", ".join(dict.fromkeys(e.field for e in errors))
        return cls(f"Invalid request: check {fields}", errors)


class ArchivedResource(Invalid):
    """The operation is not allowed on an archived record."""

    type = "ArchivedResource"


class NotFound(PatronError):
    """No such record in the caller's account (another account's record is answered the same)."""

    type = "NotFound"


class Conflict(PatronError):
    """The change clashes with data that exists, such as an alias already in use."""

    type = "Conflict"


class PreconditionFailed(PatronError):
    type = "PreconditionFailed"


class Unauthenticated(PatronError):
    type = "Unauthorized"


class Unavailable(PatronError):
    """The store cannot take the request right now: unreachable, read-only or failing over.
    Nothing was changed (or the change's fate is unknown, when the link broke at commit); the
    caller retries after `retry_after` seconds, with the same Idempotency-Key for a POST."""

    type = "ServiceUnavailable"
    retry_after = 1
