"""OAuth 2.0 authorize and token endpoints of Microsoft and Google (DocuShare's live in
:mod:`pollhub.sandbox.api.docushare`, sharing the helpers here).

The authorize endpoints ask nobody: they redirect at once to
``redirect_uri?code=...&state=...``. Token endpoints take form-encoded (or JSON) bodies
with client credentials in the body or in HTTP Basic auth.
Docs: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
https://developers.google.com/identity/protocols/oauth2/web-server
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse

from pollhub.sandbox.deps import fault_gate, get_state
from pollhub.sandbox.errors import (
    GOOGLE_ACCOUNTS_HOST,
    GOOGLE_TOKEN_HOST,
    MICROSOFT_LOGIN_HOST,
    ProviderError,
    microsoft_login_error,
    oauth_error,
)
from pollhub.sandbox.simulators import Simulator
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.tokens import GrantRefused, RefreshPolicy, TokenSet

# Turns (error, description) into the provider's token-endpoint error.
ErrorFactory = Callable[[str, str], ProviderError]

# What Google reports as granted when a code came from elsewhere with no scope known:
# read access to everything the sandbox serves.
GOOGLE_DEFAULT_SCOPE = " ".join(
    f"https://www.googleapis.com/auth/{name}"
    for name in ("calendar.readonly", "contacts.readonly", "gmail.readonly")
)

microsoft_router = APIRouter(dependencies=[Depends(fault_gate("microsoft-login"))])
google_router = APIRouter(dependencies=[Depends(fault_gate("google-oauth"))])


def redirect_with_code(
    state: SandboxState,
    realm: str,
    params: Mapping[str, str],
    error: ErrorFactory,
    *,
    offline: bool = True,
    echo_scope: bool = False,
) -> RedirectResponse:
    """Consent granted at once: redirect to ``redirect_uri`` with a fresh code."""
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        raise error("invalid_request", "The request must contain the parameter 'redirect_uri'.")
    if not params.get("client_id"):
        raise error("invalid_request", "The request must contain the parameter 'client_id'.")
    query: dict[str, str] = {}
    if params.get("response_type", "code") != "code":
        query["error"] = "unsupported_response_type"
        query["error_description"] = "Only the authorization code flow is supported."
    else:
        query["code"] = state.tokens.issue_code(
            realm,
            client_id=params["client_id"],
            redirect_uri=redirect_uri,
            scope=params.get("scope", ""),
            offline=offline,
        )
        if echo_scope and params.get("scope"):
            query["scope"] = params["scope"]
    if "state" in params:
        query["state"] = params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)


async def read_token_request(request: Request) -> dict[str, str]:
    """The token request's parameters, with HTTP Basic client credentials folded in."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body: Any = await request.json()
        params = {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    else:
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        params.setdefault("client_id", unquote(client_id))
        params.setdefault("client_secret", unquote(secret))
    return params


def grant(
    state: SandboxState,
    realm: str,
    params: Mapping[str, str],
    policy: RefreshPolicy,
    error: ErrorFactory,
) -> TokenSet:
    """Run the ``authorization_code`` or ``refresh_token`` grant."""
    grant_type = params.get("grant_type", "")
    client_id = params.get("client_id", "")
    if not grant_type:
        raise error("invalid_request", "The request must contain the parameter 'grant_type'.")
    if not client_id:
        raise error("invalid_request", "The request must contain the parameter 'client_id'.")
    try:
        if grant_type == "authorization_code":
            if not params.get("code"):
                raise error("invalid_request", "The request must contain the parameter 'code'.")
            return state.tokens.redeem_code(
                realm, params["code"], client_id=client_id, scope=params.get("scope", "")
            )
        if grant_type == "refresh_token":
            if not params.get("refresh_token"):
                raise error(
                    "invalid_request", "The request must contain the parameter 'refresh_token'."
                )
            return state.tokens.refresh(
                realm,
                params["refresh_token"],
                client_id=client_id,
                scope=params.get("scope", ""),
                policy=policy,
            )
    except GrantRefused as refused:
        raise error("invalid_grant", str(refused)) from None
    raise error("unsupported_grant_type", f"The grant type '{grant_type}' is not supported.")


# Microsoft identity platform ----------------------------------------------------------

_AADSTS = {
    "invalid_request": 900144,
    "invalid_grant": 70000,
    "unsupported_grant_type": 70003,
}


def _microsoft_error(error: str, description: str) -> ProviderError:
    return microsoft_login_error(error, _AADSTS.get(error, 90014), description)


@microsoft_router.get(f"/{MICROSOFT_LOGIN_HOST}/{{tenant}}/oauth2/v2.0/authorize")
async def microsoft_authorize(
    request: Request, state: SandboxState = Depends(get_state)
) -> RedirectResponse:
    """Microsoft's authorize endpoint: redirects straight back with a code."""
    return redirect_with_code(state, "microsoft", request.query_params, _microsoft_error)


@microsoft_router.post(f"/{MICROSOFT_LOGIN_HOST}/{{tenant}}/oauth2/v2.0/token")
async def microsoft_token(
    request: Request, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """Microsoft's token endpoint; a refresh issues a new refresh token each time."""
    params = await read_token_request(request)
    tokens = grant(state, "microsoft", params, RefreshPolicy.ROTATE, _microsoft_error)
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": tokens.scope,
        "expires_in": tokens.expires_in,
        "ext_expires_in": tokens.expires_in,
        "access_token": tokens.access_token,
    }
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    return _no_store(body)


# Google -------------------------------------------------------------------------------


def _google_error(error: str, description: str) -> ProviderError:
    if error == "invalid_grant":
        # Google says little about a refused grant.
        description = (
            "Bad Request"
            if "authorization code" in description
            else "Token has been expired or revoked."
        )
    return oauth_error(error, description)


@google_router.get(f"/{GOOGLE_ACCOUNTS_HOST}/o/oauth2/v2/auth")
@google_router.get(f"/{GOOGLE_ACCOUNTS_HOST}/o/oauth2/auth")
async def google_authorize(
    request: Request, state: SandboxState = Depends(get_state)
) -> RedirectResponse:
    """Google's consent screen, granted at once; a refresh token only comes with
    ``access_type=offline``."""
    params = request.query_params
    offline = params.get("access_type", "online") == "offline"
    return redirect_with_code(
        state, "google", params, _google_error, offline=offline, echo_scope=True
    )


@google_router.post(f"/{GOOGLE_TOKEN_HOST}/token")
async def google_token(request: Request, state: SandboxState = Depends(get_state)) -> JSONResponse:
    """Google's token endpoint; a refresh answers without a new refresh token."""
    params = await read_token_request(request)
    tokens = grant(state, "google", params, RefreshPolicy.KEEP, _google_error)
    body: dict[str, Any] = {"access_token": tokens.access_token, "expires_in": tokens.expires_in}
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    body["scope"] = tokens.scope or GOOGLE_DEFAULT_SCOPE
    body["token_type"] = "Bearer"
    return _no_store(body)


def _no_store(body: dict[str, Any]) -> JSONResponse:
    # RFC 6749 section 5.1: token responses must not be cached.
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


SIMULATORS = (
    Simulator("microsoft-login", (MICROSOFT_LOGIN_HOST,), (microsoft_router,)),
    Simulator("google-oauth", (GOOGLE_ACCOUNTS_HOST, GOOGLE_TOKEN_HOST), (google_router,)),
)
