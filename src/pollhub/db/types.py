"""Column types shared by the models: UTC datetimes and encrypted secrets."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.types import TypeDecorator

from pollhub.settings import get_settings


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use pollhub.clock")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_datetime(value: datetime | None) -> str | None:
    """``value`` as :class:`UTCDateTime` stores it on SQLite (``YYYY-MM-DD HH:MM:SS.ffffff``
    in UTC), for dates bound inside a JSON parameter: SQLAlchemy's own processor took a
    fifth of writing a batch of attempt results (``bench/delivery.py``)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use pollhub.clock")
    # isoformat always writes a 4-digit year and, with this timespec, 6 digits of
    # microseconds; the 26 characters before the zone are SQLAlchemy's storage format.
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object stored as a Fernet token, so a database dump shows no secret in clear."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(json.dumps(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        decoded: dict[str, Any] = json.loads(decrypt(value))
        return decoded


class EncryptedString(TypeDecorator[str]):
    """A string stored as a Fernet token (used for credentials that are shown to their owner)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


def encrypt(plain: str) -> str:
    """Encrypt with the key from ``POLLHUB_SECRET_KEY``."""
    return _fernet(get_settings().resolved_secret_key()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt what :func:`encrypt` wrote; a wrong key is a clear error, not garbage."""
    try:
        return _fernet(get_settings().resolved_secret_key()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError(
            "stored secrets cannot be decrypted: POLLHUB_SECRET_KEY differs from the key "
            "they were written with"
        ) from exc


@cache
def _fernet(secret_key: str) -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; deriving them lets operators use any passphrase.
    digest = hashlib.sha256(secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
