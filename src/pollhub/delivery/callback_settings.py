"""What an instance's configuration says about delivering its callbacks.

Read through the typed view (:class:`pollhub.db.configuration.StoredConfiguration`): the
callback URL, the signature key, extra headers and HTTP Basic on every callback, and the
failure policy (``retry``, or ``queue``: after the last retry the instance's deliveries are
queued until released, not failed).

The headers are accepted as a JSON object, a JSON-encoded object, or ``Name: value`` lines
(the original's format was never published); names that would break HTTP or the
signatures are refused, so a client cannot forge or disable what the receiver verifies.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pollhub.db.configuration import RETRY, StoredConfiguration

# Lower-cased. Framing and hop-by-hop headers break HTTP; the signature headers and the
# webhook id are what receivers verify and deduplicate on.
REFUSED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "proxy-authorization",
        "proxy-connection",
        "elements-webhook-signature",
        "elements-webhook-id",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
MAX_HEADERS = 32
MAX_HEADER_VALUE = 4096
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")


@dataclass(frozen=True)
class CallbackSettings:
    """How to deliver one instance's callbacks, as configured right now."""

    url: str | None = None
    signature_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    failure_policy: str = RETRY

    @classmethod
    def of(cls, config: StoredConfiguration) -> CallbackSettings:
        """Read from an instance's stored configuration."""
        headers = dict(config.callback_headers)
        if config.basic_username:
            headers["Authorization"] = basic_authorization(
                config.basic_username, config.basic_password or ""
            )
        return cls(
            url=config.callback_url,
            signature_key=config.signature_key,
            headers=headers,
            failure_policy=config.failure_policy,
        )


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def parse_callback_headers(value: Any) -> dict[str, str]:
    """``event.notification.callback.headers`` as a checked ``{name: value}``.

    Raises ValueError, naming the header, for anything that cannot be sent as given.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not valid JSON ({exc.msg})") from exc
        else:
            value = _header_lines(text)
    if not isinstance(value, dict):
        raise ValueError("must be an object of header names to values, or 'Name: value' lines")
    if len(value) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    for name, raw in value.items():
        headers[_checked_name(str(name))] = _checked_value(str(name), raw)
    return headers


def _header_lines(text: str) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, colon, header_value = line.partition(":")
        if not colon:
            raise ValueError(f"'{line[:40]}' is not a 'Name: value' line")
        headers[name.strip()] = header_value.strip()
    return headers


def _checked_name(name: str) -> str:
    if not _TOKEN.match(name):
        raise ValueError(f"'{name[:40]}' is not a valid header name")
    if name.lower() in REFUSED_HEADERS:
        raise ValueError(
            f"header '{name}' cannot be set: pollhub sends it itself, and changing it would "
            "break the request or its signature"
        )
    return name


def _checked_value(name: str, raw: Any) -> str:
    if isinstance(raw, dict | list) or raw is None:
        raise ValueError(f"header '{name}' must have a text value")
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    if any(c in text for c in "\r\n\x00") or len(text) > MAX_HEADER_VALUE:
        raise ValueError(
            f"header '{name}' value must be one line of at most {MAX_HEADER_VALUE} characters"
        )
    return text
