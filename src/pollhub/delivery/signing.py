"""Callback signatures: Cloud Elements' header, and Standard Webhooks' beside it.

``Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256(key, body)>`` is the original's
(reference section 2), so existing receivers keep verifying. The Standard Webhooks headers
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) add replay protection: the
signed content includes the id and the attempt's timestamp.

Standard Webhooks key: rather than reuse the signature key's bytes for a second HMAC
construction, pollhub derives a separate key from it, so one signature can never be
replayed as the other::

    raw = HMAC-SHA256(key=UTF-8(signature key), msg=b"pollhub standard-webhooks v1")
    whsec = "whsec_" + base64(raw)

A receiver computes its ``whsec_`` secret once with :func:`standard_webhooks_secret` (or
those two lines) and passes it to ``standardwebhooks.Webhook``. Both signatures are sent
only when the instance has ``event.notification.signature.key``; ``Elements-Webhook-Id``
and ``webhook-id`` are the notification's ``eventId``, the same on every retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from functools import lru_cache

from standardwebhooks import Webhook

from pollhub import __version__

_DERIVATION_LABEL = b"pollhub standard-webhooks v1"
_USER_AGENT = f"pollhub/{__version__}"


def elements_signature(signature_key: str, body: bytes) -> str:
    """The ``Elements-Webhook-Signature`` value: ``sha256=`` + base64 HMAC-SHA256 of ``body``."""
    digest = hmac.digest(signature_key.encode(), body, "sha256")  # one shot, no HMAC object
    return "sha256=" + base64.b64encode(digest).decode()


def standard_webhooks_secret(signature_key: str) -> str:
    """The ``whsec_`` secret a receiver uses to verify the Standard Webhooks headers."""
    raw = hmac.new(signature_key.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(raw).decode()


def callback_headers(
    *, event_id: str, body: bytes, signature_key: str | None, now: datetime
) -> dict[str, str]:
    """Every header of one delivery attempt of ``body``."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        "Elements-Webhook-Id": event_id,
    }
    if signature_key:
        headers["Elements-Webhook-Signature"] = elements_signature(signature_key, body)
        headers["webhook-id"] = event_id
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        headers["webhook-signature"] = _webhook(signature_key).sign(
            msg_id=event_id, timestamp=now, data=body
        )
    return headers


@lru_cache(maxsize=1024)
def _webhook(signature_key: str) -> Webhook:
    # Deriving and decoding the key once per instance key, not once per callback.
    return Webhook(standard_webhooks_secret(signature_key))
