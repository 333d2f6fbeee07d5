"""Response bodies of the element catalog."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from pollhub.elements.base import Element


class Authentication(BaseModel):
    """How an element authenticates with its provider."""

    type: Literal["oauth2"] = "oauth2"
    authorizationUrl: str
    tokenUrl: str
    defaultScope: str


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

    @classmethod
    def of(cls, element: Element) -> ElementOut:
        """The catalog view of ``element``."""
        return cls(
            id=element.id,
            key=element.key,
            name=element.name,
            hub=element.hub,
            description=element.description,
            eventTypes=[element.event_mechanism],
            authentication=Authentication(
                authorizationUrl=element.authorization_url,
                tokenUrl=element.token_url,
                defaultScope=element.default_scope,
            ),
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
        )


class OAuthUrlOut(BaseModel):
    """``GET /elements/{key}/oauth/url``."""

    oauthUrl: str
    element: str
