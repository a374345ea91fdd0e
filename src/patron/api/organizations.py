"""Customer organization operations: parse, call one service, render."""

from __future__ import annotations

from starlette.responses import Response

from patron.api.decoding import decode
from patron.api.endpoint import Call, json_response
from patron.api.wire.organizations import CustomerOrganizationMembers, CustomerOrganizationRequest
from patron.api.wire.v2024_07_30 import CustomerOrganizationOut


def _id(call: Call) -> str:
    return str(call.request.path_params["id"])


async def create_organization(call: Call) -> Response:
    body = decode(await call.body(), CustomerOrganizationRequest)
    org = await call.services.organizations.create(call.account_id, body.owner_id, body.member_ids)
    return json_response(CustomerOrganizationOut.of(org), 201)


async def add_members(call: Call) -> Response:
    body = decode(await call.body(), CustomerOrganizationMembers)
    org = await call.services.organizations.add_members(
        call.account_id, _id(call), body.customer_ids
    )
    return json_response(CustomerOrganizationOut.of(org))


async def replace_members(call: Call) -> Response:
    body = decode(await call.body(), CustomerOrganizationMembers)
    org = await call.services.organizations.replace_members(
        call.account_id, _id(call), body.customer_ids
    )
    return json_response(CustomerOrganizationOut.of(org))
