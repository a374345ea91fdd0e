"""The bad input catalogue (docs/security.md): broken or hostile input gets a clear 4xx in the
error envelope or is stored exactly, and the server keeps serving after each.

The body and path checks run over every operation in `OPERATIONS`, so operations added later are
covered without touching this file.
"""

from __future__ import annotations

import base64
import random
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from patron.api.routes import OPERATIONS, Operation
from patron.api.versions import LATEST, VERSIONS
from patron.domain import limits
from tests.factories import contact, customer_body, make_customer

pytestmark = pytest.mark.asyncio

BODY_OPERATIONS = [op for op in OPERATIONS if op.request is not None]
_PARAM = re.compile(r"\{([^}]+)\}")


def _op_id(op: Operation) -> str:
    return op.operation_id


def version_of(op: Operation) -> str:
    """A version that serves `op` (the latest when it does)."""
    if op.operation_id in LATEST.operations:
        return LATEST.name
    return next(v.name for v in VERSIONS.values() if op.operation_id in v.operations)


def fill(op: Operation, customer_id: str) -> str:
    """The operation's path with `{id}` set to a live customer and other ids made up."""
    return _PARAM.sub(lambda m: customer_id if m.group(1) == "id" else str(uuid.uuid4()), op.path)


def error_of(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["type"]
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def fields_of(response: httpx.Response) -> set[str]:
    return {e["field"] for e in error_of(response, 400).get("errors", [])}


def random_text(near: str, length: int) -> str:
    """`length` characters drawn at random from the 2,000 code points from `near` on."""
    rng = random.Random(ord(near))
    return "".join(chr(ord(near) + rng.randrange(2000)) for _ in range(length))


async def still_serving(client: httpx.AsyncClient) -> None:
    response = await client.get("/customers")
    assert response.status_code == 200, response.text


# Raw bodies no operation may accept, and the status each gets.
BAD_BODIES: dict[str, bytes] = {
    "invalid-utf8": b'{"legalName": "\xff\xfe\xfd"}',
    "overlong-utf8": b'{"legalName": "\xc0\xaf"}',
    "utf8-surrogate": b'{"legalName": "\xed\xa0\x80"}',
    "escaped-lone-surrogate": b'{"legalName": "\\ud800"}',
    "escaped-nul": b'{"legalName": "a\\u0000b"}',
    "escaped-nul-in-unknown-field": b'{"whatever": "a\\u0000b"}',
    "nul-in-key": b'{"a\\u0000b": 1}',
    "raw-control-in-string": b'{"legalName": "a\x01b"}',
    "deep-arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep-objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "moderately-deep": b'{"a":' * (limits.JSON_DEPTH_MAX + 2)
    + b"1"
    + b"}" * (limits.JSON_DEPTH_MAX + 2),
    "huge-integer": b'{"legalName": ' + b"9" * 10_000 + b"}",
    "huge-float": b'{"legalName": 1e999}',
    "nan": b'{"legalName": NaN}',
    "duplicate-keys": b'{"legalName": "A", "legalName": "B"}',
    "not-an-object": b"[1, 2, 3]",
    "a-string": b'"hello"',
    "null": b"null",
    "truncated": b'{"legalName": "A',
    "byte-order-mark": b'\xef\xbb\xbf{"legalName": "A"}',
    "trailing-garbage": b'{"legalName": "A"} {}',
}


class TestBadBodies:
    @pytest.mark.parametrize("op", BODY_OPERATIONS, ids=_op_id)
    @pytest.mark.parametrize("name", BAD_BODIES)
    async def test_is_a_400_in_the_envelope(
        self, client: httpx.AsyncClient, op: Operation, name: str
    ) -> None:
        customer = await make_customer(client)
        path = fill(op, customer["id"])
        response = await client.request(
            op.method,
            path,
            content=BAD_BODIES[name],
            headers={"Sequence-Version": version_of(op)},
        )
        # An operation with ids besides the customer's may look its record up first.
        others = [name for name in _PARAM.findall(op.path) if name != "id"]
        error_of(response, *((400, 404) if others else (400,)))
        await still_serving(client)
        unchanged = await client.get(f"/customers/{customer['id']}")
        assert unchanged.json()["legalName"] == customer["legalName"]

    async def test_duplicate_keys_are_named(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/customers", content=BAD_BODIES["duplicate-keys"])
        assert "legalName" in fields_of(response)

    async def test_nesting_limit_is_named(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/customers", content=BAD_BODIES["moderately-deep"])
        assert "nested" in error_of(response, 400)["message"]

    async def test_nesting_within_the_limit_is_read(self, client: httpx.AsyncClient) -> None:
        body = customer_body(deep={"a": {"b": {"c": [[["fine"]]]}}})
        response = await client.post("/customers", json=body)
        assert response.status_code == 201, response.text


# Every C0 control, DEL and a C1 control; all refused (docs/security.md).
CONTROLS = ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"]


class TestControlCharacters:
    @pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
    async def test_are_refused_in_every_text_field(
        self, client: httpx.AsyncClient, char: str
    ) -> None:
        bad = f"bad{char}text"
        body = customer_body(
            legalName=bad,
            label=bad,
            url=f"https://example.com/{char}",
            customerAliases=["fine", bad],
            customProperties={"region": bad, bad: "value"},
            contacts=[contact(name=bad, email=f"a{char}@example.com")],
        )
        body["address"]["line1"] = bad
        response = await client.post("/customers", json=body)
        assert fields_of(response) >= {
            "legalName",
            "label",
            "url",
            "customerAliases[1]",
            "customProperties",
            "customProperties.region",
            "contacts[0].name",
            "contacts[0].email",
            "address.line1",
        }
        assert await _count(client) == 0

    @pytest.mark.parametrize("char", ["\x00", "\x1b", "\x85"], ids=lambda c: f"U+{ord(c):04X}")
    @pytest.mark.parametrize("param", ["legalName", "email", "alias", "label", "after", "sortBy"])
    async def test_are_refused_in_query_parameters(
        self, client: httpx.AsyncClient, char: str, param: str
    ) -> None:
        response = await client.get("/customers", params={param: f"x{char}y"})
        assert param in fields_of(response)
        await still_serving(client)

    @pytest.mark.parametrize("op", [op for op in OPERATIONS if "{" in op.path], ids=_op_id)
    @pytest.mark.parametrize("raw", ["%00", "abc%00def", "%1B%5B31m", "%C2%85"])
    async def test_in_a_path_id_are_a_404(
        self, client: httpx.AsyncClient, op: Operation, raw: str
    ) -> None:
        path = _PARAM.sub(raw, op.path)
        response = await client.request(
            op.method,
            path,
            json=customer_body(),
            headers={"Sequence-Version": version_of(op)},
        )
        error_of(response, 404)
        await still_serving(client)


async def _count(client: httpx.AsyncClient) -> int:
    response = await client.get("/customers", params={"includeArchived": "true"})
    total: int = response.json()["pagination"]["totalResultSize"]
    return total


class TestSizes:
    @pytest.mark.parametrize(
        ("field", "overrides"),
        [
            ("legalName", {"legalName": "x" * (limits.NAME_MAX + 1)}),
            ("label", {"label": "x" * (limits.NAME_MAX + 1)}),
            ("url", {"url": "https://example.com/" + "x" * limits.URL_MAX}),
            ("customerAliases[0]", {"customerAliases": ["x" * (limits.ALIAS_MAX + 1)]}),
            ("contacts[0].name", {"contacts": [contact(name="x" * (limits.NAME_MAX + 1))]}),
            (
                "contacts[0].email",
                {"contacts": [contact(email="x" * limits.EMAIL_MAX + "@example.com")]},
            ),
            (
                "customProperties.k",
                {"customProperties": {"k": "v" * (limits.CUSTOM_PROPERTY_VALUE_MAX + 1)}},
            ),
            (
                "customProperties." + "k" * (limits.CUSTOM_PROPERTY_KEY_MAX + 1),
                {"customProperties": {"k" * (limits.CUSTOM_PROPERTY_KEY_MAX + 1): "v"}},
            ),
        ],
    )
    async def test_a_too_long_string_names_its_field(
        self, client: httpx.AsyncClient, field: str, overrides: dict[str, Any]
    ) -> None:
        response = await client.post("/customers", json=customer_body(**overrides))
        assert field in fields_of(response)
        assert await _count(client) == 0

    @pytest.mark.parametrize("char", ["é", "株", "🦄", "ΐ"])
    async def test_longest_strings_of_wide_characters_are_stored(
        self, client: httpx.AsyncClient, char: str
    ) -> None:
        # Wide characters make the longest values several times their length in bytes, which
        # must still fit every index they are in (PostgreSQL b-tree entries stop at 2704 bytes,
        # and random text does not compress).
        noisy = random_text(char, 1000)
        value = noisy[: limits.CUSTOM_PROPERTY_VALUE_MAX]
        while len(value.encode()) > limits.CUSTOM_PROPERTY_VALUE_MAX_BYTES:
            value = value[:-1]
        body = customer_body(
            legalName=char * limits.NAME_MAX,
            label=noisy[: limits.NAME_MAX],
            customerAliases=[noisy[: limits.ALIAS_MAX]],
            customProperties={noisy[-limits.CUSTOM_PROPERTY_KEY_MAX :]: value},
            contacts=[contact(name=noisy[: limits.NAME_MAX])],
        )
        body["address"]["line1"] = noisy[: limits.NAME_MAX]
        response = await client.post("/customers", json=body)
        assert response.status_code == 201, response.text
        fetched = (await client.get(f"/customers/{response.json()['id']}")).json()
        assert fetched["legalName"] == body["legalName"]
        assert fetched["customProperties"] == body["customProperties"]
        sorted_by = await client.get(
            "/customers", params={"sortBy": f"customProperties.{noisy[-100:]}"}
        )
        assert sorted_by.status_code == 200

    async def test_a_property_value_over_the_byte_limit(self, client: httpx.AsyncClient) -> None:
        value = random_text("株", limits.CUSTOM_PROPERTY_VALUE_MAX)  # 3 bytes each
        response = await client.post(
            "/customers", json=customer_body(customProperties={"k": value})
        )
        assert fields_of(response) == {"customProperties.k"}
        assert "bytes" in error_of(response, 400)["errors"][0]["message"]

    @pytest.mark.parametrize("value", [10**30, -(10**30), 1e300, 12, True, None, [], {}], ids=repr)
    async def test_a_number_or_other_type_where_text_is_expected(
        self, client: httpx.AsyncClient, value: Any
    ) -> None:
        body = customer_body() | {"legalName": value}
        response = await client.post("/customers", json=body)
        assert "legalName" in fields_of(response)

    @pytest.mark.parametrize(
        "limit",
        ["0", "101", "-1", "1.5", "1e2", "0x10", "²", "١٢", "１２", "9" * 40, " 5", "5 "],  # noqa: RUF001
    )
    async def test_a_limit_that_is_not_a_small_whole_number(
        self, client: httpx.AsyncClient, limit: str
    ) -> None:
        response = await client.get("/customers", params={"limit": limit})
        assert fields_of(response) == {"limit"}

    async def test_a_too_long_filter(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/customers", params={"legalName": "x" * 5000})
        assert fields_of(response) == {"legalName"}


UNICODE_NAMES = [
    "Société Générale d'Électricité",
    "株式会社テスト商事",
    "🦄 Unicorn 👩‍👩‍👧‍👦 Holdings 🇪🇺",
    "Cafe\u0301 Combining Ma\u0308rks",  # decomposed: must not be normalised to NFC
    "Caf\u00e9 Precomposed",
    "\u200fشركة الاختبار\u200f",  # Arabic with right-to-left marks
    "חברת בדיקה בע״מ",
    "Ωmega ǅungla ß Straße İstanbul",
    "Zero\u200bWidth\u200dJoiner\ufeffNoBreak",
    "𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𝟙𝟚𝟛",  # noqa: RUF001
]


class TestUnicode:
    @pytest.mark.parametrize("name", UNICODE_NAMES)
    async def test_round_trips_byte_for_byte(self, client: httpx.AsyncClient, name: str) -> None:
        body = customer_body(
            legalName=name,
            label=name,
            customerAliases=[name],
            customProperties={name: name},
            contacts=[contact(name=name)],
        )
        body["address"]["line1"] = name
        created = await client.post("/customers", json=body)
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]
        fetched = await client.get(f"/customers/{customer_id}")
        listed = await client.get("/customers", params={"legalName": name})
        by_alias = await client.get("/customers", params={"alias": name})
        for customer in (created.json(), fetched.json(), listed.json()["items"][0]):
            assert customer["legalName"].encode() == name.encode()
            assert customer["label"].encode() == name.encode()
            assert customer["address"]["line1"].encode() == name.encode()
            assert customer["customProperties"] == {name: name}
        assert fetched.json()["contacts"][0]["name"].encode() == name.encode()
        assert [c["id"] for c in by_alias.json()["items"]] == [customer_id]
        assert (await client.get("/customer-custom-property-keys")).json()["items"] == [name]


WILDCARDS = ["%", "_", "%%", "a%", "_a_", "\\", "\\%", "[a-z]", "*", "?", "'", '"', ";"]
INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE customers; --",
    "1) OR (1=1",
    "$1",
    "?1",
    "' UNION SELECT id FROM accounts --",
]


class TestWildcardsAndSql:
    @pytest.mark.parametrize("param", ["legalName", "email", "alias", "label"])
    async def test_filters_match_literally(self, client: httpx.AsyncClient, param: str) -> None:
        tricky = "100% _Pure_ O'Brien \\ [Ltd]; --"
        plain = await make_customer(client, legalName="Plain", label="plain")
        values = {
            "legalName": tricky,
            "label": tricky,
            "alias": tricky,
            "email": "o'brien%_x@example.com",
        }
        target = await make_customer(
            client,
            legalName=tricky,
            label=tricky,
            customerAliases=[tricky],
            contacts=[contact(email=values["email"])],
        )
        exact = await client.get("/customers", params={param: values[param]})
        assert [c["id"] for c in exact.json()["items"]] == [target["id"]]
        for probe in [*WILDCARDS, *INJECTIONS]:
            response = await client.get("/customers", params={param: probe})
            assert response.status_code == 200, (probe, response.text)
            assert response.json()["items"] == [], probe
        assert plain["id"] != target["id"]
        assert await _count(client) == 2

    @pytest.mark.parametrize("probe", [*WILDCARDS, *INJECTIONS])
    async def test_sort_and_choice_parameters(self, client: httpx.AsyncClient, probe: str) -> None:
        await make_customer(client, customProperties={"tier": "gold"})
        for params in (
            {"sortBy": f"customProperties.{probe}"},
            {"sortBy": probe},
            {"sortOrder": probe},
            {"billingStatus": probe},
            {"includeArchived": probe},
        ):
            response = await client.get("/customers", params=params)
            assert response.status_code in (200, 400), (params, response.text)
            if response.status_code == 400:
                error_of(response, 400)
        await still_serving(client)

    @pytest.mark.parametrize("probe", INJECTIONS)
    async def test_stored_exactly(self, client: httpx.AsyncClient, probe: str) -> None:
        created = await make_customer(client, legalName=probe, customProperties={probe: probe})
        fetched = (await client.get(f"/customers/{created['id']}")).json()
        assert fetched["legalName"] == probe
        assert fetched["customProperties"] == {probe: probe}

    @pytest.mark.parametrize("probe", INJECTIONS)
    async def test_in_a_path_id(self, client: httpx.AsyncClient, probe: str) -> None:
        await make_customer(client)
        response = await client.get(f"/customers/{quote(probe, safe='')}")
        error_of(response, 404)
        await still_serving(client)


class TestTamperedCursors:
    async def _cursor(self, client: httpx.AsyncClient) -> str:
        for _ in range(3):
            await make_customer(client)
        page = (await client.get("/customers", params={"limit": 1})).json()
        cursor: str = page["pagination"]["after"]
        return cursor

    @staticmethod
    def _tampered(cursor: str) -> dict[str, str]:
        payload, mac = cursor.split(".")
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        edited = raw.replace(b'"createdAt"', b'"legalName"')
        forged = base64.urlsafe_b64encode(edited).rstrip(b"=").decode()
        flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
        return {
            "flipped-mac": f"{payload}.{flipped}",
            "edited-payload": f"{forged}.{mac}",
            "no-mac": payload,
            "empty-mac": f"{payload}.",
            "extra-part": f"{cursor}.x",
            "dots": "...",
            "not-base64": "!!!.@@@",
            "non-ascii": "é.ü",
            "unicode-digits": "١٢٣.٤٥٦",
            "json-injection": base64.urlsafe_b64encode(b'["createdAt","desc",0,"x"]').decode()
            + ".AAAA",
            "long": "A" * limits.FILTER_MAX + "." + "B" * 10,
            "padding": cursor + "==",
        }

    async def test_every_tampering_is_a_400(self, client: httpx.AsyncClient) -> None:
        cursor = await self._cursor(client)
        for name, bad in self._tampered(cursor).items():
            for direction in ("after", "before"):
                response = await client.get("/customers", params={direction: bad, "limit": 1})
                assert response.status_code == 400, (name, response.text)
                assert direction in fields_of(response), name
        assert (await client.get("/customers", params={"after": cursor})).status_code == 200

    async def test_another_account_cannot_use_a_cursor(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        cursor = await self._cursor(client)
        await make_customer(other_client)
        response = await other_client.get("/customers", params={"after": cursor})
        assert fields_of(response) == {"after"}


class TestAuthorizationHeader:
    @pytest.mark.parametrize(
        "value",
        [
            "Basic " + base64.b64encode(b"\x00:secret").decode(),
            "Basic " + base64.b64encode(b"id\x00:secret\x00").decode(),
            "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
            "Basic " + base64.b64encode("é".encode() * 5000 + b":x").decode(),
            "Basic é",
            "Basic ===",
            "Basic " + "A" * 10_000,
            "Bearer token",
            "Basic",
        ],
        ids=range(9),
    )
    async def test_garbage_is_a_401(self, client: httpx.AsyncClient, value: str) -> None:
        response = await client.get("/customers", headers={b"Authorization": value.encode()})
        error_of(response, 401)
        await still_serving(client)
