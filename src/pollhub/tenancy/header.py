"""Parsing Cloud Elements' ``Authorization: User …, Organization …[, Element …]`` header."""

from __future__ import annotations

from dataclasses import dataclass

from pollhub.errors import Unauthorized

_KINDS = {"user", "organization", "element"}


@dataclass(frozen=True)
class Credentials:
    """The secrets named in one Authorization header."""

    user: str
    organization: str
    element: str | None = None


def parse_authorization(header: str | None) -> Credentials:
    """Read the header; any other shape is :class:`Unauthorized` with a clear message."""
    if not header:
        raise Unauthorized(
            "Missing Authorization header: send 'User <user secret>, Organization <org secret>'"
        )
    parts: dict[str, str] = {}
    for piece in header.split(","):
        kind, _, value = piece.strip().partition(" ")
        kind, value = kind.lower(), value.strip()
        if kind not in _KINDS or not value or kind in parts:
            raise Unauthorized(
                "Malformed Authorization header: expected "
                "'User <user secret>, Organization <org secret>[, Element <instance token>]'"
            )
        parts[kind] = value
    if "user" not in parts or "organization" not in parts:
        raise Unauthorized("Authorization header must name both a User and an Organization secret")
    return Credentials(parts["user"], parts["organization"], parts.get("element"))
