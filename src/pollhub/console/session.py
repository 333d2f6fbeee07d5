"""The console's session: one encrypted, authenticated cookie, and its CSRF token.

The cookie holds the id of a server-side session (:mod:`pollhub.tenancy.console_sessions`,
looked up on every request, so sign-out or a rotated secret ends it at once — never a
secret), the CSRF token every form must echo, an OAuth flow in progress, and one-shot
messages. It is a Fernet token — AES encrypted and HMAC-SHA256
signed — under a key derived from ``POLLHUB_SECRET_KEY``, so the browser can neither read
the secrets nor change anything in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field
from functools import cache
from ipaddress import ip_address
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import Response

from pollhub.clock import clock
from pollhub.settings import get_settings
from pollhub.tenancy.console_sessions import LIFETIME

COOKIE_NAME = "pollhub_console"
LIFETIME_SECONDS = int(LIFETIME.total_seconds())
# Separates this key from the one that encrypts secrets at rest: a leaked cookie key
# must never decrypt the database, nor the other way round.
_KEY_CONTEXT = b"pollhub console session v1"
_LOOPBACK_NAMES = {"localhost"}


@dataclass
class PendingAuthorization:
    """An OAuth flow started from the console, waiting for the provider's redirect."""

    element_key: str
    state: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str
    configuration: dict[str, str] = field(default_factory=dict)
    code: str | None = None


@dataclass
class ConsoleSession:
    """What the console remembers about one browser."""

    csrf_token: str
    session_id: str | None = None
    signed_in_at: float | None = None
    oauth: PendingAuthorization | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)
    changed: bool = False

    @property
    def signed_in(self) -> bool:
        """True once sign-in succeeded (the session is still checked on every request)."""
        return bool(self.session_id)

    def sign_in(self, session_id: str) -> None:
        """Remember the server-side session; a fresh CSRF token, so one planted before
        sign-in is useless."""
        self.session_id = session_id
        self.signed_in_at = clock.now().timestamp()
        self.csrf_token = new_csrf_token()
        self.oauth = None
        self.changed = True

    def sign_out(self) -> None:
        """Forget the caller and everything in progress."""
        self.session_id = None
        self.signed_in_at = None
        self.oauth = None
        self.csrf_token = new_csrf_token()
        self.changed = True

    def flash(self, kind: str, message: str) -> None:
        """A message for the next page shown (``kind``: ``notice`` or ``error``)."""
        self.flashes.append((kind, message))
        self.changed = True

    def take_flashes(self) -> list[tuple[str, str]]:
        """The pending messages, now shown and so forgotten."""
        taken, self.flashes = self.flashes, []
        if taken:
            self.changed = True
        return taken

    def csrf_matches(self, sent: object) -> bool:
        """True when a form echoed this session's CSRF token (compared in constant time)."""
        return isinstance(sent, str) and hmac.compare_digest(
            sent.encode(), self.csrf_token.encode()
        )


def new_csrf_token() -> str:
    """A fresh, unguessable CSRF token."""
    return secrets.token_urlsafe(32)


def new_state() -> str:
    """A fresh OAuth ``state`` nonce."""
    return secrets.token_urlsafe(24)


def console_session(request: Request) -> ConsoleSession:
    """This request's session, read from its cookie once (a new one when absent or bad)."""
    existing = getattr(request.state, "console_session", None)
    if isinstance(existing, ConsoleSession):
        return existing
    session = _decode(request.cookies.get(COOKIE_NAME))
    if session is None:
        session = ConsoleSession(csrf_token=new_csrf_token(), changed=True)
    request.state.console_session = session
    return session


def save_session(request: Request, response: Response) -> None:
    """Write the session back to its cookie if this request changed it."""
    session = getattr(request.state, "console_session", None)
    if not isinstance(session, ConsoleSession) or not session.changed:
        return
    response.set_cookie(
        COOKIE_NAME,
        _encode(session),
        max_age=LIFETIME_SECONDS,
        path="/",
        secure=_needs_secure_cookie(request),
        httponly=True,
        samesite="lax",
    )


def _needs_secure_cookie(request: Request) -> bool:
    # Always Secure, except plain HTTP on this machine (the demo, tests), where a Secure
    # cookie would be dropped by some clients and nothing travels over a network.
    if request.url.scheme == "https":
        return True
    host = request.url.hostname or ""
    if host in _LOOPBACK_NAMES:
        return False
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return True


def _encode(session: ConsoleSession) -> str:
    data = asdict(session)
    data.pop("changed")
    return _fernet().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode(cookie: str | None) -> ConsoleSession | None:
    if not cookie:
        return None
    try:
        data: dict[str, Any] = json.loads(_fernet().decrypt(cookie.encode(), ttl=LIFETIME_SECONDS))
        oauth = data.pop("oauth", None)
        flashes = [(str(kind), str(text)) for kind, text in data.pop("flashes", [])]
        session = ConsoleSession(
            **data,
            oauth=PendingAuthorization(**oauth) if oauth else None,
            flashes=flashes,
        )
    except (InvalidToken, ValueError, TypeError):
        return None  # expired, tampered with, or from another key: start over
    too_old = (
        session.signed_in_at is not None
        and clock.now().timestamp() - session.signed_in_at > LIFETIME_SECONDS
    )
    if too_old:
        session.sign_out()
    return session


def _fernet() -> Fernet:
    return _fernet_for(get_settings().resolved_secret_key())


@cache
def _fernet_for(secret_key: str) -> Fernet:
    digest = hmac.new(secret_key.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
