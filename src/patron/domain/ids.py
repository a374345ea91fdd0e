"""Identifiers and clock. IDs are UUIDv7: time-ordered, so inserts and keyset pages stay cheap."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_millis = 0
_last_random = 0
_RANDOM_BITS = 74  # rand_a (12) + rand_b (62)
_RAND_B_MASK = (1 << 62) - 1
_VARIANT = 0b10 << 62


def new_id() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 74 random bits.

    Within one millisecond the random part counts up from the last id (RFC 9562's monotonic
    method), so ids made in sequence, such as a request's contacts, sort in the order made.
    """
    millis, rand = _reserve(1)
    low = _VARIANT | (rand & _RAND_B_MASK)
    # One %-format of the five groups: faster than `_formatted` for a single id (a create makes
    # six, one at a time).
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031
        millis >> 16,
        millis & 0xFFFF,
        0x7 << 12 | rand >> 62,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF,
    )


def new_ids(count: int) -> list[str]:
    """`count` UUIDv7s in the order made, as `new_id` would make them one after another, for the
    cost of one (bulk import makes millions): the random part counts up by one between them."""
    millis, rand = _reserve(count)
    return _formatted(millis, rand, count)


def _reserve(count: int) -> tuple[int, int]:
    """The millisecond and the first random part of `count` ids in sequence after the last."""
    global _last_millis, _last_random
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis <= _last_millis:
            millis = _last_millis
            rand = _last_random + 1 + int.from_bytes(os.urandom(2))
        else:
            rand = int.from_bytes(os.urandom(10)) >> (80 - _RANDOM_BITS + 1)  # room to count up
        if rand + count > 1 << _RANDOM_BITS:  # counter spent: borrow the next millisecond
            millis, rand = millis + 1, int.from_bytes(os.urandom(10)) >> 7
        _last_millis, _last_random = millis, rand + count - 1
    return millis, rand


def _formatted(millis: int, first: int, count: int) -> list[str]:
    """The ids for `first` and the `count - 1` random parts after it, as str(uuid.UUID(...))
    writes them, at a tenth of its cost. The first three groups (the time, the version and the
    top 12 random bits) change only when the count carries into those bits: made once for each
    run of ids sharing them; each id formats only its last 64 bits."""
    ids: list[str] = []
    high = -1
    head = ""
    for n in range(first, first + count):
        if n >> 62 != high:
            high = n >> 62
            h = f"{millis << 16 | 0x7 << 12 | high:016x}"
            head = f"{h[:8]}-{h[8:12]}-{h[12:]}-"
        t = f"{_VARIANT | (n & _RAND_B_MASK):016x}"
        ids.append(f"{head}{t[:4]}-{t[4:]}")
    return ids


def now_micros() -> int:
    """Current UTC time in microseconds since the epoch: how every timestamp is stored."""
    return time.time_ns() // 1_000
