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
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.configuration import ACCESS_TOKEN, REFRESH_TOKEN, StoredConfiguration
from pollhub.db.models import Instance
from pollhub.elements import element_of
from pollhub.errors import BadRequest
from pollhub.oauth.client import ClientApp, TokenSet, refresh_tokens

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
            current = StoredConfiguration.of(instance).access_token or ""
            if current != stale and not _expiring(instance):
                return current
            try:
                return await self._refresh(session, instance)
            finally:
                # Keeps the new tokens, or the reason the instance became invalid.
                await session.commit()

    async def _refresh(self, session: AsyncSession, instance: Instance) -> str:
        element = element_of(instance)
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
            tokens = await refresh_tokens(element, config.values, app, config.refresh_token)
        except BadRequest as exc:
            return _invalidate(instance, exc.message)
        store_tokens(instance, tokens)
        instance.updated_at = clock.now()
        log.info("refreshed access token", extra={"instance": instance.id})
        return tokens.access_token


def fresh_token(instance: Instance) -> str | None:
    """The instance's access token if it is good for a while yet, without any lock: the
    common case, which needs no refresh and so no serialisation."""
    token = StoredConfiguration.of(instance).access_token
    return token if token and instance.valid and not _expiring(instance) else None


def store_tokens(instance: Instance, tokens: TokenSet | None) -> None:
    """Keep a provider's new tokens (encrypted, with the other secrets); None (an element
    that does not use OAuth) keeps nothing."""
    if tokens is None:
        return
    secrets = dict(instance.secrets)
    secrets[ACCESS_TOKEN] = tokens.access_token
    if tokens.refresh_token:
        secrets[REFRESH_TOKEN] = tokens.refresh_token
    instance.secrets = secrets
    instance.access_token_expires_at = tokens.expires_at


def _expiring(instance: Instance) -> bool:
    expires_at = instance.access_token_expires_at
    return expires_at is not None and expires_at - REFRESH_MARGIN <= clock.now()


def _invalidate(instance: Instance, reason: str) -> str:
    instance.valid = False
    instance.invalid_reason = reason
    instance.updated_at = clock.now()
    log.warning("instance marked invalid: %s", reason, extra={"instance": instance.id})
    raise InstanceInvalid(reason)
