"""One poll of one resource of one instance, top to bottom.

1. Load what to read (the instance's element, resource configuration and interval).
2. Read the provider from the stored cursor — outside any database transaction, with a
   fresh access token (refreshed once more on a 401) and a full resynchronisation when the
   provider no longer accepts the cursor.
3. In one transaction: classify what came back against the fingerprints, write the events
   to the outbox, advance the cursor and schedule the next poll. A worker that dies before
   this commits leaves the old cursor, so the next poll reads the same changes again.
   Most polls find nothing: they only advance their own row, and close through the
   worker's :class:`~pollhub.polling.schedule.Closer`, many in one ``UPDATE``.

Failures (throttling, 5xx, timeouts) leave the cursor where it was and back off (also
through the closer). Everything about the instance comes with the claim, parsed once per
version of its row; the access token is used from it until it nears expiry. Each provider
request waits for the provider's rate limits (:mod:`pollhub.polling.pacing`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.changes.memory import Memory
from pollhub.clock import clock
from pollhub.db.configuration import StoredConfiguration
from pollhub.db.models import Instance, PollState
from pollhub.delivery.outbox import ChangeEvent, enqueue_polled_changes
from pollhub.elements import element_of
from pollhub.elements.base import Element
from pollhub.elements.credentials import MissingCredentials
from pollhub.elements.http import (
    ProviderApi,
    ProviderError,
    ProviderThrottled,
    ProviderUnauthorized,
)
from pollhub.elements.reading import CursorExpired, ReadResult
from pollhub.oauth.credentials import instance_credentials
from pollhub.oauth.tokens import InstanceInvalid, TokenKeeper, fresh_token
from pollhub.outbound.clients import FastProviderClient
from pollhub.polling import metrics, schedule
from pollhub.polling.changes import classify_change, object_dates, object_id
from pollhub.polling.config import PollerResource, refresh_seconds
from pollhub.polling.fetch import PollInput, dates_configuration, read_resource
from pollhub.polling.pacing import Pacer
from pollhub.polling.plan import skipped_parents

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class PollContext:
    """What every poll needs from its worker."""

    sessionmaker: async_sessionmaker[AsyncSession]
    tokens: TokenKeeper
    http: httpx.AsyncClient | FastProviderClient
    worker_id: str
    closer: schedule.Closer = field(init=False)
    pacer: Pacer = field(default_factory=Pacer)

    def __post_init__(self) -> None:
        object.__setattr__(self, "closer", schedule.Closer(self.sessionmaker, self.worker_id))


@dataclass(frozen=True)
class Target:
    """A resource to read, as configured when the poll started."""

    instance_id: int
    element: Element
    name: str
    resource: PollerResource
    interval: timedelta
    configuration: dict[str, Any]
    app: str  # the OAuth client id: provider rate limits are per app and per user
    access_token: str | None  # None: expiring, get one from the TokenKeeper
    skip: frozenset[str] = frozenset()  # parent objects another resource polls by name
    # An element without OAuth: the instance's API key or password, or None for none.
    credentials: httpx.Auth | None = None


@dataclass(frozen=True)
class StoredCursor:
    """``poll_states.cursor``: the url it belongs to, the first poll, the feed's cursor.

    A cursor stored for another url (the resource's url or filter was changed) is not
    this resource's: the poll starts a fresh baseline.
    """

    feed: dict[str, Any] | None
    first_poll: datetime | None
    fresh: bool  # the configuration changed since the cursor was stored

    @classmethod
    def load(cls, stored: dict[str, Any] | None, url: str) -> StoredCursor:
        """Unwrap what the poll state holds (a bare feed cursor from older versions too)."""
        if stored is None:
            return cls(None, None, False)
        if "feed" not in stored:
            return cls(stored, None, False)
        if stored.get("url") != url:
            return cls(None, None, True)
        first = stored.get("firstPoll")
        return cls(stored["feed"], datetime.fromisoformat(first) if first else None, False)

    @staticmethod
    def dump(url: str, first_poll: datetime, feed: dict[str, Any]) -> dict[str, Any]:
        """What to store after a successful poll."""
        return {"url": url, "firstPoll": first_poll.isoformat(), "feed": feed}


@dataclass(frozen=True)
class Failure:
    """A poll that did not get through; the cursor stays where it was."""

    result: str
    error: str
    retry_after: float | None = None


async def poll_resource(ctx: PollContext, claim: schedule.Claim) -> str:
    """Poll one claimed resource; returns the outcome recorded for it.

    A poll that raises (typically: the database connection dropped mid-poll) gives its
    lease back, due again after the failure backoff, before the exception propagates —
    otherwise the resource would stay silent until the lease expires (minutes). Nothing
    was committed, so the cursor has not moved and the next poll reads the same changes.
    """
    try:
        return await _poll(ctx, claim)
    except Exception as exc:
        await _release_after_crash(ctx, claim, exc)
        raise


async def _release_after_crash(ctx: PollContext, claim: schedule.Claim, exc: Exception) -> None:
    # Only the exception's type: its text may quote SQL parameters.
    failure = Failure("crashed", f"internal error ({type(exc).__name__}); will retry")
    try:
        await _close_failed(ctx, claim, failure, None)
    except Exception:  # the database is still away: the lease expires on its own
        log.warning(
            "could not release the lease of a crashed poll",
            extra={"instance": claim.instance_id, "resource": claim.resource},
        )


async def _poll(ctx: PollContext, claim: schedule.Claim) -> str:
    started = clock.now()
    metrics.POLL_LAG.observe(max(0.0, (started - claim.due_at).total_seconds()))
    target = _target(claim)
    if target is None:
        return await _close_failed(ctx, claim, Failure("skipped", "instance not pollable"), None)
    extra = {"instance": claim.instance_id, "resource": claim.resource}
    outcome: ReadResult | Failure
    poll: PollInput | None = None
    resynced = False
    try:
        outcome, resynced, poll = await _read(ctx, target, claim, started)
    except InstanceInvalid as exc:
        outcome = Failure("invalid", str(exc))
    except ProviderThrottled as exc:
        ctx.pacer.throttled(target.element.key, target.instance_id, exc.retry_after)
        outcome = Failure("throttled", str(exc), exc.retry_after)
    except ProviderError as exc:
        outcome = Failure("provider error", str(exc))
    if isinstance(outcome, Failure):
        log.warning("poll failed: %s", outcome.error, extra=extra)
        result = await _close_failed(ctx, claim, outcome, target)
    else:
        assert poll is not None  # set with every ReadResult
        result = await _close_succeeded(ctx, claim, target, outcome, poll, resynced)
        log.debug("poll done: %s", result, extra=extra)  # thousands a minute: not INFO
    metrics.POLLS.labels(target.element.key, result.split(":")[0]).inc()
    metrics.POLL_SECONDS.observe((clock.now() - started).total_seconds())
    return result


def _target(claim: schedule.Claim) -> Target | None:
    instance = claim.instance
    if not instance.events_enabled or not instance.valid:
        return None
    # Built once per version of the instance's row (the view is replaced when it changes).
    key = f"target:{claim.resource}"
    if key not in instance.derived:
        instance.derived[key] = _configured_target(instance, claim.resource)
    target: Target | None = instance.derived[key]
    if target is None:
        return None
    return replace(target, access_token=fresh_token(instance))


def _configured_target(instance: schedule.InstanceView, name: str) -> Target | None:
    element = element_of(instance)
    config = StoredConfiguration.read(instance.configuration, instance.secrets)
    entry = config.poller_configuration.get(name)
    if element is None or entry is None:
        return None
    resource = PollerResource.model_validate(entry)
    if element.find_resource(resource.path(), objects=False) is None:
        return None
    skip: frozenset[str] = frozenset()
    if "{" in resource.path():  # a fan-out leaves out what other resources poll by name
        entries = config.poller_configuration
        resources = {name: PollerResource.model_validate(e) for name, e in entries.items()}
        skip = skipped_parents(element, resources, name)
    app = config.oauth_api_key
    try:
        credentials = None if element.uses_oauth else instance_credentials(element, instance)
    except MissingCredentials as exc:  # the element's definition changed under the instance
        log.warning("instance cannot authenticate: %s", exc, extra={"instance": instance.id})
        return None
    return Target(
        instance_id=instance.id,
        element=element,
        name=name,
        resource=resource,
        interval=timedelta(seconds=refresh_seconds(config.refresh_minutes)),
        configuration=dict(config.values),
        app=app,
        access_token=None,
        skip=skip,
        credentials=credentials,
    )


async def _read(
    ctx: PollContext, target: Target, claim: schedule.Claim, started: datetime
) -> tuple[ReadResult, bool, PollInput]:
    stored = StoredCursor.load(claim.cursor, target.resource.url)
    poll = PollInput(
        element=target.element,
        name=target.name,
        resource=target.resource,
        configuration=target.configuration,
        cursor=stored.feed,
        last_success=None if stored.fresh else claim.last_success_at,
        first_poll=stored.first_poll,
        started=started,
        skip=target.skip,
    )
    try:
        return await _read_with_token(ctx, target, poll), False, poll
    except CursorExpired as exc:
        log.warning(
            "cursor expired, resynchronising: %s",
            exc,
            extra={"instance": target.instance_id, "resource": target.name},
        )
        return await _read_with_token(ctx, target, replace(poll, cursor=None)), True, poll


async def _read_with_token(ctx: PollContext, target: Target, poll: PollInput) -> ReadResult:
    def pace() -> Awaitable[None]:
        element = target.element
        return ctx.pacer.wait(element.key, element.rate_limits, target.app, target.instance_id)

    if not target.element.uses_oauth:
        api = ProviderApi(ctx.http, auth=target.credentials, pace=pace)
        return await read_resource(api, poll)
    token = target.access_token or await ctx.tokens.access_token(target.instance_id)
    try:
        return await read_resource(ProviderApi(ctx.http, token, pace=pace), poll)
    except ProviderUnauthorized:
        # The token may have been revoked or expired early: refresh once and try again.
        token = await ctx.tokens.access_token(target.instance_id, stale=token)
        return await read_resource(ProviderApi(ctx.http, token, pace=pace), poll)


async def _close_succeeded(
    ctx: PollContext,
    claim: schedule.Claim,
    target: Target,
    read: ReadResult,
    poll: PollInput,
    resynced: bool,
) -> str:
    started = poll.started
    baseline = poll.cursor is None and not resynced
    forget = claim.cursor is not None and poll.cursor is None and not resynced
    # A full or filtered listing (``complete`` / ``present``) may reveal deletes even when it
    # returns no changes, so only a read that can say nothing about deletes takes the short way.
    sweeps = (read.complete or read.present is not None) and not baseline
    if not read.changes and not sweeps and not forget:
        # Nothing to classify or deliver: only the poll's own row moves, in a shared UPDATE.
        result = "baseline" if baseline else "ok: 0 changes"
        if resynced:
            result = "resynced: 0 changes"
        await ctx.closer.close(
            schedule.Closing(
                state_id=claim.state_id,
                polled_at=started,
                next_poll_at=started + target.interval,
                result=result,
                error=None,
                consecutive_failures=0,
                succeeded=True,
                cursor=StoredCursor.dump(
                    target.resource.url, poll.first_poll or started, read.cursor
                ),
            )
        )
        return result
    async with ctx.sessionmaker() as session:
        state = await schedule.hold(session, claim, ctx.worker_id)
        if state is None:
            return "lease lost"
        if forget:
            # The url or filter changed: what was remembered belongs to another resource.
            await Memory.forget(session, target.instance_id, target.name)
        events = await _detect(
            session,
            target,
            read,
            baseline=baseline,
            since=poll.last_success,
            first_poll=poll.first_poll,
        )
        # The instance row (and its secrets) is only read to write callbacks. Its poll
        # state row is locked, so it cannot be deleted meanwhile.
        instance = await session.get(Instance, claim.instance_id) if events else None
        if instance is not None:
            for object_type, batch in _by_object_type(events):
                await enqueue_polled_changes(
                    session,
                    instance,
                    hub_key=target.element.hub,
                    object_type=object_type,
                    events=batch,
                    poll_date=started,
                )
        state.cursor = StoredCursor.dump(
            target.resource.url, poll.first_poll or started, read.cursor
        )
        state.last_success_at = started
        changes = f"{len(events)} change{'' if len(events) == 1 else 's'}"
        result = "baseline" if baseline else f"ok: {changes}"
        if resynced:
            result = f"resynced: {changes}"
        _record(state, started, result, None)
        state.consecutive_failures = 0
        schedule.release(state, next_poll_at=started + target.interval)
        await session.commit()
    for event in events:
        metrics.CHANGES.labels(target.element.key, event.event_type).inc()
    return result


def _by_object_type(events: list[ChangeEvent]) -> list[tuple[str, list[ChangeEvent]]]:
    groups: dict[str, list[ChangeEvent]] = {}
    for event in events:
        groups.setdefault(event.object_type, []).append(event)
    return list(groups.items())


async def _detect(
    session: AsyncSession,
    target: Target,
    read: ReadResult,
    *,
    baseline: bool,
    since: datetime | None,
    first_poll: datetime | None,
) -> list[ChangeEvent]:
    ids = [object_id(change, target.resource.idField) for change in read.changes]
    listed = read.present if read.present is not None else (set(ids) if read.complete else None)
    sweep = listed is not None and not baseline
    memory = await Memory.load(session, target.instance_id, target.name, ids, everything=sweep)
    tolerance = target.resource.createdCheckTolerance
    dates_config = dates_configuration(target.element, target.resource)
    events: list[ChangeEvent] = []
    for change, identifier in zip(read.changes, ids, strict=True):
        dates = object_dates(change.raw, dates_config)
        verdict = classify_change(
            change,
            memory.seen(identifier),
            dates,
            baseline=baseline,
            since=since,
            first_poll=first_poll,
            **({"tolerance_seconds": tolerance} if tolerance is not None else {}),
        )
        memory.remember(session, identifier, verdict.fingerprint, verdict.deleted)
        if verdict.event_type:
            date = dates.updated or dates.created or clock.now()
            object_type = change.object_type or target.name
            events.append(
                ChangeEvent(verdict.event_type, identifier, object_type, date, change.raw)
            )
    if sweep and listed is not None:
        # A full enumeration (after a lost cursor, or a list resource): what we knew of and
        # no longer exists was deleted while we could not see it.
        for missing in memory.forget_missing(session, set(listed) | set(ids)):
            raw = {"id": missing, "deleted": True}
            events.append(ChangeEvent("DELETED", missing, target.name, clock.now(), raw))
    return events


async def _close_failed(
    ctx: PollContext, claim: schedule.Claim, failure: Failure, target: Target | None
) -> str:
    now = clock.now()
    failures = claim.consecutive_failures + 1
    interval = target.interval if target else timedelta(minutes=15)
    await ctx.closer.close(
        schedule.Closing(
            state_id=claim.state_id,
            polled_at=now,
            next_poll_at=now + _backoff(failures, failure, interval),
            result=failure.result,
            error=failure.error,
            consecutive_failures=failures,
            succeeded=False,
        )
    )
    return failure.result


def _backoff(failures: int, failure: Failure, interval: timedelta) -> timedelta:
    if failure.result in ("invalid", "skipped"):
        return interval
    exponential: timedelta = BACKOFF_BASE * 2 ** min(failures - 1, 10)
    wait: timedelta = min(exponential, BACKOFF_MAX) * random.uniform(0.8, 1.2)  # jitter
    if failure.retry_after is not None:
        wait = max(wait, timedelta(seconds=failure.retry_after))
    return wait


def _record(state: PollState, at: datetime, result: str, error: str | None) -> None:
    state.last_poll_at = at
    state.last_result = result[:50]
    state.last_error = error
