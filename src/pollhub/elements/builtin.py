"""The built-in elements: one definition file each (``definitions/<key>.json``).

A built-in element is a definition in the shape organizations register theirs in
(CONTRACT section 7), plus what only Python can say, named in the file: ``capabilities``
is the module of this package holding the provider's change feeds (``CHANGE_FEEDS``, by
the names its resources' ``changeFeed`` use) and, for providers that push changes, its
webhook mechanics (``WEBHOOKS``). Adding an element is adding its file (and a capability
module only when it has a change feed or webhooks).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pollhub.elements.base import Element, RateLimits
from pollhub.elements.custom import element_from_definition
from pollhub.elements.definition import ElementDefinition
from pollhub.elements.reading import ChangeReader
from pollhub.elements.webhooks import WebhookCapability

DEFINITIONS = Path(__file__).with_name("definitions")


class BuiltinRateLimits(BaseModel):
    """A provider's published request limits, ``"N/S"``: N requests per S seconds."""

    model_config = ConfigDict(extra="forbid")

    app: str | None = Field(default=None, pattern=r"^\d+/\d+$", description="per app")
    user: str | None = Field(default=None, pattern=r"^\d+/\d+$", description="per user")


class BuiltinDefinition(ElementDefinition):
    """A built-in element's file: a definition, and the Python it refers to by name."""

    id: int | None = Field(
        default=None, description="Cloud Elements' numeric id of the same element, if any"
    )
    rateLimits: BuiltinRateLimits = Field(default_factory=BuiltinRateLimits)

    capabilities: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the pollhub.elements module with CHANGE_FEEDS and/or WEBHOOKS",
    )
    pollerDescriptions: dict[str, str] = Field(
        default_factory=dict,
        description="what each default poller resource reports, where its hub resource's "
        "description does not say it",
    )


class BrokenDefinition(ValueError):
    """A built-in definition file that does not load (names the file and the problem)."""


def load_builtin(path: Path) -> Element:
    """The element one definition file describes, with its named capabilities."""
    definition = BuiltinDefinition.model_validate_json(path.read_text(encoding="utf-8"))
    if definition.key != path.stem:
        raise BrokenDefinition(f"{path.name}: its key is {definition.key!r}")
    feeds, webhooks = _capabilities(definition)
    for name, resource in definition.resources.items():
        if resource.changeFeed and resource.changeFeed not in feeds:
            raise BrokenDefinition(
                f"{path.name}: resources.{name}.changeFeed {resource.changeFeed!r} is not "
                f"in pollhub.elements.{definition.capabilities}.CHANGE_FEEDS"
            )
    if ("webhook" in definition.eventMechanisms) != (webhooks is not None):
        raise BrokenDefinition(f"{path.name}: webhook events need WEBHOOKS in its capabilities")
    element = element_from_definition(definition)
    described = tuple(
        replace(r, description=definition.pollerDescriptions.get(r.name, r.description))
        for r in element.resources
    )
    return replace(
        element,
        id=definition.id,
        resources=described,
        change_feeds=feeds,
        webhooks=webhooks,
        rate_limits=RateLimits(app=definition.rateLimits.app, user=definition.rateLimits.user),
    )


def builtin_elements() -> dict[str, Element]:
    """Every built-in element by key, from its definition file."""
    elements = [load_builtin(path) for path in sorted(DEFINITIONS.glob("*.json"))]
    return {element.key: element for element in elements}


def _capabilities(
    definition: BuiltinDefinition,
) -> tuple[Mapping[str, ChangeReader], WebhookCapability | None]:
    if definition.capabilities is None:
        return {}, None
    module = importlib.import_module(f"{__package__}.{definition.capabilities}")
    feeds: Mapping[str, ChangeReader] = getattr(module, "CHANGE_FEEDS", {})
    webhooks: WebhookCapability | None = getattr(module, "WEBHOOKS", None)
    return feeds, webhooks
