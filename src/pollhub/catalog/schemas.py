"""Response bodies of the element catalog."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from pollhub.elements.base import Element
from pollhub.elements.definition import ConfigurationKey, ElementDefinition, OAuth2Authentication
from pollhub.elements.resources import DeletesSeen, PaginationType, ResourceDefinition


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


class PageSizeOut(BaseModel):
    """The provider's page-size parameter, the size used when none is asked, its maximum."""

    param: str
    default: int
    maximum: int | None


class FanOutOut(BaseModel):
    """A ``{placeholder}`` given literally reads every object of the ``parent`` resource."""

    placeholder: str
    parent: str


class HubResourceOut(BaseModel):
    """One hub resource: what a poller ``url`` or ``GET /hubs/…`` can name, and how it is
    read (the same facts ``GET /instances/{id}/poller`` shows for a configured url)."""

    path: str = Field(description="the path template under the API base")
    description: str
    whereSentToProvider: dict[str, list[str]] = Field(
        description="where conditions the provider filters on itself: field → operators"
    )
    whereAppliedAfterFetching: Literal["every other condition", "every condition"] = Field(
        description="what pollhub applies to the fetched objects (a change feed takes no filter)"
    )
    pagination: PaginationType
    pageSize: PageSizeOut | None = Field(description="None: the provider's pages are fixed")
    changeFeed: bool = Field(description="read as a change feed (delta, sync token, history)")
    deletes: DeletesSeen = Field(
        description="how deletes are seen: reported by the change feed, listed marked deleted "
        "(deletedWhen), or, listed without a provider-side filter, as objects no longer listed"
    )
    fanOut: FanOutOut | None = Field(
        description="a placeholder that, given literally, reads every parent object"
    )
    objectPath: str | None = Field(description="GET one object; None: the resource has none")

    @classmethod
    def of(cls, element: Element, key: str, definition: ResourceDefinition) -> HubResourceOut:
        """The catalog view of ``element``'s hub resource ``key``."""
        prefix = element.hub_prefix()
        parent = definition.parent
        size = definition.pageSize
        return cls(
            path=prefix + key,
            description=definition.description,
            whereSentToProvider=definition.native_filters(),
            whereAppliedAfterFetching="every condition"
            if definition.changeFeed
            else "every other condition",
            pagination=definition.pagination.type,
            pageSize=PageSizeOut(param=size.param, default=size.default, maximum=size.maximum)
            if size
            else None,
            changeFeed=definition.changeFeed is not None,
            deletes=definition.deletes_seen(),
            fanOut=FanOutOut(placeholder=parent.placeholder, parent=prefix + parent.resource)
            if parent
            else None,
            objectPath=f"{prefix}{key}/{{id}}" if definition.object_path() else None,
        )


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
    hubResources: list[HubResourceOut] = Field(
        default_factory=list, description="every resource of the element's hub"
    )
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
            hubResources=[
                HubResourceOut.of(element, key, definition)
                for key, definition in element.hub_resources.items()
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
