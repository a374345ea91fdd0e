"""Change history operations (Patron extensions): parse, call one service, render."""

from __future__ import annotations

from starlette.responses import Response

from patron.api.endpoint import Call, json_response
from patron.api.listing import EVENTS, event_list_request, page_cursors
from patron.api.wire.common import PaginationMeta
from patron.api.wire.events import EventOut, ListEventsResponse
from patron.domain.events import Event
from patron.domain.listing import Page


def _render(call: Call, page: Page[Event]) -> Response:
    after, before = page_cursors(call, page, scope=EVENTS)
    return json_response(
        ListEventsResponse(
            items=[EventOut.of(e) for e in page.items],
            pagination=PaginationMeta(after=after, before=before, total_result_size=page.total),
        )
    )


async def list_events(call: Call) -> Response:
    filters, page_request = event_list_request(call)
    return _render(call, await call.services.events.page(call.account_id, filters, page_request))


async def customer_events(call: Call) -> Response:
    filters, page_request = event_list_request(call)
    customer_id = str(call.request.path_params["id"])
    page = await call.services.events.of_customer(
        call.account_id, customer_id, filters, page_request
    )
    return _render(call, page)
