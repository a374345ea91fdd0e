"""The `patron` command: migrate and credentials, run in-process against the test database."""

from __future__ import annotations

import json
import uuid

import pytest

from patron.cli import main


def run(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", database_url, *args])
    out, err = capsys.readouterr()
    return code, out, err


class TestMigrate:
    def test_is_repeatable(self, capsys: pytest.CaptureFixture[str], database_url: str) -> None:
        for _ in range(2):
            code, out, _ = run(capsys, database_url, "migrate")
            assert code == 0
            assert "up to date" in out

    def test_upgrades_an_empty_sqlite_database(
        self, capsys: pytest.CaptureFixture[str], tmp_path: object
    ) -> None:
        url = f"sqlite:///{tmp_path}/fresh/patron.db"
        assert run(capsys, url, "migrate")[0] == 0
        code, out, _ = run(capsys, url, "credentials", "list", "--json")
        assert (code, json.loads(out)) == (0, [])


class TestCredentials:
    def test_create_prints_the_secret_once(
        self, capsys: pytest.CaptureFixture[str], database_url: str
    ) -> None:
        account = f"cli-{uuid.uuid4().hex[:8]}"
        code, out, _ = run(
            capsys, database_url, "credentials", "create", "--account", account, "--json"
        )
        assert code == 0
        issued = json.loads(out)
        assert set(issued) >= {"accountId", "clientId", "clientSecret"}
        code, out, _ = run(capsys, database_url, "credentials", "list", "--json")
        listed = {c["clientId"]: c for c in json.loads(out)}
        assert listed[issued["clientId"]]["accountId"] == issued["accountId"]
        assert issued["clientSecret"] not in out
        # A second credential for the same account name lands in the same account.
        _, again, _ = run(
            capsys, database_url, "credentials", "create", "--account", account, "--json"
        )
        assert json.loads(again)["accountId"] == issued["accountId"]

    def test_human_output_names_the_fields(
        self, capsys: pytest.CaptureFixture[str], database_url: str
    ) -> None:
        code, out, _ = run(capsys, database_url, "credentials", "create", "--account", "human")
        assert code == 0
        for label in ("accountId:", "clientId:", "clientSecret:", "shown only now"):
            assert label in out

    def test_revoke(self, capsys: pytest.CaptureFixture[str], database_url: str) -> None:
        _, out, _ = run(capsys, database_url, "credentials", "create", "--account", "r", "--json")
        client_id = json.loads(out)["clientId"]
        code, out, _ = run(capsys, database_url, "credentials", "revoke", client_id)
        assert code == 0
        assert f"Revoked {client_id}" in out
        _, out, _ = run(capsys, database_url, "credentials", "list", "--json")
        assert next(c for c in json.loads(out) if c["clientId"] == client_id)["revokedAt"]

    def test_revoke_unknown(self, capsys: pytest.CaptureFixture[str], database_url: str) -> None:
        code, _, err = run(capsys, database_url, "credentials", "revoke", "nope")
        assert code == 1
        assert "nope" in err

    def test_unknown_version_is_refused(
        self, capsys: pytest.CaptureFixture[str], database_url: str
    ) -> None:
        code, _, err = run(
            capsys,
            database_url,
            "credentials",
            "create",
            "--account",
            "v",
            "--version",
            "1999-01-01",
        )
        assert code == 2
        assert "2024-07-30" in err

    def test_bootstrap_issues_only_when_there_is_none(
        self, capsys: pytest.CaptureFixture[str], tmp_path: object
    ) -> None:
        url = f"sqlite:///{tmp_path}/boot.db"
        code, out, _ = run(capsys, url, "credentials", "bootstrap")
        assert code == 0
        assert "clientSecret:" in out
        code, out, _ = run(capsys, url, "credentials", "bootstrap")
        assert code == 0
        assert "clientSecret" not in out
        _, listed, _ = run(capsys, url, "credentials", "list", "--json")
        assert len(json.loads(listed)) == 1
