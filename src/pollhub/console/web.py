"""What every console page shares: templates, the signed-in caller, CSRF, and error pages.

Console routes use :class:`ConsoleRoute`, which turns the services' domain errors into
HTML pages (the API's handlers in ``app.py`` answer JSON), refuses any unsafe request
without the session's CSRF token, writes the session cookie back, and adds the security
headers of an HTML application.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.responses import Response

from pollhub.db.models import Instance
from pollhub.deps import InstanceId, SessionDep
from pollhub.errors import PollhubError
from pollhub.instances.service import get_instance
from pollhub.settings import get_settings
from pollhub.tenancy.console_sessions import session_user
from pollhub.tenancy.service import Caller

from .session import ConsoleSession, console_session, save_session

PACKAGE_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Scripts, styles and images only from pollhub itself: no inline script can run even if
# something slipped past autoescaping. Forms may still lead to a provider's OAuth page.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The OAuth callback's URL carries the code: never send it on as a Referer.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(moment: datetime | None) -> str:
    """A moment as people read it in the console: UTC to the second."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else "never"


templates.env.filters["when"] = _when


class SignInRequired(Exception):
    """The page needs a signed-in caller; the browser is sent to the sign-in page."""


class CsrfRefused(Exception):
    """An unsafe request without this session's CSRF token."""


class ConsoleRoute(APIRoute):
    """A console route: HTML errors, CSRF on unsafe methods, the session cookie saved."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                if request.method not in _SAFE_METHODS:
                    await _check_csrf(request)
                response = await handler(request)
            except SignInRequired:
                response = RedirectResponse(public_url_for(request, "sign_in_page"), 303)
            except CsrfRefused:
                response = error_page(
                    request,
                    403,
                    "This form has expired or did not come from this console. "
                    "Go back, reload the page and try again.",
                )
            except PollhubError as exc:
                response = error_page(request, exc.status, exc.message)
            except RequestValidationError:
                response = error_page(request, 404, "There is no such page.")
            save_session(request, response)
            response.headers.update(_SECURITY_HEADERS)
            return response

        return console_handler


async def _check_csrf(request: Request) -> None:
    form = await request.form()  # Starlette caches it: the route reads the same form
    if not console_session(request).csrf_matches(form.get("csrf_token")):
        raise CsrfRefused


def current_session(request: Request) -> ConsoleSession:
    """The browser's console session."""
    return console_session(request)


ConsoleSessionDep = Annotated[ConsoleSession, Depends(current_session)]


async def signed_in_caller(request: Request, db: SessionDep) -> Caller:
    """The signed-in caller, from the session the cookie names (checked on every request)."""
    session = console_session(request)
    if not session.session_id:
        raise SignInRequired
    found = await session_user(db, session.session_id)
    if found is None:
        session.sign_out()
        session.flash("error", "Your session has ended; sign in again.")
        raise SignInRequired
    organization, user = found
    request.state.console_identity = (organization.name, user.email)
    return Caller(organization.id, user.id, email=user.email)


CallerDep = Annotated[Caller, Depends(signed_in_caller)]


async def signed_in_instance(
    instance_id: InstanceId, db: SessionDep, caller: CallerDep
) -> Instance:
    """The signed-in caller's instance of ``/instances/{instance_id}…`` (another
    organization's: the 404 page)."""
    return await get_instance(db, caller, instance_id)


InstanceDep = Annotated[Instance, Depends(signed_in_instance)]


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A full page: the template with the session's CSRF token, identity and messages."""
    session = console_session(request)
    page = {
        "csrf_token": session.csrf_token,
        "signed_in": session.signed_in,
        "identity": getattr(request.state, "console_identity", None),
        "flashes": session.take_flashes(),
        "sandbox": get_settings().sandbox,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, page, status_code=status)


def render_fragment(
    request: Request, template: str, context: dict[str, Any] | None = None
) -> HTMLResponse:
    """Part of a page, for live updates: messages stay for the next full page."""
    fragment = {"csrf_token": console_session(request).csrf_token, **(context or {})}
    return templates.TemplateResponse(request, template, fragment)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A page explaining what went wrong, with the matching HTTP status."""
    return render(request, "error.html", {"status": status, "message": message}, status)


def see_other(request: Request, route: str, **params: Any) -> RedirectResponse:
    """Redirect after a POST to the named console route (303: the browser GETs it)."""
    return RedirectResponse(public_url_for(request, route, **params), status_code=303)


def public_url_for(request: Request, route: str, **params: Any) -> str:
    """The absolute URL of a console route on ``POLLHUB_PUBLIC_URL`` — never built from the
    request's ``Host`` header, which the client chooses."""
    return get_settings().public_url + str(request.app.url_path_for(route, **params))


@pass_context
def _template_url_for(context: dict[str, Any], name: str, /, **params: Any) -> str:
    return public_url_for(context["request"], name, **params)


# Links and form targets in every page, on the public URL too (replaces Starlette's).
templates.env.globals["url_for"] = _template_url_for
