"""The Element interface: what pollhub knows about one provider connector.

An element module (one per provider) builds a single :class:`Element` named ``ELEMENT``;
:mod:`pollhub.elements` finds it, so adding a provider means adding one module.
Elements know their provider (URLs, scopes, resources) and nothing of the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pollhub.elements.definition import (
    CONFIGURATION_PLACEHOLDER,
    ElementDefinition,
    EventMechanism,
)
from pollhub.elements.reading import ChangeReader
from pollhub.elements.resources import (
    ResourceDefinition,
    ResourceMatch,
    fill_config,
    match_resource,
)
from pollhub.elements.urls import provider_url
from pollhub.elements.webhooks import WebhookCapability


@dataclass(frozen=True)
class PollableResource:
    """An entry of the element's default ``event.poller.configuration``."""

    name: str
    url: str
    id_field: str = ""
    dates: Mapping[str, str] | None = None
    description: str = ""

    def default_configuration(self) -> dict[str, Any]:
        """This resource's entry of ``event.poller.configuration``, as the seeds write it."""
        entry: dict[str, Any] = {"url": self.url, "idField": self.id_field}
        if self.dates is not None:
            entry["datesConfiguration"] = dict(self.dates)
        return entry


@dataclass(frozen=True)
class RateLimits:
    """A provider's published request limits, as ``"N/S"`` (N requests per S seconds):
    per registered app across all its users, and per user of the app. None: unpublished."""

    app: str | None = None
    user: str | None = None


@dataclass(frozen=True)
class Element:
    """One provider connector: identity, OAuth endpoints, and what it can watch."""

    key: str
    name: str
    hub: str
    event_mechanism: EventMechanism
    authorization_url: str
    token_url: str
    default_scope: str
    description: str = ""
    authorization_params: Mapping[str, str] = field(default_factory=dict)
    required_configuration: tuple[str, ...] = ()
    # Keys this element reads beyond the common ones (so a near miss of them is noticed).
    optional_configuration: tuple[str, ...] = ()
    resources: tuple[PollableResource, ...] = ()
    # Cloud Elements' numeric id of the same element, where known, so that
    # ``/elements/{keyOrId}/...`` calls written against it keep working.
    id: int | None = None
    base_url: str = ""
    hub_resources: Mapping[str, ResourceDefinition] = field(default_factory=dict)
    change_feeds: Mapping[str, ChangeReader] = field(default_factory=dict)
    # Set for elements whose provider pushes changes (the webhook mechanism).
    webhooks: WebhookCapability | None = None
    # Set for an element built from a definition: its authentication and configuration keys.
    definition: ElementDefinition | None = None
    rate_limits: RateLimits = RateLimits()

    @property
    def polls(self) -> bool:
        """Whether pollhub polls this provider (else the provider pushes webhooks)."""
        return self.webhooks is None

    def resolve(self, template: str, configuration: Mapping[str, Any]) -> str:
        """Fill ``{config.key}`` placeholders (e.g. ``{docushare.domain}``) and apply
        the sandbox rewrite, giving the URL to call for one instance."""
        return provider_url(fill_config(template, configuration))

    @property
    def uses_oauth(self) -> bool:
        """True when instances are authorized with an OAuth 2.0 code (every built-in)."""
        return bool(self.token_url)

    def configured_urls(self, configuration: Mapping[str, Any]) -> dict[str, str]:
        """The provider URLs whose host comes from configuration, by configuration key
        (``docushare.domain`` → its token endpoint), as they will be called."""
        urls: dict[str, str] = {}
        for template in (self.base_url, self.token_url, self.authorization_url):
            for key in CONFIGURATION_PLACEHOLDER.findall(template):
                if configuration.get(key):
                    urls.setdefault(key, self.resolve(template, configuration))
        return urls

    def token_endpoint(self, configuration: Mapping[str, Any]) -> str:
        """The OAuth token endpoint for an instance with this configuration."""
        return self.resolve(self.token_url, configuration)

    def authorize_url(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str | None,
        state: str | None,
        configuration: Mapping[str, Any],
    ) -> str:
        """The provider page a user visits to grant access (OAuth 2.0 authorization code)."""
        query = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": scope or self.default_scope,
            "state": state or self.key,
            **self.authorization_params,
        }
        return f"{self.resolve(self.authorization_url, configuration)}?{urlencode(query)}"

    def default_poller_configuration(self) -> dict[str, Any]:
        """The ``event.poller.configuration`` used when an instance gives none."""
        return {r.name: r.default_configuration() for r in self.resources}

    def hub_prefix(self) -> str:
        """Where this element's resources live: ``/hubs/{hub}/``."""
        return f"/hubs/{self.hub}/"

    def find_resource(self, path: str, *, objects: bool = True) -> ResourceMatch | None:
        """The hub resource a path names (``/hubs/documents/folders/1/contents``, or the
        path under the hub), or with ``objects`` one object of one; None if none."""
        under = path.removeprefix(self.hub_prefix()) if path.startswith("/hubs/") else path
        if path.startswith("/hubs/") and not path.startswith(self.hub_prefix()):
            return None
        return match_resource(self.hub_resources, under, objects=objects)

    def change_feed(self, definition: ResourceDefinition) -> ChangeReader | None:
        """The native change reader of a resource (delta links, sync tokens), if it has one."""
        return self.change_feeds.get(definition.changeFeed) if definition.changeFeed else None
