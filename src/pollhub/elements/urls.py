"""Where a provider lives: its real URL, or the sandbox's copy of it (CONTRACT section 6)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pollhub.settings import get_settings


def provider_url(url: str) -> str:
    """Turn a provider's real URL into the URL pollhub should call.

    With ``POLLHUB_SANDBOX`` on, ``https://HOST/PATH?Q`` becomes
    ``{POLLHUB_PUBLIC_URL}/sandbox/HOST/PATH?Q``; otherwise the URL is returned unchanged.
    Element code calls this and never knows whether the sandbox is there. Providers are
    reached over HTTPS: a plain ``http://`` URL (the local test server a custom element
    points at) is not a provider the sandbox simulates, and is called as it is.
    """
    settings = get_settings()
    parts = urlsplit(url)
    if not settings.sandbox or parts.scheme != "https":
        return url
    rewritten = f"{settings.public_url}/sandbox/{parts.netloc}{parts.path}"
    return f"{rewritten}?{parts.query}" if parts.query else rewritten
