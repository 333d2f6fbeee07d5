"""Microsoft Graph v1.0: the drive, its delta feed and folder children, Outlook events,
subscriptions.

Served at ``/graph.microsoft.com/v1.0/...``; ``/me/...`` and ``/drives/{id}/...`` both
work, so the Microsoft Graph SDK (which reads deltas at
``/drives/{drive-id}/items/{item-id}/delta()``) and plain clients meet the same data.
Docs: https://learn.microsoft.com/graph/api/driveitem-delta,
https://learn.microsoft.com/graph/api/resources/subscription
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pollhub.sandbox.data.drive import StaleDeltaToken
from pollhub.sandbox.data.subscriptions import Subscription, check_expiration, validate_endpoint
from pollhub.sandbox.deps import (
    access_token_check,
    fault_gate,
    get_state,
    int_query,
    provider_base,
)
from pollhub.sandbox.errors import GRAPH_HOST, ProviderError, bad_request, graph_error, route_path
from pollhub.sandbox.ids import decode_cursor, encode_cursor
from pollhub.sandbox.odata import InvalidFilter, parse_filter
from pollhub.sandbox.simulators import Simulator
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.tokens import AccessGrant

PREFIX = f"/{GRAPH_HOST}/v1.0"
DEFAULT_DELTA_PAGE = 200
MAX_DELTA_PAGE = 1000
DEFAULT_EVENTS_PAGE = 10

router = APIRouter(prefix=PREFIX, dependencies=[Depends(fault_gate("graph"))])
_token = access_token_check("graph")

# delta, delta(), delta(token='...') and delta(token=...) are all the same function.
_DELTA_CALL = re.compile(r"^delta(?:\(\)|\((?:token=)?'?(?P<token>[^')]*)'?\))?$")
_RESYNC_MESSAGE = (
    "Resync required. Replace any local items with the server's version (including "
    "deletes) if you're sure that the service was up to date with your local changes "
    "when you last sync'd. Upload any local changes that the server doesn't know about."
)


def _graph_base(request: Request) -> str:
    return provider_base(request, GRAPH_HOST) + "/v1.0"


def _graph_bad_request(message: str) -> ProviderError:
    return bad_request("graph", message)


# The user and the drive ---------------------------------------------------------------


@router.get("/me")
async def me(
    request: Request, state: SandboxState = Depends(get_state), _: AccessGrant = Depends(_token)
) -> dict[str, Any]:
    """The signed-in user."""
    user = state.data.microsoft_user
    given, _space, surname = user.display_name.partition(" ")
    return {
        "@odata.context": f"{_graph_base(request)}/$metadata#users/$entity",
        "id": user.id,
        "displayName": user.display_name,
        "givenName": given,
        "surname": surname,
        "mail": user.mail,
        "userPrincipalName": user.mail,
        "businessPhones": [],
        "jobTitle": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
    }


@router.get("/me/drive")
@router.get("/drives/{drive_id}")
async def drive(
    request: Request, state: SandboxState = Depends(get_state), _: AccessGrant = Depends(_token)
) -> dict[str, Any]:
    """The user's drive."""
    _check_drive(state, request)
    return {
        "@odata.context": f"{_graph_base(request)}/$metadata#drives/$entity",
        **state.data.drive.drive_json(),
    }


@router.get("/me/drive/root")
@router.get("/drives/{drive_id}/root")
@router.get("/me/drive/items/{item_id}")
@router.get("/drives/{drive_id}/items/{item_id}")
async def drive_item(
    request: Request, state: SandboxState = Depends(get_state), _: AccessGrant = Depends(_token)
) -> dict[str, Any]:
    """One driveItem (deleted items are gone: 404 ``itemNotFound``)."""
    _check_drive(state, request)
    item = state.data.drive.live_item(request.path_params.get("item_id", "root"))
    if item is None:
        raise graph_error(404, "itemNotFound", "The resource could not be found.")
    drive_id = state.data.drive.drive_id
    return {
        "@odata.context": f"{_graph_base(request)}/$metadata#drives('{drive_id}')/items/$entity",
        **state.data.drive.item_json(item, with_path=True),
    }


@router.get("/me/drive/root/{call}")
@router.get("/drives/{drive_id}/root/{call}")
@router.get("/me/drive/items/{item_id}/{call}")
@router.get("/drives/{drive_id}/items/{item_id}/{call}")
async def drive_delta(
    request: Request,
    call: str,
    state: SandboxState = Depends(get_state),
    _: AccessGrant = Depends(_token),
) -> JSONResponse:
    """The drive's delta feed: a full enumeration without a token, changes since the
    token with one, paged by ``@odata.nextLink`` and ending in ``@odata.deltaLink``."""
    _check_drive(state, request)
    if call == "children":
        return _children(request, state)
    match = _DELTA_CALL.match(call)
    if match is None:
        raise graph_error(400, "invalidRequest", f"Unsupported segment '{call}'.")
    store = state.data.drive
    if store.live_item(request.path_params.get("item_id", "root")) is not store.root:
        raise graph_error(
            400, "invalidRequest", "Delta is only supported on the root of the drive."
        )
    base = _graph_base(request)
    scope_path = route_path(request).removeprefix(PREFIX).rsplit("/", 1)[0]
    link_base = f"{base}{scope_path}/delta"
    token = match.group("token") or request.query_params.get("token") or ""
    top = int_query(
        request,
        "$top",
        DEFAULT_DELTA_PAGE,
        minimum=1,
        maximum=MAX_DELTA_PAGE,
        error=_graph_bad_request,
    )
    try:
        page = store.delta_page(token, top)
    except StaleDeltaToken:
        raise graph_error(410, "resyncRequired", _RESYNC_MESSAGE, {"Location": link_base}) from None
    body: dict[str, Any] = {
        "@odata.context": f"{base}/$metadata#Collection(driveItem)",
        "value": [store.item_json(item, with_path=False) for item in page.items],
    }
    if page.next_page_token:
        body["@odata.nextLink"] = f"{link_base}(token='{page.next_page_token}')"
    else:
        body["@odata.deltaLink"] = f"{link_base}(token='{page.delta_token}')"
    return JSONResponse(body)


def _children(request: Request, state: SandboxState) -> JSONResponse:
    """A folder's children: ``$filter`` (see :mod:`pollhub.sandbox.odata`), ``$top``, and
    ``@odata.nextLink`` carrying a ``$skiptoken``. Docs:
    https://learn.microsoft.com/graph/api/driveitem-list-children"""
    store = state.data.drive
    folder = store.live_item(request.path_params.get("item_id", "root"))
    if folder is None:
        raise graph_error(404, "itemNotFound", "The resource could not be found.")
    if not folder.is_folder:
        raise graph_error(400, "invalidRequest", "The item is not a folder.")
    params = request.query_params
    top = int_query(
        request, "$top", DEFAULT_DELTA_PAGE, minimum=1, maximum=999, error=_graph_bad_request
    )
    children = [store.item_json(child, with_path=True) for child in store.children(folder.id)]
    if raw_filter := params.get("$filter"):
        try:
            predicate = parse_filter(raw_filter)
        except InvalidFilter as exc:
            raise graph_error(400, "invalidRequest", str(exc)) from None
        children = [child for child in children if predicate(child)]
    skip = 0
    if token := params.get("$skiptoken"):
        decoded = decode_cursor("children", store.epoch, token)
        if decoded is None:
            raise graph_error(400, "invalidRequest", "Invalid $skiptoken.")
        skip = decoded["o"]
    page = children[skip : skip + top]
    body: dict[str, Any] = {
        "@odata.context": f"{_graph_base(request)}/$metadata#Collection(driveItem)",
        "value": page,
    }
    if skip + top < len(children):
        next_token = encode_cursor("children", store.epoch, {"o": skip + top})
        link = request.url.remove_query_params("$skiptoken").include_query_params(
            **{"$skiptoken": next_token}
        )
        body["@odata.nextLink"] = str(link)
    return JSONResponse(body)


def _check_drive(state: SandboxState, request: Request) -> None:
    # /me/drive/... routes name no drive; /drives/{drive_id}/... must name the user's.
    drive_id = request.path_params.get("drive_id")
    if drive_id is not None and drive_id.lower() != state.data.drive.drive_id:
        raise graph_error(404, "itemNotFound", "The resource could not be found.")


# Outlook events -----------------------------------------------------------------------


@router.get("/me/events")
async def list_events(
    request: Request, state: SandboxState = Depends(get_state), _: AccessGrant = Depends(_token)
) -> dict[str, Any]:
    """The user's events, paged with ``$top``/``$skip``; ``$select`` trims fields."""
    store = state.data.outlook
    top = int_query(
        request, "$top", DEFAULT_EVENTS_PAGE, minimum=1, maximum=1000, error=_graph_bad_request
    )
    skip = int_query(request, "$skip", 0, minimum=0, maximum=10**9, error=_graph_bad_request)
    select = request.query_params.get("$select")
    events = store.ordered()
    base = _graph_base(request)
    body: dict[str, Any] = {
        "@odata.context": f"{base}/$metadata#users('{state.data.microsoft_user.id}')/events",
        "value": [_select(store.event_json(e), select) for e in events[skip : skip + top]],
    }
    if skip + top < len(events):
        link = f"{base}/me/events?$top={top}&$skip={skip + top}"
        body["@odata.nextLink"] = link + (f"&$select={select}" if select else "")
    return body


@router.get("/me/events/{event_id}")
async def get_event(
    request: Request,
    event_id: str,
    state: SandboxState = Depends(get_state),
    _: AccessGrant = Depends(_token),
) -> dict[str, Any]:
    """One event; a deleted one is 404 ``ErrorItemNotFound``."""
    event = state.data.outlook.events.get(event_id)
    if event is None:
        raise graph_error(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    context = (
        f"{_graph_base(request)}/$metadata#users('{state.data.microsoft_user.id}')/events/$entity"
    )
    data = _select(state.data.outlook.event_json(event), request.query_params.get("$select"))
    return {"@odata.context": context, **data}


def _select(data: dict[str, Any], select: str | None) -> dict[str, Any]:
    if not select:
        return data
    wanted = {name.strip() for name in select.split(",")} | {"id", "@odata.etag"}
    return {key: value for key, value in data.items() if key in wanted}


# Subscriptions ------------------------------------------------------------------------


@router.post("/subscriptions", status_code=201)
async def create_subscription(
    request: Request,
    state: SandboxState = Depends(get_state),
    grant: AccessGrant = Depends(_token),
) -> JSONResponse:
    """Create a subscription after the validation handshake with its endpoints."""
    body = await _json_body(request)
    subscription = state.data.subscriptions.parse_new(body, grant.client_id)
    await validate_endpoint(subscription.notification_url)
    if subscription.lifecycle_url:
        await validate_endpoint(subscription.lifecycle_url)
    state.data.subscriptions.add(subscription)
    return JSONResponse(_subscription_entity(request, subscription), status_code=201)


@router.get("/subscriptions")
async def list_subscriptions(
    request: Request,
    state: SandboxState = Depends(get_state),
    grant: AccessGrant = Depends(_token),
) -> dict[str, Any]:
    """The live subscriptions this application created."""
    mine = [s for s in state.data.subscriptions.live() if s.application_id == grant.client_id]
    return {
        "@odata.context": f"{_graph_base(request)}/$metadata#subscriptions",
        "value": [s.as_json() for s in mine],
    }


@router.get("/subscriptions/{subscription_id}")
async def get_subscription(
    request: Request,
    subscription_id: str,
    state: SandboxState = Depends(get_state),
    _: AccessGrant = Depends(_token),
) -> dict[str, Any]:
    """One live subscription."""
    return _subscription_entity(request, _live_subscription(state, subscription_id))


@router.patch("/subscriptions/{subscription_id}")
async def renew_subscription(
    request: Request,
    subscription_id: str,
    state: SandboxState = Depends(get_state),
    _: AccessGrant = Depends(_token),
) -> dict[str, Any]:
    """Renew: a new ``expirationDateTime`` within the resource's maximum lifetime."""
    subscription = _live_subscription(state, subscription_id)
    body = await _json_body(request)
    if "expirationDateTime" not in body:
        raise graph_error(400, "InvalidRequest", "expirationDateTime is required.")
    subscription.expiration = check_expiration(body["expirationDateTime"], subscription.kind)
    return _subscription_entity(request, subscription)


@router.delete("/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(
    subscription_id: str,
    state: SandboxState = Depends(get_state),
    _: AccessGrant = Depends(_token),
) -> Response:
    """Delete a subscription: 204."""
    _live_subscription(state, subscription_id)
    state.data.subscriptions.remove(subscription_id)
    return Response(status_code=204)


def _live_subscription(state: SandboxState, subscription_id: str) -> Subscription:
    subscription = state.data.subscriptions.get(subscription_id)
    if subscription is None:
        raise graph_error(
            404,
            "ResourceNotFound",
            f"Resource '{subscription_id}' does not exist or one of its queried "
            "reference-property objects are not present.",
        )
    return subscription


def _subscription_entity(request: Request, subscription: Subscription) -> dict[str, Any]:
    context = f"{_graph_base(request)}/$metadata#subscriptions/$entity"
    return {"@odata.context": context, **subscription.as_json()}


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise graph_error(400, "BadRequest", "Unable to read JSON request payload.") from None
    if not isinstance(body, dict):
        raise graph_error(400, "BadRequest", "The request payload must be a JSON object.")
    return body


# OneDrive (drive delta) and Microsoft Graph (subscriptions) are both Graph.
SIMULATORS = (
    Simulator("graph", (GRAPH_HOST,), (router,), elements=("onedrivev2", "microsoftgraph")),
)
