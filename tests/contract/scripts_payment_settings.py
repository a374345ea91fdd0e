"""Scripts for customer payment settings, one set for every version.

2024-07-30 and 2024-05-09 serve them at /payments/settings/customers (operationIds
`...PaymentsSettingsCustomers...`); 2024-01-01 at /customer-settings (`...CustomerSettings...`),
with the same bodies. GOCARDLESS is a provider from 2024-07-30 on (older enums: STRIPE, NONE).
"""

from __future__ import annotations

from tests.contract.harness import UNKNOWN_ID, V0101, V0509, V0730, ContractRun, Json, script

# version -> (path, the operationId stem)
_ROUTES = {
    V0730: ("/payments/settings/customers", "PaymentsSettingsCustomers"),
    V0509: ("/payments/settings/customers", "PaymentsSettingsCustomers"),
    V0101: ("/customer-settings", "CustomerSettings"),
}


def _op(run: ContractRun, verb: str, by_id: bool = False) -> str:
    """The operationId of `verb` (post, get, put, delete) in the run's version."""
    return f"{verb}{_ROUTES[run.version][1]}{'ById' if by_id else ''}"


def _url(run: ContractRun, settings_id: str | None = None) -> str:
    path = _ROUTES[run.version][0]
    return path if settings_id is None else f"{path}/{settings_id}"


def _providers(run: ContractRun) -> tuple[str, ...]:
    return ("STRIPE", "GOCARDLESS", "NONE") if run.version == V0730 else ("STRIPE", "NONE")


async def _settings(run: ContractRun, provider: str = "STRIPE") -> Json:
    customer = await run.create_customer()
    response = await run.call(
        _op(run, "post"),
        "POST",
        _url(run),
        json={"customerId": customer["id"], "paymentProvider": provider},
        expect=201,
    )
    settings: Json = response.json()
    assert settings["sequenceAccountId"] == run.account_id
    return settings


@script("postPaymentsSettingsCustomers", V0730, V0509)
@script("postCustomerSettings", V0101)
async def create_settings(run: ContractRun) -> None:
    for provider in _providers(run):
        settings = await _settings(run, provider)
        assert settings["paymentProvider"] == provider
    for body, status in (
        ({"customerId": settings["customerId"], "paymentProvider": "STRIPE"}, 409),
        ({"customerId": UNKNOWN_ID, "paymentProvider": "NONE"}, 400),
        ({"customerId": settings["customerId"], "paymentProvider": "PAYPAL"}, 400),
        ({"paymentProvider": "NONE"}, 400),
    ):
        await run.call(_op(run, "post"), "POST", _url(run), json=body, expect=status)
    await run.call(
        _op(run, "post"),
        "POST",
        _url(run),
        json={"customerId": settings["customerId"], "paymentProvider": "NONE"},
        authenticated=False,
        expect=401,
    )


@script("getPaymentsSettingsCustomersById", V0730, V0509)
@script("getCustomerSettingsById", V0101)
async def get_settings(run: ContractRun) -> None:
    settings = await _settings(run)
    found = await run.call(_op(run, "get", True), "GET", _url(run, settings["id"]), expect=200)
    assert found.json() == settings
    await run.call(_op(run, "get", True), "GET", _url(run, UNKNOWN_ID), expect=404)
    other = await run.other_account()
    await run.call(
        _op(run, "get", True), "GET", _url(run, settings["id"]), client=other, expect=404
    )
    if run.version != V0730:
        # Settings made in 2024-07-30 with a provider this version's enum lacks, read here.
        customer = await run.create_customer(version=V0730)
        newer = await run.call(
            "postPaymentsSettingsCustomers",
            "POST",
            "/payments/settings/customers",
            json={"customerId": customer["id"], "paymentProvider": "GOCARDLESS"},
            expect=201,
            version=V0730,
        )
        await run.call(_op(run, "get", True), "GET", _url(run, newer.json()["id"]), expect=200)


@script("putPaymentsSettingsCustomersById", V0730, V0509)
@script("putCustomerSettingsById", V0101)
async def update_settings(run: ContractRun) -> None:
    settings = await _settings(run)
    url = _url(run, settings["id"])
    for provider in reversed(_providers(run)):
        updated = await run.call(
            _op(run, "put", True), "PUT", url, json={"paymentProvider": provider}, expect=200
        )
        assert updated.json() == {**settings, "paymentProvider": provider}
    for body in ({"paymentProvider": "X"}, {}):
        await run.call(_op(run, "put", True), "PUT", url, json=body, expect=400)
    await run.call(
        _op(run, "put", True),
        "PUT",
        _url(run, UNKNOWN_ID),
        json={"paymentProvider": "NONE"},
        expect=404,
    )


@script("deletePaymentsSettingsCustomersById", V0730, V0509)
@script("deleteCustomerSettingsById", V0101)
async def delete_settings(run: ContractRun) -> None:
    settings = await _settings(run)
    url = _url(run, settings["id"])
    deleted = await run.call(_op(run, "delete", True), "DELETE", url, expect=200)
    assert deleted.json() == settings
    await run.call(_op(run, "delete", True), "DELETE", url, expect=404)
    await run.call(_op(run, "get", True), "GET", url, expect=404)
    # The customer may have settings again.
    again = await run.call(
        _op(run, "post"),
        "POST",
        _url(run),
        json={"customerId": settings["customerId"], "paymentProvider": "NONE"},
        expect=201,
    )
    assert again.json()["id"] != settings["id"]
