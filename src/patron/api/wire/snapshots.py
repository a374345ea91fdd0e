"""Resources as the change history records them: the 2024-07-30 response shapes as JSON values.

Handed to the services by the composition root (`services.history.Snapshots`), so that services
never import wire formats. A customer also carries `telephone` when set: only older versions show
it, but it is the customer's data, and a change to it must show in the history.
"""

from __future__ import annotations

from typing import Any

import msgspec

from patron.api.wire.aliases import CustomerAliasResponseModel
from patron.api.wire.common import ContactOut
from patron.api.wire.payment_settings import CustomerSettings
from patron.api.wire.v2024_07_30 import V20240730, CustomerOrganizationOut
from patron.domain.aliases import Alias
from patron.domain.customers import Contact, Customer, Organization
from patron.domain.payment_settings import PaymentSettings

_LATEST = V20240730()


def _json(value: Any) -> dict[str, Any]:
    shown: dict[str, Any] = msgspec.to_builtins(value)
    return shown


class WireSnapshots:
    def customer(self, c: Customer) -> dict[str, Any]:
        shown = _json(_LATEST.customer(c))
        if c.telephone is not None:
            shown["telephone"] = c.telephone
        return shown

    def contact(self, c: Contact) -> dict[str, Any]:
        return _json(ContactOut.of(c))

    def alias(self, a: Alias) -> dict[str, Any]:
        return _json(CustomerAliasResponseModel.of(a))

    def organization(self, o: Organization) -> dict[str, Any]:
        return _json(CustomerOrganizationOut.of(o))

    def payment_settings(self, s: PaymentSettings) -> dict[str, Any]:
        return _json(CustomerSettings.of(s))
