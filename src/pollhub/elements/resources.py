"""Hub resources as data: what a ``/hubs/{hub}/{resource…}`` call means at the provider.

A :class:`ResourceDefinition` is CONTRACT section 7's ``resources`` entry — the provider
request (``path``, ``query``), where the list sits in the answer (``list``), how it pages
(``pagination``, ``pageSize``), the object's id and dates, and how ``where`` conditions
become provider query parameters (``filters``) — plus what built-in elements need beyond
it: a provider ``base`` per resource, a ``parent`` to fan a ``{placeholder}`` out over,
``deletedWhen`` for providers that list deleted objects, and a named ``changeFeed``
(delta links, sync tokens, history ids) for resources whose provider reports changes.

Resources are keyed by their path under the hub (``files``, ``folders/{id}/contents``,
``calendars/{calendarId}/events``): :func:`match_resource` finds which one a concrete hub
path names, and with which values for its ``{placeholders}``.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pollhub.elements import where
from pollhub.elements.urls import provider_url

PaginationType = Literal["nextLink", "linkHeader", "cursor", "page", "offset", "none"]
DeletesSeen = Literal["changeFeed", "markedDeleted", "missingFromUnfilteredList"]
"""How a resource's deletes are seen: its change feed reports them; the provider lists
deleted objects marked (``deletedWhen``); or, listed with no provider-side filter, an
object no longer listed was deleted."""
DEFAULT_PAGE_SIZE = 20
"""Cloud Elements read a resource "20 records at a time" when no ``pageSize`` was given."""

_PATH_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONFIG_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_.]*\.[a-z0-9_.]+)\}")
_PATH_SEGMENT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pagination(_Model):
    """How a list continues: ``type`` and where its continuation is.

    - ``nextLink``: ``field`` is the dotted path of the next page's URL in the body;
    - ``linkHeader``: the RFC 8288 ``Link: <…>; rel="next"`` header;
    - ``cursor``: ``field`` holds a token sent back as query parameter ``param`` (for a
      ``POST`` resource, as the only body field at ``path`` when it names one: Dropbox's
      ``/files/list_folder/continue``); ``more`` names a boolean field that says whether
      another page follows, for providers that always answer with a cursor;
    - ``page``: page numbers in ``param``, from ``start`` (default 1);
    - ``offset``: the number of objects already read in ``param`` (from ``start``, 0);
    - ``none``: one answer holds everything.
    """

    type: PaginationType = "none"
    field: str = ""
    param: str = ""
    start: int | None = None
    path: str = Field(
        default="",
        pattern=r"^(/.*)?$",
        description="cursor, POST: where the next page is asked for with the cursor alone",
    )
    more: str = Field(default="", description="cursor: a boolean field, true while more follow")

    @model_validator(mode="after")
    def _needs(self) -> Pagination:
        if self.type in ("nextLink", "cursor") and not self.field:
            raise ValueError(f"pagination type '{self.type}' needs 'field'")
        if self.type in ("cursor", "page", "offset") and not self.param:
            raise ValueError(f"pagination type '{self.type}' needs 'param'")
        if (self.path or self.more) and self.type != "cursor":
            raise ValueError("'path' and 'more' are for pagination type 'cursor'")
        return self


class PageSize(_Model):
    """The query parameter carrying the page size, and the size used when none is asked."""

    param: str
    default: int = Field(default=DEFAULT_PAGE_SIZE, gt=0)
    maximum: int | None = Field(default=None, gt=0)


class FilterTarget(_Model):
    """How one condition becomes a provider query parameter.

    ``value`` is a template in which ``{value}`` is the condition's value written in
    ``format`` (e.g. OData's ``lastModifiedDateTime gt {value}``, Gmail's
    ``after:{value}`` with ``epochSeconds``); conditions landing on the same ``param`` are
    joined with ``join`` (`` and `` in a ``$filter``, a space in a search query). A value
    that cannot be written in ``format`` leaves the condition to the fetched objects.
    """

    param: str
    value: str = "{value}"
    join: str | None = None
    format: where.ValueFormat = Field(
        default="text",
        description="how {value} is written: text as it is; quoted, one search-query term "
        "(double-quoted when it holds spaces or query syntax); epochSeconds or "
        "epochMilliseconds, a date since 1970",
    )


class Parent(_Model):
    """Fan-out: ``{placeholder}`` in the path takes the ``field`` of every object of the
    sibling resource ``resource``. ``aliases`` name a parent object by a boolean field
    (Google's ``primary`` is the calendar whose ``primary`` is true)."""

    placeholder: str
    resource: str
    field: str = "id"
    aliases: dict[str, str] = Field(default_factory=dict)


class ResourceDefinition(_Model):
    """One hub resource of an element (CONTRACT section 7, extended for built-ins)."""

    path: str = Field(min_length=1)
    base: str = ""
    # RPC-style providers (Dropbox) take a list's arguments as a JSON body: with ``POST``,
    # ``body`` is sent with its strings' {placeholders} filled, and the page size and the
    # translated filters go into it rather than into the query.
    method: Literal["GET", "POST"] = Field(
        default="GET", description="POST for a provider taking a list's arguments as JSON"
    )
    body: dict[str, Any] | None = Field(
        default=None, description="POST: the JSON arguments; strings may hold {placeholders}"
    )
    objectBody: dict[str, Any] | None = Field(
        default=None,
        description="POST: the JSON arguments of the one-object call at 'object' ({id} its id)",
    )
    query: dict[str, str] = Field(default_factory=dict)
    list: str = ""
    idField: str = "id"
    object: str | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    pageSize: PageSize | None = None
    filters: dict[str, dict[where.Operator, str | FilterTarget]] = Field(default_factory=dict)
    datesConfiguration: dict[str, str] | None = None
    deletedWhen: str | None = None
    changeFeed: str | None = None
    parent: Parent | None = None
    listedFields: builtins.list[str] | None = Field(
        default=None,
        description="the fields a listed object carries, when the list answers with less than "
        "the whole object (Gmail's messages: id and threadId); a where condition on any other "
        "field that cannot be sent to the provider is refused",
    )
    description: str = ""

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, path: str) -> str:
        if not (path.startswith("/") or path.startswith("https://")):
            raise ValueError("must start with '/' (under the base URL) or be an https URL")
        return path

    @model_validator(mode="after")
    def _body_is_posted(self) -> ResourceDefinition:
        if (self.body is not None or self.objectBody is not None) and self.method != "POST":
            raise ValueError("'body' and 'objectBody' are sent only with method 'POST'")
        if self.method == "POST" and self.pagination.type in ("nextLink", "linkHeader"):
            raise ValueError(f"pagination '{self.pagination.type}' is for GET resources")
        if self.listedFields is not None and not self.carries(self.idField):
            raise ValueError(f"'listedFields' must hold the id field '{self.idField}'")
        return self

    @field_validator("deletedWhen")
    @classmethod
    def _where_expression(cls, text: str | None) -> str | None:
        if text is not None:
            where.parse(text)
        return text

    def placeholders(self) -> builtins.list[str]:
        """The ``{name}`` path placeholders (not ``{config.keys}``)."""
        return _PATH_PLACEHOLDER.findall(self.path)

    def deleted_expression(self) -> where.Expression | None:
        """``deletedWhen`` parsed."""
        return where.parse(self.deletedWhen) if self.deletedWhen else None

    def object_path(self) -> str | None:
        """The provider path of one object (``{id}`` its id; a POST resource's is posted
        ``objectBody``), or None when it has none (by default a POST resource has none)."""
        if self.object is not None:
            return self.object or None
        return f"{self.path.rstrip('/')}/{{id}}" if self.method == "GET" else None

    def native_filters(self) -> dict[str, builtins.list[str]]:
        """Where conditions the provider filters on itself: field → operators; none for a
        change feed, which takes no filter (its whole where clause is applied after)."""
        if self.changeFeed:
            return {}
        return {field: sorted(ops) for field, ops in sorted(self.filters.items())}

    def carries(self, field: str) -> bool:
        """Whether a listed object carries ``field`` (a dotted path): every field does
        unless ``listedFields`` says which."""
        if self.listedFields is None:
            return True
        return any(
            field == listed or field.startswith(f"{listed}.") for listed in self.listedFields
        )

    def deletes_seen(self) -> DeletesSeen:
        """How deletes of this resource's objects are seen (see :data:`DeletesSeen`)."""
        if self.changeFeed:
            return "changeFeed"
        return "markedDeleted" if self.deletedWhen else "missingFromUnfilteredList"

    def page_size(self, asked: int | None) -> int:
        """The page size to request: as asked, else the definition's, within its maximum."""
        size = asked or (self.pageSize.default if self.pageSize else DEFAULT_PAGE_SIZE)
        if self.pageSize and self.pageSize.maximum:
            size = min(size, self.pageSize.maximum)
        return size

    def translate(self, expression: where.Expression | None) -> where.Translation:
        """Split a where expression into provider parameters and a local remainder."""
        joiners = {
            target.param: target.join
            for ops in self.filters.values()
            for target in ops.values()
            if isinstance(target, FilterTarget) and target.join is not None
        }
        return where.translate(expression, self._param_for, joiners)

    def _param_for(self, condition: where.Condition) -> tuple[str, str] | None:
        target = self.filters.get(condition.field, {}).get(condition.op)
        if target is None:
            return None
        if isinstance(target, str):
            return target, where.scalar_text(condition.value)
        value = where.formatted_value(condition.value, target.format)
        return None if value is None else (target.param, target.value.replace("{value}", value))


def fill_config(template: str, configuration: Mapping[str, Any]) -> str:
    """Fill ``{config.key}`` placeholders (``{docushare.domain}``) from the configuration;
    a missing value raises KeyError naming the key."""

    def substitute(match: re.Match[str]) -> str:
        value = configuration.get(match.group(1))
        if not value:
            raise KeyError(match.group(1))
        return str(value)

    return _CONFIG_PLACEHOLDER.sub(substitute, template)


def fill_body(body: Any, values: Mapping[str, str], configuration: Mapping[str, Any]) -> Any:
    """A ``POST`` resource's body with ``{placeholder}`` and ``{config.key}`` filled into
    its strings (values as they are: a body is JSON, not a URL)."""
    if isinstance(body, dict):
        return {key: fill_body(value, values, configuration) for key, value in body.items()}
    if isinstance(body, builtins.list):
        return [fill_body(value, values, configuration) for value in body]
    if not isinstance(body, str):
        return body

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(match.group(1))
        return str(values[match.group(1)])

    return _PATH_PLACEHOLDER.sub(substitute, fill_config(body, configuration))


def provider_resource_url(
    base: str,
    path: str,
    values: Mapping[str, str],
    configuration: Mapping[str, Any],
) -> str:
    """The provider URL to call: ``base`` + ``path`` with ``{placeholders}`` filled (values
    percent-encoded, so an id with ``/`` or ``#`` stays one segment), sandbox-rewritten."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(name)
        return quote(str(values[name]), safe="@:")

    filled = _PATH_PLACEHOLDER.sub(substitute, fill_config(path, configuration))
    url = filled if filled.startswith("https://") else fill_config(base, configuration) + filled
    return provider_url(url)


# ------------------------------------------------------------------------- hub paths


@dataclass(frozen=True)
class ResourceMatch:
    """A concrete hub path resolved to one resource (and an object id, for ``…/{id}``)."""

    key: str
    definition: ResourceDefinition
    values: dict[str, str]
    object_id: str | None = None


def _segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


@lru_cache(maxsize=4096)
def _template(template: str) -> tuple[re.Pattern[str], int]:
    """A resource key as a regular expression over a path under the hub (one segment per
    ``{placeholder}``), and how many literal segments it has (more: a better match)."""
    parts = _segments(template)
    pattern = "/".join(
        f"(?P<{part[1:-1]}>[^/]+)" if _PATH_SEGMENT.fullmatch(part) else re.escape(part)
        for part in parts
    )
    literals = sum(1 for part in parts if not _PATH_SEGMENT.fullmatch(part))
    return re.compile(pattern), literals


@lru_cache(maxsize=1024)
def _most_literal_first(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(keys, key=lambda key: _template(key)[1], reverse=True))


def match_resource(
    resources: Mapping[str, ResourceDefinition], hub_path: str, *, objects: bool = True
) -> ResourceMatch | None:
    """The resource a path under the hub names (``calendars/abc/events``), the most
    literal template first; else, with ``objects``, one object of a resource
    (``files/123``). A literal ``{placeholder}`` in the path matches itself: it is the
    fan-out form (``calendars/{calendarId}/changed-events``)."""
    segments = _segments(hub_path)
    if not segments:
        return None
    under = "/".join(segments)
    for key in _most_literal_first(tuple(resources)):
        hit = _template(key)[0].fullmatch(under)
        if hit is not None:
            return ResourceMatch(key, resources[key], hit.groupdict())
    if objects and len(segments) > 1:
        found = match_resource(resources, "/".join(segments[:-1]), objects=False)
        if found is not None and found.definition.object_path() is not None:
            return ResourceMatch(found.key, found.definition, found.values, segments[-1])
    return None


def unfilled(values: Mapping[str, str]) -> list[str]:
    """Placeholders whose value is the placeholder itself: to be fanned out."""
    return [name for name, value in values.items() if value == f"{{{name}}}"]
