"""Turning Graph change notifications into events, checked and deduplicated.

Each entry must name a subscription of the instance it was sent to and carry that
subscription's ``clientState`` (compared in constant time); anything else is refused and
creates no event. Graph may deliver one change more than once: the object's ``@odata.etag``
(remembered per object) makes a repeat a no-op, and a change that arrives after the
object's deletion is dropped as stale. With ``event.notification.fetch.objects`` the events
wait in the inbox while a worker fetches the changed objects (:mod:`.inbox`).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Instance, WebhookSubscription
from pollhub.delivery.outbox import ChangeEvent, enqueue_webhook_events
from pollhub.elements import microsoftgraph as graph
from pollhub.polling.fingerprints import MAX_OBJECT_ID_LENGTH, Memory, storable_object_id
from pollhub.webhooks.inbox import FETCH_OBJECTS_KEY, hold_for_fetching

log = logging.getLogger(__name__)
LIFECYCLE_EVENTS = {"reauthorizationRequired", "subscriptionRemoved", "missed"}


@dataclass(frozen=True)
class Receipt:
    """What became of one notification body."""

    accepted: int
    refused: int
    events: int


async def receive_changes(session: AsyncSession, instance: Instance, body: Any) -> Receipt:
    """Check the entries of a change notification and write their events to the outbox.

    A malformed body raises ValueError. The caller commits.
    """
    entries = graph.parse_notifications(body)
    subscriptions = await _subscriptions(session, instance.id)
    accepted = [e for e in entries if _authentic(e.subscription_id, e.client_state, subscriptions)]
    _log_refused(instance.id, len(entries) - len(accepted))
    accepted = _storable(instance.id, accepted)
    events: list[ChangeEvent] = []
    by_type: dict[str, list[graph.ChangeNotification]] = {}
    for entry in accepted:
        by_type.setdefault(subscriptions[entry.subscription_id].object_type, []).append(entry)
    for object_type, group in by_type.items():
        memory = await Memory.load(
            session, instance.id, object_type, [e.object_id for e in group], locked=True
        )
        for entry in group:
            deleted = entry.event_type == "DELETED"
            fingerprint = "deleted" if deleted else entry.etag or entry.event_type
            previous = memory.get(entry.object_id)
            if previous is not None and (previous.fingerprint, previous.deleted) == (
                fingerprint,
                deleted,
            ):
                continue  # Graph sent this change before
            if previous is not None and previous.deleted and not deleted:
                # Graph does not promise order, and never reuses an id: a change that
                # arrives after the object's deletion is older news than the deletion.
                continue
            if previous is not None and entry.event_type == "CREATED":
                # An object is created once: a creation of an object already reported is
                # older than what was processed (a replay, or late), never news.
                log.warning(
                    "refused a creation notification for an object already reported",
                    extra={"instance": instance.id, "subscription": entry.subscription_id},
                )
                continue
            memory.remember(session, entry.object_id, fingerprint, deleted)
            events.append(ChangeEvent(entry.event_type, entry.object_id, object_type, clock.now()))
    # The clientState is the subscription's shared secret: never stored, never sent on.
    body = graph.without_client_state(body)
    if instance.configuration.get(FETCH_OBJECTS_KEY) is True:
        # Fetching the objects is slow: it is left to a worker, Graph gets its 202 now.
        hold_for_fetching(session, instance.id, events, body)
    else:
        await enqueue_webhook_events(
            session, instance, hub_key=graph.ELEMENT.hub, events=events, body=body
        )
    return Receipt(len(accepted), len(entries) - len(accepted), len(events))


async def receive_lifecycle(session: AsyncSession, instance: Instance, body: Any) -> Receipt:
    """Act on lifecycle notifications: renew now, re-create, or catch up (``missed``).

    The work itself is done by a worker (it may be slow); this only marks the subscription.
    """
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ValueError("a lifecycle notification is a JSON object with a 'value' array")
    subscriptions = await _subscriptions(session, instance.id)
    accepted = refused = 0
    now = clock.now()
    for entry in body["value"]:
        if not isinstance(entry, dict):
            raise ValueError("every lifecycle notification must be an object")
        event = entry.get("lifecycleEvent")
        subscription_id = str(entry.get("subscriptionId") or "")
        if event not in LIFECYCLE_EVENTS or not _authentic(
            subscription_id, str(entry.get("clientState") or ""), subscriptions
        ):
            refused += 1
            continue
        accepted += 1
        row = subscriptions[subscription_id]
        row.renew_at = now
        if event == "subscriptionRemoved":
            row.status, row.needs_catch_up = "removed", True
        elif event == "missed":
            row.needs_catch_up = True
    _log_refused(instance.id, refused)
    return Receipt(accepted, refused, 0)


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


def _storable(
    instance_id: int, entries: list[graph.ChangeNotification]
) -> list[graph.ChangeNotification]:
    # An id no database column can hold is no object Graph would name: skip it, loudly.
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
