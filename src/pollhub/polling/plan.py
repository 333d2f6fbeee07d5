"""A poller resource resolved against its element: which hub resource it reads, what its
where clause sends to the provider and what is applied to what was fetched, and which
parent objects a fanned-out resource leaves to another resource of the same instance."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pollhub.elements import where
from pollhub.elements.base import Element
from pollhub.elements.hub import HubCall, HubPathError, plan_call
from pollhub.polling.config import PollerResource

_SAMPLE = datetime(2000, 1, 1, tzinfo=UTC)


def plan_resource(
    element: Element, resource: PollerResource, since: datetime, now: datetime
) -> HubCall:
    """The hub call a poll of ``resource`` makes, its placeholders rendered for this poll."""
    return plan_call(element, resource.path(), resource.where_clause(since, now))


def check_resource(element: Element, resource: PollerResource) -> None:
    """Raise ValueError saying why ``element`` cannot poll ``resource``."""
    try:
        call = plan_resource(element, resource, _SAMPLE, _SAMPLE)
        call.check_applied_fields()
    except (HubPathError, where.WhereError) as exc:
        raise ValueError(str(exc)) from None
    fan_out = call.fan_out()
    parent = call.definition.parent
    if fan_out and (parent is None or fan_out != [parent.placeholder]):
        raise ValueError(f"'{call.match.key}' needs a value for {', '.join(fan_out)}")


def skipped_parents(
    element: Element, resources: Mapping[str, PollerResource], name: str
) -> frozenset[str]:
    """Parent values a fanned-out resource leaves out because another resource of the
    instance polls them by name (``calendars/primary/…`` beside ``calendars/{calendarId}/…``)."""
    mine = element.find_resource(resources[name].path(), objects=False)
    if mine is None or mine.definition.parent is None:
        return frozenset()
    placeholder = mine.definition.parent.placeholder
    if mine.values.get(placeholder) != f"{{{placeholder}}}":
        return frozenset()
    taken = set()
    for other_name, other in resources.items():
        found = element.find_resource(other.path(), objects=False)
        if other_name == name or found is None or found.key != mine.key:
            continue
        value = found.values.get(placeholder)
        if value and value != f"{{{placeholder}}}":
            taken.add(value)
    return frozenset(taken)


def describe_resource(
    element: Element, resources: Mapping[str, PollerResource], name: str
) -> dict[str, Any]:
    """How a resource is read, for ``GET /instances/{id}/poller``: what goes to the
    provider, what is applied to fetched objects, what a fan-out skips."""
    resource = resources[name]
    template = resource.where_template()
    if template is not None:
        # Quotes inside a placeholder's date format would end the where clause's string.
        template = re.sub(r"\$\{[^}]*\}", lambda m: m.group(0).replace("'", ""), template)
    try:
        call = plan_call(element, resource.path(), template)
    except (HubPathError, where.WhereError) as exc:
        return {"url": resource.url, "problem": str(exc)}
    return {
        "url": resource.url,
        "changeFeed": call.definition.changeFeed,
        "skips": sorted(skipped_parents(element, resources, name)),
        **call.describe(),
        "pagination": call.definition.pagination.type,
        "deletes": call.definition.deletes_seen(),
    }
