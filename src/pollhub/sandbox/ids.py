"""Random identifiers shaped like the ones each provider hands out."""

from __future__ import annotations

import base64
import json
import secrets
import string
import uuid
from collections.abc import Mapping

_BASE32HEX_LOWER = "0123456789abcdefghijklmnopqrstuv"
_UPPER_ALNUM = string.ascii_uppercase + string.digits


def guid() -> str:
    """A GUID in its usual lowercase, hyphenated form."""
    return str(uuid.uuid4())


def opaque(nbytes: int = 24) -> str:
    """A URL-safe random string (tokens, codes)."""
    return secrets.token_urlsafe(nbytes)


def hex_id(length: int = 16) -> str:
    """Lowercase hex, e.g. Gmail message ids and People contact group ids."""
    return secrets.token_hex((length + 1) // 2)[:length]


def google_event_id() -> str:
    """Calendar event ids use base32hex lowercase characters."""
    return "".join(secrets.choice(_BASE32HEX_LOWER) for _ in range(26))


def onedrive_item_id() -> str:
    """OneDrive for Business style item ids (``01`` and 32 upper-case characters)."""
    return "01" + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(32))


def outlook_id() -> str:
    """An Outlook item id: long, base64-like, starting ``AAMkA``."""
    return "AAMkA" + secrets.token_urlsafe(48).replace("-", "A").replace("_", "B") + "="


def encode_cursor(kind: str, epoch: str, values: Mapping[str, int]) -> str:
    """An opaque page/sync token carrying integers, bound to a store's epoch."""
    raw = json.dumps({"k": kind, "e": epoch, "v": dict(values)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, epoch: str, token: str) -> dict[str, int] | None:
    """The integers of a token made by :func:`encode_cursor`, or None.

    None means the token is garbage, of another kind, or from an older epoch (the store
    was reset or its tokens were invalidated) — each provider answers that its own way.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(decoded, dict) or decoded.get("k") != kind or decoded.get("e") != epoch:
        return None
    values = decoded.get("v")
    if not isinstance(values, dict) or not all(isinstance(v, int) for v in values.values()):
        return None
    return {str(k): int(v) for k, v in values.items()}
