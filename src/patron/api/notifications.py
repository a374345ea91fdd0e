"""Notification policies and webhook deliveries (Patron extensions in Sequence's shape): parse,
call one service, render."""

from __future__ import annotations

from starlette.responses import Response

from patron.api.decoding import decode
from patron.api.endpoint import Call, json_response
from patron.api.listing import DELIVERIES, delivery_list_request, page_cursors
from patron.api.wire.common import PaginationMeta
from patron.api.wire.notifications import (
    CreateNotificationPolicyRequest,
    DeliveryOut,
    ListDeliveriesResponse,
    ListNotificationPoliciesResponse,
    NotificationPolicyOut,
)


def _id(call: Call) -> str:
    return str(call.request.path_params["id"])


async def create_policy(call: Call) -> Response:
    draft = decode(await call.body(), CreateNotificationPolicyRequest).to_domain()
    policy = await call.services.notifications.create(call.account_id, draft)
    return json_response(NotificationPolicyOut.of(policy), 201)


async def list_policies(call: Call) -> Response:
    policies = await call.services.notifications.list(call.account_id)
    return json_response(
        ListNotificationPoliciesResponse([NotificationPolicyOut.of(p) for p in policies])
    )


async def get_policy(call: Call) -> Response:
    policy = await call.services.notifications.get(call.account_id, _id(call))
    return json_response(NotificationPolicyOut.of(policy))


async def delete_policy(call: Call) -> Response:
    policy = await call.services.notifications.delete(call.account_id, _id(call))
    return json_response(NotificationPolicyOut.of(policy))


async def list_deliveries(call: Call) -> Response:
    filters, request = delivery_list_request(call)
    page = await call.services.notifications.deliveries(call.account_id, filters, request)
    after, before = page_cursors(call, page, scope=DELIVERIES)
    return json_response(
        ListDeliveriesResponse(
            items=[DeliveryOut.of(d) for d in page.items],
            pagination=PaginationMeta(after=after, before=before, total_result_size=page.total),
        )
    )


async def redeliver(call: Call) -> Response:
    delivery = await call.services.notifications.redeliver(call.account_id, _id(call))
    return json_response(DeliveryOut.of(delivery))
