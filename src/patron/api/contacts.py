"""Contact operations: parse, call one service, render."""

from __future__ import annotations

from starlette.responses import Response

from patron.api.conditional import actor, if_match, tagged
from patron.api.decoding import decode
from patron.api.endpoint import Call, json_response
from patron.api.listing import contact_list_request
from patron.api.wire.common import ContactOut
from patron.api.wire.contacts import ContactResponseModel
from patron.api.wire.v2024_07_30 import ContactIn


def _path(call: Call, name: str) -> str:
    return str(call.request.path_params[name])


async def list_contacts(call: Call) -> Response:
    include_archived = contact_list_request(call)
    contacts = await call.services.contacts.of_customer(
        call.account_id, _path(call, "customer"), include_archived=include_archived
    )
    return json_response(ContactResponseModel(items=[ContactOut.of(c) for c in contacts]))


async def create_contact(call: Call) -> Response:
    draft = decode(await call.body(), ContactIn).to_domain()
    contact = await call.services.contacts.create(
        call.account_id, _path(call, "customer"), draft, actor=actor(call)
    )
    return tagged(call, ContactOut.of(contact), contact.revision, 201)


async def update_contact(call: Call) -> Response:
    draft = decode(await call.body(), ContactIn).to_domain()
    contact = await call.services.contacts.update(
        call.account_id,
        _path(call, "customer"),
        _path(call, "id"),
        draft,
        actor=actor(call),
        if_match=if_match(call),
    )
    return tagged(call, ContactOut.of(contact), contact.revision)


async def archive_contact(call: Call) -> Response:
    contact = await call.services.contacts.archive(
        call.account_id,
        _path(call, "customer"),
        _path(call, "id"),
        actor=actor(call),
        if_match=if_match(call),
    )
    return tagged(call, ContactOut.of(contact), contact.revision)


async def restore_contact(call: Call) -> Response:
    """Patron extension: makes an archived contact live again."""
    contact = await call.services.contacts.restore(
        call.account_id,
        _path(call, "customer"),
        _path(call, "id"),
        actor=actor(call),
        if_match=if_match(call),
    )
    return tagged(call, ContactOut.of(contact), contact.revision)
