"""Customer rows, their integration ids and custom properties, and the keyset-paginated list."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from patron.domain.customers import (
    Address,
    Contact,
    Customer,
    CustomerDraft,
    IntegrationId,
    domain_of,
    text_key,
)
from patron.domain.enums import CustomerStatus, IntegrationService, SortOrder, TaxStatus
from patron.domain.listing import CustomerFilters, Position, SortKey
from patron.storage.contacts import CONTACT_FIELDS, contact_from_row
from patron.storage.database import Dialect, Row, rows_values
from patron.storage.database import bind as bind_arg
from patron.storage.deferred import DeferringConnection

_COLUMNS = (
    "c.id, c.account_id, c.created_at, c.updated_at, c.legal_name, c.line1, c.line2, c.town,"
    " c.state, c.postcode, c.country, c.url, c.domain, c.label, c.telephone, c.tax_status,"
    " c.status, c.archived_at, c.revision"
)


@dataclass(frozen=True, slots=True)
class WholeParts:
    contacts: list[Contact]
    integration_ids: list[IntegrationId]
    custom_properties: dict[str, str]
    in_organization: bool


def customer_from_row(row: Row, **parts: Any) -> Customer:
    return Customer(
        id=row["id"],
        account_id=row["account_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        legal_name=row["legal_name"],
        address=Address(
            line1=row["line1"],
            line2=row["line2"],
            town=row["town"],
            state=row["state"],
            postcode=row["postcode"],
            country=row["country"],
        ),
        url=row["url"],
        domain=row["domain"],
        label=row["label"],
        telephone=row["telephone"],
        tax_status=TaxStatus(row["tax_status"]),
        status=CustomerStatus(row["status"]),
        archived_at=row["archived_at"],
        revision=row["revision"],
        **parts,
    )


def editable_values(draft: CustomerDraft) -> tuple[Any, ...]:
    a = draft.address
    return (
        draft.legal_name,
        text_key(draft.legal_name),
        a.line1,
        a.line2,
        a.town,
        a.state,
        a.postcode,
        a.country,
        draft.url,
        domain_of(draft.url),
        draft.label,
        None if draft.label is None else text_key(draft.label),
        draft.telephone,
        draft.tax_status.value,
    )


@lru_cache(maxsize=4)
def _whole_sql(dialect: Dialect) -> str:
    """One customer's row with its live contacts, integration ids and custom properties as JSON
    arrays, and whether it has any organization: one statement instead of five (GET by id, and
    the answer of every write). $1 the account, $2 the customer."""
    of_customer = "WHERE account_id = $1 AND customer_id = c.id"
    contacts = dialect.json_list(
        CONTACT_FIELDS, f"contacts {of_customer} AND archived_at IS NULL", "created_at, id"
    )
    integration_ids = dialect.json_list(
        ("service", "external_id", "is_pending", "last_synced", "position"),
        f"integration_ids {of_customer}",
        "position",
    )
    properties = dialect.json_list(("key", "value"), f"customer_properties {of_customer}", "key")
    in_organization = (
        "EXISTS (SELECT 1 FROM organizations WHERE account_id = $1 AND owner_id = c.id)"
        " OR EXISTS (SELECT 1 FROM organization_members WHERE account_id = $1"
        " AND customer_id = c.id)"
    )
    return (
        f"SELECT {_COLUMNS}, {contacts} AS contacts_json,"
        f" {integration_ids} AS integration_ids_json, {properties} AS properties_json,"
        f" ({in_organization}) AS in_organization"
        " FROM customers c WHERE c.account_id = $1 AND c.id = $2"
    )


def _by_key(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Custom properties in code-point order of their keys: the order both engines give (SQLite's
    BINARY collation, PostgreSQL's `COLLATE "C"` column), stated here as the rule a new
    customer's are answered by without reading them back (`CustomerService._insert`)."""
    return dict(sorted(pairs))


def _limit(limit: int) -> str:
    """A page's LIMIT as a literal, not a parameter. PostgreSQL plans a prepared statement
    generically after five runs, and with `LIMIT $n` it assumes a tenth of the table is wanted:
    a keyset walk of 21 rows became a parallel plan over the account (10 ms instead of 0.2 ms).
    A handful of distinct limits means a handful of cached statements."""
    return str(int(limit))


class CustomerRepo:
    def __init__(self, conn: DeferringConnection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._any = dialect.any_of
        self._dialect = dialect
        self._account = account_id

    async def whole(self, customer_id: str) -> tuple[Row, WholeParts] | None:
        """The customer's row and its contacts, integration ids and custom properties, and
        whether it has organizations (read them through OrganizationRepo when it has); None when
        the account has no such customer."""
        row = await self._conn.fetchrow(_whole_sql(self._dialect), self._account, customer_id)
        if row is None:
            return None
        parts = WholeParts(
            contacts=[contact_from_row(x) for x in json.loads(row["contacts_json"])],
            integration_ids=[
                IntegrationId(
                    service=IntegrationService(x["service"]),
                    external_id=x["external_id"],
                    is_pending=bool(x["is_pending"]),
                    last_synced=x["last_synced"],
                )
                for x in json.loads(row["integration_ids_json"])
            ],
            custom_properties=_by_key(
                (x["key"], x["value"]) for x in json.loads(row["properties_json"])
            ),
            in_organization=bool(row["in_organization"]),
        )
        return row, parts

    # -- rows ---------------------------------------------------------------------------------

    async def insert(self, customer_id: str, draft: CustomerDraft, at: int) -> Customer:
        """Inserts the customer (deferred: see storage/deferred.py); answers its row as stored,
        without contacts or other parts."""
        status = draft.status or CustomerStatus.ACTIVE
        values = editable_values(draft)
        self._conn.defer(
            "INSERT INTO customers (id, account_id, created_at, updated_at, revision, legal_name,"
            " legal_name_key, line1, line2, town, state, postcode, country, url, domain, label,"
            " label_key, telephone, tax_status, status) VALUES ($1, $2, $3, $3, 1, $4, $5, $6,"
            " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            customer_id,
            self._account,
            at,
            *values,
            status.value,
        )
        return Customer(
            id=customer_id,
            account_id=self._account,
            created_at=at,
            updated_at=at,
            legal_name=draft.legal_name,
            address=draft.address,
            url=draft.url,
            domain=domain_of(draft.url),
            label=draft.label,
            telephone=draft.telephone,
            tax_status=draft.tax_status,
            status=status,
            revision=1,
        )

    async def lock(self, customer_id: str) -> Row | None:
        """Take the customer's row for this transaction; None if absent.

        An UPDATE rather than SELECT ... FOR UPDATE, because both engines run it the same way:
        PostgreSQL row-locks it, SQLite already holds the write lock. It changes nothing: the
        revision is bumped (`touch`) only when what the customer shows has changed.
        """
        return await self._conn.fetchrow(
            "UPDATE customers SET revision = revision WHERE account_id = $1 AND id = $2"
            " RETURNING id, archived_at, revision",
            self._account,
            customer_id,
        )

    async def update(self, customer_id: str, draft: CustomerDraft, at: int) -> None:
        await self._conn.execute(
            "UPDATE customers SET legal_name = $3, legal_name_key = $4, line1 = $5, line2 = $6,"
            " town = $7, state = $8, postcode = $9, country = $10, url = $11, domain = $12,"
            " label = $13, label_key = $14, telephone = $15, tax_status = $16,"
            " status = COALESCE($17, status), updated_at = $18"
            " WHERE account_id = $1 AND id = $2",
            self._account,
            customer_id,
            *editable_values(draft),
            None if draft.status is None else draft.status.value,
            at,
        )

    async def archive(self, customer_id: str, at: int) -> None:
        """Sets `archived_at` once (archiving again keeps the first time) and bumps the revision
        (what the customer shows has changed: one statement rather than this and `touch`)."""
        await self._conn.execute(
            "UPDATE customers SET archived_at = $3, updated_at = $3, revision = revision + 1"
            " WHERE account_id = $1 AND id = $2 AND archived_at IS NULL",
            self._account,
            customer_id,
            at,
        )

    async def restore(self, customer_id: str, at: int) -> None:
        """Clears `archived_at` and bumps the revision, as `archive` does."""
        await self._conn.execute(
            "UPDATE customers SET archived_at = NULL, updated_at = $3, revision = revision + 1"
            " WHERE account_id = $1 AND id = $2",
            self._account,
            customer_id,
            at,
        )

    async def touch(self, customer_ids: Sequence[str]) -> None:
        """Bump the customers' revisions: what they show has changed (so have their ETags)."""
        if customer_ids:
            await self._conn.execute(
                "UPDATE customers SET revision = revision + 1"
                f" WHERE account_id = $1 AND id {self._any('$2')}",
                self._account,
                list(customer_ids),
            )

    async def rows(self, customer_ids: Sequence[str]) -> dict[str, Row]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM customers c WHERE c.account_id = $1"
            f" AND c.id {self._any('$2')}",
            self._account,
            list(customer_ids),
        )
        return {r["id"]: r for r in rows}

    async def live_ids(self, customer_ids: Sequence[str]) -> set[str]:
        """Those of `customer_ids` that exist in the account and are not archived."""
        rows = await self._conn.fetch(
            f"SELECT id FROM customers WHERE account_id = $1 AND id {self._any('$2')}"
            " AND archived_at IS NULL",
            self._account,
            list(customer_ids),
        )
        return {r["id"] for r in rows}

    # -- integration ids and custom properties --------------------------------------------------

    async def integration_ids(self, customer_ids: Sequence[str]) -> dict[str, list[IntegrationId]]:
        rows = await self._conn.fetch(
            "SELECT customer_id, service, external_id, is_pending, last_synced"
            f" FROM integration_ids WHERE account_id = $1 AND customer_id {self._any('$2')}"
            " ORDER BY customer_id, position",
            self._account,
            list(customer_ids),
        )
        found: dict[str, list[IntegrationId]] = {cid: [] for cid in customer_ids}
        for r in rows:
            found[r["customer_id"]].append(
                IntegrationId(
                    service=IntegrationService(r["service"]),
                    external_id=r["external_id"],
                    is_pending=bool(r["is_pending"]),
                    last_synced=r["last_synced"],
                )
            )
        return found

    async def replace_integration_ids(
        self, customer_id: str, integration_ids: Sequence[IntegrationId], *, new: bool = False
    ) -> None:
        """`new`: the customer was just inserted and has none to delete."""
        if not new:
            await self._conn.execute(
                "DELETE FROM integration_ids WHERE account_id = $1 AND customer_id = $2",
                self._account,
                customer_id,
            )
        if integration_ids:
            values, args = rows_values(
                [
                    (
                        self._account,
                        customer_id,
                        i,
                        x.service.value,
                        x.external_id,
                        x.is_pending,
                        x.last_synced,
                    )
                    for i, x in enumerate(integration_ids)
                ]
            )
            self._conn.defer(
                "INSERT INTO integration_ids (account_id, customer_id, position, service,"
                f" external_id, is_pending, last_synced) {values}",
                *args,
            )

    async def properties(self, customer_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        rows = await self._conn.fetch(
            "SELECT customer_id, key, value FROM customer_properties"
            f" WHERE account_id = $1 AND customer_id {self._any('$2')} ORDER BY customer_id, key",
            self._account,
            list(customer_ids),
        )
        found: dict[str, list[tuple[str, str]]] = {cid: [] for cid in customer_ids}
        for r in rows:
            found[r["customer_id"]].append((r["key"], r["value"]))
        return {cid: _by_key(pairs) for cid, pairs in found.items()}

    async def replace_properties(
        self, customer_id: str, properties: dict[str, str], *, new: bool = False
    ) -> None:
        """`new`: the customer was just inserted and has none to delete."""
        if not new:
            await self._conn.execute(
                "DELETE FROM customer_properties WHERE account_id = $1 AND customer_id = $2",
                self._account,
                customer_id,
            )
        if properties:
            values, args = rows_values(
                [(self._account, customer_id, k, v) for k, v in properties.items()]
            )
            self._conn.defer(
                f"INSERT INTO customer_properties (account_id, customer_id, key, value) {values}",
                *args,
            )

    async def property_keys(self) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT key FROM customer_properties WHERE account_id = $1 ORDER BY key",
            self._account,
        )
        return [r["key"] for r in rows]

    # -- the list -------------------------------------------------------------------------------

    def _where(self, filters: CustomerFilters, args: list[Any]) -> str:
        """The filter conditions; `args` starts with the account id and collects the rest."""

        bind = partial(bind_arg, args)

        where = ["c.account_id = $1"]
        if not filters.include_archived:
            where.append("c.archived_at IS NULL")
        if filters.legal_name is not None:
            where.append(f"c.legal_name_key = {bind(text_key(filters.legal_name))}")
        if filters.label is not None:
            where.append(f"c.label_key = {bind(text_key(filters.label))}")
        if filters.email is not None:
            where.append(
                "c.id IN (SELECT customer_id FROM contacts WHERE account_id = $1"
                f" AND email_key = {bind(filters.email.strip().casefold())}"
                " AND archived_at IS NULL)"
            )
        if filters.alias is not None:
            value = bind(filters.alias)
            # One IN over a union, not `c.id = $n OR c.id IN (...)`: PostgreSQL plans that OR
            # as a sequential scan of customers (tests/storage/test_postgres_plans.py).
            where.append(
                f"c.id IN (SELECT CAST({value} AS TEXT) UNION ALL SELECT customer_id FROM aliases"
                f" WHERE account_id = $1 AND value = {value} AND deleted_at IS NULL)"
            )
        return " AND ".join(where)

    async def count(self, filters: CustomerFilters) -> int:
        column = "total" if filters.include_archived else "live"
        if (filters.legal_name, filters.email, filters.alias) == (None,) * 3:
            if filters.label is None:
                # Unfiltered: the counts the triggers of migration 0006 keep, not a scan of the
                # account.
                return int(
                    await self._conn.fetchval(
                        f"SELECT COALESCE(SUM({column}), 0) FROM customer_counts"
                        " WHERE account_id = $1",
                        self._account,
                    )
                )
            # The label alone: the per-label counts of migration 0011, not a COUNT over every
            # customer holding it (20,000 index entries at 1,000,000 customers and 2 % a label).
            return int(
                await self._conn.fetchval(
                    f"SELECT COALESCE(SUM({column}), 0) FROM label_counts"
                    " WHERE account_id = $1 AND label_key = $2",
                    self._account,
                    text_key(filters.label),
                )
            )
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        return int(
            await self._conn.fetchval(f"SELECT count(*) FROM customers c WHERE {where}", *args)
        )

    async def page(
        self,
        filters: CustomerFilters,
        sort: SortKey,
        *,
        forward: bool,
        start: Position | None,
        limit: int,
    ) -> list[tuple[Position, Row]]:
        """Up to `limit` rows strictly beyond `start`, walking the sort order (`forward`) or
        against it; each with its position. Ordered as walked."""
        if sort.property_key is not None:
            return await self._property_page(
                filters, sort.property_key, sort.order, forward=forward, start=start, limit=limit
            )
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        key = "c.legal_name_key" if sort.field == "legalName" else "c.created_at"
        ascending = (sort.order is SortOrder.ASC) == forward
        if start is not None:
            args += [start.value, start.id]
            op = ">" if ascending else "<"
            where += f" AND ({key}, c.id) {op} (${len(args) - 1}, ${len(args)})"
        direction = "ASC" if ascending else "DESC"
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS}, {key} AS sort_value FROM customers c WHERE {where}"
            f" ORDER BY {key} {direction}, c.id {direction} LIMIT {_limit(limit)}",
            *args,
        )
        return [(Position(r["sort_value"], r["id"]), r) for r in rows]

    async def _property_page(
        self,
        filters: CustomerFilters,
        property_key: str,
        order: SortOrder,
        *,
        forward: bool,
        start: Position | None,
        limit: int,
    ) -> list[tuple[Position, Row]]:
        """`page` sorted by a custom property: a customer without it sorts as "".

        Two keyset walks, each bounded by `limit`, merged by the database: the customers holding
        the key in (value, id) order through `customer_properties_account_key`, and the ones
        lacking it (all sorting as "", so by id) through `customers_account_id` with an
        anti-join. The second walk is left out when it cannot reach the page: when the position
        is past the "" group in the walking direction, or when every customer of the account
        holds the key (`property_counts`, migration 0007), since finding no one lacking it would
        read the whole account.
        """
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        args.append(property_key)
        key = f"${len(args)}"
        ascending = (order is SortOrder.ASC) == forward
        op, direction = (">", "ASC") if ascending else ("<", "DESC")
        holders_where = where
        lacking_where: str | None = where
        if start is not None:
            args += [start.value, start.id]
            value, after = f"${len(args) - 1}", f"${len(args)}"
            holders_where += f" AND (p.value, p.customer_id) {op} ({value}, {after})"
            if start.value != "":
                # Every "" sorts before a non-empty value: walking up from one, none is ahead;
                # walking down, all of them are.
                lacking_where = None if ascending else where
            else:
                lacking_where = f"{where} AND c.id {op} {after}"
        if lacking_where is not None and not await self._anyone_lacks(property_key):
            lacking_where = None
        n = _limit(limit)
        holders = (
            # CROSS JOIN: SQLite then keeps the written order, properties outside (PostgreSQL
            # plans it as any inner join); otherwise it may read every customer and sort.
            f"SELECT {_COLUMNS}, p.value AS sort_value FROM customer_properties p"
            " CROSS JOIN customers c"
            f" WHERE p.account_id = $1 AND p.key = {key} AND c.account_id = p.account_id"
            f" AND c.id = p.customer_id AND {holders_where}"
            f" ORDER BY p.value {direction}, p.customer_id {direction} LIMIT {n}"
        )
        if lacking_where is None:
            sql = holders
        else:
            lacking = (
                f"SELECT {_COLUMNS}, CAST('' AS TEXT) AS sort_value FROM customers c"
                f" WHERE {lacking_where} AND NOT EXISTS (SELECT 1 FROM customer_properties p"
                f" WHERE p.account_id = $1 AND p.customer_id = c.id AND p.key = {key})"
                f" ORDER BY c.id {direction} LIMIT {n}"
            )
            sql = (
                f"SELECT * FROM ({holders}) AS holders UNION ALL SELECT * FROM ({lacking})"
                f" AS lacking ORDER BY sort_value {direction}, id {direction} LIMIT {n}"
            )
        rows = await self._conn.fetch(sql, *args)
        return [(Position(r["sort_value"], r["id"]), r) for r in rows]

    async def _anyone_lacks(self, property_key: str) -> bool:
        """Whether some customer of the account (archived or not) lacks the key."""
        lacking = await self._conn.fetchval(
            "SELECT (SELECT COALESCE(SUM(total), 0) FROM customer_counts WHERE account_id = $1)"
            " - (SELECT COALESCE(SUM(holders), 0) FROM property_counts"
            " WHERE account_id = $1 AND key = $2)",
            self._account,
            property_key,
        )
        return int(lacking) > 0
