"""Authenticating a caller from the secrets it presents, with failures throttled.

Requests that present the same secrets while a lookup of them is under way share that
lookup (single flight): a client onboarding its users sends many requests at once, and the
lookup — a checkout of a pooled connection, ``BEGIN``, the ``SELECT`` and ``ROLLBACK`` — was
a fifth of an instance creation's CPU (``bench/onboarding.py``). Nothing is cached: a request
that arrives after a lookup ended starts its own, so a rotated secret stops working as soon
as the rotation is committed.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.db.models import Organization, User
from pollhub.errors import Unauthorized
from pollhub.tenancy.header import parse_authorization
from pollhub.tenancy.secrets import hash_secret
from pollhub.tenancy.service import Caller, authenticate
from pollhub.tenancy.throttle import FailedAuthThrottle


async def authenticate_header(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    throttle: FailedAuthThrottle,
    header: str | None,
    address: str,
) -> Caller:
    """The caller an ``Authorization`` header names; a failure is counted and is
    :class:`Unauthorized`, or ``TooManyFailedAttempts`` once over a limit."""
    try:
        credentials = parse_authorization(header)
    except Unauthorized:
        await throttle.failed(sessionmaker, credential=None, address=address)
        raise
    organization, user = await authenticate_secrets(
        session,
        sessionmaker,
        throttle,
        user_secret=credentials.user,
        organization_secret=credentials.organization,
        address=address,
    )
    return Caller(organization.id, user.id, credentials.element, email=user.email)


async def authenticate_secrets(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    throttle: FailedAuthThrottle,
    *,
    user_secret: str,
    organization_secret: str,
    address: str,
) -> tuple[Organization, User]:
    """The organization and user these secrets belong to; a failure is counted against
    this pair of secrets and the address (a request that authenticates is never refused)."""
    try:
        return await _look_up_once(session, user_secret, organization_secret)
    except Unauthorized:
        credential = hash_secret(f"{user_secret}\n{organization_secret}")
        await throttle.failed(sessionmaker, credential=credential, address=address)
        raise


@dataclass(frozen=True)
class _Lookup:
    found: tuple[Organization, User] | None
    refused: Unauthorized | None


_lookups: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Future[_Lookup]]
] = weakref.WeakKeyDictionary()


async def _look_up_once(
    session: AsyncSession, user_secret: str, organization_secret: str
) -> tuple[Organization, User]:
    """:func:`authenticate`, shared with the requests presenting the same secrets while it
    runs. The objects it returns belong to the first request's session, which may still be
    open: the others read only their loaded columns (ids, email, secret hash), and must not
    change them or load their relationships."""
    in_flight = _lookups.setdefault(asyncio.get_running_loop(), {})
    secrets = (user_secret, organization_secret)
    pending = in_flight.get(secrets)
    if pending is not None:
        await asyncio.wait([pending])  # only this request's own cancellation raises here
        if not pending.cancelled():  # else its request went away: look up anew
            return _outcome(pending.result())
    mine: asyncio.Future[_Lookup] = asyncio.get_running_loop().create_future()
    in_flight[secrets] = mine
    try:
        found = await authenticate(session, user_secret, organization_secret)
    except Unauthorized as refused:
        mine.set_result(_Lookup(None, refused))
        raise
    except BaseException:
        mine.cancel()
        raise
    else:
        mine.set_result(_Lookup(found, None))
        return found
    finally:
        if in_flight.get(secrets) is mine:
            del in_flight[secrets]


def _outcome(lookup: _Lookup) -> tuple[Organization, User]:
    if lookup.refused is not None:
        raise Unauthorized(lookup.refused.message)
    assert lookup.found is not None
    return lookup.found
