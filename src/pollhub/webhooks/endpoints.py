"""Where providers call pollhub: ``POST /events/{elementKey}/{instanceId}``.

Answers the provider's validation handshake at once (as its element's webhook capability
says), and accepts notifications with 202 after only storing their events (the outbox),
well inside Graph's 3-second budget. Providers do not authenticate with pollhub's secrets;
each notification proves itself by its subscription's ``clientState``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance
from pollhub.deps import InstanceId, SessionDep
from pollhub.elements import get_element
from pollhub.elements.base import Element
from pollhub.errors import BadRequest, NotFound, PollhubError
from pollhub.webhooks.receiver import Receipt, receive_changes, receive_lifecycle
from pollhub.webhooks.refused import RefusedNotifications

log = logging.getLogger(__name__)
router = APIRouter(prefix="/events", tags=["provider webhooks"])


class Unavailable(PollhubError):
    """The database is away: the notification was not stored."""

    status = 503


class Forbidden(PollhubError):
    """No entry of the notification proved itself."""

    status = 403


@router.post("/{element_key}/{instance_id}", response_model=None)
async def change_notifications(
    element_key: str, instance_id: InstanceId, request: Request, session: SessionDep
) -> Response:
    """A provider's change notifications for one instance (and its validation handshake)."""
    return await _receive(session, element_key, instance_id, request, receive_changes)


@router.post("/{element_key}/{instance_id}/lifecycle", response_model=None)
async def lifecycle_notifications(
    element_key: str, instance_id: InstanceId, request: Request, session: SessionDep
) -> Response:
    """Lifecycle notifications (Graph: reauthorizationRequired, subscriptionRemoved, missed)."""
    return await _receive(session, element_key, instance_id, request, receive_lifecycle)


Receive = Callable[[AsyncSession, Instance, Element, Any], Awaitable[Receipt]]


async def _receive(
    session: AsyncSession, element_key: str, instance_id: int, request: Request, receive: Receive
) -> Response:
    element = get_element(element_key)
    if element is None or element.webhooks is None:
        raise NotFound(f"No {element_key} instance with ID {instance_id}")
    answer = element.webhooks.handshake(request.query_params)
    if answer is not None:
        # Graph requires the decoded token back as text/plain within 10 seconds.
        return PlainTextResponse(answer, status_code=200)
    try:
        instance, body = await _instance_and_body(session, element_key, instance_id, request)
        try:
            receipt = await receive(session, instance, element, body)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        await session.commit()
    except (SQLAlchemyError, OSError) as exc:
        # Not stored: the provider may retry or not; a catch-up read replaces it anyway.
        refused: RefusedNotifications = request.app.state.refused_notifications
        refused.note(instance_id)
        log.warning(
            "could not store a notification (%s); the instance will be caught up",
            type(exc).__name__,
            extra={"instance": instance_id},
        )
        raise Unavailable("notifications cannot be stored right now; try again later") from exc
    return _answer(receipt)


async def _instance_and_body(
    session: SessionDep, element_key: str, instance_id: int, request: Request
) -> tuple[Instance, Any]:
    instance = await session.get(Instance, instance_id)
    if instance is None or instance.element_key != element_key:
        raise NotFound(f"No {element_key} instance with ID {instance_id}")
    raw = await request.body()  # capped as it streams (POLLHUB_MAX_WEBHOOK_BODY_BYTES)
    try:
        return instance, json.loads(raw)
    except ValueError as exc:
        raise BadRequest("notification body is not valid JSON") from exc


def _answer(receipt: Receipt) -> Response:
    if receipt.accepted == 0 and receipt.refused > 0:
        raise Forbidden("unknown subscription or wrong clientState")
    return Response(status_code=202)
