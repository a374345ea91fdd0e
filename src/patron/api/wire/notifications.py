"""Notification policies (Sequence's shape) and webhook deliveries on the wire: the same in every
API version."""

from __future__ import annotations

from typing import Annotated

import msgspec

from patron.api.wire.common import Name, PaginationMeta, Wire, iso, iso_or_none
from patron.domain.notifications import (
    RECIPIENTS_MAX,
    URL_MAX,
    Channel,
    Delivery,
    DeliveryStatus,
    NotificationPolicy,
    PolicyDraft,
)

RecipientUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=URL_MAX)]
TypeName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class CreateNotificationPolicyRequest(Wire):
    name: Name
    channel: Channel
    recipients: Annotated[list[RecipientUrl], msgspec.Meta(min_length=1, max_length=RECIPIENTS_MAX)]
    # Absent: every type. Names checked by the service against Sequence's enum and Patron's.
    notification_types: (
        Annotated[list[TypeName], msgspec.Meta(min_length=1, max_length=100)] | None
    ) = None
    webhook_secret: Secret | None = None

    def to_domain(self) -> PolicyDraft:
        return PolicyDraft(
            name=self.name,
            channel=self.channel,
            recipients=list(self.recipients),
            types=None if self.notification_types is None else frozenset(self.notification_types),
            secret=self.webhook_secret,
        )


class NotificationPolicyOut(Wire, kw_only=True):
    id: str
    created_at: str
    sequence_account_id: str
    name: str
    notification_types: list[str] | None = None
    recipients: list[str]
    channel: Channel
    webhook_secret: str | None = None

    @classmethod
    def of(cls, p: NotificationPolicy) -> NotificationPolicyOut:
        return cls(
            id=p.id,
            created_at=iso(p.created_at),
            sequence_account_id=p.account_id,
            name=p.name,
            notification_types=None if p.types is None else sorted(p.types),
            recipients=[r.url for r in p.recipients],
            channel=p.channel,
            webhook_secret=p.secret,
        )


class ListNotificationPoliciesResponse(Wire):
    items: list[NotificationPolicyOut]


class AttemptOut(Wire, kw_only=True):
    number: int
    at: str
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class DeliveryOut(Wire, kw_only=True):
    """A delivery record: never the secret, the headers or the body."""

    id: str  # the webhook-id of every attempt
    policy_id: str
    recipient: str
    event_id: str
    event_sequence: int
    notification_type: str
    resource_type: str
    resource_id: str
    status: DeliveryStatus
    attempts: int
    created_at: str
    next_attempt_at: str | None = None
    last_attempt_at: str | None = None
    delivered_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    attempt_history: list[AttemptOut]

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            id=d.id,
            policy_id=d.policy_id,
            recipient=d.recipient,
            event_id=d.event_id,
            event_sequence=d.event_sequence,
            notification_type=d.notification_type,
            resource_type=d.resource_type.value,
            resource_id=d.resource_id,
            status=d.status,
            attempts=d.attempts,
            created_at=iso(d.created_at),
            next_attempt_at=iso_or_none(d.next_attempt_at),
            last_attempt_at=iso_or_none(d.last_attempt_at),
            delivered_at=iso_or_none(d.delivered_at),
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            attempt_history=[
                AttemptOut(
                    number=a.number,
                    at=iso(a.at),
                    duration_ms=a.duration_ms,
                    status_code=a.status_code,
                    error=a.error,
                )
                for a in d.history
            ],
        )


class ListDeliveriesResponse(Wire):
    items: list[DeliveryOut]
    pagination: PaginationMeta
