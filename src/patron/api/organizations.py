"""Customer organization operations: parse, call one service, render."""

from __future__ import annotations

from starlette.responses import Response

from patron.api.conditional import actor, if_match, tagged
from patron.api.decoding import decode
from patron.api.endpoint import Call
from patron.api.wire.organizations import CustomerOrganizationMembers, CustomerOrganizationRequest
from patron.api.wire.v2024_07_30 import CustomerOrganizationOut


def _id(call: Call) -> str:
    return str(call.request.path_params["id"])


async def create_organization(call: Call) -> Response:
    body = decode(await call.body(), CustomerOrganizationRequest)
    org = await call.services.organizations.create(
        call.account_id, body.owner_id, body.member_ids, actor=actor(call)
    )
    return tagged(call, CustomerOrganizationOut.of(org), org.revision, 201)


async def add_members(call: Call) -> Response:
    body = decode(await call.body(), CustomerOrganizationMembers)
    org = await call.services.organizations.add_members(
        call.account_id, _id(call), body.customer_ids, actor=actor(call), if_match=if_match(call)
    )
    return tagged(call, CustomerOrganizationOut.of(org), org.revision)


async def replace_members(call: Call) -> Response:
    body = decode(await call.body(), CustomerOrganizationMembers)
    org = await call.services.organizations.replace_members(
        call.account_id, _id(call), body.customer_ids, actor=actor(call), if_match=if_match(call)
    )
    return tagged(call, CustomerOrganizationOut.of(org), org.revision)
