"""One HTTP attempt of one callback, on aiohttp (the delivery hot path).

aiohttp rather than httpx's default transport: measured on this project's machines it
makes several times more POSTs per second per process
(``reference/http-client-bench/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiohttp

from pollhub.delivery.retry import parse_retry_after
from pollhub.outbound.clients import guarded_session
from pollhub.outbound.policy import AddressRefused, connect_host, refusal_in

_ERROR_SNIPPET = 300
_READ_LIMIT = 64 * 1024


@dataclass(slots=True)  # not frozen: one per callback (see repository.Claimed)
class AttemptResult:
    """What one POST came to."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    refused: bool = False  # never sent: the callback host is forbidden (no point retrying)


class CallbackSender:
    """POSTs callbacks over one pooled aiohttp session; open it before use, close after."""

    def __init__(self, *, timeout_seconds: float, allow_private: bool, connections: int) -> None:
        self._timeout_seconds = timeout_seconds
        self._allow_private = allow_private
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """Create the connection pool (needs a running event loop)."""
        # The address policy is checked on every socket connected, no proxy from the
        # environment is followed and no cookie kept: one session serves every client's
        # receivers (pollhub.outbound).
        self._session = guarded_session(
            allow_private=self._allow_private,
            connections=self._connections,
            timeout=aiohttp.ClientTimeout(total=self._timeout_seconds),
            auto_decompress=False,
        )

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, now: datetime
    ) -> AttemptResult:
        """POST ``body`` to ``url``; 2xx is delivered, anything else a failed attempt."""
        assert self._session is not None, "CallbackSender.open() first"
        try:
            connect_host(url)  # not ASCII after IDNA, or not a DNS name: refused
            # Redirects are not followed: a 3xx would send a signed body to a host nobody
            # checked or configured.
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                content = await _read_some(response)
                return _judge(response, content, now)
        except AddressRefused as exc:
            return AttemptResult(ok=False, error=f"callback {exc}", refused=True)
        except TimeoutError:
            return AttemptResult(ok=False, error=f"timed out after {self._timeout_seconds:g} s")
        except aiohttp.InvalidURL as exc:
            return AttemptResult(ok=False, error=f"invalid callback URL: {exc}", refused=True)
        except (aiohttp.ClientError, OSError) as exc:
            refused = refusal_in(exc)
            if refused is not None:
                return AttemptResult(ok=False, error=f"callback {refused}", refused=True)
            return AttemptResult(ok=False, error=f"{type(exc).__name__}: {exc}")


def _judge(response: aiohttp.ClientResponse, content: bytes, now: datetime) -> AttemptResult:
    status = response.status
    if 200 <= status < 300:
        return AttemptResult(ok=True, status_code=status)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        error = (
            f"HTTP {status} redirect to {location or '(no Location)'} not followed; "
            "callbacks must answer 2xx at the configured URL"
        )
    else:
        snippet = content[:_ERROR_SNIPPET].decode(errors="replace").strip()
        error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    return AttemptResult(ok=False, status_code=status, error=error, retry_after=retry_after)


async def _read_some(response: aiohttp.ClientResponse) -> bytes:
    # Read the (usually tiny) answer so the connection can be reused, but never let a
    # receiver make pollhub hold a large body in memory.
    chunks: list[bytes] = []
    size = 0
    while size < _READ_LIMIT:
        chunk = await response.content.read(_READ_LIMIT - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
