"""OAuth 2.0 grants of the simulated providers: codes, access and refresh tokens.

A *realm* is one authorization server: ``microsoft``, ``google``, ``dropbox`` or
``docushare:<domain>`` (every DocuShare Flex site is its own server). Tokens of one realm
are worthless at another. Expiry is measured with :data:`pollhub.clock.clock`, so tests
can age tokens by moving the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pollhub.clock import clock
from pollhub.sandbox.ids import opaque

DEFAULT_ACCESS_TOKEN_LIFETIME = 3599

# What each provider's tokens look like, so logs and tests read naturally.
_ACCESS_PREFIX = {"microsoft": "EwA", "google": "ya29.", "docushare": "dsf_at_", "dropbox": "sl."}
_REFRESH_PREFIX = {"microsoft": "M.C5", "google": "1//0", "docushare": "dsf_rt_", "dropbox": ""}


class RefreshPolicy(Enum):
    """What happens to a refresh token when it is used."""

    KEEP = "keep"  # Google: the same refresh token is used again and again.
    ROTATE = "rotate"  # Microsoft: a new one is issued; the old one keeps working.
    ROTATE_AND_REVOKE = "rotate_and_revoke"  # DocuShare (OAuth 2.1 style): old one dies.


@dataclass
class AccessGrant:
    """An issued access token."""

    token: str
    realm: str
    client_id: str
    scope: str
    expires_at: datetime


@dataclass
class RefreshGrant:
    """An issued refresh token."""

    token: str
    realm: str
    client_id: str
    scope: str


@dataclass
class AuthorizationCode:
    """A code handed out by a simulated authorize endpoint (single use)."""

    realm: str
    client_id: str
    redirect_uri: str
    scope: str
    offline: bool


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint answers."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None


class GrantRefused(Exception):
    """The token endpoint must answer ``invalid_grant``; the message says why."""


class TokenStore:
    """Every code and token issued by the simulated authorization servers."""

    def __init__(self, access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME) -> None:
        self.access_token_lifetime = access_token_lifetime
        self._codes: dict[str, AuthorizationCode] = {}
        self._redeemed: set[str] = set()
        self._access: dict[str, AccessGrant] = {}
        self._refresh: dict[str, RefreshGrant] = {}

    def issue_code(
        self, realm: str, *, client_id: str, redirect_uri: str, scope: str, offline: bool = True
    ) -> str:
        """A fresh authorization code, as the authorize endpoint redirects with."""
        code = opaque(24)
        self._codes[code] = AuthorizationCode(realm, client_id, redirect_uri, scope, offline)
        return code

    def redeem_code(self, realm: str, code: str, *, client_id: str, scope: str) -> TokenSet:
        """Exchange an authorization code for tokens.

        Any code is accepted (CONTRACT section 6) except ``invalid``; codes that the
        sandbox's own authorize endpoint issued are single use, as at the real providers.
        ``scope`` is what the token request asked for; an issued code remembers its own.
        """
        if code == "invalid":
            raise GrantRefused("The provided authorization code is invalid.")
        if code in self._redeemed:
            raise GrantRefused("The provided authorization code was already redeemed.")
        issued = self._codes.pop(code, None)
        if issued is not None:
            if issued.realm != realm:
                raise GrantRefused("The authorization code was issued by another server.")
            if issued.client_id and client_id and issued.client_id != client_id:
                raise GrantRefused("The authorization code was issued to another client.")
            scope = issued.scope or scope
            self._redeemed.add(code)
        offline = issued.offline if issued is not None else True
        if realm == "microsoft" and scope and "offline_access" not in scope.lower().split():
            # Microsoft issues a refresh token only for the offline_access scope.
            offline = False
        return self._issue(realm, client_id, scope, with_refresh=offline)

    def refresh(
        self, realm: str, refresh_token: str, *, client_id: str, scope: str, policy: RefreshPolicy
    ) -> TokenSet:
        """Use a refresh token for a new access token."""
        grant = self._refresh.get(refresh_token)
        if grant is None or grant.realm != realm:
            raise GrantRefused("The refresh token is invalid, expired or revoked.")
        if client_id and grant.client_id and client_id != grant.client_id:
            raise GrantRefused("The refresh token was issued to another client.")
        granted_scope = scope or grant.scope
        if policy is RefreshPolicy.KEEP:
            issued = self._issue(realm, grant.client_id, granted_scope, with_refresh=False)
            return issued
        if policy is RefreshPolicy.ROTATE_AND_REVOKE:
            del self._refresh[refresh_token]
        return self._issue(realm, grant.client_id, granted_scope, with_refresh=True)

    def verify(self, realm: str, token: str) -> tuple[AccessGrant | None, bool]:
        """``(grant, expired)``: the grant for a valid token, else None and whether the
        token was known but has expired."""
        grant = self._access.get(token)
        if grant is None or grant.realm != realm:
            return None, False
        if clock.now() >= grant.expires_at:
            return None, True
        return grant, False

    def revoke_realm(self, realm: str) -> int:
        """Revoke every token of a realm (the user withdrew consent); how many died."""
        doomed = [t for t, g in self._refresh.items() if g.realm == realm]
        doomed_access = [t for t, g in self._access.items() if g.realm == realm]
        for token in doomed:
            del self._refresh[token]
        for token in doomed_access:
            del self._access[token]
        return len(doomed) + len(doomed_access)

    def _issue(self, realm: str, client_id: str, scope: str, *, with_refresh: bool) -> TokenSet:
        family = realm.split(":", 1)[0]
        access = _ACCESS_PREFIX[family] + opaque(32)
        expires_at = clock.now() + timedelta(seconds=self.access_token_lifetime)
        self._access[access] = AccessGrant(access, realm, client_id, scope, expires_at)
        refresh: str | None = None
        if with_refresh:
            refresh = _REFRESH_PREFIX[family] + opaque(32)
            self._refresh[refresh] = RefreshGrant(refresh, realm, client_id, scope)
        return TokenSet(access, self.access_token_lifetime, scope, refresh)
