"""The control API: tests and the demo change the providers' data, arm faults, and
watch Graph's notifications (CONTRACT section 6).

| method and path | effect |
|---|---|
| ``POST /control/{elementKey}/{collection}`` | create (JSON body = fields) → 201 ``{"id", ...}`` |
| ``PATCH /control/{elementKey}/{collection}/{id}`` | update → 200 |
| ``DELETE /control/{elementKey}/{collection}/{id}`` | delete, as the provider shows it → 200 |
| ``GET /control/{elementKey}/{collection}`` | list the objects |
| ``POST /control/reset`` | forget all state |
| ``GET``/``POST``/``DELETE /control/faults`` | list / arm / clear faults |
| ``GET /control/notifications`` | Graph notifications sent so far, with outcomes |
| ``POST /control/notifications/drain`` | wait until every pending notification is sent |
| ``POST /control/tokens/revoke`` ``{"provider", "domain"?}`` | revoke a provider's tokens |
| ``POST /control/sync-tokens/invalidate`` ``{"elementKey"}`` | make delta/sync tokens stale |
| ``GET /control/microsoftgraph/subscriptions`` | live Graph subscriptions |
| ``POST /control/microsoftgraph/subscriptions/{id}/lifecycle`` | send the body's |
| | ``lifecycleEvent`` to the subscription's lifecycle URL |
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pollhub.sandbox.data import ControlledCollection, InvalidFields, UnknownObject
from pollhub.sandbox.data.docushare import DEFAULT_DOMAIN
from pollhub.sandbox.data.subscriptions import LIFECYCLE_EVENTS
from pollhub.sandbox.deps import get_state
from pollhub.sandbox.errors import ProviderError
from pollhub.sandbox.faults import InvalidFault, parse_fault
from pollhub.sandbox.ids import hex_id
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.webhooks import notify_drive_change, notify_event_change, send_lifecycle

router = APIRouter(prefix="/control")

_REVOCABLE = ("microsoft", "google", "docushare", "dropbox")


def _error(status: int, message: str) -> ProviderError:
    return ProviderError(status, {"error": message})


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise _error(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise _error(400, "the body must be a JSON object")
    return body


# State, faults, notifications, tokens ------------------------------------------------


@router.post("/reset")
async def reset(state: SandboxState = Depends(get_state)) -> dict[str, bool]:
    """Forget every object, token, fault and notification (retries in flight stop)."""
    await state.notifier.cancel()
    state.reset()
    return {"reset": True}


@router.get("/faults")
async def list_faults(state: SandboxState = Depends(get_state)) -> dict[str, Any]:
    """The armed faults."""
    return {"faults": [f.as_json() for f in state.faults.armed()]}


@router.post("/faults", status_code=201, response_model=None)
async def arm_fault(request: Request, state: SandboxState = Depends(get_state)) -> JSONResponse:
    """Make the next ``count`` calls to ``provider`` fail as ``kind``."""
    body = await _body(request)
    try:
        fault = parse_fault(body)
    except InvalidFault as exc:
        raise _error(400, str(exc)) from None
    state.faults.add(fault)
    return JSONResponse(fault.as_json(), status_code=201)


@router.delete("/faults", status_code=204)
async def clear_faults(state: SandboxState = Depends(get_state)) -> Response:
    """Disarm every fault."""
    state.faults.clear()
    return Response(status_code=204)


@router.get("/notifications")
async def list_notifications(state: SandboxState = Depends(get_state)) -> dict[str, Any]:
    """Every Graph notification sent (or being sent), with its outcome."""
    return {"deliveries": [d.as_json() for d in state.notifier.log]}


@router.post("/notifications/drain")
async def drain_notifications(state: SandboxState = Depends(get_state)) -> dict[str, Any]:
    """Wait until every pending notification has been delivered or given up (Graph
    gives up after about four hours of retries; see POLLHUB_SANDBOX_NOTIFICATION_TIME_SCALE)."""
    await state.notifier.drain()
    return {"deliveries": [d.as_json() for d in state.notifier.log]}


@router.post("/tokens/revoke", response_model=None)
async def revoke_tokens(request: Request, state: SandboxState = Depends(get_state)) -> JSONResponse:
    """Revoke a provider's tokens, as when the user withdraws consent."""
    body = await _body(request)
    provider = body.get("provider")
    if provider not in _REVOCABLE:
        raise _error(400, f"provider must be one of {list(_REVOCABLE)}")
    realm = str(provider)
    if provider == "docushare":
        realm = f"docushare:{str(body.get('domain', DEFAULT_DOMAIN)).lower()}"
    return JSONResponse({"revoked": state.tokens.revoke_realm(realm)})


@router.post("/sync-tokens/invalidate", response_model=None)
async def invalidate_sync_tokens(
    request: Request, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """Make every delta/sync/page token of an element's provider stale (Graph 410,
    Calendar 410, People 400 expired, Gmail 404 for older history ids)."""
    body = await _body(request)
    data = state.data
    key = body.get("elementKey")
    if key == "onedrivev2":
        data.drive.epoch = hex_id(8)
    elif key == "googlesuite":
        data.calendar.epoch = data.people.epoch = data.gmail.epoch = hex_id(8)
        data.gmail.forget_history()
    elif key == "dropbox":
        data.dropbox.epoch = hex_id(8)
    else:
        raise _error(400, "elementKey must be onedrivev2, googlesuite or dropbox")
    return JSONResponse({"invalidated": key})


# Graph subscriptions -----------------------------------------------------------------


@router.get("/microsoftgraph/subscriptions")
async def graph_subscriptions(state: SandboxState = Depends(get_state)) -> dict[str, Any]:
    """Every live Graph subscription, whichever application made it."""
    return {"value": [s.as_json() for s in state.data.subscriptions.live()]}


@router.post("/microsoftgraph/subscriptions/{subscription_id}/lifecycle", response_model=None)
async def lifecycle(
    request: Request, subscription_id: str, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """Send ``reauthorizationRequired``, ``subscriptionRemoved`` (which also ends the
    subscription) or ``missed`` to the subscription's lifecycle URL."""
    body = await _body(request)
    event = body.get("lifecycleEvent")
    if event not in LIFECYCLE_EVENTS:
        raise _error(400, f"lifecycleEvent must be one of {list(LIFECYCLE_EVENTS)}")
    subscription = state.data.subscriptions.get(subscription_id)
    if subscription is None:
        raise _error(404, f"no live subscription {subscription_id}")
    try:
        delivery = send_lifecycle(state, subscription, str(event))
    except ValueError as exc:
        raise _error(409, str(exc)) from None
    return JSONResponse(delivery.as_json(), status_code=202)


# Provider objects --------------------------------------------------------------------


def _collection(state: SandboxState, element_key: str, collection: str) -> ControlledCollection:
    found = state.collections().get((element_key, collection))
    if found is None:
        raise _error(404, f"unknown collection {element_key}/{collection}")
    return found


@router.get("/{element_key}/{collection}", response_model=None)
async def list_objects(
    element_key: str, collection: str, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """Every object of a collection."""
    found = _collection(state, element_key, collection)
    return JSONResponse({"items": found.list_objects()})


@router.post("/{element_key}/{collection}", status_code=201, response_model=None)
async def create_object(
    request: Request, element_key: str, collection: str, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """Create an object → 201 with its ``id`` and the provider's view of it."""
    found, body = _collection(state, element_key, collection), await _body(request)
    try:
        created = found.create(body)
    except InvalidFields as exc:
        raise _error(400, str(exc)) from None
    _announce(state, element_key, collection, created["id"], "created")
    return JSONResponse(created, status_code=201)


@router.patch("/{element_key}/{collection}/{object_id}", response_model=None)
async def update_object(
    request: Request,
    element_key: str,
    collection: str,
    object_id: str,
    state: SandboxState = Depends(get_state),
) -> JSONResponse:
    """Change an object; its modified time moves on."""
    found, body = _collection(state, element_key, collection), await _body(request)
    try:
        updated = found.update(object_id, body)
    except UnknownObject:
        raise _error(404, f"no {collection} object {object_id}") from None
    except InvalidFields as exc:
        raise _error(400, str(exc)) from None
    _announce(state, element_key, collection, object_id, "updated")
    return JSONResponse(updated)


@router.delete("/{element_key}/{collection}/{object_id}", response_model=None)
async def delete_object(
    element_key: str, collection: str, object_id: str, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """Delete an object, the way its provider shows deletes."""
    found = _collection(state, element_key, collection)
    # Graph's deleted notification names the event, so look it up before it goes.
    event = state.data.outlook.events.get(object_id)
    try:
        deleted = found.delete(object_id)
    except UnknownObject:
        raise _error(404, f"no {collection} object {object_id}") from None
    except InvalidFields as exc:
        raise _error(400, str(exc)) from None
    if (element_key, collection) == ("microsoftgraph", "events") and event is not None:
        notify_event_change(state, event, "deleted")
    elif (element_key, collection) == ("onedrivev2", "files"):
        notify_drive_change(state)
    return JSONResponse(deleted)


def _announce(
    state: SandboxState, element_key: str, collection: str, object_id: str, change: str
) -> None:
    """Start Graph's notifications for a created or updated object."""
    if (element_key, collection) == ("microsoftgraph", "events"):
        notify_event_change(state, state.data.outlook.events[object_id], change)
    elif (element_key, collection) == ("onedrivev2", "files"):
        notify_drive_change(state)
