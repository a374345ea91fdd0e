"""GET by id from stored documents (api/stored.py, migration 0010).

The fast path must answer exactly what the normal path renders, after any sequence of writes:
the property test drives random writes through the API and, after each, checks every stored
document against a fresh rendering by the normal code (so a trigger that failed to delete a
stale one shows), then GETs every customer through HTTP and checks the answer again.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

from patron.api.hotpaths import HotPaths
from patron.api.state import Services
from patron.api.versions import LATEST
from patron.domain.errors import NotFound, Unavailable
from tests.conftest import ClientFactory
from tests.factories import contact, customer_body, make_customer

VERSION = LATEST.name


def _account(client: httpx.AsyncClient) -> str:
    account_id: str = client.issued.credential.account_id  # type: ignore[attr-defined]
    return account_id


async def rendered(services: Services, account_id: str, customer_id: str) -> tuple[int, bytes]:
    """What the normal path answers for the customer now: its revision and body."""
    customer = await services.customers.get(account_id, customer_id)
    return customer.revision, msgspec.json.encode(LATEST.customer(customer))


async def stored(services: Services, account_id: str, customer_id: str) -> tuple[int, bytes] | None:
    return await services.documents.stored(account_id, customer_id)


class TestRoute:
    def test_the_prefix_check_is_the_routers_choice(self, app: Starlette) -> None:
        """api/stored.py takes /api/customers/<one segment> as getCustomersById without asking
        the router; the router agrees for such paths, and for no others under the prefix."""
        mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/api")
        hot = HotPaths(app, mount, {"getCustomersById"})
        base = {"type": "http", "method": "GET", "root_path": "", "query_string": b""}
        for segment in ("x", "by-alias", "01a2-ff", "custom-property-keys", "a%20b", "é"):
            route, _ = hot._route({**base, "path": f"/api/customers/{segment}"})
            assert route is not None, segment
        for path in ("/api/customers/x/aliases", "/api/customers/by-alias/x", "/api/customers"):
            route, _ = hot._route({**base, "path": path})
            assert route is None, path


class TestStoredGet:
    async def test_a_get_stores_what_it_answers_and_the_next_is_the_same(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        created = await make_customer(client, customProperties={"tier": "gold"})
        account = _account(client)
        assert await stored(services, account, created["id"]) is None
        first = await client.get(f"/customers/{created['id']}")
        document = await stored(services, account, created["id"])
        assert document == await rendered(services, account, created["id"])
        second = await client.get(f"/customers/{created['id']}")
        assert second.status_code == first.status_code == 200
        assert second.content == first.content == document[1]
        for name in ("etag", "content-type", "content-length", "sequence-version"):
            assert second.headers[name] == first.headers[name], name
        assert second.headers["etag"] == f'"{document[0]}.{VERSION}"'
        assert second.headers["x-request-id"] != first.headers["x-request-id"]

    async def test_if_none_match_answers_304(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        created = await make_customer(client)
        tag = (await client.get(f"/customers/{created['id']}")).headers["etag"]
        assert await stored(services, _account(client), created["id"]) is not None
        for header in (tag, f"W/{tag}", f'"0.x", {tag}', "*"):
            again = await client.get(
                f"/customers/{created['id']}", headers={"If-None-Match": header}
            )
            assert again.status_code == 304, header
            assert again.content == b""
            assert again.headers["etag"] == tag
            assert again.headers["sequence-version"] == VERSION
        other = await client.get(f"/customers/{created['id']}", headers={"If-None-Match": '"1.x"'})
        assert other.status_code == 200

    async def test_another_accounts_customer_is_not_found(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, services: Services
    ) -> None:
        created = await make_customer(client)
        assert (await client.get(f"/customers/{created['id']}")).status_code == 200
        assert await stored(services, _account(client), created["id"]) is not None
        response = await other_client.get(f"/customers/{created['id']}")
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "NotFound"

    async def test_other_versions_keep_their_shape(
        self, client: httpx.AsyncClient, new_client: ClientFactory, services: Services
    ) -> None:
        created = await make_customer(client)
        path = f"/customers/{created['id']}"
        latest = await client.get(path)
        assert await stored(services, _account(client), created["id"]) is not None
        older = await client.get(path, headers={"Sequence-Version": "2024-05-09"})
        assert older.headers["sequence-version"] == "2024-05-09"
        assert older.content != latest.content
        assert older.headers["etag"].endswith('.2024-05-09"')
        pinned = await new_client(account=client.issued.credential.account_name,  # type: ignore[attr-defined]
                                  api_version="2024-05-09")  # fmt: skip
        by_pin = await pinned.get(path)
        assert by_pin.headers["sequence-version"] == "2024-05-09"
        assert by_pin.content == older.content
        named = await pinned.get(path, headers={"Sequence-Version": VERSION})
        assert named.content == latest.content
        bad = await client.get(path, headers={"Sequence-Version": "1999-01-01"})
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "UnrecognisedApiVersion"

    async def test_authentication_is_required(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        created = await make_customer(client)
        path = f"/customers/{created['id']}"
        assert (await client.get(path)).status_code == 200
        assert await stored(services, _account(client), created["id"]) is not None
        for headers in ({"Authorization": ""}, {"Authorization": "Basic eDp5"}):
            response = await client.get(path, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["type"] == "Unauthorized"
            assert response.headers["sequence-version"] == VERSION

    async def test_a_stale_rendering_is_not_stored(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        created = await make_customer(client)
        account = _account(client)
        revision, body = await rendered(services, account, created["id"])
        changed = await client.post(f"/customers/{created['id']}/archive")
        assert changed.status_code == 200
        assert not await services.documents.keep(account, created["id"], revision, body)
        assert await stored(services, account, created["id"]) is None
        assert not await services.documents.keep("someone-else", created["id"], 2, body)


class TestAroundTheStoredAnswer:
    """The stored path runs ahead of `RequestContext` (api/stored.py): what that layer adds to
    every answer, it must add too."""

    async def _stored_customer(self, client: httpx.AsyncClient, services: Services) -> str:
        created = await make_customer(client)
        assert (await client.get(f"/customers/{created['id']}")).status_code == 200
        assert await stored(services, _account(client), created["id"]) is not None
        return str(created["id"])

    async def test_request_id_is_echoed_or_made(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        path = f"/customers/{await self._stored_customer(client, services)}"
        mine = await client.get(path, headers={"X-Request-Id": "trace-123"})
        assert mine.headers["x-request-id"] == "trace-123"
        made = await client.get(path, headers={"X-Request-Id": "bad id\twith spaces"})
        assert made.headers["x-request-id"] not in ("", "bad id\twith spaces")
        assert len(made.headers["x-request-id"]) == 32
        # Two of them: the last, on this path as on every other.
        twice = [("X-Request-Id", "first"), ("X-Request-Id", "second")]
        assert (await client.get(path, headers=twice)).headers["x-request-id"] == "second"
        assert (await client.get("/customers", headers=twice)).headers["x-request-id"] == "second"
        unmodified = await client.get(
            path, headers={"X-Request-Id": "trace-304", "If-None-Match": mine.headers["etag"]}
        )
        assert unmodified.status_code == 304
        assert unmodified.headers["x-request-id"] == "trace-304"
        refused = await client.get(
            path, headers={"X-Request-Id": "trace-401", "Authorization": "Basic eDp5"}
        )
        assert refused.status_code == 401
        assert refused.headers["x-request-id"] == "trace-401"

    async def test_one_access_line_as_on_the_normal_path(
        self, client: httpx.AsyncClient, services: Services, caplog: pytest.LogCaptureFixture
    ) -> None:
        path = f"/customers/{await self._stored_customer(client, services)}"
        with caplog.at_level(logging.INFO, logger="patron.access"):
            answered = await client.get(path, headers={"X-Request-Id": "logged-200"})
            refused = await client.get(
                path, headers={"X-Request-Id": "logged-401", "Authorization": "Basic eDp5"}
            )
        assert (answered.status_code, refused.status_code) == (200, 401)
        lines = {r.request_id: r for r in caplog.records if r.name == "patron.access"}  # type: ignore[attr-defined]
        assert set(lines) == {"logged-200", "logged-401"}
        line = lines["logged-200"]
        assert (line.method, line.path, line.status) == ("GET", f"/api{path}", 200)  # type: ignore[attr-defined]
        assert line.client_id == client.issued.credential.client_id  # type: ignore[attr-defined]
        assert line.duration_ms >= 0  # type: ignore[attr-defined]
        assert lines["logged-401"].status == 401  # type: ignore[attr-defined]

    async def test_an_unexpected_error_is_a_logged_500_without_detail(
        self,
        client: httpx.AsyncClient,
        services: Services,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        path = f"/customers/{await self._stored_customer(client, services)}"

        async def broken(*args: object) -> None:
            raise RuntimeError("database exploded: secret detail")

        monkeypatch.setattr(services.documents, "stored", broken)
        response = await client.get(path, headers={"X-Request-Id": "req-500"})
        assert response.status_code == 500
        assert response.json()["error"]["type"] == "InternalServerError"
        assert "secret detail" not in response.text
        assert "req-500" in response.json()["error"]["message"]
        assert response.headers["x-request-id"] == "req-500"
        assert response.headers["sequence-version"] == VERSION
        assert any("req-500" in r.getMessage() for r in caplog.records)

    async def test_an_unavailable_database_is_a_503(
        self, client: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = f"/customers/{await self._stored_customer(client, services)}"

        async def down(*args: object) -> None:
            raise Unavailable("The database cannot be reached right now")

        monkeypatch.setattr(services.documents, "stored", down)
        response = await client.get(path, headers={"X-Request-Id": "req-503"})
        assert response.status_code == 503
        assert response.json()["error"]["type"] == Unavailable.type
        assert response.headers["retry-after"]
        assert response.headers["x-request-id"] == "req-503"


class TestInvalidation:
    """Each table whose rows show in a customer's document: a change deletes the document, by
    the triggers, whatever path makes it (here plain SQL, as an import or a future path would)."""

    @pytest.fixture
    async def kept(self, client: httpx.AsyncClient, services: Services) -> dict[str, Any]:
        owner = await make_customer(
            client, customProperties={"k": "v"}, integrationIds=[{"service": "HubSpot", "id": "x"}]
        )
        member = await make_customer(client)
        org = await client.post(
            "/customer-organizations", json={"ownerId": owner["id"], "memberIds": [member["id"]]}
        )
        assert org.status_code == 201, org.text
        for customer in (owner, member):
            assert (await client.get(f"/customers/{customer['id']}")).status_code == 200
        return {"owner": owner, "member": member, "org": org.json()}

    async def _present(
        self, services: Services, client: httpx.AsyncClient, *ids: str
    ) -> list[bool]:
        return [await stored(services, _account(client), i) is not None for i in ids]

    async def _sql(self, services: Services, sql: str, *args: Any) -> None:
        db = services.documents._store.db
        async with db.transaction() as conn:
            await conn.execute(sql, *args)

    @pytest.mark.parametrize(
        ("sql", "who"),
        [
            ("UPDATE customers SET telephone = 'x' WHERE id = $1", "owner"),
            ("UPDATE contacts SET name = 'x' WHERE customer_id = $1", "owner"),
            ("DELETE FROM contacts WHERE customer_id = $1", "owner"),
            ("UPDATE integration_ids SET external_id = 'y' WHERE customer_id = $1", "owner"),
            ("DELETE FROM integration_ids WHERE customer_id = $1", "owner"),
            ("UPDATE customer_properties SET value = 'w' WHERE customer_id = $1", "owner"),
            ("DELETE FROM customer_properties WHERE customer_id = $1", "owner"),
        ],
    )
    async def test_a_change_of_its_own_rows(
        self, kept: dict[str, Any], services: Services, client: httpx.AsyncClient, sql: str,
        who: str,
    ) -> None:  # fmt: skip
        owner, member = kept["owner"]["id"], kept["member"]["id"]
        assert await self._present(services, client, owner, member) == [True, True]
        await self._sql(services, sql, kept[who]["id"])
        assert await self._present(services, client, owner, member) == [False, True]

    async def test_new_child_rows(
        self, kept: dict[str, Any], services: Services, client: httpx.AsyncClient
    ) -> None:
        owner, member = kept["owner"]["id"], kept["member"]["id"]
        account = _account(client)
        await self._sql(
            services,
            "INSERT INTO customer_properties (account_id, customer_id, key, value)"
            " VALUES ($1, $2, 'new', 'p')",
            account,
            member,
        )
        assert await self._present(services, client, owner, member) == [True, False]

    async def test_a_new_name_shows_in_the_organization(
        self, kept: dict[str, Any], services: Services, client: httpx.AsyncClient
    ) -> None:
        owner, member = kept["owner"]["id"], kept["member"]["id"]
        await self._sql(services, "UPDATE customers SET legal_name = 'New' WHERE id = $1", member)
        assert await self._present(services, client, owner, member) == [False, False]

    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE organizations SET created_at = created_at + 1 WHERE id = $1",
            "DELETE FROM organization_members WHERE organization_id = $1",
            "DELETE FROM organizations WHERE id = $1",
        ],
    )
    async def test_organization_changes(
        self, kept: dict[str, Any], services: Services, client: httpx.AsyncClient, sql: str
    ) -> None:
        owner, member = kept["owner"]["id"], kept["member"]["id"]
        await self._sql(services, sql, kept["org"]["id"])
        assert await self._present(services, client, owner, member) == [False, False]

    async def test_a_new_member(
        self, kept: dict[str, Any], services: Services, client: httpx.AsyncClient
    ) -> None:
        owner, member = kept["owner"]["id"], kept["member"]["id"]
        newcomer = (await make_customer(client))["id"]
        assert (await client.get(f"/customers/{newcomer}")).status_code == 200
        await self._sql(
            services,
            "INSERT INTO organization_members (organization_id, customer_id, account_id,"
            " created_at) VALUES ($1, $2, $3, 1)",
            kept["org"]["id"],
            newcomer,
            _account(client),
        )
        assert await self._present(services, client, owner, member, newcomer) == [False] * 3


# -- the property: after any writes, the stored answer is the normal path's ----------------------

_indexes = st.integers(min_value=0, max_value=50)
_steps = st.one_of(
    st.tuples(st.just("create")),
    st.tuples(st.just("update"), _indexes, st.sampled_from(["A", "B", "Ç"])),
    st.tuples(st.just("props"), _indexes, st.dictionaries(st.sampled_from("ab"), st.text("xy"))),
    st.tuples(st.just("integration"), _indexes, st.sampled_from(["HubSpot", "NetSuite"])),
    st.tuples(st.just("archive"), _indexes),
    st.tuples(st.just("restore"), _indexes),
    st.tuples(st.just("contact_add"), _indexes),
    st.tuples(st.just("contact_update"), _indexes),
    st.tuples(st.just("contact_archive"), _indexes),
    st.tuples(st.just("alias"), _indexes),
    st.tuples(st.just("org"), _indexes, _indexes),
    st.tuples(st.just("join"), _indexes, _indexes),
    st.tuples(st.just("members"), _indexes, st.lists(_indexes, max_size=3)),
)


async def _apply(client: httpx.AsyncClient, step: tuple[Any, ...], state: dict[str, Any]) -> None:
    """One write through the API. Refusals (a cycle, an archived customer) are part of the
    game: whatever the outcome, the stored answers must stay right."""
    ids: list[str] = state["customers"]
    kind = step[0]
    if kind == "create":
        ids.append((await make_customer(client))["id"])
        return
    cid = ids[step[1] % len(ids)]
    if kind in ("update", "props", "integration"):
        current = (await client.get(f"/customers/{cid}")).json()
        body = customer_body(
            legalName=current["legalName"],
            contacts=[{k: c[k] for k in ("name", "email", "billingPreference")}
                      for c in current["contacts"]] or [contact()],
            customProperties=current["customProperties"],
        )  # fmt: skip
        if kind == "update":
            body["legalName"] = f"{step[2]} {cid[-4:]}"
        elif kind == "props":
            body["customProperties"] = step[2]
        else:
            body["integrationIds"] = [{"service": step[2], "id": f"ext-{cid[-4:]}"}]
        await client.put(f"/customers/{cid}", json=body)
    elif kind in ("archive", "restore"):
        await client.post(f"/customers/{cid}/{kind}")
    elif kind == "contact_add":
        await client.post(f"/customers/{cid}/contacts", json=contact(billingPreference="NONE"))
    elif kind in ("contact_update", "contact_archive"):
        contacts = (await client.get(f"/customers/{cid}/contacts")).json().get("items", [])
        if contacts:
            target = contacts[-1]["id"]
            if kind == "contact_archive":
                await client.post(f"/customers/{cid}/contacts/{target}/archive")
            else:
                await client.put(
                    f"/customers/{cid}/contacts/{target}",
                    json=contact(billingPreference=contacts[-1]["billingPreference"]),
                )
    elif kind == "alias":
        await client.post("/customer-aliases", json={"customerId": cid, "value": f"al-{cid}"})
    elif kind == "org":
        other = ids[step[2] % len(ids)]
        made = await client.post(
            "/customer-organizations", json={"ownerId": cid, "memberIds": [other]}
        )
        if made.status_code == 201:
            state["orgs"].append(made.json()["id"])
    elif state["orgs"]:
        org = state["orgs"][step[1] % len(state["orgs"])]
        if kind == "join":
            await client.post(
                f"/customer-organizations/{org}/members",
                json={"customerIds": [ids[step[2] % len(ids)]]},
            )
        else:
            members = [ids[i % len(ids)] for i in step[2]]
            await client.put(
                f"/customer-organizations/{org}/members", json={"customerIds": members}
            )


async def _check(client: httpx.AsyncClient, services: Services, ids: list[str]) -> None:
    account = _account(client)
    for cid in ids:
        expected = await rendered(services, account, cid)
        kept = await stored(services, account, cid)
        # A document that survived the write must be the customer as it is now.
        assert kept is None or kept == expected, cid
        response = await client.get(f"/customers/{cid}")
        assert response.status_code == 200
        assert response.content == expected[1]
        assert response.headers["etag"] == f'"{expected[0]}.{VERSION}"'
        # The answer is stored now (or was already): the next GET is the fast path's.
        assert await stored(services, account, cid) == expected
        again = await client.get(f"/customers/{cid}")
        assert (again.content, again.headers["etag"]) == (
            response.content,
            response.headers["etag"],
        )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_steps, min_size=1, max_size=10))
async def test_stored_answers_match_the_normal_rendering_after_any_writes(
    new_client: ClientFactory, services: Services, steps: list[tuple[Any, ...]]
) -> None:
    client = await new_client()
    state: dict[str, Any] = {"customers": [], "orgs": []}
    for _ in range(3):
        state["customers"].append((await make_customer(client))["id"])
    await _check(client, services, state["customers"])
    for step in steps:
        await _apply(client, step, state)
        await _check(client, services, state["customers"])


async def test_rendered_raises_for_unknown(client: httpx.AsyncClient, services: Services) -> None:
    with pytest.raises(NotFound):
        await rendered(services, _account(client), "nobody")
