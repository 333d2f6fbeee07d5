"""What an element's change reader gets and gives back.

A reader knows one provider's incremental mechanism (delta links, sync tokens, history ids,
date windows). It returns the provider's objects with what the provider itself says about
them; the poller, which knows nothing of any provider, decides what to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pollhub.elements.http import ProviderApi

ChangeKind = Literal["created", "updated", "deleted"]


@dataclass(frozen=True)
class ProviderChange:
    """One object as the provider returned it.

    ``kind`` is set when the provider says what happened (a delete facet, a history
    record); otherwise the poller classifies the change from dates and what it saw before.
    ``silent`` objects are only remembered, never reported (e.g. the existing events of a
    calendar that has just appeared). ``object_type`` is the resource name with its
    ``{placeholders}`` filled, for a resource fanned out over a parent list.
    """

    object_id: str
    raw: dict[str, Any]
    kind: ChangeKind | None = None
    silent: bool = False
    object_type: str | None = None  # set when a fanned-out resource read it (one calendar)


@dataclass(frozen=True)
class ReadResult:
    """The outcome of one read of one resource.

    ``complete`` means ``changes`` enumerate *every* object that exists (a read without a
    cursor), so known objects missing from it were deleted while unobserved. ``present``
    does the same for a list read whose ``changes`` were filtered: the ids of every object
    the provider listed.
    """

    changes: list[ProviderChange]
    cursor: dict[str, Any]
    complete: bool = False
    present: frozenset[str] | None = None


@dataclass(frozen=True)
class ReadRequest:
    """What to read: the resource's hub path (placeholders rendered) and where we got to.

    ``base_url`` is the element's ``baseUrl`` for this instance (its configuration's
    placeholders filled, the sandbox rewrite applied). ``values`` are the hub path's
    ``{placeholder}`` values (a value equal to
    ``{placeholder}`` itself means: every parent object); ``skip`` are parent values that
    another resource of the instance polls by name, so a fan-out leaves them out.
    """

    path: str
    query: Mapping[str, str]
    cursor: Mapping[str, Any] | None
    since: datetime | None
    configuration: Mapping[str, Any] = field(default_factory=dict)
    base_url: str = ""
    page_size: int | None = None
    name: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()


class CursorExpired(Exception):
    """The provider no longer accepts the stored cursor (HTTP 410, an old history id)."""


class ChangeReader(Protocol):
    """Reads the changes of one resource from one provider."""

    async def __call__(self, api: ProviderApi, request: ReadRequest) -> ReadResult: ...
