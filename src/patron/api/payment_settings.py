"""Customer payment settings operations: parse, call one service, render."""

from __future__ import annotations

from starlette.responses import Response

from patron.api.conditional import actor, if_match, tagged
from patron.api.decoding import decode
from patron.api.endpoint import Call
from patron.api.wire.payment_settings import (
    CreateCustomerSettingsRequest,
    UpdateCustomerSettingsRequest,
)


def _id(call: Call) -> str:
    return str(call.request.path_params["id"])


async def create_settings(call: Call) -> Response:
    body = decode(await call.body(), CreateCustomerSettingsRequest)
    settings = await call.services.payment_settings.create(
        call.account_id, body.customer_id, body.payment_provider, actor=actor(call)
    )
    return tagged(call, call.version.payment_settings(settings), settings.revision, 201)


async def get_settings(call: Call) -> Response:
    settings = await call.services.payment_settings.get(call.account_id, _id(call))
    return tagged(call, call.version.payment_settings(settings), settings.revision)


async def update_settings(call: Call) -> Response:
    body = decode(await call.body(), UpdateCustomerSettingsRequest)
    settings = await call.services.payment_settings.update(
        call.account_id,
        _id(call),
        body.payment_provider,
        actor=actor(call),
        if_match=if_match(call),
    )
    return tagged(call, call.version.payment_settings(settings), settings.revision)


async def delete_settings(call: Call) -> Response:
    settings = await call.services.payment_settings.delete(
        call.account_id, _id(call), actor=actor(call), if_match=if_match(call)
    )
    return tagged(call, call.version.payment_settings(settings), settings.revision)
