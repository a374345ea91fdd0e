"""Opaque list cursors, signed and bound to the account that was given them.

A cursor is base64url(JSON [sort, order, value, id]) and a truncated HMAC-SHA256 over the account
id, the list it pages (`scope`) and that payload, keyed with the instance's secret: a cursor cannot
be forged, edited, replayed by another account or on another list, and it survives restarts and
works across processes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from patron.domain.errors import FieldError, Invalid
from patron.domain.listing import Position, SortKey

_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, account_id: str, scope: str, payload: bytes) -> bytes:
        message = account_id.encode() + b"\x00" + scope.encode() + b"\x00" + payload
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(
        self, account_id: str, sort: SortKey, position: Position, *, scope: str = "customers"
    ) -> str:
        payload = json.dumps(
            [sort.name, sort.order.value, position.value, position.id], separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(account_id, scope, payload))}"

    def decode(
        self, account_id: str, sort: SortKey, cursor: str, field: str, *, scope: str = "customers"
    ) -> Position:
        def bad(message: str) -> Invalid:
            return Invalid.of([FieldError(field, message)])

        try:
            payload_text, mac_text = cursor.split(".")
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (ValueError, binascii.Error) as exc:
            raise bad("is not a cursor this service issued") from exc
        # Only the one spelling Patron issues: base64 also reads padded or non-canonical text.
        canonical = (_b64(payload), _b64(mac)) == (payload_text, mac_text)
        if not canonical or not hmac.compare_digest(mac, self._mac(account_id, scope, payload)):
            raise bad("is not a cursor this service issued")
        name, order, value, row_id = json.loads(payload)
        if (name, order) != (sort.name, sort.order.value):
            raise bad(
                f"was issued for sortBy={name}&sortOrder={order}; repeat those with this cursor"
            )
        return Position(value, row_id)
