"""Customer operations: parse, call one service, render."""

from __future__ import annotations

from starlette.responses import Response

from patron.api.conditional import actor, if_match, tagged
from patron.api.endpoint import Call, json_response
from patron.api.listing import customer_list_request, page_cursors
from patron.api.stored import keep_document
from patron.api.versions import LATEST
from patron.api.wire.v2024_07_30 import CustomPropertyKeys


def _id(call: Call, name: str = "id") -> str:
    return str(call.request.path_params[name])


async def list_customers(call: Call) -> Response:
    filters, page_request = customer_list_request(call)
    page = await call.services.customers.page(call.account_id, filters, page_request)

    after, before = page_cursors(call, page)
    return json_response(call.version.customer_list(page.items, after, before, page.total))


async def create_customer(call: Call) -> Response:
    write = call.version.create_write(await call.body())
    customer = await call.services.customers.create(call.account_id, write, actor=actor(call))
    return tagged(call, call.version.created_customer(customer), customer.revision, 201)


async def get_customer(call: Call) -> Response:
    customer = await call.services.customers.get(call.account_id, _id(call))
    response = tagged(call, call.version.customer(customer), customer.revision)
    if call.version is LATEST and response.status_code == 200:
        # What api/stored.py answers the next GET with, until a write changes the customer.
        await keep_document(call, customer.id, customer.revision, bytes(response.body))
    return response


async def update_customer(call: Call) -> Response:
    write = call.version.update_write(await call.body())
    customer = await call.services.customers.update(
        call.account_id, _id(call), write, actor=actor(call), if_match=if_match(call)
    )
    return tagged(call, call.version.customer(customer), customer.revision)


async def archive_customer(call: Call) -> Response:
    customer = await call.services.customers.archive(
        call.account_id, _id(call), actor=actor(call), if_match=if_match(call)
    )
    return tagged(call, call.version.customer(customer), customer.revision)


async def restore_customer(call: Call) -> Response:
    """Patron extension: clears `archivedAt`."""
    customer = await call.services.customers.restore(
        call.account_id, _id(call), actor=actor(call), if_match=if_match(call)
    )
    return tagged(call, call.version.customer(customer), customer.revision)


async def custom_property_keys(call: Call) -> Response:
    keys = await call.services.customers.property_keys(call.account_id)
    return json_response(CustomPropertyKeys(items=keys))
