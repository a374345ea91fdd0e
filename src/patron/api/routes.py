"""Every operation Patron serves under /api, with the contract's operationIds."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

from starlette.requests import Request
from starlette.routing import Route, compile_path

from patron.api import (
    aliases,
    contacts,
    customers,
    events,
    notifications,
    organizations,
    payment_settings,
)
from patron.api.endpoint import Handler, operation
from patron.api.versions import LATEST, VERSION_HEADER, VERSIONS
from patron.api.wire import aliases as alias_wire
from patron.api.wire import contacts as contact_wire
from patron.api.wire import events as event_wire
from patron.api.wire import notifications as notification_wire
from patron.api.wire import organizations as org_wire
from patron.api.wire import payment_settings as settings_wire
from patron.api.wire import v2024_05_09 as v20240509
from patron.api.wire import v2024_07_30 as wire
from patron.api.wire.common import ContactOut
from patron.api.wire.customer_20240509 import Customer20240509

EXTENSIONS_TAG = "Patron extensions"  # operations Sequence's contract does not have


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
        "PUT",
        "/customers/{id}/archive",
        "putCustomersByIdArchive",
        customers.archive_customer,
        "Archive customer (2024-05-09 and 2024-01-01)",
        v20240509.CustomerOut,
    ),
    Operation(
        "DELETE",
        "/customers/{id}",
        "deleteCustomersById",
        customers.archive_customer,
        "Archive customer (2024-05-09 and 2024-01-01)",
        v20240509.CustomerOut,
    ),
    Operation(
        "GET",
        "/customer-custom-property-keys",
        "getCustomerCustomPropertyKeys",
        customers.custom_property_keys,
        "List custom property keys",
        wire.CustomPropertyKeys,
    ),
    Operation(
        "POST",
        "/customer-organizations",
        "postCustomerOrganizations",
        organizations.create_organization,
        "Create a customer organization",
        wire.CustomerOrganizationOut,
        success=201,
        request=org_wire.CustomerOrganizationRequest,
        tag="Organizations",
    ),
    Operation(
        "POST",
        "/customer-organizations/{id}/members",
        "postCustomerOrganizationsByIdMembers",
        organizations.add_members,
        "Add customers to a customer organization",
        wire.CustomerOrganizationOut,
        request=org_wire.CustomerOrganizationMembers,
        tag="Organizations",
    ),
    Operation(
        "PUT",
        "/customer-organizations/{id}/members",
        "putCustomerOrganizationsByIdMembers",
        organizations.replace_members,
        "Replace the members of a customer organization",
        wire.CustomerOrganizationOut,
        request=org_wire.CustomerOrganizationMembers,
        tag="Organizations",
    ),
    Operation(
        "POST",
        "/payments/settings/customers",
        "postPaymentsSettingsCustomers",
        payment_settings.create_settings,
        "Create customer payment settings",
        settings_wire.CustomerSettings,
        success=201,
        request=settings_wire.CreateCustomerSettingsRequest,
    ),
    Operation(
        "GET",
        "/payments/settings/customers/{id}",
        "getPaymentsSettingsCustomersById",
        payment_settings.get_settings,
        "Get customer payment settings",
        settings_wire.CustomerSettings,
    ),
    Operation(
        "PUT",
        "/payments/settings/customers/{id}",
        "putPaymentsSettingsCustomersById",
        payment_settings.update_settings,
        "Update customer payment settings",
        settings_wire.CustomerSettings,
        request=settings_wire.UpdateCustomerSettingsRequest,
    ),
    Operation(
        "DELETE",
        "/payments/settings/customers/{id}",
        "deletePaymentsSettingsCustomersById",
        payment_settings.delete_settings,
        "Delete customer payment settings",
        settings_wire.CustomerSettings,
    ),
]


# Patron extensions (docs/extensions.md): served in every API version.
OPERATIONS += [
    Operation(
        "POST",
        "/customers/{id}/restore",
        "patronPostCustomersByIdRestore",
        customers.restore_customer,
        "Restore an archived customer",
        wire.CustomerOut,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "POST",
        "/customers/{customer}/contacts/{id}/restore",
        "patronPostCustomersByCustomerContactsByIdRestore",
        contacts.restore_contact,
        "Restore an archived contact",
        ContactOut,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "GET",
        "/customers/{id}/events",
        "patronGetCustomersByIdEvents",
        events.customer_events,
        "List the change history of a customer and what belongs to it",
        event_wire.ListEventsResponse,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "GET",
        "/events",
        "patronGetEvents",
        events.list_events,
        "List the account's change history",
        event_wire.ListEventsResponse,
        tag=EXTENSIONS_TAG,
    ),
    # Webhooks: Sequence's notification policies shape (docs/webhooks.md), patron-prefixed ids.
    Operation(
        "POST",
        "/notifications/policies",
        "patronPostNotificationsPolicies",
        notifications.create_policy,
        "Create a notification policy (webhook endpoint)",
        notification_wire.NotificationPolicyOut,
        success=201,
        request=notification_wire.CreateNotificationPolicyRequest,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "GET",
        "/notifications/policies",
        "patronGetNotificationsPolicies",
        notifications.list_policies,
        "List notification policies",
        notification_wire.ListNotificationPoliciesResponse,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "GET",
        "/notifications/policies/{id}",
        "patronGetNotificationsPoliciesById",
        notifications.get_policy,
        "Get a notification policy",
        notification_wire.NotificationPolicyOut,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "DELETE",
        "/notifications/policies/{id}",
        "patronDeleteNotificationsPoliciesById",
        notifications.delete_policy,
        "Delete a notification policy (its pending deliveries are cancelled)",
        notification_wire.NotificationPolicyOut,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "GET",
        "/notifications/deliveries",
        "patronGetNotificationsDeliveries",
        notifications.list_deliveries,
        "List webhook deliveries and their attempts",
        notification_wire.ListDeliveriesResponse,
        tag=EXTENSIONS_TAG,
    ),
    Operation(
        "POST",
        "/notifications/deliveries/{id}/redeliver",
        "patronPostNotificationsDeliveriesByIdRedeliver",
        notifications.redeliver,
        "Send a webhook delivery again (same webhook-id)",
        notification_wire.DeliveryOut,
        tag=EXTENSIONS_TAG,
    ),
]


# 2024-01-01 served customer payment settings at /customer-settings, with its own operationIds.
_SETTINGS_2024_01_01 = {
    "postPaymentsSettingsCustomers": "postCustomerSettings",
    "getPaymentsSettingsCustomersById": "getCustomerSettingsById",
    "putPaymentsSettingsCustomersById": "putCustomerSettingsById",
    "deletePaymentsSettingsCustomersById": "deleteCustomerSettingsById",
}
OPERATIONS += [
    replace(
        op,
        path=op.path.replace("/payments/settings/customers", "/customer-settings"),
        operation_id=_SETTINGS_2024_01_01[op.operation_id],
        summary=f"{op.summary} (2024-01-01)",
    )
    for op in OPERATIONS
    if op.operation_id in _SETTINGS_2024_01_01
]


def allowed_methods(request: Request) -> list[str]:
    """The methods served at the request's path in the request's API version (`Sequence-Version`,
    else the latest: a 405 is answered before authentication, so a credential's pinned version is
    not known), for the Allow header of a 405."""
    version = VERSIONS.get(request.headers.get(VERSION_HEADER, "").strip(), LATEST)
    path = request.url.path.removeprefix("/api")
    methods: set[str] = set()
    for op in OPERATIONS:
        if op.operation_id in version.operations and _pattern(op).fullmatch(path):
            methods.add(op.method)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@cache
def _pattern(op: Operation) -> re.Pattern[str]:
    return compile_path(op.route or op.path)[0]


def api_routes() -> list[Route]:
    """One route per operation: Starlette answers 405 when a path matches but no method does."""
    return [
        Route(op.route or op.path, operation(op.operation_id, op.handler), methods=[op.method])
        for op in OPERATIONS
    ]
