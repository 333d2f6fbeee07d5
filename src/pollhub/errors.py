"""Domain exceptions. Services raise these; ``app.py`` maps each to its HTTP answer once."""

from __future__ import annotations


class PollhubError(Exception):
    """Base of every error a client can cause; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, *, provider_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider_message = provider_message


class BadRequest(PollhubError):
    """The request body or configuration is wrong; the message names the field."""

    status = 400


class Unauthorized(PollhubError):
    """Missing or wrong credentials."""

    status = 401


class NotFound(PollhubError):
    """No such thing, or not the caller's (tenants never learn of each other's data)."""

    status = 404


class Conflict(PollhubError):
    """The request clashes with the current state."""

    status = 409


class Forbidden(PollhubError):
    """The caller is known but may not do this now (e.g. a disabled instance's hub calls)."""

    status = 403
