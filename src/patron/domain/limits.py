"""Bounds on input sizes, documented in docs/api.md; the wire schemas and rules read them here."""

from __future__ import annotations

NAME_MAX = 255  # legal names, contact names, labels, address lines, towns
POSTCODE_MAX = 32
URL_MAX = 2048
EMAIL_MAX = 254  # RFC 5321 path limit
ALIAS_MAX = 255
INTEGRATION_ID_MAX = 255
TELEPHONE_MAX = 64
CUSTOM_PROPERTY_KEY_MAX = 100
CUSTOM_PROPERTY_VALUE_MAX = 1000
# and in bytes: the value is in a PostgreSQL b-tree index whose entries stop at 2704 bytes
CUSTOM_PROPERTY_VALUE_MAX_BYTES = 2000
CUSTOM_PROPERTIES_MAX = 50
CONTACTS_MAX = 100
ALIASES_MAX = 100
INTEGRATION_IDS_MAX = 50
FILTER_MAX = 1000  # query-string filter values
JSON_DEPTH_MAX = 32  # nesting of a request body; Patron's own bodies nest 4 deep
PAGE_LIMIT_MIN = 1
PAGE_LIMIT_MAX = 100
PAGE_LIMIT_DEFAULT = 20
CUSTOMER_ID_MAX = 64  # ids given in bodies (ownerId, memberIds, customerId); Patron's are 36
ORGANIZATION_IDS_MAX = 1000  # customer ids in one organization request
