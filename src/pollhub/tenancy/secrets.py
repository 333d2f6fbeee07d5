"""Random credentials and how they are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """A fresh random secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret.

    The secrets are 256 random bits, so a plain SHA-256 cannot be brute-forced and a slow
    password hash would add nothing but latency; the hash doubles as the lookup key.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time check of a presented secret against its stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
