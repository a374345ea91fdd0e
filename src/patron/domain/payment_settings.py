"""A customer's payment settings: which payment provider collects its invoices."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PaymentProvider(StrEnum):
    STRIPE = "STRIPE"
    GOCARDLESS = "GOCARDLESS"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class PaymentSettings:
    """At most one per customer. `account_id` is what the wire calls `sequenceAccountId`."""

    id: str
    account_id: str
    customer_id: str
    payment_provider: PaymentProvider
    created_at: int
    updated_at: int
    revision: int = 0  # bumped by every change: what its ETag names
