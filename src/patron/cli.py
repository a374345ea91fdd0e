"""`patron`: serve, migrate, manage credentials, and import customers."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patron.api.versions import VERSIONS
from patron.config import Settings
from patron.domain.accounts import Credential, IssuedCredential
from patron.domain.errors import PatronError
from patron.services.credentials import CredentialService
from patron.storage.accounts import AccountStore
from patron.storage.database import MigrationRefused

BOOTSTRAP_ACCOUNT = "default"
# Seconds a thread may hold the GIL while another waits for it, during `patron import` (5 ms is
# Python's default).
_IMPORT_SWITCH_INTERVAL = 0.0005


def migrate(database_url: str) -> None:
    # Alembic and SQLAlchemy take a third of a second of CPU to load: only the commands that
    # migrate load them (an import into PostgreSQL does not).
    from patron.storage.migrate import migrate as up

    up(database_url)


def _when(micros: int | None) -> str:
    if micros is None:
        return "-"
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_credentials(
    settings: Settings, work: Callable[[CredentialService], Awaitable[Any]]
) -> Any:
    if settings.database_url.startswith("sqlite:"):
        migrate(settings.database_url)  # the embedded default sets itself up

    async def run() -> Any:
        from patron.app import connect  # patron.app loads the web stack: only where needed

        db = await connect(settings, settings.database_url, pool_min=1, pool_max=2, bounded=False)
        try:
            return await work(CredentialService(AccountStore(db)))
        finally:
            await db.close()

    return asyncio.run(run())


def _print_issued(issued: IssuedCredential, as_json: bool) -> None:
    c = issued.credential
    if as_json:
        out = {
            "accountId": c.account_id,
            "accountName": c.account_name,
            "clientId": c.client_id,
            "clientSecret": issued.client_secret,
        }
        if c.api_version:
            out["apiVersion"] = c.api_version
        print(json.dumps(out))
        return
    print(f"accountId:    {c.account_id}  ({c.account_name})")
    print(f"clientId:     {c.client_id}")
    print(f"clientSecret: {issued.client_secret}")
    if c.api_version:
        print(f"apiVersion:   {c.api_version}")
    print("The secret is shown only now: store it somewhere safe.")


def _credential_row(c: Credential) -> dict[str, Any]:
    return {
        "clientId": c.client_id,
        "accountId": c.account_id,
        "accountName": c.account_name,
        "apiVersion": c.api_version,
        "createdAt": _when(c.created_at),
        "revokedAt": None if c.revoked_at is None else _when(c.revoked_at),
    }


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from patron.server import serve

    if settings.database_url.startswith("sqlite:"):
        migrate(settings.database_url)
    serve(settings)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver webhooks until SIGTERM or SIGINT, as a process of its own (docs/webhooks.md)."""
    import logging.config
    import signal

    from patron.app import delivering
    from patron.logs import log_config
    from patron.storage.queue import DeliveryQueue

    if settings.database_url.startswith("sqlite:"):
        migrate(settings.database_url)
    logging.config.dictConfig(log_config(settings.log_level))

    async def run() -> None:
        from patron.app import connect  # patron.app loads the web stack: only where needed

        db = await connect(settings, settings.database_url, pool_min=1, pool_max=3)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with delivering(settings, DeliveryQueue(db)):
                print("patron worker: delivering webhooks", file=sys.stderr, flush=True)
                await stop.wait()
        finally:
            await db.close()

    asyncio.run(run())
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        migrate(settings.database_url)
    except MigrationRefused as refused:
        print(f"patron migrate: {refused}", file=sys.stderr)
        return 1
    print(f"Database at {_safe_url(settings.database_url)} is up to date.")
    return 0


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def cmd_credentials_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.version is not None and args.version not in VERSIONS:
        print(f"--version must be one of {', '.join(sorted(VERSIONS))}", file=sys.stderr)
        return 2
    issued = _with_credentials(
        settings, lambda svc: svc.create(args.account, api_version=args.version)
    )
    _print_issued(issued, args.json)
    return 0


def cmd_credentials_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """Issue a first credential (account `default`) when the database has none."""

    async def work(svc: CredentialService) -> IssuedCredential | None:
        if await svc.count() > 0:
            return None
        return await svc.create(BOOTSTRAP_ACCOUNT)

    issued = _with_credentials(settings, work)
    if issued is None:
        print("Credentials exist already: `patron credentials list` shows them.")
        return 0
    print("First credential for this Patron (account 'default'):")
    _print_issued(issued, as_json=False)
    return 0


def cmd_credentials_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = [_credential_row(c) for c in _with_credentials(settings, lambda svc: svc.list())]
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'clientId':38} {'account':20} {'version':11} {'created':21} revoked")
    for r in rows:
        print(
            f"{r['clientId']:38} {r['accountName'][:20]:20} {r['apiVersion'] or '-':11}"
            f" {r['createdAt']:21} {r['revokedAt'] or '-'}"
        )
    return 0


def cmd_credentials_revoke(args: argparse.Namespace, settings: Settings) -> int:
    try:
        c = _with_credentials(settings, lambda svc: svc.revoke(args.client_id))
    except PatronError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"Revoked {c.client_id} (account {c.account_name}) at {_when(c.revoked_at)}.")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from patron.api.importing import ImportFile, Report, UnknownColumns, sniff_format
    from patron.services.importing import ImportService, RowResult
    from patron.storage.bulk import BulkStore

    path = Path(args.file)
    if not path.is_file():
        print(f"No such file: {path}", file=sys.stderr)
        return 2
    source = ImportFile(path, args.format or sniff_format(path))
    report_path = Path(args.report) if args.report else path.with_name(path.name + ".report.ndjson")
    if settings.database_url.startswith("sqlite:"):
        migrate(settings.database_url)
    progress = Progress(source) if sys.stderr.isatty() else None

    async def run() -> Any:
        from patron.app import connect  # patron.app loads the web stack: only where needed

        # Two writers (BulkStore.batches_in_flight), the look-ups and ANALYZE.
        db = await connect(settings, settings.database_url, pool_min=1, pool_max=4, bounded=False)
        report = Report.open(report_path)
        try:
            account = await AccountStore(db).get_or_create_account(args.account)
            service = ImportService(
                BulkStore(db, account.id), account.id, batch_size=args.batch_size
            )

            def on_result(result: RowResult) -> None:
                report.write(result)
                if progress is not None:
                    progress.tick()

            return await service.run(source.rows(), on_result)
        finally:
            report.close()
            await db.close()

    started = time.monotonic()
    # An import makes a few dozen objects a row and keeps about two batches of them. At the
    # default thresholds the cyclic collector ran every 700 allocations and walked every object
    # of the process over and over: a quarter of the import's CPU. The objects made so far are
    # set aside (freeze) and collections come far less often, until the import ends.
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)
    # On SQLite each batch is written by a worker thread, which takes the GIL back for a moment
    # after each of its statements; the loop's thread, busy decoding, kept it up to the switch
    # interval (5 ms) every time (docs/performance.md, "Session 8: import").
    interval = sys.getswitchinterval()
    sys.setswitchinterval(_IMPORT_SWITCH_INTERVAL)
    try:
        counts = asyncio.run(run())
    except UnknownColumns as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    if progress is not None:
        progress.done()
    seconds = time.monotonic() - started
    print(
        f"created {counts.created}, skipped {counts.skipped}, errors {counts.error}"
        f" in {seconds:.1f} s; report: {report_path}"
    )
    return 1 if counts.error else 0


class Progress:
    """A one-line progress bar on stderr (only drawn when stderr is a terminal)."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self._rows = 0
        self._shown = 0.0
        self._started = time.monotonic()

    def tick(self) -> None:
        self._rows += 1
        now = time.monotonic()
        if now - self._shown >= 0.2:
            self._shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = self._source.position / max(1, self._source.size)
        bar = "#" * int(share * 30)
        rate = self._rows / max(now - self._started, 1e-6)
        sys.stderr.write(f"\r[{bar:30}] {share:6.1%} {self._rows:>10,} rows {rate:>9,.0f}/s")
        sys.stderr.flush()

    def done(self) -> None:
        self._draw(time.monotonic())
        sys.stderr.write("\n")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="patron", description=__doc__)
    top.add_argument(
        "--database-url", help="sqlite:///PATH or postgresql://... (env PATRON_DATABASE_URL)"
    )
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API")
    serve.add_argument("--host", help="bind address (env PATRON_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env PATRON_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="processes (env PATRON_WORKERS, default 1)")
    serve.set_defaults(run=cmd_serve)

    sub.add_parser(
        "worker", help="deliver webhooks as a process of its own (docs/webhooks.md)"
    ).set_defaults(run=cmd_worker)

    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        run=cmd_migrate
    )

    creds = sub.add_parser("credentials", help="manage API credentials").add_subparsers(
        dest="action", required=True
    )
    create = creds.add_parser("create", help="issue a credential (creates the account if new)")
    create.add_argument("--account", required=True, help="account name")
    create.add_argument("--version", help="pin the credential to an API version")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(run=cmd_credentials_create)
    listing = creds.add_parser("list", help="list credentials (never secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=cmd_credentials_list)
    revoke = creds.add_parser("revoke", help="revoke a credential")
    revoke.add_argument("client_id")
    revoke.set_defaults(run=cmd_credentials_revoke)
    creds.add_parser(
        "bootstrap", help="issue a first credential when there is none (used by make run)"
    ).set_defaults(run=cmd_credentials_bootstrap)

    imp = sub.add_parser("import", help="import customers from NDJSON or CSV (docs/import.md)")
    imp.add_argument("file", help="the file: one 2024-07-30 create body a line, or CSV")
    imp.add_argument("--account", required=True, help="account name (made if new)")
    imp.add_argument("--format", choices=("ndjson", "csv"), help="default: by the file's extension")
    imp.add_argument("--report", help="per-row results; .csv for CSV, else NDJSON")
    imp.add_argument("--batch-size", type=int, default=2000, help="rows per transaction")
    imp.set_defaults(run=cmd_import)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env().but(
        database_url=args.database_url,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        workers=getattr(args, "workers", None),
    )
    code: int = args.run(args, settings)
    return code
