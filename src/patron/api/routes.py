"""Every operation Patron serves under /api, with the contract's operationIds."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import Route

from patron.api import aliases, contacts, customers
from patron.api.endpoint import Handler, operation
from patron.api.wire import aliases as alias_wire
from patron.api.wire import contacts as contact_wire
from patron.api.wire import v2024_07_30 as wire
from patron.api.wire.common import ContactOut
from patron.api.wire.customer_20240509 import Customer20240509


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
    # Starlette's path when it differs from the contract's, e.g. `{alias:path}` so that an alias
    # holding a `/` (sent as %2F) still routes.
    route: str | None = None


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
    # Before "/customers/{id}/aliases", which would otherwise take the alias value "aliases".
    Operation(
        "GET",
        "/customers/by-alias/{alias}",
        "getCustomersByAliasByAlias",
        aliases.customer_by_alias,
        "Get customer by alias",
        Customer20240509,
        tag="Customer Aliases",
        route="/customers/by-alias/{alias:path}",
    ),
    Operation(
        "GET",
        "/customers/{id}/aliases",
        "getCustomersByIdAliases",
        aliases.customer_aliases,
        "Get a customer's aliases",
        alias_wire.GetCustomerAliasesResponse,
        tag="Customer Aliases",
    ),
    Operation(
        "GET",
        "/customer-aliases",
        "getCustomerAliases",
        aliases.list_aliases,
        "List customer aliases",
        alias_wire.ListCustomerAliasPaginatedResponseModel,
        tag="Customer Aliases",
    ),
    Operation(
        "POST",
        "/customer-aliases",
        "postCustomerAliases",
        aliases.create_alias,
        "Create a customer alias",
        alias_wire.CustomerAliasResponseModel,
        success=201,
        request=alias_wire.CreateCustomerAliasRequestModel,
        tag="Customer Aliases",
    ),
    Operation(
        "PUT",
        "/customer-aliases/{id}",
        "putCustomerAliasesById",
        aliases.update_alias,
        "Update a customer alias",
        alias_wire.CustomerAliasResponseModel,
        request=alias_wire.UpdateCustomerAliasRequestModel,
        tag="Customer Aliases",
    ),
    Operation(
        "DELETE",
        "/customer-aliases/{id}",
        "deleteCustomerAliasesById",
        aliases.delete_alias,
        "Delete a customer alias",
        alias_wire.CustomerAliasResponseModel,
        tag="Customer Aliases",
    ),
    Operation(
        "GET",
        "/customers/{customer}/contacts",
        "getCustomersByCustomerContacts",
        contacts.list_contacts,
        "List contacts",
        contact_wire.ContactResponseModel,
        tag="Contacts",
    ),
    Operation(
        "POST",
        "/customers/{customer}/contacts",
        "postCustomersByCustomerContacts",
        contacts.create_contact,
        "Create contact",
        ContactOut,
        success=201,
        request=wire.ContactIn,
        tag="Contacts",
    ),
    Operation(
        "PUT",
        "/customers/{customer}/contacts/{id}",
        "putCustomersByCustomerContactsById",
        contacts.update_contact,
        "Update contact",
        ContactOut,
        request=wire.ContactIn,
        tag="Contacts",
    ),
    Operation(
        "POST",
        "/customers/{customer}/contacts/{id}/archive",
        "postCustomersByCustomerContactsByIdArchive",
        contacts.archive_contact,
        "Archive contact",
        ContactOut,
        tag="Contacts",
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
        Route(op.route or op.path, operation(op.operation_id, op.handler), methods=[op.method])
        for op in OPERATIONS
    ]
