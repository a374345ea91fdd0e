"""Notification policies (Sequence's shape) and webhook deliveries: rules, signatures, backoff.

Which events are delivered: every event type of the change history, under its own name. Sequence's
three customer types (`CUSTOMER_CREATED`, `CUSTOMER_UPDATED`, `CUSTOMER_ARCHIVED`) are Patron's
event types of the same name; the others (`CUSTOMER_RESTORED`, `CONTACT_*`, `ALIAS_*`, ...) are
Patron extensions, none of which collides with a name of Sequence's `NotificationType` enum.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from patron.domain.events import EventType, ResourceType

# Sequence's NotificationType enum (2024-07-30). A policy may name any of them, so a Sequence
# client's policy is accepted as is; Patron only ever sends the customer types among them.
SEQUENCE_TYPES = frozenset(
    {
        "CUSTOMER_CREATED",
        "CUSTOMER_UPDATED",
        "CUSTOMER_ARCHIVED",
        "INVOICE_CREATED",
        "INVOICE_ISSUED",
        "INVOICE_UPDATED",
        "INTEGRATION_SYNC_COMPLETED",
        "INTEGRATION_WEBHOOK_HANDLED",
        "MERCHANT_UPDATED",
        "BILLING_SCHEDULE_CREATED",
        "BILLING_SCHEDULE_UPDATED",
        "BILLING_SCHEDULE_ARCHIVED",
        "CREDIT_NOTE_CREATED",
        "CREDIT_NOTE_UPDATED",
        "CREDIT_NOTE_ISSUED",
        "QUOTE_PUBLISHED",
        "QUOTE_ACCEPTED",
        "QUOTE_SIGNED",
        "INVOICE_REMINDER_SENT",
        "WATCHTOWER_TASK_ASSIGNED",
    }
)
NOTIFICATION_TYPES = SEQUENCE_TYPES | {t.value for t in EventType}

# The `resourceType` of a delivered notification: the name of the response model the `resource`
# has (Sequence names billing schedules' "BillingScheduleResponse"; its customer value is not
# documented).
RESOURCE_TYPE_NAMES = {
    ResourceType.CUSTOMER: "Customer",
    ResourceType.CONTACT: "Contact",
    ResourceType.ALIAS: "CustomerAlias",
    ResourceType.ORGANIZATION: "CustomerOrganization",
    ResourceType.PAYMENT_SETTINGS: "CustomerPaymentSettings",
}

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # a generated secret's key length
SECRET_MIN_BYTES = 16
SECRET_MAX_BYTES = 64
RECIPIENTS_MAX = 10
URL_MAX = 2048
POLICIES_MAX = 100  # per account


class Channel(StrEnum):
    WEBHOOK = "WEBHOOK"
    EMAIL = "EMAIL"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # to be attempted (or being attempted)
    DELIVERED = "DELIVERED"  # a recipient answered 2xx
    FAILED = "FAILED"  # given up after the retry window
    CANCELLED = "CANCELLED"  # its policy was deleted before it was delivered


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class PolicyDraft:
    name: str
    channel: Channel
    recipients: list[str]
    types: frozenset[str] | None  # None: every type
    secret: str | None  # None: generate one


@dataclass(frozen=True, slots=True)
class NotificationPolicy:
    id: str
    account_id: str
    name: str
    channel: Channel
    recipients: list[Recipient]
    types: frozenset[str] | None
    secret: str
    created_at: int

    def wants(self, notification_type: str) -> bool:
        return self.types is None or notification_type in self.types


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    at: int
    duration_ms: int
    status_code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to one recipient of one policy: its id is the `webhook-id` of every attempt."""

    id: str
    account_id: str
    policy_id: str
    recipient: str
    event_id: str
    event_sequence: int
    notification_type: str
    resource_type: ResourceType
    resource_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: int | None
    created_at: int
    last_attempt_at: int | None
    delivered_at: int | None
    last_status_code: int | None
    last_error: str | None
    history: list[Attempt]


@dataclass(frozen=True, slots=True)
class DeliveryFilters:
    status: DeliveryStatus | None = None
    policy_id: str | None = None
    event_id: str | None = None
    resource_id: str | None = None
    notification_type: str | None = None


# -- recipients ---------------------------------------------------------------------------------

# Ranges a multi-tenant deployment must not be made to call (the deny-list setting): loopback,
# private, link-local (cloud metadata at 169.254.169.254), shared (CGNAT), multicast, reserved.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def address_denied(address: str) -> bool:
    """Whether an IP address lies in a range the deny-list refuses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED)
    )


def host_denied(host: str) -> bool:
    """Whether a URL's host is refused by the deny-list before any DNS lookup: an address in a
    denied range, or a name that always means this machine."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return address_denied(name)
    except ValueError:
        return False  # a DNS name: checked on each delivery, against what it resolves to


def recipient_problem(url: str, *, deny_private: bool) -> str | None:
    """Why `url` cannot be a webhook recipient, or None."""
    if len(url) > URL_MAX:
        return f"must be at most {URL_MAX} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "must be an http or https URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http or https URL"
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and delivery records: sign with the secret instead.
        return "must not hold a user name or password"
    if deny_private and host_denied(parts.hostname):
        return "points to a loopback or private address, which this Patron does not call"
    return None


# -- secrets and signatures ---------------------------------------------------------------------


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of random key bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def secret_problem(secret: str) -> str | None:
    """Why a given `webhookSecret` cannot be used, or None."""
    low, high = SECRET_MIN_BYTES, SECRET_MAX_BYTES
    message = f"must be {SECRET_PREFIX} followed by the base64 of {low} to {high} random bytes"
    if not secret.startswith(SECRET_PREFIX):
        return message
    try:
        key = _key(secret)
    except (binascii.Error, ValueError):
        return message
    return None if low <= len(key) <= high else message


def sequence_signature(secret: str, millis: int, body: bytes) -> str:
    """Sequence's `Sequence-Signature`: HMAC-SHA256 of `t.body`, keyed with the whole secret."""
    mac = hmac.new(secret.encode(), f"{millis}.".encode() + body, hashlib.sha256)
    return f"t={millis},s={mac.hexdigest()}"


def standard_signature(secret: str, message_id: str, seconds: int, body: bytes) -> str:
    """Standard Webhooks' `webhook-signature`: HMAC-SHA256 of `id.timestamp.body`, keyed with
    the base64-decoded part of the secret after `whsec_`."""
    signed = f"{message_id}.{seconds}.".encode() + body
    mac = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


# -- retries ------------------------------------------------------------------------------------


def backoff_seconds(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """The wait after failed attempt number `attempt` (1, 2, ...): exponential, capped, then
    "equal jitter" (`jitter` in [0, 1) picks a point in the upper half), so recipients that
    failed together do not all come back at once."""
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 60))
    return float(ceiling / 2 + ceiling / 2 * jitter)
