"""Settings, read from the environment (PATRON_*) and overridable by CLI flags.

Every setting is documented in docs/configuration.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///var/patron.db"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, not {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    max_body_bytes: int = 1024 * 1024
    auth_cache_seconds: float = 10.0
    pool_min: int = 2
    pool_max: int = 10
    # PostgreSQL standby for GET requests (docs/deploy.md); empty: every read goes to the primary.
    database_read_url: str = ""
    # Bounds on waiting for PostgreSQL, so a request answers 503 instead of hanging when the server
    # is gone or failing over: opening a connection, and each statement (COMMIT included).
    database_connect_timeout_seconds: float = 5.0
    database_command_timeout_seconds: float = 15.0
    # Prepared statements asyncpg keeps per connection; 0 behind PgBouncer in transaction mode
    # before 1.21, which cannot follow a named statement from one server connection to another.
    database_statement_cache_size: int = 100
    # How long an Idempotency-Key and its answer are kept (the contract says 24 hours), and how
    # long a request waits for another one running with its key before a 409.
    idempotency_ttl_seconds: int = 86400
    idempotency_wait_seconds: float = 10.0
    # Abuse limits (docs/security.md); the rate limit is off unless set.
    rate_limit_per_minute: int = 0
    auth_failure_delay_max_seconds: float = 5.0
    max_header_bytes: int = 16 * 1024
    request_read_timeout_seconds: float = 15.0
    keep_alive_seconds: int = 5
    max_connections: int = 1000
    # Webhooks (docs/webhooks.md): the embedded dispatcher, attempts, retries, the deny-list.
    webhook_dispatcher: bool = True
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_max_seconds: float = 3600.0
    webhook_retry_seconds: float = 86400.0
    webhook_poll_seconds: float = 1.0
    webhook_concurrency: int = 10
    webhook_deny_private: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("PATRON_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=os.environ.get("PATRON_HOST") or "127.0.0.1",
            port=_int("PATRON_PORT", 8000),
            workers=_int("PATRON_WORKERS", 1),
            log_level=os.environ.get("PATRON_LOG_LEVEL") or "info",
            max_body_bytes=_int("PATRON_MAX_BODY_BYTES", 1024 * 1024),
            auth_cache_seconds=_float("PATRON_AUTH_CACHE_SECONDS", 10.0),
            pool_min=_int("PATRON_DATABASE_POOL_MIN", 2),
            pool_max=_int("PATRON_DATABASE_POOL_MAX", 10),
            database_read_url=os.environ.get("PATRON_DATABASE_READ_URL") or "",
            database_connect_timeout_seconds=_float("PATRON_DATABASE_CONNECT_TIMEOUT_SECONDS", 5.0),
            database_command_timeout_seconds=_float(
                "PATRON_DATABASE_COMMAND_TIMEOUT_SECONDS", 15.0
            ),
            database_statement_cache_size=_int("PATRON_DATABASE_STATEMENT_CACHE_SIZE", 100),
            idempotency_ttl_seconds=_int("PATRON_IDEMPOTENCY_TTL_SECONDS", 86400),
            idempotency_wait_seconds=_float("PATRON_IDEMPOTENCY_WAIT_SECONDS", 10.0),
            rate_limit_per_minute=_int("PATRON_RATE_LIMIT_PER_MINUTE", 0),
            auth_failure_delay_max_seconds=_float("PATRON_AUTH_FAILURE_DELAY_MAX_SECONDS", 5.0),
            max_header_bytes=_int("PATRON_MAX_HEADER_BYTES", 16 * 1024),
            request_read_timeout_seconds=_float("PATRON_REQUEST_READ_TIMEOUT_SECONDS", 15.0),
            keep_alive_seconds=_int("PATRON_KEEP_ALIVE_SECONDS", 5),
            max_connections=_int("PATRON_MAX_CONNECTIONS", 1000),
            webhook_dispatcher=_bool("PATRON_WEBHOOK_DISPATCHER", True),
            webhook_timeout_seconds=_float("PATRON_WEBHOOK_TIMEOUT_SECONDS", 10.0),
            webhook_backoff_base_seconds=_float("PATRON_WEBHOOK_BACKOFF_BASE_SECONDS", 5.0),
            webhook_backoff_max_seconds=_float("PATRON_WEBHOOK_BACKOFF_MAX_SECONDS", 3600.0),
            webhook_retry_seconds=_float("PATRON_WEBHOOK_RETRY_SECONDS", 86400.0),
            webhook_poll_seconds=_float("PATRON_WEBHOOK_POLL_SECONDS", 1.0),
            webhook_concurrency=_int("PATRON_WEBHOOK_CONCURRENCY", 10),
            webhook_deny_private=_bool("PATRON_WEBHOOK_DENY_PRIVATE", False),
        )

    def but(self, **changes: Any) -> Settings:
        """A copy with the given settings changed (`None` values leave a setting as it is)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
