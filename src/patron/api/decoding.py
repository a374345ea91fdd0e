"""Request bodies into typed structs, naming every bad field rather than the first; and the one
rule for text every request carries (bodies, query and path parameters): `text_problem`.

A body goes through three checks before its struct type sees it (docs/security.md):
1. it is JSON in UTF-8 (msgspec is the one parser that decides), nested at most
   `limits.JSON_DEPTH_MAX` deep, with numbers in range;
2. no object in it names a key twice (a second parser pass, because msgspec keeps the last value
   silently, and a proxy that keeps the first would then see a different body than Patron);
3. no string in it, key or value, holds a control character.
The walk and the second pass of 2 and 3 are skipped for a body whose bytes show they would find
nothing (`_plainly_clean`), as most bodies' do.
Then msgspec validates the whole body against the struct in one fast pass, which stops at the first
error; only when it fails does `field_errors` walk the same struct types field by field (still
through msgspec, so the rules are the same ones) to collect every error at once.
"""

from __future__ import annotations

import json
import re
import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import msgspec

from patron.domain import limits
from patron.domain.errors import FieldError, Invalid

S = TypeVar("S", bound=msgspec.Struct)

_AT = re.compile(r" - at `\$[^`]*`$")


def _message(exc: msgspec.ValidationError) -> str:
    text = _AT.sub("", str(exc))
    return text[:1].lower() + text[1:]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unwrap(tp: Any) -> Any:
    """The type under `Annotated[...]` and `X | None`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp


def field_errors(value: Any, tp: Any, path: str = "") -> list[FieldError]:
    """Every error in `value` as `tp`, each at the deepest path it can be pinned to."""
    try:
        msgspec.convert(value, tp, strict=True)
    except msgspec.ValidationError as exc:
        whole = FieldError(path or "body", _message(exc))
    else:
        return []
    inner = _unwrap(tp)
    found: list[FieldError] = []
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct) and isinstance(value, dict):
        for f in msgspec.structs.fields(inner):
            where = _join(path, f.encode_name)
            if f.encode_name in value:
                found += field_errors(value[f.encode_name], f.type, where)
            elif f.required:
                found.append(FieldError(where, "is required"))
    elif get_origin(inner) is list and isinstance(value, list):
        (item,) = get_args(inner)
        for i, element in enumerate(value):
            found += field_errors(element, item, f"{path}[{i}]")
    elif get_origin(inner) is dict and isinstance(value, dict):
        key_type, value_type = get_args(inner)
        for key, element in value.items():
            found += field_errors(key, key_type, f"{path}.{key}")
            found += field_errors(element, value_type, f"{path}.{key}")
    # Nothing deeper to blame (a bad scalar, or a list or map too long): the error is here.
    return found or [whole]


# Unicode category Cc (C0 controls, DEL, C1 controls) and lone surrogates. NUL cannot be stored in
# PostgreSQL text at all; the others are never meant in a name, address, email, id or label, and
# break the CSV exports, terminals and invoice PDFs the records end up in. Format characters (Cf:
# zero-width joiners in emoji, right-to-left marks) are text and are kept.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_MESSAGE = "must not contain control characters (U+0000-U+001F, U+007F-U+009F)"


def text_problem(value: str) -> str | None:
    """Why `value` is refused as text anywhere in a request, or None when it is fine."""
    # Printable text has no control character or surrogate, and `isprintable` is a C loop far
    # cheaper than the search; what it leaves (other spaces, format characters) is searched.
    if value.isprintable() or not _CONTROL.search(value):
        return None
    return CONTROL_MESSAGE


def _msgspec_path(exc: msgspec.ValidationError) -> str:
    """`$.contacts[0].name` in msgspec's message as `contacts[0].name` (or `body`)."""
    match = re.search(r" - at `\$\.?([^`]*)`$", str(exc))
    path = match.group(1) if match else ""
    return path if path and "..." not in path else "body"


def _plain(body: bytes) -> Any:
    """The body as plain JSON values, or Invalid saying why it is not JSON Patron reads."""
    try:
        return msgspec.json.decode(body)
    except UnicodeDecodeError as exc:
        raise Invalid("Request body is not valid UTF-8") from exc
    except RecursionError as exc:
        raise Invalid(f"Request body is nested over {limits.JSON_DEPTH_MAX} levels deep") from exc
    except msgspec.ValidationError as exc:  # numbers too big for any field
        raise Invalid.of([FieldError(_msgspec_path(exc), _message(exc))]) from exc
    except msgspec.DecodeError as exc:
        raise Invalid(f"Request body is not valid JSON: {exc}") from exc


def _screen(data: Any) -> list[FieldError]:
    """Control characters in any key or string, and nesting over the limit. Iterative, so a deep
    body costs no Python stack."""
    errors: list[FieldError] = []
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > limits.JSON_DEPTH_MAX:
            raise Invalid(f"Request body is nested over {limits.JSON_DEPTH_MAX} levels deep")
        if isinstance(value, str):
            if _CONTROL.search(value):
                errors.append(FieldError(path or "body", CONTROL_MESSAGE))
        elif isinstance(value, dict):
            for key, element in value.items():
                where = _join(path, key)
                if _CONTROL.search(key):
                    errors.append(FieldError(path or "body", f"keys {CONTROL_MESSAGE}"))
                    continue
                stack.append((element, where, depth + 1))
        elif isinstance(value, list):
            stack.extend((e, f"{path}[{i}]", depth + 1) for i, e in enumerate(value))
    errors.sort(key=lambda e: e.field)
    return errors


class _DuplicateKey(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _duplicate_key(body: bytes) -> str | None:
    """A key some object in the body gives twice, if any."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        return str(exc.args[0])
    except (ValueError, RecursionError):
        return None  # msgspec accepted the body; only duplicates are this pass's business
    return None


# After msgspec has parsed a body, the only bytes that can put a character `_CONTROL` matches into
# one of its strings: an escape, DEL, or a C1 control in UTF-8. msgspec refuses C0 controls inside
# strings (outside them they are whitespace) and surrogates in UTF-8.
_ESCAPE_OR_CONTROL = re.compile(rb"[\\\x7f]|\xc2[\x80-\x9f]")
# A key's closing quote and its colon. In a body without a backslash every `"` starts or ends a
# string, so this finds each key once, and at most also a string value starting with a colon.
KEY_END = re.compile(rb'"\s*:')


def key_count(value: dict[str, Any] | list[Any]) -> int:
    """How many keys the objects in `value` hold (after the decoder kept one of each name)."""
    count = 0
    if type(value) is dict:
        count = len(value)
        value = list(value.values())
    for item in value:
        if type(item) is dict or type(item) is list:
            count += key_count(item)
    return count


def _plainly_clean(body: bytes, data: dict[str, Any]) -> bool:
    """Whether `_screen` and `_duplicate_key` would find nothing in `body`, which msgspec parsed
    as `data`, told from its bytes: no escape or control byte (`_ESCAPE_OR_CONTROL`), no more `{`
    and `[` than the depth limit, and no more colons (or `KEY_END`s, when a string holds a colon)
    than the parsed objects hold keys, so that no key was given twice. False: ask them."""
    if body.isascii():
        if b"\\" in body or b"\x7f" in body:
            return False
    elif _ESCAPE_OR_CONTROL.search(body) is not None:
        return False
    if body.count(b"{") + body.count(b"[") > limits.JSON_DEPTH_MAX:
        return False
    keys = key_count(data)
    return body.count(b":") == keys or len(KEY_END.findall(body)) == keys


def decode(body: bytes, tp: type[S]) -> S:
    """The body as `tp`, or Invalid naming every bad field. Unknown fields are ignored."""
    data = _plain(body)
    if not isinstance(data, dict):
        raise Invalid("Request body must be a JSON object")
    if not _plainly_clean(body, data):
        errors = _screen(data)
        duplicate = _duplicate_key(body)
        if duplicate is not None:
            errors.append(FieldError(duplicate, "is given more than once in one object"))
        if errors:
            raise Invalid.of(errors)
    try:
        return msgspec.json.decode(body, type=tp)
    except msgspec.ValidationError:
        pass
    errors = field_errors(data, tp)
    raise Invalid.of(errors or [FieldError("body", "does not match the expected shape")])
