"""Turning a provider's change notifications into events, checked and deduplicated.

The element's webhook capability parses the body. Each entry must name a subscription of
the instance it was sent to and carry that subscription's ``clientState`` (compared in
constant time); anything else is refused and creates no event. Providers may deliver one
change more than once, and anyone who once saw a notification may replay it: each
subscription remembers every change it processed (:mod:`.receipts`), so neither emits
anything, while the object's latest version (remembered per object as a fingerprint,
:mod:`pollhub.changes`) decides what a new change is; a creation of a known object and a
change that arrives after the object's deletion are older news, dropped (:mod:`.news`).
With ``event.notification.fetch.objects`` the events wait in the inbox while a worker
fetches the changed objects (:mod:`.inbox`); so do changes notified without the object's
version, whose news is what the worker reads.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.changes.memory import MAX_OBJECT_ID_LENGTH, Memory, storable_object_id
from pollhub.clock import clock
from pollhub.db.configuration import StoredConfiguration
from pollhub.db.models import Instance, WebhookSubscription
from pollhub.delivery.outbox import ChangeEvent, enqueue_webhook_events
from pollhub.elements.base import Element
from pollhub.elements.webhooks import WebhookCapability, WebhookChange
from pollhub.webhooks.inbox import Unversioned, has_waiting, hold_for_fetching
from pollhub.webhooks.news import news

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """What became of one notification body."""

    accepted: int
    refused: int
    events: int


async def receive_changes(
    session: AsyncSession, instance: Instance, element: Element, body: Any
) -> Receipt:
    """Check the entries of a change notification and write their events to the outbox.

    A malformed body raises ValueError. The caller commits.
    """
    hooks = _capability(element)
    entries = hooks.parse_changes(body)
    subscriptions = await _subscriptions(session, instance.id)
    accepted = [e for e in entries if _authentic(e.subscription_id, e.client_state, subscriptions)]
    _log_refused(instance.id, len(entries) - len(accepted))
    accepted = _storable(instance.id, accepted)
    events: list[ChangeEvent | Unversioned] = []
    by_type: dict[str, list[WebhookChange]] = {}
    for entry in accepted:
        by_type.setdefault(subscriptions[entry.subscription_id].object_type, []).append(entry)
    for object_type, group in by_type.items():
        memory = await Memory.load(
            session, instance.id, object_type, [e.object_id for e in group], locked=True
        )
        for entry in group:
            row = subscriptions[entry.subscription_id]
            if not entry.version and entry.kind != "deleted":
                # No version (OneDrive's notifications): every one would look the same, so
                # what changed is decided once a worker has read the object.
                events.append(Unversioned(row.id, entry.kind, entry.object_id, object_type))
                continue
            event_type = await news(
                session, row.id, memory, entry.kind, entry.object_id, entry.version
            )
            if event_type:
                events.append(ChangeEvent(event_type, entry.object_id, object_type, clock.now()))
    # The subscription's shared secret is never stored, never sent on.
    body = hooks.redact(body)
    if (
        StoredConfiguration.of(instance).fetch_objects
        or any(isinstance(e, Unversioned) for e in events)
        or await has_waiting(session, instance.id)
    ):
        # Fetching objects is slow: it is left to a worker, the provider gets its 2xx now.
        # While some of the instance's events wait, later ones wait behind them (in order).
        hold_for_fetching(session, instance.id, events, body)
    else:
        plain = [e for e in events if isinstance(e, ChangeEvent)]
        await enqueue_webhook_events(
            session, instance, hub_key=element.hub, events=plain, body=body
        )
    return Receipt(len(accepted), len(entries) - len(accepted), len(events))


async def receive_lifecycle(
    session: AsyncSession, instance: Instance, element: Element, body: Any
) -> Receipt:
    """Act on lifecycle notifications: renew now, re-create, or catch up (``missed``).

    The work itself is done by a worker (it may be slow); this only marks the subscription.
    """
    signals = _capability(element).parse_lifecycle(body)
    subscriptions = await _subscriptions(session, instance.id)
    accepted = refused = 0
    now = clock.now()
    for signal in signals:
        if signal.event is None or not _authentic(
            signal.subscription_id, signal.client_state, subscriptions
        ):
            refused += 1
            continue
        accepted += 1
        row = subscriptions[signal.subscription_id]
        row.renew_at = now
        if signal.event == "removed":
            row.status, row.needs_catch_up = "removed", True
        elif signal.event == "missed":
            row.needs_catch_up = True
    _log_refused(instance.id, refused)
    return Receipt(accepted, refused, 0)


def _capability(element: Element) -> WebhookCapability:
    if element.webhooks is None:
        raise ValueError(f"{element.key} does not send webhooks")
    return element.webhooks


async def _subscriptions(session: AsyncSession, instance_id: int) -> dict[str, WebhookSubscription]:
    rows = await session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.instance_id == instance_id)
    )
    return {row.subscription_id: row for row in rows}


def _authentic(
    subscription_id: str, client_state: str, subscriptions: dict[str, WebhookSubscription]
) -> bool:
    row = subscriptions.get(subscription_id)
    expected = row.client_state if row is not None else ""
    # Compared even for unknown subscriptions, so timing tells nothing.
    matches = hmac.compare_digest(client_state.encode(), expected.encode())
    return row is not None and matches


def _storable(instance_id: int, entries: list[WebhookChange]) -> list[WebhookChange]:
    # An id no database column can hold is no object a provider would name: skip it, loudly.
    storable = [e for e in entries if storable_object_id(e.object_id)]
    if len(storable) < len(entries):
        log.warning(
            "skipped %d webhook notification(s) whose object id is empty, over %d "
            "characters or holds a NUL",
            len(entries) - len(storable),
            MAX_OBJECT_ID_LENGTH,
            extra={"instance": instance_id},
        )
    return storable


def _log_refused(instance_id: int, refused: int) -> None:
    if refused:
        log.warning(
            "refused %d webhook notification(s): unknown subscription or wrong clientState",
            refused,
            extra={"instance": instance_id},
        )
