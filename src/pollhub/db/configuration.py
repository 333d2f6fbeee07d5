"""An instance's stored configuration, read through one typed view.

The configuration keys are Cloud Elements' (``event.notification.callback.url``...); this
module names each exactly once. Writing goes through the validated
:class:`pollhub.instances.config.InstanceConfiguration`; everything that reads a stored
instance (the poller, delivery, webhooks, token refresh) uses :class:`StoredConfiguration`
instead of looking keys up by string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pollhub.db.models import Instance

OAUTH_API_KEY = "oauth.api.key"
OAUTH_API_SECRET = "oauth.api.secret"
OAUTH_CALLBACK_URL = "oauth.callback.url"
OAUTH_SCOPE = "oauth.scope"
# The provider's tokens (and, when a client imports tokens it already holds, when the access
# token was obtained, epoch ms, and how many seconds it lives).
USER_KEY_PREFIX = "oauth.user."
ACCESS_TOKEN = "oauth.user.token"
REFRESH_TOKEN = "oauth.user.refresh_token"
USER_REFRESH_INTERVAL = "oauth.user.refresh_interval"
USER_REFRESH_TIME = "oauth.user.refresh_time"
EVENTS_ENABLED = "event.notification.enabled"
CALLBACK_URL = "event.notification.callback.url"
SIGNATURE_KEY = "event.notification.signature.key"
VENDOR_TYPE = "event.vendor.type"
POLLER_KEY_PREFIX = "event.poller."
REFRESH_INTERVAL = "event.poller.refresh_interval"
POLLER_CONFIGURATION = "event.poller.configuration"
# The older pipe-separated form, converted to the JSON form when written.
LEGACY_POLLER_URLS = "event.poller.urls"
FETCH_OBJECTS = "event.notification.fetch.objects"
EVENT_OBJECTS = "event.objects"
SUBSCRIPTION_IDS = "event.notification.subscription.id"
# Callbacks (reference sections 2 and 5.3): extra headers and HTTP Basic on every attempt,
# and what happens after the last retry: ``retry`` (fail) or ``queue`` (hold the instance's
# deliveries until released).
CALLBACK_HEADERS = "event.notification.callback.headers"
BASIC_USERNAME = "event.notification.basic.username"
BASIC_PASSWORD = "event.notification.basic.password"
FAILURE_POLICY = "notification.webhook.failure.policy"
RETRY: Final = "retry"
QUEUE: Final = "queue"
FailurePolicy = Literal["retry", "queue"]
# The provider's tokens, kept across configuration changes (never sent by a client).
USER_TOKENS = (ACCESS_TOKEN, REFRESH_TOKEN)
DEFAULT_REFRESH_MINUTES: float = 15  # as Cloud Elements: minutes


@dataclass(frozen=True)
class StoredConfiguration:
    """What pollhub acts on in a stored instance's configuration and secrets."""

    callback_url: str | None = None
    signature_key: str | None = None
    oauth_api_key: str = ""
    oauth_api_secret: str = ""
    oauth_callback_url: str | None = None
    oauth_scope: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    refresh_minutes: float = DEFAULT_REFRESH_MINUTES
    poller_configuration: Mapping[str, Any] = field(default_factory=dict)
    fetch_objects: bool = False
    event_objects: str | None = None
    # Every plain (non-secret) key, for the element's own keys (``docushare.domain``).
    values: Mapping[str, Any] = field(default_factory=dict)
    callback_headers: Mapping[str, str] = field(default_factory=dict)
    basic_username: str | None = None
    basic_password: str | None = None
    failure_policy: str = RETRY

    @classmethod
    def read(
        cls, configuration: Mapping[str, Any], secrets: Mapping[str, Any]
    ) -> StoredConfiguration:
        """The view of a configuration and its secrets as stored."""
        merged = {**configuration, **secrets}
        poller = configuration.get(POLLER_CONFIGURATION)
        return cls(
            callback_url=_text(configuration.get(CALLBACK_URL)),
            signature_key=_text(secrets.get(SIGNATURE_KEY)),
            oauth_api_key=str(merged.get(OAUTH_API_KEY) or ""),
            oauth_api_secret=str(merged.get(OAUTH_API_SECRET) or ""),
            oauth_callback_url=_text(merged.get(OAUTH_CALLBACK_URL)),
            oauth_scope=_text(merged.get(OAUTH_SCOPE)),
            access_token=access_token(secrets),
            refresh_token=refresh_token(secrets),
            refresh_minutes=float(configuration.get(REFRESH_INTERVAL) or DEFAULT_REFRESH_MINUTES),
            poller_configuration=poller if isinstance(poller, dict) else {},
            fetch_objects=configuration.get(FETCH_OBJECTS) is True,
            event_objects=_text(configuration.get(EVENT_OBJECTS)),
            values=dict(configuration),
            callback_headers=dict(secrets.get(CALLBACK_HEADERS) or {}),
            basic_username=_text(secrets.get(BASIC_USERNAME)),
            basic_password=_text(secrets.get(BASIC_PASSWORD)),
            failure_policy=str(configuration.get(FAILURE_POLICY) or RETRY),
        )

    @classmethod
    def of(cls, instance: Instance) -> StoredConfiguration:
        """The view of a stored instance."""
        return cls.read(instance.configuration, instance.secrets or {})


def access_token(secrets: Mapping[str, Any]) -> str | None:
    """The provider access token among an instance's stored secrets."""
    return _text(secrets.get(ACCESS_TOKEN))


def refresh_token(secrets: Mapping[str, Any]) -> str | None:
    """The provider refresh token among an instance's stored secrets."""
    return _text(secrets.get(REFRESH_TOKEN))


def with_tokens(
    secrets: Mapping[str, Any], access: str, refresh: str | None = None
) -> dict[str, Any]:
    """``secrets`` holding a new access token (and refresh token, when the provider
    rotated it; else the one stored is kept)."""
    updated = {**secrets, ACCESS_TOKEN: access}
    if refresh:
        updated[REFRESH_TOKEN] = refresh
    return updated


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
