"""Contact requests and responses: the same shape in every API version that has contacts."""

from __future__ import annotations

from patron.api.wire.common import ContactOut, Wire


class ContactResponseModel(Wire):
    """`GET /customers/{customer}/contacts`: the customer's contacts, unpaginated."""

    items: list[ContactOut]
