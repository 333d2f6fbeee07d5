"""An instance's access token, refreshed before it expires — once at a time per instance.

Providers that rotate refresh tokens (Microsoft) invalidate the old one on use, so two
workers refreshing the same instance at once would leave one of them with a dead token.
Refreshes are therefore serialised: in this process by an asyncio lock per instance, and
across processes by a row lock on the instance (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite has a single writer). Whoever gets the lock second sees the fresh token and uses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.configuration import (
    StoredConfiguration,
    access_token,
    refresh_token,
    with_tokens,
)
from pollhub.db.models import Instance
from pollhub.elements import element_of
from pollhub.elements.base import Element
from pollhub.errors import BadRequest
from pollhub.oauth.client import ClientApp, refresh_tokens

log = logging.getLogger(__name__)

# Refresh this long before expiry, so a poll never starts with a token about to lapse.
REFRESH_MARGIN = timedelta(minutes=5)


class InstanceInvalid(Exception):
    """The provider refused the refresh token: the user must re-authenticate."""


class TokenKeeper:
    """Hands out fresh access tokens for instances."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def access_token(self, instance_id: int, *, stale: str | None = None) -> str:
        """A usable access token; ``stale`` is one the provider just refused (401)."""
        async with self._locks[instance_id], self._sessionmaker() as session:
            instance = await session.scalar(
                select(Instance).where(Instance.id == instance_id).with_for_update()
            )
            if instance is None or not instance.valid:
                raise InstanceInvalid(instance.invalid_reason if instance else "deleted")
            current = access_token(instance.secrets) or ""
            if current != stale and not needs_refresh(instance):
                return current
            try:
                return await refresh_instance_tokens(instance)
            finally:
                # Keeps the new tokens, or the reason the instance became invalid.
                await session.commit()


async def refresh_instance_tokens(instance: Instance, element: Element | None = None) -> str:
    """Get a new access token for ``instance`` now and store it on the (unsaved) row;
    ``element`` is the instance's, for one not stored yet.

    The provider refusing the refresh token marks the instance invalid with the provider's
    reason and raises :class:`InstanceInvalid`; the caller serialises refreshes and commits.
    """
    element = element or element_of(instance)
    config = StoredConfiguration.of(instance)
    if element is None or not config.refresh_token:
        return _invalidate(instance, "no refresh token: re-authenticate the instance")
    app = ClientApp(
        client_id=config.oauth_api_key,
        client_secret=config.oauth_api_secret,
        redirect_uri=config.oauth_callback_url,
        scope=config.oauth_scope or element.default_scope,
    )
    try:
        # The token endpoint's host may come from any key (as when the code was exchanged).
        values = {**instance.configuration, **instance.secrets}
        tokens = await refresh_tokens(element, values, app, config.refresh_token)
    except BadRequest as exc:
        return _invalidate(instance, exc.message)
    instance.secrets = with_tokens(instance.secrets, tokens.access_token, tokens.refresh_token)
    instance.access_token_expires_at = tokens.expires_at
    instance.updated_at = clock.now()
    log.info("refreshed access token", extra={"instance": instance.id})
    return tokens.access_token


def needs_refresh(instance: Instance) -> bool:
    """True when the access token is about to expire, or missing while a refresh token
    can get one (an instance created from a refresh token alone). An element that needs
    no token (an API key in the configuration) has neither and needs no refresh."""
    if not access_token(instance.secrets):
        return refresh_token(instance.secrets) is not None
    return _expiring(instance)


class HoldsTokens(Protocol):
    """An instance as stored, or as a worker keeps it in memory."""

    @property
    def secrets(self) -> dict[str, Any]: ...
    @property
    def valid(self) -> bool: ...
    @property
    def access_token_expires_at(self) -> datetime | None: ...


def fresh_token(instance: HoldsTokens) -> str | None:
    """The instance's access token if it is good for a while yet, without any lock or
    database read: the common case, which needs no refresh and so no serialisation."""
    token = access_token(instance.secrets)
    return token if token and instance.valid and not _expiring(instance) else None


def _expiring(instance: HoldsTokens) -> bool:
    expires_at = instance.access_token_expires_at
    return expires_at is not None and expires_at - REFRESH_MARGIN <= clock.now()


def _invalidate(instance: Instance, reason: str) -> str:
    instance.valid = False
    instance.invalid_reason = reason
    instance.updated_at = clock.now()
    log.warning("instance marked invalid: %s", reason, extra={"instance": instance.id})
    raise InstanceInvalid(reason)
