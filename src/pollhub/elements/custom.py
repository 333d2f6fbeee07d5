"""Elements built from definitions (CONTRACT section 7): an organization's own elements.

A custom element is an :class:`~pollhub.elements.base.Element` like the built-in ones, so
the poller, the hub, the token keeper and the catalog use it without knowing it is one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pollhub.elements.base import Element, PollableResource
from pollhub.elements.definition import ElementDefinition, OAuth2Authentication
from pollhub.elements.resources import ResourceDefinition, match_resource

# A where-clause value for "after the last poll", in the resource's own date format.
_DEFAULT_DATE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss'Z'"


def custom_element(definition: Mapping[str, Any]) -> Element:
    """The element a stored definition describes (built once per distinct definition)."""
    return _built(json.dumps(definition, sort_keys=True))


@lru_cache(maxsize=1024)
def _built(text: str) -> Element:
    return element_from_definition(ElementDefinition.model_validate_json(text))


def element_from_definition(definition: ElementDefinition) -> Element:
    """An :class:`Element` with the identity, authentication, configuration keys and
    resources of ``definition``: every element, built-in or custom, is built here; a
    built-in adds only the Python capabilities its file names."""
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
        optional_configuration=tuple(e.key for e in definition.configuration if not e.required),
        resources=_pollable(definition),
        base_url=definition.baseUrl,
        hub_resources=dict(definition.resources),
        definition=definition,
    )


def _pollable(definition: ElementDefinition) -> tuple[PollableResource, ...]:
    """The default ``event.poller.configuration``: as the definition gives it, else every
    resource with its dates and, where ``filters`` can send it, a where-clause on its
    updated date (CONTRACT section 7)."""
    if definition.defaultPollerConfiguration is not None:
        return tuple(
            _default_entry(definition, name, entry)
            for name, entry in definition.defaultPollerConfiguration.items()
        )
    return tuple(
        PollableResource(
            name=name,
            url=f"/hubs/{definition.hub}/{name}{_updated_since(resource)}",
            id_field=resource.idField,
            dates=resource.datesConfiguration,
            description=resource.description,
        )
        for name, resource in definition.resources.items()
    )


def _default_entry(
    definition: ElementDefinition, name: str, entry: Mapping[str, Any]
) -> PollableResource:
    # The name may be a templated resource (``calendars/{calendarId}/events``) or one of
    # its objects' paths; the definition's validator made sure it matches one.
    match = match_resource(definition.resources, name, objects=False)
    resource = match.definition if match is not None else None
    return PollableResource(
        name=name,
        url=str(entry.get("url", f"/hubs/{definition.hub}/{name}")),
        id_field=str(entry.get("idField", resource.idField if resource else "")),
        dates=entry.get("datesConfiguration"),
        description=resource.description if resource else "",
    )


def _updated_since(resource: ResourceDefinition) -> str:
    dates = resource.datesConfiguration or {}
    field = dates.get("updatedDateField")
    operators = resource.filters.get(field, {}) if field else {}
    operator = next((op for op in (">", ">=") if op in operators), None)
    if field is None or operator is None:
        return ""
    date_format = dates.get("updatedDateFormat") or _DEFAULT_DATE_FORMAT
    return f"?where={field}{operator}'${{gmtDate:{date_format}}}'"
