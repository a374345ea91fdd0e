"""What the API layer is handed by the composition root (`patron.app`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from patron.api.cursors import CursorCodec
from patron.api.throttle import FailedAuthDelay, RateLimiter
from patron.config import Settings
from patron.services.aliases import AliasService
from patron.services.contacts import ContactService
from patron.services.credentials import CredentialService
from patron.services.customers import CustomerService
from patron.services.documents import CustomerDocuments
from patron.services.events import EventService
from patron.services.health import Health
from patron.services.idempotency import IdempotencyService
from patron.services.notifications import NotificationService
from patron.services.organizations import OrganizationService
from patron.services.payment_settings import PaymentSettingsService
from patron.storage.queue import DeliveryQueue


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    credentials: CredentialService
    customers: CustomerService
    cursors: CursorCodec
    organizations: OrganizationService
    payment_settings: PaymentSettingsService
    contacts: ContactService
    aliases: AliasService
    idempotency: IdempotencyService
    events: EventService
    notifications: NotificationService
    # The webhook outbox, for the dispatcher the app runs (docs/webhooks.md).
    delivery_queue: DeliveryQueue
    health: Health
    # Customers as stored documents, for GET by id in the latest version (api/stored.py).
    documents: CustomerDocuments
    # Abuse limits, per process (api/throttle.py); no rate limiter when the limit is off.
    rate_limiter: RateLimiter | None = None
    auth_failures: FailedAuthDelay = field(default_factory=FailedAuthDelay)
