"""Customer payment settings on the wire (2024-07-30). The contract names four identical response
schemas (create, get, update, delete); one struct renders them all."""

from __future__ import annotations

from patron.api.wire.common import CustomerId, Wire
from patron.domain.payment_settings import PaymentProvider, PaymentSettings


class CreateCustomerSettingsRequest(Wire):
    customer_id: CustomerId
    payment_provider: PaymentProvider


class UpdateCustomerSettingsRequest(Wire):
    payment_provider: PaymentProvider


class CustomerSettings(Wire):
    id: str
    sequence_account_id: str
    customer_id: str
    payment_provider: PaymentProvider

    @classmethod
    def of(cls, s: PaymentSettings) -> CustomerSettings:
        return cls(
            id=s.id,
            sequence_account_id=s.account_id,
            customer_id=s.customer_id,
            payment_provider=s.payment_provider,
        )
