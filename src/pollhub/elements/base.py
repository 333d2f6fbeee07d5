"""The Element interface: what pollhub knows about one provider connector.

An element module (one per provider) builds a single :class:`Element` named ``ELEMENT``;
:mod:`pollhub.elements` finds it, so adding a provider means adding one module.
Elements know their provider (URLs, scopes, resources) and nothing of the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pollhub.elements.definition import ElementDefinition, EventMechanism
from pollhub.elements.reading import ChangeReader
from pollhub.elements.urls import provider_url
from pollhub.elements.webhooks import WebhookCapability

_CONFIG_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_.]*\.[a-z0-9_.]+)\}")


@dataclass(frozen=True)
class PollableResource:
    """A resource an element can poll, with the poller configuration used by default."""

    name: str
    url: str
    reader: ChangeReader
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
    resources: tuple[PollableResource, ...] = ()
    # Set for elements whose provider pushes changes (the webhook mechanism).
    webhooks: WebhookCapability | None = None
    # Set for an element built from a definition: its authentication and configuration keys.
    definition: ElementDefinition | None = None

    @property
    def polls(self) -> bool:
        """Whether pollhub polls this provider (else the provider pushes webhooks)."""
        return self.webhooks is None

    def resolve(self, template: str, configuration: Mapping[str, Any]) -> str:
        """Fill ``{config.key}`` placeholders (e.g. ``{docushare.domain}``) and apply
        the sandbox rewrite, giving the URL to call for one instance."""

        def substitute(match: re.Match[str]) -> str:
            value = configuration.get(match.group(1))
            if not value:
                raise KeyError(match.group(1))
            return str(value)

        return provider_url(_CONFIG_PLACEHOLDER.sub(substitute, template))

    @property
    def uses_oauth(self) -> bool:
        """True when instances are authorized with an OAuth 2.0 code (every built-in)."""
        return bool(self.token_url)

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

    def pollable_paths(self) -> set[str]:
        """The hub paths this element's poller knows how to read."""
        return {r.url for r in self.resources}

    def reader_for(self, path: str) -> ChangeReader:
        """The change reader behind a hub path (a copied resource shares its reader)."""
        for resource in self.resources:
            if resource.url == path:
                return resource.reader
        raise KeyError(f"{self.key} cannot poll {path}")
