"""Notification policies and webhook deliveries of one account (the API's side of the outbox).

Deliveries are written by `enqueue` in the transaction that appends their event, so an event and
its deliveries commit together or not at all; the dispatcher's side is `storage/queue.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from patron.domain.events import Event, ResourceType
from patron.domain.ids import new_id
from patron.domain.listing import Position
from patron.domain.notifications import (
    Attempt,
    Channel,
    Delivery,
    DeliveryFilters,
    DeliveryStatus,
    NotificationPolicy,
    PolicyDraft,
    Recipient,
)
from patron.storage.database import Connection, Dialect, Row, rows_values
from patron.storage.database import bind as bind_arg

DELIVERY_COLUMNS = (
    "d.id, d.account_id, d.policy_id, r.url, d.event_id, d.event_seq, d.notification_type,"
    " d.resource_type, d.resource_id, d.status, d.attempts, d.next_attempt_at, d.created_at,"
    " d.last_attempt_at, d.delivered_at, d.last_status_code, d.last_error"
)
DELIVERY_FROM = "webhook_deliveries d JOIN notification_recipients r ON r.id = d.recipient_id"

# Accounts this process has seen with live policies (`NotificationRepo.refused`): their writes go
# straight into a transaction rather than first trying the guard that refuses them. Bounded.
_WITH_POLICIES: set[str] = set()
_WITH_POLICIES_MAX = 10_000


def delivery(row: Row, history: list[Attempt]) -> Delivery:
    status = DeliveryStatus(row["status"])
    return Delivery(
        id=row["id"],
        account_id=row["account_id"],
        policy_id=row["policy_id"],
        recipient=row["url"],
        event_id=row["event_id"],
        event_sequence=int(row["event_seq"]),
        notification_type=row["notification_type"],
        resource_type=ResourceType(row["resource_type"]),
        resource_id=row["resource_id"],
        status=status,
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if status is DeliveryStatus.PENDING else None,
        created_at=row["created_at"],
        last_attempt_at=row["last_attempt_at"],
        delivered_at=row["delivered_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        history=history,
    )


async def attempt_history(
    conn: Connection, dialect: Dialect, ids: list[str]
) -> dict[str, list[Attempt]]:
    found: dict[str, list[Attempt]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = await conn.fetch(
        "SELECT delivery_id, number, at, duration_ms, status_code, error FROM webhook_attempts"
        f" WHERE delivery_id {dialect.any_of('$1')} ORDER BY at, number",
        ids,
    )
    for r in rows:
        found[r["delivery_id"]].append(
            Attempt(r["number"], r["at"], r["duration_ms"], r["status_code"], r["error"])
        )
    return found


class NotificationRepo:
    def __init__(self, conn: Connection, dialect: Dialect, account_id: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self._account = account_id
        # The live policies, read once per unit (one transaction) by `enqueue`: a write that
        # records several events asks once.
        self._live: list[NotificationPolicy] | None = None

    # -- policies ---------------------------------------------------------------------------

    async def create_policy(self, draft: PolicyDraft, secret: str, at: int) -> NotificationPolicy:
        policy = NotificationPolicy(
            id=new_id(),
            account_id=self._account,
            name=draft.name,
            channel=draft.channel,
            recipients=[Recipient(new_id(), url) for url in draft.recipients],
            types=draft.types,
            secret=secret,
            created_at=at,
        )
        await self._conn.execute(
            "INSERT INTO notification_policies (id, account_id, name, channel,"
            " notification_types, webhook_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            policy.id,
            self._account,
            policy.name,
            policy.channel.value,
            None if policy.types is None else json.dumps(sorted(policy.types)),
            secret,
            at,
        )
        await self._conn.executemany(
            "INSERT INTO notification_recipients (id, policy_id, position, url)"
            " VALUES ($1, $2, $3, $4)",
            [(r.id, policy.id, i, r.url) for i, r in enumerate(policy.recipients)],
        )
        return policy

    async def policies(self, policy_id: str | None = None) -> list[NotificationPolicy]:
        """The account's live policies (or the one named), oldest first."""
        args: list[Any] = [self._account]
        where = "p.account_id = $1 AND p.deleted_at IS NULL"
        if policy_id is not None:
            args.append(policy_id)
            where += " AND p.id = $2"
        rows = await self._conn.fetch(
            "SELECT p.id, p.name, p.channel, p.notification_types, p.webhook_secret, p.created_at,"
            " r.id AS recipient_id, r.url FROM notification_policies p"
            " JOIN notification_recipients r ON r.policy_id = p.id"
            f" WHERE {where} ORDER BY p.created_at, p.id, r.position",
            *args,
        )
        return self._policies_of(rows)

    def _policies_of(self, rows: Sequence[Mapping[str, Any]]) -> list[NotificationPolicy]:
        """Policies from rows of a policy joined with its recipients, in order."""
        found: dict[str, NotificationPolicy] = {}
        for row in rows:
            policy = found.get(row["id"])
            if policy is None:
                types = row["notification_types"]
                policy = found[row["id"]] = NotificationPolicy(
                    id=row["id"],
                    account_id=self._account,
                    name=row["name"],
                    channel=Channel(row["channel"]),
                    recipients=[],
                    types=None if types is None else frozenset(json.loads(types)),
                    secret=row["webhook_secret"],
                    created_at=row["created_at"],
                )
            policy.recipients.append(Recipient(row["recipient_id"], row["url"]))
        return list(found.values())

    def live_policies_column(self, account: str) -> str | None:
        """An expression answering the account's live policies as a JSON array (`account` the
        placeholder of the account id), for a statement that has other work to do; None when
        this unit has read them already."""
        if self._live is not None:
            return None
        source = (
            "(SELECT p.id, p.name, p.channel, p.notification_types, p.webhook_secret,"
            " p.created_at, r.id AS recipient_id, r.url, r.position"
            " FROM notification_policies p JOIN notification_recipients r ON r.policy_id = p.id"
            f" WHERE p.account_id = {account} AND p.deleted_at IS NULL) AS live"
        )
        columns = (
            "id", "name", "channel", "notification_types", "webhook_secret", "created_at",
            "recipient_id", "url",
        )  # fmt: skip
        listed = self._dialect.json_list(columns, source, "created_at, id, position")
        return f"{listed} AS policies"

    def no_live_policies_column(self, account: str) -> str | None:
        """For a statement sent without a transaction (`Unit.finish`): an expression that
        raises `GuardRefused` when the account has live policies, whose deliveries would have
        to commit with the statement's events (migration 0012). None when the unit has read the
        policies already, or when this process has seen the guard refuse for the account: then
        the statement goes in a transaction with the deliveries it makes."""
        if self._live is not None or self._account in _WITH_POLICIES:
            return None
        return f"(SELECT patron_no_live_policies({account})) AS no_policies"

    def refused(self) -> None:
        """The guard of `no_live_policies_column` refused: the account has live policies."""
        if len(_WITH_POLICIES) >= _WITH_POLICIES_MAX:
            _WITH_POLICIES.clear()  # a hint only: forgetting costs one refused statement
        _WITH_POLICIES.add(self._account)

    def none_live(self) -> None:
        """The guard of `no_live_policies_column` let the statement through: no live policies."""
        self._live = []

    def live_policies_from_json(self, text: str) -> None:
        """What the expression of `live_policies_column` answered."""
        self._live = self._policies_of(json.loads(text))

    async def count_policies(self) -> int:
        return int(
            await self._conn.fetchval(
                "SELECT count(*) FROM notification_policies"
                " WHERE account_id = $1 AND deleted_at IS NULL",
                self._account,
            )
        )

    async def delete_policy(self, policy_id: str, at: int) -> bool:
        """Marks the policy deleted (forgetting its secret) and cancels what it has pending."""
        changed = await self._conn.execute(
            "UPDATE notification_policies SET deleted_at = $3, webhook_secret = NULL"
            " WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
            self._account,
            policy_id,
            at,
        )
        if not changed:
            return False
        await self._conn.execute(
            "UPDATE webhook_deliveries SET status = $3"
            " WHERE account_id = $1 AND policy_id = $2 AND status = $4",
            self._account,
            policy_id,
            DeliveryStatus.CANCELLED.value,
            DeliveryStatus.PENDING.value,
        )
        return True

    # -- deliveries -------------------------------------------------------------------------

    async def enqueue(self, events: Sequence[tuple[Event, int]]) -> int:
        """One pending delivery per recipient of each live policy that wants the event's type,
        for each (event, its `seq`), in one statement; answers how many. Runs in the events'
        own transaction."""
        if self._live is None:
            self._live = await self.policies()
        rows = [
            (
                new_id(),
                self._account,
                p.id,
                r.id,
                sequence,
                event.id,
                event.type.value,
                event.resource_type.value,
                event.resource_id,
                DeliveryStatus.PENDING.value,
                event.occurred_at,
                event.occurred_at,
            )
            for event, sequence in events
            for p in self._live
            if p.wants(event.type.value)
            for r in p.recipients
        ]
        if rows:
            values, args = rows_values(rows)
            await self._conn.execute(
                "INSERT INTO webhook_deliveries (id, account_id, policy_id, recipient_id,"
                " event_seq, event_id, notification_type, resource_type, resource_id, status,"
                f" next_attempt_at, created_at) {values}",
                *args,
            )
        return len(rows)

    def _where(self, filters: DeliveryFilters, args: list[Any]) -> str:
        bind = partial(bind_arg, args)

        where = ["d.account_id = $1"]
        if filters.status is not None:
            where.append(f"d.status = {bind(filters.status.value)}")
        if filters.policy_id is not None:
            where.append(f"d.policy_id = {bind(filters.policy_id)}")
        if filters.event_id is not None:
            where.append(f"d.event_id = {bind(filters.event_id)}")
        if filters.resource_id is not None:
            where.append(f"d.resource_id = {bind(filters.resource_id)}")
        if filters.notification_type is not None:
            where.append(f"d.notification_type = {bind(filters.notification_type)}")
        return " AND ".join(where)

    async def count(self, filters: DeliveryFilters) -> int:
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        sql = f"SELECT count(*) FROM webhook_deliveries d WHERE {where}"
        return int(await self._conn.fetchval(sql, *args))

    async def page(
        self, filters: DeliveryFilters, *, newest_first: bool, start: Position | None, limit: int
    ) -> list[tuple[Position, Delivery]]:
        """Deliveries by (createdAt, id), walking `newest_first` or the other way."""
        args: list[Any] = [self._account]
        where = self._where(filters, args)
        op = "<" if newest_first else ">"
        if start is not None:
            args += [int(start.value), start.id]
            a, b = f"${len(args) - 1}", f"${len(args)}"
            where += f" AND (d.created_at {op} {a} OR (d.created_at = {a} AND d.id {op} {b}))"
        direction = "DESC" if newest_first else "ASC"
        args.append(limit)
        rows = await self._conn.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE {where}"
            f" ORDER BY d.created_at {direction}, d.id {direction} LIMIT ${len(args)}",
            *args,
        )
        history = await attempt_history(self._conn, self._dialect, [r["id"] for r in rows])
        return [(Position(r["created_at"], r["id"]), delivery(r, history[r["id"]])) for r in rows]

    async def get(self, delivery_id: str) -> Delivery | None:
        row = await self._conn.fetchrow(
            f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.account_id = $1 AND d.id = $2",
            self._account,
            delivery_id,
        )
        if row is None:
            return None
        history = await attempt_history(self._conn, self._dialect, [row["id"]])
        return delivery(row, history[row["id"]])

    async def redeliver(self, delivery_id: str, at: int) -> bool:
        """Makes the delivery pending and due now, with a fresh retry window (same webhook-id).
        A delivery of a deleted policy cannot be sent again (its secret is gone)."""
        changed = await self._conn.execute(
            "UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4,"
            " first_attempt_at = NULL WHERE account_id = $1 AND id = $2 AND policy_id IN"
            " (SELECT id FROM notification_policies WHERE account_id = $1 AND deleted_at IS NULL)",
            self._account,
            delivery_id,
            DeliveryStatus.PENDING.value,
            at,
        )
        return bool(changed)
