"""Response bodies of the element catalog."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from pollhub.elements.base import Element
from pollhub.elements.definition import ConfigurationKey, ElementDefinition, OAuth2Authentication


class Authentication(BaseModel):
    """How an element authenticates with its provider (the URLs for OAuth 2.0)."""

    type: Literal["oauth2", "apiKey", "basic", "none"] = "oauth2"
    authorizationUrl: str | None = None
    tokenUrl: str | None = None
    defaultScope: str | None = None

    @classmethod
    def of(cls, element: Element) -> Authentication:
        """The catalog view of ``element``'s authentication."""
        definition = element.definition
        if definition is None or isinstance(definition.authentication, OAuth2Authentication):
            return cls(
                authorizationUrl=element.authorization_url,
                tokenUrl=element.token_url,
                defaultScope=element.default_scope,
            )
        return cls(type=definition.authentication.type)


class ResourceOut(BaseModel):
    """A resource the element can poll, with its default poller configuration."""

    name: str
    url: str
    description: str
    configuration: dict[str, Any]


class ElementOut(BaseModel):
    """One element of the catalog."""

    id: int | None = None
    key: str
    name: str
    hub: str
    description: str
    eventTypes: list[str]
    authentication: Authentication
    requiredConfiguration: list[str]
    resources: list[ResourceOut]
    defaultPollerConfiguration: dict[str, Any]
    configuration: list[ConfigurationKey] = Field(
        default_factory=list, description="the element's own configuration keys"
    )
    custom: bool = Field(default=False, description="the organization's own element")
    definition: ElementDefinition | None = Field(
        default=None, description="a custom element's definition, as registered"
    )

    @classmethod
    def of(cls, element: Element, *, custom: bool = False) -> ElementOut:
        """The catalog view of ``element`` (with its definition when it is ``custom``)."""
        return cls(
            id=element.id,
            key=element.key,
            name=element.name,
            hub=element.hub,
            description=element.description,
            eventTypes=[element.event_mechanism],
            authentication=Authentication.of(element),
            requiredConfiguration=list(element.required_configuration),
            resources=[
                ResourceOut(
                    name=r.name,
                    url=r.url,
                    description=r.description,
                    configuration=r.default_configuration(),
                )
                for r in element.resources
            ],
            defaultPollerConfiguration=element.default_poller_configuration(),
            configuration=list(element.definition.configuration) if element.definition else [],
            custom=custom,
            definition=element.definition if custom else None,
        )


class OAuthUrlOut(BaseModel):
    """``GET /elements/{key}/oauth/url``."""

    oauthUrl: str
    element: str


class ElementDeleted(BaseModel):
    """``DELETE /elements/{key}``."""

    key: str
    deleted: bool
