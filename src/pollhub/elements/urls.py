"""Where a provider lives: its real URL, or the sandbox's copy of it (CONTRACT section 6)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pollhub.settings import get_settings


def provider_url(url: str) -> str:
    """Turn a provider's real URL into the URL pollhub should call.

    With ``POLLHUB_SANDBOX`` on, ``https://HOST/PATH?Q`` becomes
    ``{POLLHUB_PUBLIC_URL}/sandbox/HOST/PATH?Q``; otherwise the URL is returned unchanged.
    Element code calls this and never knows whether the sandbox is there.
    """
    settings = get_settings()
    if not settings.sandbox:
        return url
    parts = urlsplit(url)
    rewritten = f"{settings.public_url}/sandbox/{parts.netloc}{parts.path}"
    return f"{rewritten}?{parts.query}" if parts.query else rewritten
