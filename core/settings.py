"""The one place that reads the environment (and an optional `.env`).

A bad value stops start-up with a message that names the variable (`SettingsError`).
"""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.secret_strength import secret_problem
from core.venues import DEFAULT_URLS


class SettingsError(Exception):
    """A setting has a bad value; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # CA bundle that signed a managed Redis' TLS certificate (with a rediss:// REDIS_URL). PostgreSQL
    # takes its CA in DATABASE_URL (`?sslmode=verify-full&sslrootcert=PATH`) or from PGSSLROOTCERT.
    redis_ca: Path | None = Field(default=None, alias="PERPVOL_REDIS_CA")
    app_secret_key: SecretStr | None = Field(default=None, alias="APP_SECRET_KEY")
    # During a rotation: the secret before APP_SECRET_KEY. Credentials under it still open, and the
    # worker re-seals them under APP_SECRET_KEY; remove it once the worker has logged that it is done.
    app_secret_key_previous: SecretStr | None = Field(default=None, alias="APP_SECRET_KEY_PREVIOUS")

    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("perpvol")), alias="PERPVOL_DATA_DIR")
    # "simulated" data lives in its own database and Redis namespace and is labelled everywhere.
    data_mode: Literal["real", "simulated"] = Field(default="real", alias="PERPVOL_DATA_MODE")
    redis_prefix: str = Field(default="perpvol", alias="PERPVOL_REDIS_PREFIX")

    bybit_url: str = Field(default=DEFAULT_URLS["bybit"], alias="PERPVOL_BYBIT_URL")
    woox_url: str = Field(default=DEFAULT_URLS["woox"], alias="PERPVOL_WOOX_URL")
    hyperliquid_url: str = Field(default=DEFAULT_URLS["hyperliquid"], alias="PERPVOL_HYPERLIQUID_URL")
    paradex_url: str = Field(default=DEFAULT_URLS["paradex"], alias="PERPVOL_PARADEX_URL")

    poll_seconds: int = Field(default=15, ge=1, le=3600, alias="PERPVOL_POLL_SECONDS")
    stale_seconds: int = Field(default=120, ge=5, alias="PERPVOL_STALE_SECONDS")
    history_days: int = Field(default=730, ge=1, le=3650, alias="PERPVOL_HISTORY_DAYS")
    revise_days: int = Field(default=3, ge=1, le=60, alias="PERPVOL_REVISE_DAYS")
    http_timeout: float = Field(default=15.0, gt=0, le=300, alias="PERPVOL_HTTP_TIMEOUT")
    # Multiplies each venue's client-side rate limit. Only raise it against `perpvol sim --no-rate-limit`.
    rate_limit_scale: float = Field(default=1.0, gt=0, le=1000, alias="PERPVOL_RATE_LIMIT_SCALE")
    # How long a worker's claim on a market's backfill lasts without renewal (after a crash, the
    # market is free again after this).
    lease_seconds: int = Field(default=90, ge=1, le=3600, alias="PERPVOL_LEASE_SECONDS")

    host: str = Field(default="127.0.0.1", alias="PERPVOL_HOST")
    port: int = Field(default=8000, ge=1, le=65535, alias="PERPVOL_PORT")
    public_rate_limit: int = Field(default=120, ge=1, alias="PERPVOL_PUBLIC_RATE_LIMIT")
    # Open live streams (SSE + WebSocket) one client address may hold in one web process.
    live_streams_per_client: int = Field(default=32, ge=1, le=100_000, alias="PERPVOL_LIVE_STREAMS_PER_CLIENT")
    # Host names the web app answers to, comma-separated, besides localhost and the listen address
    # (DNS rebinding: a page on evil.example resolving to this machine sends `Host: evil.example`).
    allowed_hosts: str = Field(default="", alias="PERPVOL_ALLOWED_HOSTS")
    # Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-Proto / X-Forwarded-For are
    # believed: the scheme (https: HSTS, secure cookies) and the client address (throttles, limits).
    trusted_proxies: str = Field(default="", alias="PERPVOL_TRUSTED_PROXIES")

    # Accounts: who may sign up (`perpvol user create` works either way), whether keys that can trade
    # or withdraw are accepted (with a warning), and the cookie's Secure flag (off only for local http).
    signup: Literal["open", "closed"] = Field(default="open", alias="PERPVOL_SIGNUP")
    allow_trade_keys: bool = Field(default=False, alias="PERPVOL_ALLOW_TRADE_KEYS")
    cookie_secure: bool = Field(default=True, alias="PERPVOL_COOKIE_SECURE")
    # A session unused this long ends (besides its 30-day lifetime): a forgotten signed-in browser.
    session_idle_minutes: int = Field(default=720, ge=5, le=43_200, alias="PERPVOL_SESSION_IDLE_MINUTES")

    @field_validator("bybit_url", "woox_url", "hyperliquid_url", "paradex_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("app_secret_key")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        problem = secret_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("app_secret_key_previous")
    @classmethod
    def _empty_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ip_network(part.strip(), strict=False)  # ValueError names the bad entry
        return value

    @property
    def trusted_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip())

    @field_validator("poll_seconds")
    @classmethod
    def _schedulable(cls, value: int) -> int:
        # The worker polls on a cron schedule: the interval must tile a minute or an hour.
        if (value < 60 and 60 % value == 0) or (value % 60 == 0 and 3600 % value == 0):
            return value
        raise ValueError("must divide 60 (5, 10, 15, 30) or be whole minutes that divide an hour (60, 120, 300)")

    @field_validator("database_url")
    @classmethod
    def _pg_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return value or None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value or None

    @model_validator(mode="after")
    def _redis_tls(self) -> Settings:
        """With PERPVOL_REDIS_CA, every Redis client verifies the server against that CA and its host
        name: the options go into REDIS_URL (redis-py's own query parameters), so all clients get them."""
        if self.redis_ca is None:
            return self
        if not (self.redis_url or "").startswith("rediss://"):
            raise ValueError("PERPVOL_REDIS_CA needs a rediss:// REDIS_URL (TLS)")
        if not self.redis_ca.is_file():
            raise ValueError(f"PERPVOL_REDIS_CA: no such file {str(self.redis_ca)!r}")
        parts = urlsplit(self.redis_url or "")
        query = dict(parse_qsl(parts.query))
        query.setdefault("ssl_ca_certs", str(self.redis_ca))
        query.setdefault("ssl_cert_reqs", "required")
        query.setdefault("ssl_check_hostname", "true")
        self.redis_url = urlunsplit(parts._replace(query=urlencode(query)))
        return self

    def venue_url(self, venue: str) -> str:
        url: str = getattr(self, f"{venue}_url")
        return url

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def simulated(self) -> bool:
        return self.data_mode == "simulated"

    @property
    def key_prefix(self) -> str:
        """Redis namespace; simulated data never shares keys or channels with real data."""
        return f"{self.redis_prefix}:sim" if self.simulated else self.redis_prefix

    @property
    def arq_queue_name(self) -> str:
        """The workers' arq queue: the web app enqueues jobs here by name (e.g. a new key's first sync)."""
        return f"{self.key_prefix}:arq:queue"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, with `overrides` (by field name) on top."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if not error["loc"]:  # a check across settings: its message names the variables
                problems.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            name = _env_name(str(error["loc"][0]))
            shown = "(hidden)" if "SECRET" in name else repr(error.get("input"))
            problems.append(f"{name}: {error['msg']} (got {shown})")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    if info is not None and info.alias:
        return info.alias
    return field if field.isupper() else field.upper()
