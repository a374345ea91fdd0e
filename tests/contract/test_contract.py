"""Patron's responses checked against Sequence's published contract of each API version it serves
(`sequence-customers-<version>.openapi.json`: 2024-07-30, 2024-05-09, 2024-01-01).

The operation table: every operation in `patron.api.routes.OPERATIONS` is served by at least one
API version, and is in the contract file of each version that serves it with the same method,
path (under /api) and success status.

The scripted run: for every API version and every operation that version serves
(`VERSIONS[version].operations`), a script drives the operation through HTTP (successes and
failures), every call sending `Sequence-Version: <version>`. Every response of every script,
including those of the calls that set up the data, is checked by one `ContractRun`
(tests/contract/harness.py) against the contract of the version the call was made in:

- the call reached the contract operation the script names (method and path template);
- success responses: status, declared headers and body validated with openapi-core against the
  contract, and the scripted request validated against it too, so the scripts stay realistic;
- error responses: the status is one the contract declares for the operation, or one
  `UNDECLARED_ERROR_STATUSES` lists with the reason; the body is the error envelope of
  NOTES.md §1.6 (the contract gives error responses no body schema);
- every response echoes the version sent in `Sequence-Version` (NOTES.md §1.3).

Scripts may also make calls in another version, checked against that version's contract: older
versions' scripts read records written in 2024-07-30 with what they cannot express (newer enum
values, customers without a PRIMARY contact), whose older shape must still conform.

The contract's object schemas are open (no `additionalProperties`), so a misspelt optional field
(`archived_at` for `archivedAt`) would pass it. The copy held in memory closes them: a field the
contract does not name fails the check. Its `servers` URL is sandbox.sequencehq.com/api; requests
are validated as if sent there, which works because Patron serves the same paths under /api.

Scripts live beside this file, one module per resource (`scripts_*.py`), registered with
`@script(operationId, *versions)`. Serving an operation in a version without a script for it
there fails `test_responses_conform`; a script for an operation a version does not serve fails
`test_every_script_is_for_a_served_operation`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from patron.api.routes import EXTENSIONS_TAG, OPERATIONS, Operation
from patron.api.versions import VERSIONS
from tests.contract import (
    scripts_aliases,
    scripts_contacts,
    scripts_customers,
    scripts_legacy_customers,
    scripts_payment_settings,
)
from tests.contract.harness import (
    PATRON_PREFIX,
    SCRIPTS,
    ContractRun,
    contract_path,
    load_contract,
)

pytestmark = pytest.mark.contract

# Importing a script module registers its scripts in SCRIPTS.
SCRIPT_MODULES = (
    scripts_customers,
    scripts_legacy_customers,
    scripts_contacts,
    scripts_aliases,
    scripts_payment_settings,
)

# Patron's own operations (tagged "Patron extensions", docs/extensions.md) are in no Sequence
# contract, so these checks leave them out; tests/api covers them.
SEQUENCE_OPERATIONS = [op for op in OPERATIONS if op.tag != EXTENSIONS_TAG]
_EXTENSION_IDS = {op.operation_id for op in OPERATIONS if op.tag == EXTENSIONS_TAG}
SERVED = sorted(
    (v.name, op) for v in VERSIONS.values() for op in v.operations if op not in _EXTENSION_IDS
)


def _id(operation: Operation) -> str:
    return operation.operation_id


class TestOperationTable:
    @pytest.mark.parametrize("operation", SEQUENCE_OPERATIONS, ids=_id)
    def test_operation_is_in_its_versions_contracts(
        self, contract_dir: Path, operation: Operation
    ) -> None:
        versions = [v.name for v in VERSIONS.values() if operation.operation_id in v.operations]
        assert versions, f"{operation.operation_id} is in OPERATIONS but no API version serves it"
        for version in versions:
            contract = load_contract(contract_path(contract_dir, version))
            declared = contract.operations.get(operation.operation_id)
            assert declared is not None, (
                f"{operation.operation_id} is served in {version} but not in its contract"
            )
            assert operation.method.upper() == declared.method, version
            assert PATRON_PREFIX + operation.path == contract.server_path + declared.path, (
                f"Patron serves {PATRON_PREFIX}{operation.path}, "
                f"the {version} contract {contract.server_path}{declared.path}"
            )
            assert operation.success in declared.responses, (
                f"{operation.operation_id} answers {operation.success}; "
                f"the {version} contract declares {sorted(declared.responses)}"
            )

    def test_operation_ids_are_unique(self) -> None:
        ids = [op.operation_id for op in OPERATIONS]
        assert len(ids) == len(set(ids))

    def test_every_served_operation_is_routed(self) -> None:
        routed = {op.operation_id for op in OPERATIONS}
        assert [(v, op) for v, op in SERVED if op not in routed] == []


class TestScriptedRun:
    @pytest.mark.parametrize(
        ("version", "operation_id"), SERVED, ids=[f"{v}-{o}" for v, o in SERVED]
    )
    async def test_responses_conform(
        self,
        contract_dir: Path,
        client: httpx.AsyncClient,
        new_client: Callable[..., Awaitable[httpx.AsyncClient]],
        version: str,
        operation_id: str,
    ) -> None:
        run_script = SCRIPTS.get((version, operation_id))
        if run_script is None:
            pytest.fail(
                f"Patron serves {operation_id} in {version} but tests/contract/ has no script "
                f'for it there: add one with @script("{operation_id}", "{version}")'
            )
        run = ContractRun(version, contract_dir, client, new_client)
        await run_script(run)
        assert (version, operation_id) in run.succeeded, (
            f"the script for {operation_id} in {version} never got a success response from it"
        )
        assert (version, operation_id) in run.failed, (
            f"the script for {operation_id} in {version} never got an error response from it"
        )

    def test_every_script_is_for_a_served_operation(self) -> None:
        assert sorted(set(SCRIPTS) - set(SERVED)) == []
