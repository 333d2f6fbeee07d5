"""Elements built from definitions (CONTRACT section 7): an organization's own elements.

A custom element is an :class:`~pollhub.elements.base.Element` like the built-in ones, so
the poller, the hub, the token keeper and the catalog use it without knowing it is one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pollhub.elements.base import Element
from pollhub.elements.definition import ElementDefinition, OAuth2Authentication


def custom_element(definition: Mapping[str, Any]) -> Element:
    """The element a stored definition describes (built once per distinct definition)."""
    return _built(json.dumps(definition, sort_keys=True))


@lru_cache(maxsize=1024)
def _built(text: str) -> Element:
    return element_from_definition(ElementDefinition.model_validate_json(text))


def element_from_definition(definition: ElementDefinition) -> Element:
    """An :class:`Element` with the identity, authentication and resources of ``definition``."""
    auth = definition.authentication
    oauth = auth if isinstance(auth, OAuth2Authentication) else None
    return Element(
        key=definition.key,
        name=definition.name,
        hub=definition.hub,
        event_mechanism=definition.eventMechanisms[0],
        description=definition.description,
        authorization_url=oauth.authorizationUrl if oauth else "",
        token_url=oauth.tokenUrl if oauth else "",
        default_scope=oauth.scope if oauth else "",
        authorization_params=dict(oauth.authorizationParameters) if oauth else {},
        required_configuration=tuple(e.key for e in definition.configuration if e.required),
        definition=definition,
    )
