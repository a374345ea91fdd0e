"""Patron's own OpenAPI 3 document, generated from the operation table and the wire structs, so it
cannot drift from the code.

It describes the latest API version (the one a request without `Sequence-Version` gets, shapes and
operations); older versions are described by Sequence's contract of each (docs/api.md). Every
response is in it: each error status Patron can answer, and the headers it adds."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from patron.api.errors import ErrorEnvelope
from patron.api.routes import OPERATIONS
from patron.api.versions import LATEST
from patron.domain.events import ResourceType
from patron.domain.notifications import DeliveryStatus

_REF = "#/components/schemas/{name}"
_ERRORS = {
    "400": "Invalid request (field errors listed) or unknown API version",
    "401": "Missing, malformed, wrong or revoked credentials",
    "404": "No such record in this account, or no such operation in this version",
    "405": "Method not served on this path (the Allow header lists those that are)",
    "409": "Conflicts with existing data, or a request with the same Idempotency-Key is running",
    "412": "If-Match names a revision the resource is no longer at (Patron extension)",
    "413": "Body over the size limit",
    "415": "Body is not JSON",
    "429": "Over the credential's rate limit (when one is set); retry after Retry-After seconds",
    "503": "The database is unreachable, read-only or failing over: retry after Retry-After "
    "seconds (a POST with the same Idempotency-Key, so that it takes effect once)",
}

# Headers on every response of an operation.
_HEADERS: dict[str, Any] = {
    "Sequence-Version": {
        "description": "The API version the request was answered in",
        "schema": {"type": "string"},
    },
    "X-Request-Id": {
        "description": "The request's id (the caller's X-Request-Id when well-formed), as logged",
        "schema": {"type": "string"},
    },
}
# Headers on some responses only.
_STATUS_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {"description": "HTTP Basic challenge", "schema": {"type": "string"}}
    },
    "405": {"Allow": {"description": "The methods served", "schema": {"type": "string"}}},
    "429": {
        "Retry-After": {
            "description": "Seconds until the next request is allowed",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    "503": {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when the answer is replayed for a repeated Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

_PAGE: list[tuple[str, dict[str, Any]]] = [
    ("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
    ("after", {"type": "string"}),
    ("before", {"type": "string"}),
]
# Query parameters of the other operations that take any.
_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("type", {"type": "string", "description": "event types, comma-separated"}),
    ("resourceType", {"type": "string", "enum": [r.value for r in ResourceType]}),
    ("resourceId", {"type": "string"}),
    ("since", {"type": "string", "format": "date-time"}),
    ("sortOrder", {"type": "string", "enum": ["ASC", "DESC"]}),
    *_PAGE,
]
_DELIVERIES: list[tuple[str, dict[str, Any]]] = [
    ("status", {"type": "string", "enum": [s.value for s in DeliveryStatus]}),
    ("policyId", {"type": "string"}),
    ("eventId", {"type": "string"}),
    ("resourceId", {"type": "string"}),
    ("notificationType", {"type": "string"}),
    ("sortOrder", {"type": "string", "enum": ["ASC", "DESC"]}),
    *_PAGE,
]
_QUERY: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "patronGetNotificationsDeliveries": _DELIVERIES,
    "getCustomerAliases": [("value", {"type": "string"}), *_PAGE],
    "getCustomersByCustomerContacts": [("includeArchived", {"type": "boolean"})],
    "patronGetEvents": _EVENTS,
    "patronGetCustomersByIdEvents": _EVENTS,
}


# Patron honours the key on every POST (docs/decisions/idempotency.md), not only where the
# contract declares it.
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the request safe to retry: a repeat within 24 hours answers the first "
    "response (marked Idempotent-Replayed: true) without running again. At most 255 characters.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _parameters(path: str, operation_id: str) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    params.append(
        {
            "name": "Sequence-Version",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": [LATEST.name]},
        }
    )
    if operation_id == "getCustomers":
        for name, schema in [
            ("sortBy", {"type": "string"}),
            ("sortOrder", {"type": "string", "enum": ["ASC", "DESC"]}),
            ("legalName", {"type": "string"}),
            ("email", {"type": "string"}),
            ("alias", {"type": "string"}),
            ("label", {"type": "string"}),
            ("includeArchived", {"type": "boolean"}),
            ("billingStatus", {"type": "string", "enum": ["ACTIVE", "INACTIVE"]}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
            ("after", {"type": "string"}),
            ("before", {"type": "string"}),
        ]:
            params.append({"name": name, "in": "query", "required": False, "schema": schema})
    for name, schema in _QUERY.get(operation_id, []):
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    return params


def _conditional(method: str) -> list[dict[str, Any]]:
    """Patron's optional headers (docs/extensions.md): none is ever required."""
    names = ["If-None-Match"] if method == "GET" else ["If-Match", "Patron-Change-Reason"]
    return [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
        for name in names
    ]


def document() -> dict[str, Any]:
    served = [op for op in OPERATIONS if op.operation_id in LATEST.operations]
    types: list[Any] = [ErrorEnvelope]
    for op in served:
        types.append(op.response)
        if op.request is not None:
            types.append(op.request)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    refs = dict(zip(types, schemas, strict=True))
    error = {"application/json": {"schema": refs[ErrorEnvelope]}}
    paths: dict[str, dict[str, Any]] = {}
    for op in served:
        replayed = _REPLAYED if op.method == "POST" else {}
        responses: dict[str, Any] = {
            str(op.success): {
                "description": "OK",
                "headers": {**_HEADERS, **replayed},
                "content": {"application/json": {"schema": refs[op.response]}},
            }
        }
        responses.update(
            {
                code: {
                    "description": d,
                    "headers": {**_HEADERS, **replayed, **_STATUS_HEADERS.get(code, {})},
                    "content": error,
                }
                for code, d in _ERRORS.items()
            }
        )
        spec: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op.path, op.operation_id) + _conditional(op.method),
            "responses": responses,
        }
        if op.method == "POST":
            spec["parameters"].append(_IDEMPOTENCY_KEY)
        if op.request is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[op.request]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Patron",
            "version": LATEST.name,
            "description": "Customer records for B2B billing, wire-compatible with Sequence's "
            "Customer API. Authenticate with HTTP Basic (clientId:clientSecret).",
        },
        "servers": [{"url": "/api"}],
        "components": {
            "schemas": components,
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{"basic": []}],
        "paths": paths,
    }
