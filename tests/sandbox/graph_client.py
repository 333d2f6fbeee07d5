"""A Microsoft Graph SDK client pointed at the sandbox (a test helper)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient


class StaticAccessToken(AccessTokenProvider):
    """Hands the SDK an access token obtained from the sandbox's token endpoint.

    The SDK's default Azure Identity provider refuses plain-http URLs; a custom
    AccessTokenProvider is the SDK's documented extension point and has no such rule.
    """

    def __init__(self, token: str, host: str) -> None:
        self.token = token
        self.hosts = AllowedHostsValidator([host])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self.token if self.hosts.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self.hosts


def graph_client(sandbox_url: str, access_token: str) -> GraphServiceClient:
    """A GraphServiceClient whose base URL is the sandbox's Graph v1.0."""
    # Kiota's AllowedHostsValidator compares host names without ports.
    host = urlsplit(sandbox_url).hostname or ""
    auth = BaseBearerTokenAuthenticationProvider(StaticAccessToken(access_token, host))
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{sandbox_url}/graph.microsoft.com/v1.0"
    return GraphServiceClient(request_adapter=adapter)
