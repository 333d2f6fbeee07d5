"""Console pages: sign in and out, the elements, and the instances with their actions.

Every handler parses the form, authorizes (the signed-in caller), calls the same services
as the API, and renders or redirects. The create flow is in :mod:`.create`, the events
pages in :mod:`.events`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pollhub.catalog.service import elements_of
from pollhub.db import configuration as keys
from pollhub.deps import SessionDep, client_address
from pollhub.elements import catalog
from pollhub.errors import BadRequest, Unauthorized
from pollhub.instances import service as instances
from pollhub.instances.schemas import InstanceUpdate
from pollhub.polling import schedule
from pollhub.tenancy.authentication import authenticate_secrets
from pollhub.tenancy.console_sessions import end_sessions_of, session_user, start_session
from pollhub.tenancy.throttle import TooManyFailedAttempts

from . import create, events
from .forms import text
from .views import instance_views
from .web import CallerDep, ConsoleRoute, ConsoleSessionDep, InstanceDep, render, see_other

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/")
async def home(request: Request, console: ConsoleSessionDep) -> Response:
    """The instances when signed in, else the sign-in page."""
    return see_other(request, "instances_page" if console.signed_in else "sign_in_page")


@router.get("/sign-in")
async def sign_in_page(request: Request, console: ConsoleSessionDep) -> Response:
    """The sign-in form."""
    if console.signed_in:
        return see_other(request, "instances_page")
    return render(request, "sign_in.html", {"error": None})


@router.post("/sign-in")
async def sign_in(request: Request, db: SessionDep, console: ConsoleSessionDep) -> Response:
    """Check the organization and user secrets and start a server-side session; failures
    are throttled as the API's are."""
    form = await request.form()
    organization_secret, user_secret = text(form, "organization_secret"), text(form, "user_secret")
    try:
        _, user = await authenticate_secrets(
            db,
            request.app.state.sessionmaker,
            request.app.state.auth_throttle,
            user_secret=user_secret,
            organization_secret=organization_secret,
            address=client_address(request),
        )
    except Unauthorized:
        # The secrets typed are never echoed back into the page.
        error = "Those secrets do not match an organization and one of its users."
        return render(request, "sign_in.html", {"error": error}, status=401)
    except TooManyFailedAttempts as exc:
        return render(request, "sign_in.html", {"error": exc.message}, status=429)
    session_id = await start_session(db, user)
    await db.commit()
    console.sign_in(session_id)
    return see_other(request, "instances_page")


@router.post("/sign-out")
async def sign_out(request: Request, db: SessionDep, console: ConsoleSessionDep) -> Response:
    """End every session of the signed-in user (a cookie captured earlier is worthless)."""
    found = await session_user(db, console.session_id) if console.session_id else None
    if found is not None:
        await end_sessions_of(db, found[1].id)
        await db.commit()
    console.sign_out()
    console.flash("notice", "Signed out.")
    return see_other(request, "sign_in_page")


@router.get("/elements")
async def elements_page(request: Request, db: SessionDep, caller: CallerDep) -> Response:
    """The catalog: each element and how it delivers events, the organization's own too."""
    elements = await elements_of(db, caller.organization_id)
    context = {"elements": elements, "builtin_keys": set(catalog())}
    return render(request, "elements.html", context)


@router.get("/instances")
async def instances_page(request: Request, db: SessionDep, caller: CallerDep) -> Response:
    """The organization's instances with their status and actions."""
    listed = await instances.list_instances(db, caller)
    views = await instance_views(db, caller, listed)
    return render(request, "instances.html", {"instances": views})


@router.post("/instances/{instance_id}/events-enabled")
async def set_events_enabled(
    request: Request, instance: InstanceDep, db: SessionDep, console: ConsoleSessionDep
) -> Response:
    """Turn an instance's events on or off."""
    enabled = text(await request.form(), "enabled") == "true"
    change = InstanceUpdate(configuration={keys.EVENTS_ENABLED: enabled})
    try:
        instance = await instances.update_instance(db, instance, change)
    except BadRequest as exc:
        console.flash("error", exc.message)
    else:
        await db.commit()
        state = "on" if enabled else "off"
        console.flash("notice", f"Events are {state} for {instance.name}.")
    return see_other(request, "instances_page")


@router.post("/instances/{instance_id}/poll")
async def poll_instance_now(
    request: Request, instance: InstanceDep, db: SessionDep, console: ConsoleSessionDep
) -> Response:
    """Poll every resource of an instance at the workers' next tick."""
    if not instance.events_enabled:
        console.flash("error", f"Events are off for {instance.name}: turn them on first.")
        return see_other(request, "instances_page")
    count = await schedule.poll_now(db, instance.id)
    await db.commit()
    console.flash("notice", f"Polling {count} resource(s) of {instance.name} now.")
    return see_other(request, "instances_page")


@router.get("/instances/{instance_id}/delete")
async def delete_page(request: Request, instance: InstanceDep) -> Response:
    """Ask before deleting."""
    return render(request, "delete.html", {"instance": instance})


@router.post("/instances/{instance_id}/delete")
async def delete_instance_confirmed(
    request: Request, instance: InstanceDep, db: SessionDep, console: ConsoleSessionDep
) -> Response:
    """Delete an instance once confirmed."""
    name = instance.name
    deletion = await instances.delete_instance(db, instance)
    await db.commit()
    dropped = deletion.undelivered
    console.flash(
        "notice",
        f"Deleted {name}."
        + (
            f" {dropped} undelivered callback{'s' if dropped != 1 else ''} dropped."
            if dropped
            else ""
        ),
    )
    return see_other(request, "instances_page")


router.include_router(create.router)
router.include_router(events.router)
