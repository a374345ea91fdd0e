"""Request bodies into typed structs, naming every bad field rather than the first.

msgspec validates a whole body in one fast pass but stops at the first error. So a body is first
decoded in that one pass; only when it fails does `field_errors` walk the same struct types field by
field (still through msgspec, so the rules are the same ones) to collect every error at once.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import msgspec

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


def decode(body: bytes, tp: type[S]) -> S:
    """The body as `tp`, or Invalid naming every bad field. Unknown fields are ignored."""
    try:
        return msgspec.json.decode(body, type=tp)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise Invalid(f"Request body is not valid JSON: {exc}") from exc
    data = msgspec.json.decode(body)
    if not isinstance(data, dict):
        raise Invalid("Request body must be a JSON object")
    errors = field_errors(data, tp)
    raise Invalid.of(errors or [FieldError("body", "does not match the expected shape")])
