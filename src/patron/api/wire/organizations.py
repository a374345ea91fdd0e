"""Organization request bodies (2024-07-30). The response, `CustomerOrganizationOut`, lives with
the customer in `v2024_07_30`, whose `organizations` field renders the same shape."""

from __future__ import annotations

from typing import Annotated

import msgspec

from patron.api.wire.common import CustomerId, Wire
from patron.domain import limits

CustomerIds = Annotated[list[CustomerId], msgspec.Meta(max_length=limits.ORGANIZATION_IDS_MAX)]


class CustomerOrganizationRequest(Wire):
    owner_id: CustomerId
    member_ids: CustomerIds


class CustomerOrganizationMembers(Wire):
    customer_ids: CustomerIds
