"""Import files: NDJSON or CSV records into `ImportRow`s, and the per-row report out.

Every record is decoded by the same wire struct and the same `decode` as a 2024-07-30 create body
(`CreateOrUpdateCustomerRequest`), plus an optional `id`; a CSV record is first turned into that
JSON body, so both formats meet exactly the API's rules. Columns are described in docs/import.md.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import msgspec

from patron.api.decoding import KEY_END, decode, key_count
from patron.api.wire.v2024_07_30 import CreateOrUpdateCustomerRequest
from patron.domain import limits
from patron.domain.errors import FieldError, Invalid
from patron.services.importing import ImportRow, RowResult

FORMATS = ("ndjson", "csv")


class ImportCustomerRow(CreateOrUpdateCustomerRequest):
    """A create body, plus the id the customer should get (the key re-runs match it by)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


# Bytes that may stand for a character `decode` refuses (an escape, a control byte, DEL) in an
# ASCII record; `_SCREEN` adds C1 controls and surrogates as UTF-8 for any other record.
_ASCII_SCREEN = bytes(range(0x20)) + b"\x7f\\"
_SCREEN = re.compile(rb"[\\\x00-\x1f\x7f]|\xc2[\x80-\x9f]|\xed[\xa0-\xbf]")
_decode_plain = msgspec.json.Decoder().decode
_decode_row = msgspec.json.Decoder(ImportCustomerRow).decode


def _given_fields(record: ImportCustomerRow) -> int:
    """How many keys of the record's objects the struct kept a value of: every required field,
    every optional one that is not None, and the entries of the maps. Never more than the keys
    the record names once each (a key given twice, an unknown one or a null counts less)."""
    address = record.address
    count = 8 + 3 * len(record.contacts)  # 4 required fields, 4 of the address', 3 a contact
    for value in (
        address.line2,
        address.state,
        record.id,
        record.url,
        record.label,
        record.customer_aliases,
        record.parent_id,
        record.push_to_integrations,
        record.status,
    ):
        if value is not None:
            count += 1
    if record.integration_ids is not None:
        count += 1 + 2 * len(record.integration_ids)
    if record.custom_properties is not None:
        count += 1 + len(record.custom_properties)
    return count


def _plainly_valid(body: bytes) -> ImportCustomerRow | None:
    """The record, when it passes `decode`'s checks by a shorter way; None means "ask `decode`".

    `decode` screens every string for control characters, walks the depth and parses the body a
    second time to find a repeated key: about three quarters of an import's decoding time. A
    record with no backslash and no control byte cannot hold a control character (JSON has no
    other way to write one), nor a quote inside a string; so every `"` ends or starts a string,
    every key is a `"` followed by a colon, and `KEY_END` finds each key once and, at most, a
    string value that starts with a colon: never fewer than there are keys. When that is as many
    as the decoded objects hold, no key was given twice. Depth is at most the count of `{` and
    `[`. A record that fails here, or is invalid, goes through `decode` for the API's exact
    errors. (`decode` has a shorter way of its own, `_plainly_clean`, after its plain parse.)

    The keys are counted first on the typed record (`_given_fields`, no second parse); a record
    with a null or an unknown field counts fewer there, and is counted again on its plain parse.
    """
    if body.isascii():
        if len(body.translate(None, _ASCII_SCREEN)) != len(body):
            return None
    elif _SCREEN.search(body) is not None:
        return None
    if body.count(b"{") + body.count(b"[") > limits.JSON_DEPTH_MAX:
        return None
    try:
        record = _decode_row(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    # Colons outside strings are exactly the keys; `KEY_END` is the tighter count when a value
    # holds a colon (a URL).
    colons = body.count(b":")
    keys = _given_fields(record)
    if colons == keys or len(KEY_END.findall(body)) == keys:
        return record
    try:
        data = _decode_plain(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    keys = key_count(data) if type(data) is dict else -1
    if colons != keys and len(KEY_END.findall(body)) != keys:
        return None
    return record


def _row(line: int, body: bytes) -> ImportRow:
    try:
        record = _plainly_valid(body)
        if record is None:
            record = decode(body, ImportCustomerRow)
    except Invalid as exc:
        return ImportRow(line, errors=exc.errors or [FieldError("", exc.message)], source=body)
    return ImportRow(line, record.id, record.to_domain(), source=body)


class UnknownColumns(ValueError):
    pass


_CONTACT = re.compile(r"contact(\d+)\.(name|email|billingPreference)")
_PLAIN = ("id", "legalName", "taxStatus", "url", "label", "status", "parentId")
_ADDRESS = ("line1", "line2", "town", "state", "postcode", "country")
_LISTS = ("aliases", "integrationIds", "pushToIntegrations")


def _check_header(header: list[str]) -> None:
    unknown = [
        name
        for name in header
        if name not in _PLAIN
        and name not in _LISTS
        and name.removeprefix("address.") not in _ADDRESS
        and not _CONTACT.fullmatch(name)
        and not (name.startswith("customProperties.") and len(name) > len("customProperties."))
    ]
    if unknown:
        raise UnknownColumns(f"unknown CSV columns: {', '.join(unknown)} (see docs/import.md)")


def csv_body(header: list[str], cells: list[str]) -> dict[str, Any]:
    """A CSV record as the JSON create body it stands for. An empty cell is an absent field."""
    body: dict[str, Any] = {}
    address: dict[str, str] = {}
    contacts: dict[int, dict[str, str]] = {}
    properties: dict[str, str] = {}
    for name, value in zip(header, cells, strict=False):
        if value == "":
            continue
        if name in _PLAIN:
            body[name] = value
        elif name.startswith("address."):
            address[name.removeprefix("address.")] = value
        elif name.startswith("customProperties."):
            properties[name.removeprefix("customProperties.")] = value
        elif name == "aliases":
            body["customerAliases"] = value.split("|")
        elif name == "pushToIntegrations":
            body["pushToIntegrations"] = value.split("|")
        elif name == "integrationIds":
            body["integrationIds"] = [
                dict(zip(("service", "id"), pair.split(":", 1), strict=False))
                for pair in value.split("|")
            ]
        elif match := _CONTACT.fullmatch(name):
            contacts.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if address:
        body["address"] = address
    # No contact columns filled: a customer without contacts (the API needs the list, even empty).
    body["contacts"] = [contacts[n] for n in sorted(contacts)]
    if properties:
        body["customProperties"] = properties
    return body


class ImportFile:
    """Streams a file's records one at a time; `position` says how many bytes are read."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.size = os.path.getsize(path)
        self.position = 0

    def _lines(self, raw: IO[bytes]) -> Iterator[bytes]:
        for line in raw:
            self.position += len(line)
            yield line

    def rows(self) -> Iterator[ImportRow]:
        with open(self.path, "rb") as raw:
            if self.format == "csv":
                yield from self._csv_rows(raw)
            else:
                yield from self._ndjson_rows(raw)

    def _ndjson_rows(self, raw: IO[bytes]) -> Iterator[ImportRow]:
        for number, line in enumerate(self._lines(raw), 1):
            body = line.strip()
            if body:
                yield _row(number, body)

    def _csv_rows(self, raw: IO[bytes]) -> Iterator[ImportRow]:
        reader = csv.reader(line.decode("utf-8-sig") for line in self._lines(raw))
        header = next(reader, None)
        if header is None:
            return
        _check_header(header)
        last = reader.line_num
        for cells in reader:
            first, last = last + 1, reader.line_num
            if any(cells):
                yield _row(first, msgspec.json.encode(csv_body(header, cells)))


class Report:
    """The per-row results, as NDJSON (one object a line) or CSV (by the file's extension)."""

    def __init__(self, out: IO[str], *, as_csv: bool) -> None:
        self._out = out
        self._csv = csv.writer(out) if as_csv else None
        if self._csv is not None:
            self._csv.writerow(["line", "result", "id", "reason"])

    @classmethod
    def open(cls, path: Path) -> Report:
        return cls(
            open(path, "w", encoding="utf-8", newline=""),  # closed by close()
            as_csv=path.suffix.lower() == ".csv",
        )

    def write(self, result: RowResult) -> None:
        if self._csv is not None:
            self._csv.writerow([result.line, result.result, result.id or "", result.reason])
            return
        record: dict[str, Any] = {"line": result.line, "result": result.result}
        if result.id is not None:
            record["id"] = result.id
        if result.errors:
            record["reason"] = result.reason
            record["errors"] = [{"field": e.field, "message": e.message} for e in result.errors]
        self._out.write(msgspec.json.encode(record).decode() + "\n")

    def close(self) -> None:
        self._out.close()


def sniff_format(path: Path) -> str:
    """`csv` for a .csv file, otherwise `ndjson`."""
    return "csv" if path.suffix.lower() == ".csv" else "ndjson"
