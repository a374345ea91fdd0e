"""Every operation Patron serves under /api, with the contract's operationIds."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import Route

from patron.api import customers
from patron.api.endpoint import Handler, operation
from patron.api.wire import v2024_05_09 as v20240509
from patron.api.wire import v2024_07_30 as wire


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    operation_id: str
    handler: Handler
    summary: str
    response: type
    success: int = 200
    request: type | None = None
    tag: str = "Customers"


OPERATIONS: list[Operation] = [
    Operation(
        "GET",
        "/customers",
        "getCustomers",
        customers.list_customers,
        "List customers",
        wire.ListCustomerResponse,
    ),
    Operation(
        "POST",
        "/customers",
        "postCustomers",
        customers.create_customer,
        "Create customer",
        wire.CustomerOut,
        success=201,
        request=wire.CreateOrUpdateCustomerRequest,
    ),
    Operation(
        "GET",
        "/customers/{id}",
        "getCustomersById",
        customers.get_customer,
        "Get customer",
        wire.CustomerOut,
    ),
    Operation(
        "PUT",
        "/customers/{id}",
        "putCustomersById",
        customers.update_customer,
        "Update customer",
        wire.CustomerOut,
        request=wire.CreateOrUpdateCustomerRequest,
    ),
    Operation(
        "POST",
        "/customers/{id}/archive",
        "postCustomersByIdArchive",
        customers.archive_customer,
        "Archive customer",
        wire.CustomerOut,
    ),
    Operation(
        "PUT",
        "/customers/{id}/archive",
        "putCustomersByIdArchive",
        customers.archive_customer,
        "Archive customer (2024-05-09 and 2024-01-01)",
        v20240509.Customer20240509,
    ),
    Operation(
        "DELETE",
        "/customers/{id}",
        "deleteCustomersById",
        customers.archive_customer,
        "Archive customer (2024-05-09 and 2024-01-01)",
        v20240509.Customer20240509,
    ),
    Operation(
        "GET",
        "/customer-custom-property-keys",
        "getCustomerCustomPropertyKeys",
        customers.custom_property_keys,
        "List custom property keys",
        wire.CustomPropertyKeys,
    ),
]


def api_routes() -> list[Route]:
    """One route per operation: Starlette answers 405 when a path matches but no method does."""
    return [
        Route(op.path, operation(op.operation_id, op.handler), methods=[op.method])
        for op in OPERATIONS
    ]
