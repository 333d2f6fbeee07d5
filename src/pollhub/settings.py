"""Every ``POLLHUB_*`` setting, read from the environment (CONTRACT section 1)."""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_RATE = re.compile(r"^[0-9]*\.?[0-9]+/[0-9]*\.?[0-9]+$")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./pollhub.db"


class Settings(BaseSettings):
    """pollhub's configuration; one instance per process, see :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="POLLHUB_", extra="ignore", populate_by_name=True)

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = Field(default=None, repr=False)
    public_url: str = "http://127.0.0.1:8000"
    sandbox: bool = False
    # The sandbox (its control API changes the simulated providers' data) stays on
    # loopback unless this says it may listen on the network.
    sandbox_on_network: bool = False
    # The sandbox's clock for Graph's notification retries (about four hours of
    # exponential backoff): 0.001 makes the four hours 14.4 seconds, for tests.
    sandbox_notification_time_scale: float = Field(default=1.0, gt=0)
    # Outbound requests (callbacks, provider hosts from configuration) to loopback,
    # private, link-local or metadata addresses; the older name is kept as an alias.
    allow_private_addresses: bool | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "POLLHUB_ALLOW_PRIVATE_ADDRESSES", "POLLHUB_ALLOW_PRIVATE_CALLBACKS"
        ),
    )
    min_refresh_seconds: float = Field(default=60, gt=0)
    # Callback delivery (pollhub.delivery): per-attempt timeout, attempts in flight per
    # worker, retries after the first attempt (4^x s apart), and how long delivered
    # notifications are kept in the history.
    delivery_timeout_seconds: float = Field(default=15, gt=0)
    delivery_concurrency: int = Field(default=64, ge=1)
    delivery_max_retries: int = Field(default=9, ge=0)
    delivered_retention_days: float = Field(default=7, ge=0)
    # How long a webhook subscription remembers that it processed a change (a replay of an
    # older one may emit again, unless it is the object's latest version or a deletion).
    webhook_receipt_retention_days: float = Field(default=30, ge=0)
    # Polling (pollhub.worker): polls in flight per worker; how long a running poll's or
    # delivery's lease lasts without renewal (workers renew it every third of that, so a
    # killed worker's work is taken over this soon); and per-provider rate limits that
    # replace an element's defaults, as JSON: {"onedrivev2": {"app": "100/1", "user": "5/1"}}
    # ("N/S": N requests per S seconds, null: no limit).
    poll_concurrency: int = Field(default=200, ge=1)
    lease_seconds: float = Field(default=10, ge=1)
    provider_rate_limits: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    # Failed authentications per minute before 429s: per presented credential, and per
    # client address only as a high ceiling (tenants behind one proxy share an address).
    # A request that authenticates is never refused.
    auth_failures_per_minute: int = Field(default=30, ge=1)
    auth_failures_per_address_per_minute: int = Field(default=600, ge=1)
    # Request bodies are capped as they stream: the API (and console), and each provider
    # webhook request.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_webhook_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # What one instance may hold (each is repeated in every callback): tags, their length,
    # configuration keys, and the configuration's size as JSON.
    max_tags: int = Field(default=50, ge=0)
    max_tag_length: int = Field(default=200, ge=1)
    max_configuration_keys: int = Field(default=100, ge=1)
    max_configuration_bytes: int = Field(default=64 * 1024, ge=1024)
    log_level: str = "INFO"
    # PostgreSQL connections one process keeps open, and how many more it may open at peaks.
    # None beyond the pool by default: a connection opened at a peak and closed after it is
    # opened again at the next, each a new PostgreSQL server process (bench/onboarding.py:
    # with 10 + 10, one every four instance creations; 245-259 -> 306-369 creations/s).
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=0, ge=0)

    @field_validator("provider_rate_limits")
    @classmethod
    def _rates_are_n_per_s(
        cls, value: dict[str, dict[str, str | None]]
    ) -> dict[str, dict[str, str | None]]:
        for element_key, limits in value.items():
            for scope, rate in limits.items():
                well_formed = rate is None or (
                    _RATE.match(rate) is not None and 0 not in map(float, rate.split("/"))
                )
                if scope not in ("app", "user") or not well_formed:
                    raise ValueError(
                        f'{element_key}.{scope}: expected "app" or "user" with "N/S" '
                        f"(N requests per S seconds) or null, not {rate!r}"
                    )
        return value

    @model_validator(mode="after")
    def _defaults_that_depend_on_others(self) -> Settings:
        self.public_url = self.public_url.rstrip("/")
        if self.allow_private_addresses is None:
            # The sandbox's providers and the demo's receiver live on this machine.
            self.allow_private_addresses = self.sandbox
        return self

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded database."""
        return self.database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The key that encrypts secrets at rest.

        The embedded SQLite default gets a key generated once into a file beside the
        database, so a newcomer needs no setup; any other database must be given
        ``POLLHUB_SECRET_KEY`` explicitly, because a lost key makes stored tokens unreadable.
        """
        if self.secret_key:
            return self.secret_key
        if not self.is_sqlite:
            raise RuntimeError(
                "POLLHUB_SECRET_KEY must be set when POLLHUB_DATABASE_URL is not SQLite "
                "(generate one with: pollhub keygen)"
            )
        key_file = _sqlite_key_file(self.database_url)
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(generate_secret_key())
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def generate_secret_key() -> str:
    """A fresh random key suitable for ``POLLHUB_SECRET_KEY``."""
    return secrets.token_urlsafe(32)


def _sqlite_key_file(database_url: str) -> Path:
    path = database_url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        return Path(".pollhub-secret-key")
    return Path(path).with_name(Path(path).name + ".secret-key")


@lru_cache
def get_settings() -> Settings:
    """The process's settings (tests clear the cache after changing the environment)."""
    return Settings()
