"""Creating an instance from the console, in the order a person does it:

1. pick an element and give the OAuth app's client id and secret (``/instances/new``);
2. grant access at the provider's authorize page, which comes back to ``/oauth/callback``
   with a code and the ``state`` nonce this session issued — or, for an element that
   authenticates with an API key or a password, give those and go straight on;
3. name the instance, turn on events, choose the resources to poll, and create it with
   :func:`pollhub.instances.service.create_instance`, as ``POST /instances`` does.

The flow in progress lives in the session cookie (encrypted: it holds the client secret).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from pollhub.catalog.service import element_or_404, elements_of
from pollhub.deps import SessionDep
from pollhub.elements.base import Element
from pollhub.errors import BadRequest, PollhubError
from pollhub.instances import service as instances
from pollhub.instances.config import parse_configuration

from .forms import (
    FORM_ERROR,
    ConnectForm,
    CreateForm,
    Errors,
    asked_keys,
    config_field_id,
    errors_by_field,
)
from .session import ConsoleSession, PendingAuthorization, new_state
from .web import CallerDep, ConsoleRoute, ConsoleSessionDep, public_url_for, render, see_other

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/instances/new")
async def choose_element_page(request: Request, db: SessionDep, caller: CallerDep) -> Response:
    """Step one: which element to connect (the organization's own elements too)."""
    elements = await elements_of(db, caller.organization_id)
    return render(request, "new_instance.html", {"elements": elements})


@router.get("/instances/new/{key}")
async def connect_page(request: Request, key: str, db: SessionDep, caller: CallerDep) -> Response:
    """Step one: the OAuth app of the chosen element, or its credentials."""
    element = await element_or_404(db, caller.organization_id, key)
    form = ConnectForm(scope=element.default_scope)
    return _connect(request, element, form, {})


@router.post("/instances/new/{key}")
async def start_authorization(
    request: Request, key: str, db: SessionDep, caller: CallerDep, console: ConsoleSessionDep
) -> Response:
    """Send the browser to the provider's authorize page, remembering the flow; an element
    without OAuth goes straight to the details with the credentials given."""
    element = await element_or_404(db, caller.organization_id, key)
    form = ConnectForm.parse(await request.form(), element)
    errors = _connect_errors(element, form)
    if errors:
        return _connect(request, element, form, errors, status=400)
    if not element.uses_oauth:
        console.oauth = PendingAuthorization(
            element_key=element.key,
            state=new_state(),
            client_id="",
            client_secret="",
            redirect_uri="",
            scope="",
            configuration={k: v for k, v in form.configuration.items() if v},
        )
        console.changed = True
        return see_other(request, "details_page", key=element.key)
    redirect_uri = public_url_for(request, "oauth_callback")
    state = new_state()
    url = element.authorize_url(
        client_id=form.client_id,
        redirect_uri=redirect_uri,
        scope=form.scope,
        state=state,
        configuration=form.configuration,
    )
    console.oauth = PendingAuthorization(
        element_key=element.key,
        state=state,
        client_id=form.client_id,
        client_secret=form.client_secret,
        redirect_uri=redirect_uri,
        scope=form.scope,
        configuration={k: v for k, v in form.configuration.items() if v},
    )
    console.changed = True
    return RedirectResponse(url, status_code=303)


@router.get("/oauth/callback")
async def oauth_callback(
    request: Request, _caller: CallerDep, console: ConsoleSessionDep
) -> Response:
    """Where the provider sends the browser back: check ``state``, keep the code."""
    params = request.query_params
    pending = console.oauth
    if pending is None or not hmac.compare_digest(
        params.get("state", "").encode(), pending.state.encode()
    ):
        # Not a flow this browser started: a forged or replayed redirect carries nothing.
        console.oauth = None
        console.flash("error", "That authorization was not started here; start again.")
        return see_other(request, "choose_element_page")
    if params.get("error") or not params.get("code"):
        reason = params.get("error_description") or params.get("error") or "no code was given"
        console.flash("error", f"The provider did not grant access: {reason}")
        return see_other(request, "connect_page", key=pending.element_key)
    pending.code = params["code"]
    pending.state = new_state()  # one use: the same redirect cannot be replayed
    console.changed = True
    return see_other(request, "details_page", key=pending.element_key)


@router.get("/instances/new/{key}/details")
async def details_page(
    request: Request, key: str, db: SessionDep, caller: CallerDep, console: ConsoleSessionDep
) -> Response:
    """Step three: name, events and resources."""
    element = await element_or_404(db, caller.organization_id, key)
    if _authorized(console, element) is None:
        return _start_again(request, console, element)
    return _details(request, element, CreateForm.defaults(element), {})


@router.post("/instances/new/{key}/details")
async def create_instance_from_form(
    request: Request,
    key: str,
    db: SessionDep,
    caller: CallerDep,
    console: ConsoleSessionDep,
) -> Response:
    """Create the instance, or show each error next to its field."""
    element = await element_or_404(db, caller.organization_id, key)
    pending = _authorized(console, element)
    if pending is None:
        return _start_again(request, console, element)
    form = CreateForm.parse(await request.form(), element)
    body, errors = form.to_request(element, pending)
    if body is None:
        return _details(request, element, form, errors, status=400)
    try:
        instance = await instances.create_instance(db, caller, body)
    except PollhubError as exc:
        await db.rollback()
        errors = errors_by_field(exc.message, element)
        if exc.provider_message and FORM_ERROR in errors:
            errors[FORM_ERROR] += f" ({exc.provider_message})"
        return _details(request, element, form, errors, status=exc.status)
    await db.commit()
    console.oauth = None
    console.flash("notice", f"Created {instance.name}.")
    return see_other(request, "instances_page")


def _connect_errors(element: Element, form: ConnectForm) -> Errors:
    errors: Errors = {}
    if element.uses_oauth and not form.client_id:
        errors["client_id"] = "Enter the OAuth client id of your app at the provider."
    if element.uses_oauth and not form.client_secret:
        errors["client_secret"] = "Enter the OAuth client secret of your app."
    for key, value in form.configuration.items():
        if not value and key in element.required_configuration:
            errors[config_field_id(key)] = f"Enter {key}; {element.name} needs it."
    if errors:
        return errors
    try:
        # The service's own checks of these keys (a DocuShare domain must be a host name),
        # before the browser is sent anywhere.
        parse_configuration(element, form.as_configuration(element))
    except BadRequest as exc:
        return errors_by_field(exc.message, element)
    return {}


def _authorized(console: ConsoleSession, element: Element) -> PendingAuthorization | None:
    pending = console.oauth
    if pending is None or pending.element_key != element.key:
        return None
    return pending if pending.code or not element.uses_oauth else None


def _start_again(request: Request, console: ConsoleSession, element: Element) -> Response:
    first = f"Grant access at {element.name}" if element.uses_oauth else "Give the credentials"
    console.flash("error", f"{first} first.")
    return see_other(request, "connect_page", key=element.key)


def _connect(
    request: Request, element: Element, form: ConnectForm, errors: Errors, status: int = 200
) -> Response:
    # Never sent back: the client secret typed (the browser keeps nothing it was not given).
    shown = ConnectForm(form.client_id, "", form.scope, form.configuration)
    secret = {asked.key for asked in asked_keys(element) if asked.secret}
    # Secrets typed are asked again, never sent back.
    shown.configuration = {k: "" if k in secret else v for k, v in form.configuration.items()}
    context = {
        "element": element,
        "form": shown,
        "errors": errors,
        "field_id": config_field_id,
        "asked": asked_keys(element),
    }
    return render(request, "connect.html", context, status)


def _details(
    request: Request, element: Element, form: CreateForm, errors: Errors, status: int = 200
) -> Response:
    # The signature key typed is a secret too: it is asked again rather than shown.
    form.signature_key = ""
    context = {"element": element, "form": form, "errors": errors}
    return render(request, "create.html", context, status)
