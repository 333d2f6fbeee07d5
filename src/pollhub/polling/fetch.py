"""The read side of one poll: from a resource's configuration to the provider's objects.

Plain inputs (:class:`PollInput`), plain output (a
:class:`~pollhub.elements.reading.ReadResult`), no database. Between them:

1. the window: the last successful poll minus ``pollDelay`` (this poll's start the first
   time), rendered into the url's placeholders;
2. the resource: a native change feed (delta link, sync token, history id) when the hub
   resource has one, else the generic list — the where clause translated into the
   provider's filter, every page read, a ``{placeholder}`` fanned out over its parent;
3. the filters Cloud Elements applied: the rest of the where clause, then (lists only)
   the updated date after the window (created date with ``filterByUpdatedDate: false``)
   and nothing newer than this poll with ``filterByCurrentDate``;
4. nothing created or changed before the resource's first poll is news: such objects are
   remembered, never reported (a delete from before it is judged with the memory, in
   :func:`~pollhub.polling.changes.classify_change`: only the memory knows whether the
   first poll saw the object).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pollhub.elements import where
from pollhub.elements.base import Element
from pollhub.elements.http import ProviderApi
from pollhub.elements.hub import HubCall, list_objects
from pollhub.elements.reading import ChangeKind, ProviderChange, ReadRequest, ReadResult
from pollhub.polling.changes import ObjectDates, object_dates
from pollhub.polling.config import DatesConfiguration, PollerResource
from pollhub.polling.plan import plan_resource


@dataclass(frozen=True)
class PollInput:
    """Everything one poll of one resource reads with."""

    element: Element
    name: str
    resource: PollerResource
    configuration: Mapping[str, Any]
    cursor: Mapping[str, Any] | None  # the resource's own cursor; None: a baseline read
    last_success: datetime | None
    first_poll: datetime | None  # when the resource was first polled (its baseline)
    started: datetime
    skip: frozenset[str] = frozenset()

    def window_start(self) -> datetime:
        """The moment changes are looked for after: last success minus ``pollDelay``."""
        delay = timedelta(seconds=self.resource.pollDelay or 0)
        return (self.last_success or self.started) - delay


async def read_resource(api: ProviderApi, poll: PollInput) -> ReadResult:
    """Read what changed in one resource since the last poll (see the module's steps)."""
    call = plan_resource(poll.element, poll.resource, poll.window_start(), poll.started)
    feed = poll.element.change_feed(call.definition)
    if feed is None:
        read = await _read_list(api, call, poll)
        dates = _dates(call, poll.resource)
        return replace(read, changes=[_silence_old(c, dates, poll) for c in read.changes])
    read = await feed(api, _feed_request(call, poll))
    # A feed's own order of events is trusted; deletes carry too little to filter on.
    changes = [c for c in read.changes if c.kind == "deleted" or _kept(call, c.raw)]
    return replace(read, changes=changes)


def _kept(call: HubCall, raw: Mapping[str, Any]) -> bool:
    return where.matches(call.expression, raw)


def _feed_request(call: HubCall, poll: PollInput) -> ReadRequest:
    return ReadRequest(
        path=poll.resource.path(),
        query={"where": where.render(call.expression)} if call.expression else {},
        cursor=poll.cursor,
        since=poll.last_success,
        configuration=poll.configuration,
        base_url=poll.element.resolve(poll.element.base_url, poll.configuration),
        page_size=poll.resource.pageSize,
        name=poll.name,
        values=call.match.values,
        skip=poll.skip,
    )


async def _read_list(api: ProviderApi, call: HubCall, poll: PollInput) -> ReadResult:
    listed = await list_objects(
        api, call, poll.configuration, page_size=poll.resource.pageSize, skip=poll.skip
    )
    baseline = poll.cursor is None
    dates = _dates(call, poll.resource)
    deleted = call.definition.deleted_expression()
    id_field = poll.resource.idField or call.definition.idField
    changes = []
    for item in listed:
        if not item.matched:
            continue
        if not baseline and not _in_window(object_dates(item.obj, dates), poll):
            continue
        kind: ChangeKind | None = (
            "deleted" if deleted and where.matches(deleted, item.obj) else None
        )
        object_id = where.field_value(item.obj, id_field)
        object_type = _render_name(poll.name, item.values) if call.fan_out() else None
        changes.append(ProviderChange(str(object_id), item.obj, kind, object_type=object_type))
    # Without a provider-side filter the list is the whole resource: what was known and is
    # no longer listed was deleted (how lists without a delete marker show deletes).
    present = None
    if not call.translation.params and deleted is None:
        present = frozenset(str(where.field_value(item.obj, id_field)) for item in listed)
    return ReadResult(changes, {"listedAt": poll.started.isoformat()}, present=present)


def _dates(call: HubCall, resource: PollerResource) -> DatesConfiguration | None:
    return dates_configuration(call.element, resource)


def dates_configuration(element: Element, resource: PollerResource) -> DatesConfiguration | None:
    """The resource's ``datesConfiguration``, else its hub resource's own."""
    if resource.datesConfiguration is not None:
        return resource.datesConfiguration
    match = element.find_resource(resource.path(), objects=False)
    if match is not None and match.definition.datesConfiguration:
        return _definition_dates(match.definition.datesConfiguration)
    return None


def _definition_dates(dates: Mapping[str, str]) -> DatesConfiguration:
    return DatesConfiguration.model_validate(dict(dates))


def _in_window(dates: ObjectDates, poll: PollInput) -> bool:
    """Cloud Elements' date filters: changed after the window start, and with
    ``filterByCurrentDate`` not after this poll began (it is next poll's)."""
    by_updated = poll.resource.filterByUpdatedDate is not False
    moment = dates.updated if by_updated else dates.created
    if moment is not None and moment < _whole_second(poll.window_start()):
        return False
    latest = dates.updated or dates.created
    return not (poll.resource.filterByCurrentDate and latest is not None and latest > poll.started)


def _silence_old(
    change: ProviderChange, dates: DatesConfiguration | None, poll: PollInput
) -> ProviderChange:
    """A creation or change dated before the resource's first poll happened before we
    watched. (Deletes are left to the poller: a deleted object the first poll listed was
    alive after it, whatever the date says.)"""
    if poll.first_poll is None or change.silent or change.kind == "deleted":
        return change
    found = object_dates(change.raw, dates)
    moment = found.updated or found.created
    if moment is not None and moment < _whole_second(poll.first_poll):
        return replace(change, silent=True)
    return change


def _whole_second(moment: datetime) -> datetime:
    # Providers often write dates to the second: an object changed in the same second as
    # the window starts is kept (fingerprints drop it if it was reported already).
    return moment.replace(microsecond=0)


def _render_name(name: str, values: Mapping[str, str]) -> str:
    for placeholder, value in values.items():
        name = name.replace(f"{{{placeholder}}}", value)
    return name
