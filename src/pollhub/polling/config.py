"""The poller configuration language: ``event.poller.configuration`` (CONTRACT section 4).

It maps a resource name (which becomes the events' ``objectType``) to how that resource
is read: a hub ``url`` (date placeholders and a ``where`` clause allowed), the ``idField``,
the date fields and the filtering keys. The legacy ``event.poller.urls`` converts to it.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from pollhub.elements import where
from pollhub.polling.dates import render_url, validate_date_format, validate_url_template
from pollhub.polling.timezones import resolve_timezone
from pollhub.settings import get_settings

# The longest refresh interval, in minutes (30 days): far beyond any useful poll, and small
# enough that every date computed from it stays representable.
MAX_REFRESH_MINUTES = 43_200


class DatesConfiguration(BaseModel):
    """Where a resource's updated and created dates are and how to read them."""

    model_config = ConfigDict(extra="forbid")

    updatedDateField: str = ""
    updatedDateFormat: str = ""
    updatedDateTimezone: str = "GMT"
    createdDateField: str = ""
    createdDateFormat: str = ""
    createdDateTimezone: str = "GMT"

    @model_validator(mode="after")
    def _formats_and_zones_are_known(self) -> DatesConfiguration:
        # Checked now so a bad pattern is a 400 at instance creation, not a failing poll.
        validate_date_format(self.updatedDateFormat)
        validate_date_format(self.createdDateFormat)
        resolve_timezone(self.updatedDateTimezone)
        resolve_timezone(self.createdDateTimezone)
        return self


class PollerResource(BaseModel):
    """How one resource is polled: every key Cloud Elements documented, each with its effect
    (reference ``cloud_elements.md`` section 3.2). An unknown key is refused, naming it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str = Field(min_length=1)
    idField: str = ""
    datesConfiguration: DatesConfiguration | None = None
    pageSize: int | None = Field(default=None, gt=0, le=1000)
    pollDelay: float | None = Field(default=None, ge=0)
    createdCheckTolerance: float | None = Field(default=None, ge=0)
    filterByUpdatedDate: bool | None = Field(
        default=None, validation_alias=AliasChoices("filterByUpdatedDate", "filterByUpdateDate")
    )
    filterByCurrentDate: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _resource_level_timezone(cls, data: Any) -> Any:
        # One Cloud Elements example puts updatedDateTimezone beside the url: read it as
        # the datesConfiguration's.
        if isinstance(data, dict) and "updatedDateTimezone" in data:
            data = dict(data)
            zone = data.pop("updatedDateTimezone")
            dates = dict(data.get("datesConfiguration") or {})
            dates.setdefault("updatedDateTimezone", zone)
            data["datesConfiguration"] = dates
        return data

    @field_validator("url")
    @classmethod
    def _hub_path(cls, url: str) -> str:
        if not url.startswith("/"):
            raise ValueError("must be a hub path starting with '/', e.g. /hubs/documents/events")
        validate_url_template(url)
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        if unknown := sorted(set(query) - {"where"}):
            raise ValueError(
                f"query parameter '{unknown[0]}' is not supported; a poller url takes 'where' "
                "(use the pageSize key for the page size)"
            )
        if "where" in query:
            if len(query["where"]) > 1:
                raise ValueError("'where' is given more than once")
            sample = datetime(2000, 1, 1, tzinfo=UTC)
            try:
                where.parse(render_url(query["where"][0], sample, sample))
            except where.WhereError as exc:
                raise ValueError(f"where clause: {exc}") from None
        return url

    def path(self) -> str:
        """The URL without its query string."""
        return self.url.split("?", 1)[0]

    def where_clause(self, since: datetime, now: datetime) -> str | None:
        """The ``where`` parameter with its placeholders rendered, or None."""
        query = parse_qs(urlsplit(self.url).query, keep_blank_values=True)
        return render_url(query["where"][0], since, now) if "where" in query else None

    def where_template(self) -> str | None:
        """The ``where`` parameter as written (placeholders unrendered), or None."""
        query = parse_qs(urlsplit(self.url).query, keep_blank_values=True)
        return query["where"][0] if "where" in query else None


def parse_legacy_urls(text: str) -> dict[str, dict[str, Any]]:
    """``event.poller.urls`` (one ``resource|url|xPathFilter|updatedDateField|…`` line per
    resource) as the JSON form; Cloud Elements migrated it the same way. Raises ValueError."""
    fields = [
        "updatedDateField",
        "updatedDateFormat",
        "updatedDateTimezone",
        "createdDateField",
        "createdDateFormat",
        "createdDateTimezone",
    ]
    converted: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(text.replace("\\n", "\n").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) < 2 or not parts[0] or not parts[1].startswith("/"):
            raise ValueError(f"line {number}: expected resource|/hubs/…url|…")
        if len(parts) > 9:
            raise ValueError(f"line {number}: more than 9 '|'-separated fields")
        name, url = parts[0], parts[1]
        if len(parts) > 2 and parts[2]:
            raise ValueError(f"line {number}: an xPathFilter is not supported; use a where clause")
        dates = {key: value for key, value in zip(fields, parts[3:], strict=False) if value}
        entry: dict[str, Any] = {"url": url, "idField": "id"}
        if dates:
            entry["datesConfiguration"] = dates
        converted[name] = entry
    if not converted:
        raise ValueError("names no resource")
    return converted


def refresh_seconds(minutes: float) -> float:
    """A refresh interval in minutes as seconds, floored at ``POLLHUB_MIN_REFRESH_SECONDS``
    and capped at :data:`MAX_REFRESH_MINUTES` (a value stored before the cap was enforced,
    even a non-finite one, still polls)."""
    floor = get_settings().min_refresh_seconds
    if not math.isfinite(minutes):
        return MAX_REFRESH_MINUTES * 60 if minutes > 0 else floor
    return min(max(minutes * 60, floor), MAX_REFRESH_MINUTES * 60)


def decode_json_string(value: Any) -> Any:
    """Cloud Elements clients send the configuration as an object or as a JSON string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is a string but not valid JSON ({exc.msg})") from exc
    return value
