"""What a request's access log line says beyond method, path and status: fields that handlers
learn (the client id), carried in the ASGI scope from the endpoint back out to the middleware."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import Scope

_KEY = "patron.log"


def fields_of_scope(scope: Scope) -> dict[str, Any]:
    fields: dict[str, Any] = scope.setdefault(_KEY, {})
    return fields


def log_fields(request: Request) -> dict[str, Any]:
    return fields_of_scope(request.scope)
