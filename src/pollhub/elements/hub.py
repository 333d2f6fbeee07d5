"""One hub call, as the hub API and the poller both make it.

:func:`plan_call` resolves a hub path and a ``where`` clause against an element's
resources: which resource, which ``{placeholder}`` values, what the provider is asked to
filter and what is left to apply to the fetched objects. :func:`list_objects` runs it to
the end (fanning a literal ``{placeholder}`` out over the parent resource) and
:func:`list_page` one page at a time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pollhub.elements import where
from pollhub.elements.base import Element
from pollhub.elements.http import ProviderApi
from pollhub.elements.listing import (
    Page,
    fetch_all,
    fetch_object,
    fetch_page,
    list_call,
    same_site,
)
from pollhub.elements.resources import ResourceDefinition, ResourceMatch, unfilled


class HubPathError(ValueError):
    """The path names no resource of the element, or the call cannot be made as asked."""


@dataclass(frozen=True)
class HubCall:
    """A hub call resolved against one element."""

    element: Element
    match: ResourceMatch
    expression: where.Expression | None
    translation: where.Translation

    @property
    def definition(self) -> ResourceDefinition:
        """The resource's definition."""
        return self.match.definition

    def fan_out(self) -> list[str]:
        """Placeholders to fill from the parent resource's objects."""
        return unfilled(self.match.values)

    def applied_after_fetching(self) -> where.Expression | None:
        """The part of the where clause applied to fetched objects: all of it for a change
        feed, which takes no filter; else what could not be sent to the provider."""
        return self.expression if self.definition.changeFeed else self.translation.residual

    def check_applied_fields(self) -> None:
        """Raise :class:`~pollhub.elements.where.WhereError` naming every condition applied
        after fetching to a field the listed objects do not carry (``listedFields``): it
        would match none of them (or, with ``!=``, all) and the user would never know."""
        after = self.applied_after_fetching()
        missing = [
            condition
            for condition in (where.conditions(after) if after else [])
            if not self.definition.carries(condition.field)
        ]
        if not missing:
            return
        listed = self.element.hub_prefix() + self.match.key
        carried = ", ".join(self.definition.listedFields or [])
        sent = self.definition.native_filters()
        hints = "".join(
            f"; '{field}' is sent to it only with {', '.join(sent[field])}, and-ed, and a "
            "value it can take"
            for field in dict.fromkeys(condition.field for condition in missing)
            if field in sent
        )
        named = " and ".join(f'"{where.render(condition)}"' for condition in missing)
        raise where.WhereError(
            f"{named} cannot be sent to the provider, and the objects {listed} lists carry "
            f"only {carried}, so it cannot be applied after fetching either"
            f"{hints}"
        )

    def describe(self) -> dict[str, Any]:
        """What is sent to the provider and what is applied to fetched objects."""
        feed = self.definition.changeFeed is not None
        after = self.applied_after_fetching()
        return {
            "resource": self.match.key,
            "where": where.render(self.expression) if self.expression else None,
            "sentToProvider": [] if feed else [where.render(c) for c in self.translation.sent],
            "providerParameters": {} if feed else self.translation.params,
            "appliedToFetchedObjects": where.render(after) if after else None,
            "fanOut": self.fan_out(),
        }


def plan_call(
    element: Element, path: str, where_text: str | None, *, objects: bool = False
) -> HubCall:
    """Resolve ``path`` (``/hubs/{hub}/…`` or the part under the hub) and ``where``;
    raises :class:`HubPathError` or :class:`~pollhub.elements.where.WhereError`."""
    match = element.find_resource(path, objects=objects)
    if match is None:
        known = ", ".join(element.hub_prefix() + key for key in sorted(element.hub_resources))
        raise HubPathError(f"{element.key} has no resource at '{path}'; it has {known or 'none'}")
    expression = where.parse(where_text) if where_text else None
    return HubCall(element, match, expression, match.definition.translate(expression))


@dataclass(frozen=True)
class Listed:
    """One fetched object, the placeholder values of the list it came from, and whether
    it satisfies the part of the where clause applied after fetching."""

    obj: dict[str, Any]
    values: Mapping[str, str] = field(default_factory=dict)
    matched: bool = True


async def parent_values(
    api: ProviderApi,
    call: HubCall,
    configuration: Mapping[str, Any],
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """The values a fanned-out placeholder takes: the parent resource's objects' field,
    without those in ``skip`` (an alias such as ``primary`` skips the object it names)."""
    parent = call.definition.parent
    if parent is None or parent.placeholder not in call.fan_out():
        raise HubPathError(f"'{call.match.key}' cannot be read for every parent object")
    definition = call.element.hub_resources.get(parent.resource)
    if definition is None:
        raise HubPathError(f"parent resource '{parent.resource}' is not defined")
    request = list_call(
        definition, base=call.element.base_url, values={}, configuration=configuration
    )
    found = []
    for obj in await fetch_all(api, request):
        value = where.field_value(obj, parent.field)
        aliased = any(alias in skip and obj.get(flag) for alias, flag in parent.aliases.items())
        if value is not None and str(value) not in skip and not aliased:
            found.append(str(value))
    return found


async def list_objects(
    api: ProviderApi,
    call: HubCall,
    configuration: Mapping[str, Any],
    *,
    page_size: int | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[Listed]:
    """Every object the call names, across every parent object for a fanned-out
    placeholder; ``matched`` says whether it satisfies the where clause."""
    value_sets: list[dict[str, str]] = [dict(call.match.values)]
    for placeholder in call.fan_out():
        parents = await parent_values(api, call, configuration, skip)
        value_sets = [{**base, placeholder: value} for base in value_sets for value in parents]
    listed: list[Listed] = []
    for values in value_sets:
        request = list_call(
            call.definition,
            base=call.element.base_url,
            values=values,
            configuration=configuration,
            params=call.translation.params,
            page_size=page_size,
        )
        for obj in await fetch_all(api, request):
            listed.append(Listed(obj, values, where.matches(call.translation.residual, obj)))
    return listed


async def list_page(
    api: ProviderApi,
    call: HubCall,
    configuration: Mapping[str, Any],
    *,
    page_size: int | None = None,
    token: str | None = None,
) -> Page:
    """One page of the call (the where clause applied to it), the first without ``token``.

    A fanned-out placeholder (a literal ``{calendarId}``) pages through each parent object's
    list in turn: its token names the parent and the provider's token within that list.
    """
    if not call.fan_out():
        return await _page(api, call, call.match.values, configuration, page_size, token)
    placeholder, *others = call.fan_out()
    if others:
        raise HubPathError(f"name a value for {', '.join(others)} to list '{call.match.key}'")
    parents = await parent_values(api, call, configuration)
    at = _FanOutToken.load(token, parents) if token else _FanOutToken(0, None)
    while at.parent < len(parents):
        values = {**call.match.values, placeholder: parents[at.parent]}
        page = await _page(api, call, values, configuration, page_size, at.page)
        if page.next_token is not None:
            return Page(page.objects, _FanOutToken(at.parent, page.next_token).dump(parents))
        at = _FanOutToken(at.parent + 1, None)
        if at.parent == len(parents):
            return Page(page.objects, None)
        if page.objects:
            return Page(page.objects, at.dump(parents))
        # A parent with nothing (left) to list: go on to the next one.
    return Page([], None)  # no parent objects at all


async def _page(
    api: ProviderApi,
    call: HubCall,
    values: Mapping[str, str],
    configuration: Mapping[str, Any],
    page_size: int | None,
    token: str | None,
) -> Page:
    request = list_call(
        call.definition,
        base=call.element.base_url,
        values=values,
        configuration=configuration,
        params=call.translation.params,
        page_size=page_size,
    )
    links = request.definition.pagination.type in ("nextLink", "linkHeader")
    if token is not None and links and not same_site(request.url, token):
        # The access token goes with the request: a token naming another host is forged.
        raise HubPathError("'nextPage' is not a page token this API gave")
    page = await fetch_page(api, request, token)
    kept = [obj for obj in page.objects if where.matches(call.translation.residual, obj)]
    return Page(kept, page.next_token)


@dataclass(frozen=True)
class _FanOutToken:
    """Where a fanned-out list continues: the parent (its position in the parent list)
    and the provider's token within that parent's list (None: its first page)."""

    parent: int
    page: str | None

    def dump(self, parents: list[str]) -> str:
        # The parent is named by its value, so a parent added or removed between two
        # requests does not shift the walk onto another parent's list.
        return json.dumps({"parent": parents[self.parent], "page": self.page})

    @classmethod
    def load(cls, token: str, parents: list[str]) -> _FanOutToken:
        try:
            found = json.loads(token)
            parent, page = found["parent"], found["page"]
        except (ValueError, TypeError, KeyError):
            raise HubPathError("'nextPage' is not a page token this API gave") from None
        if not isinstance(parent, str) or not (page is None or isinstance(page, str)):
            raise HubPathError("'nextPage' is not a page token this API gave")
        if parent not in parents:
            raise HubPathError(f"'nextPage' continues with '{parent}', which is no longer listed")
        return cls(parents.index(parent), page)


async def get_object(
    api: ProviderApi, element: Element, match: ResourceMatch, configuration: Mapping[str, Any]
) -> dict[str, Any]:
    """The one object a ``…/{id}`` hub path names."""
    if match.object_id is None:
        raise HubPathError("the path names a list, not one object")
    return await fetch_object(
        api,
        match.definition,
        base=element.base_url,
        values=match.values,
        configuration=configuration,
        object_id=match.object_id,
    )
