"""Customer alias operations: parse, call one service, render."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from patron.api.conditional import actor, if_match, tagged
from patron.api.decoding import decode
from patron.api.endpoint import Call, json_response
from patron.api.listing import ALIASES, alias_list_request, page_cursors
from patron.api.wire.aliases import (
    CustomerAlias,
    CustomerAliasResponseModel,
    GetCustomerAliasesResponse,
    ListCustomerAliasPaginatedResponseModel,
    UpdateCustomerAliasRequestModel,
)
from patron.api.wire.common import PaginationMeta


def _path(call: Call, name: str) -> str:
    return str(call.request.path_params[name])


async def list_aliases(call: Call) -> Response:
    filters, page_request = alias_list_request(call)
    page = await call.services.aliases.page(call.account_id, filters, page_request)
    after, before = page_cursors(call, page, scope=ALIASES)
    return json_response(
        ListCustomerAliasPaginatedResponseModel(
            items=[CustomerAliasResponseModel.of(a) for a in page.items],
            pagination=PaginationMeta(after=after, before=before, total_result_size=page.total),
        )
    )


async def create_alias(call: Call) -> Response:
    draft = call.version.alias_draft(await call.body(), call.account_id)
    alias = await call.services.aliases.create(call.account_id, draft, actor=actor(call))
    return tagged(call, CustomerAliasResponseModel.of(alias), alias.revision, 201)


async def update_alias(call: Call) -> Response:
    label = decode(await call.body(), UpdateCustomerAliasRequestModel).label
    alias = await call.services.aliases.update(
        call.account_id,
        _path(call, "id"),
        label=None if label is msgspec.UNSET else label,
        keep_label=label is msgspec.UNSET,
        actor=actor(call),
        if_match=if_match(call),
    )
    return tagged(call, CustomerAliasResponseModel.of(alias), alias.revision)


async def delete_alias(call: Call) -> Response:
    alias = await call.services.aliases.delete(
        call.account_id, _path(call, "id"), actor=actor(call), if_match=if_match(call)
    )
    return tagged(call, CustomerAliasResponseModel.of(alias), alias.revision)


async def customer_aliases(call: Call) -> Response:
    aliases = await call.services.aliases.of_customer(call.account_id, _path(call, "id"))
    return json_response(GetCustomerAliasesResponse(items=[CustomerAlias.of(a) for a in aliases]))


async def customer_by_alias(call: Call) -> Response:
    customer = await call.services.aliases.customer(call.account_id, _path(call, "alias"))
    return tagged(call, call.version.customer_by_alias(customer), customer.revision)
