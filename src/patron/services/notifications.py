"""Notification policies and the deliveries they make: what the API offers (the dispatcher that
sends them is `services/dispatcher.py`)."""

from __future__ import annotations

from patron.domain.enums import SortOrder
from patron.domain.errors import FieldError, Invalid, NotFound
from patron.domain.ids import now_micros
from patron.domain.listing import Page, PageRequest, Position
from patron.domain.notifications import (
    NOTIFICATION_TYPES,
    POLICIES_MAX,
    Channel,
    Delivery,
    DeliveryFilters,
    NotificationPolicy,
    PolicyDraft,
    new_secret,
    recipient_problem,
    secret_problem,
)
from patron.services.paging import window
from patron.storage.unit import Store


class NotificationService:
    def __init__(self, store: Store, *, deny_private: bool = False) -> None:
        self._store = store
        self._deny_private = deny_private

    def _check(self, draft: PolicyDraft) -> None:
        errors: list[FieldError] = []
        if draft.channel is Channel.EMAIL:
            errors.append(FieldError("channel", "EMAIL is not supported by Patron: use WEBHOOK"))
        for name in sorted(draft.types or ()):
            if name not in NOTIFICATION_TYPES:
                errors.append(
                    FieldError("notificationTypes", f"{name!r} is not a notification type")
                )
        for i, url in enumerate(draft.recipients):
            problem = recipient_problem(url, deny_private=self._deny_private)
            if problem is not None:
                errors.append(FieldError(f"recipients[{i}]", problem))
        if draft.secret is not None:
            problem = secret_problem(draft.secret)
            if problem is not None:
                errors.append(FieldError("webhookSecret", problem))
        if errors:
            raise Invalid.of(errors)

    async def create(self, account_id: str, draft: PolicyDraft) -> NotificationPolicy:
        self._check(draft)
        async with self._store.writing(account_id) as unit:
            if await unit.notifications.count_policies() >= POLICIES_MAX:
                raise Invalid(f"An account has at most {POLICIES_MAX} notification policies")
            return await unit.notifications.create_policy(
                draft, draft.secret or new_secret(), now_micros()
            )

    async def list(self, account_id: str) -> list[NotificationPolicy]:
        async with self._store.reading(account_id) as unit:
            return await unit.notifications.policies()

    async def get(self, account_id: str, policy_id: str) -> NotificationPolicy:
        async with self._store.reading(account_id) as unit:
            found = await unit.notifications.policies(policy_id)
        if not found:
            raise NotFound(f"Notification policy {policy_id} not found")
        return found[0]

    async def delete(self, account_id: str, policy_id: str) -> NotificationPolicy:
        """Deletes the policy and cancels its pending deliveries; answers it as it was."""
        async with self._store.writing(account_id) as unit:
            found = await unit.notifications.policies(policy_id)
            if not found or not await unit.notifications.delete_policy(policy_id, now_micros()):
                raise NotFound(f"Notification policy {policy_id} not found")
        return found[0]

    async def deliveries(
        self, account_id: str, filters: DeliveryFilters, request: PageRequest
    ) -> Page[Delivery]:
        newest_first = request.sort.order is SortOrder.DESC
        async with self._store.reading(account_id) as unit:
            repo = unit.notifications

            async def fetch(
                forward: bool, start: Position | None, limit: int
            ) -> list[tuple[Position, Delivery]]:
                return await repo.page(
                    filters, newest_first=newest_first == forward, start=start, limit=limit
                )

            found = await window(fetch, request)
            total = await repo.count(filters)
        return Page(
            items=found.rows,
            next=found.next,
            previous=found.previous,
            total=total,
            sort=request.sort,
        )

    async def redeliver(self, account_id: str, delivery_id: str) -> Delivery:
        """Sends the delivery again, as soon as a dispatcher is free, under the same id."""
        async with self._store.writing(account_id) as unit:
            if await unit.notifications.get(delivery_id) is None:
                raise NotFound(f"Delivery {delivery_id} not found")
            if not await unit.notifications.redeliver(delivery_id, now_micros()):
                raise Invalid("The delivery's notification policy was deleted: nothing to send")
            found = await unit.notifications.get(delivery_id)
        assert found is not None
        return found
