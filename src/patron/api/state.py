"""What the API layer is handed by the composition root (`patron.app`)."""

from __future__ import annotations

from dataclasses import dataclass

from patron.api.cursors import CursorCodec
from patron.config import Settings
from patron.services.credentials import CredentialService
from patron.services.customers import CustomerService
from patron.services.idempotency import IdempotencyService


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    credentials: CredentialService
    customers: CustomerService
    cursors: CursorCodec
    idempotency: IdempotencyService
