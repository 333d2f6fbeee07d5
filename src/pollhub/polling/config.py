"""The poller configuration language: ``event.poller.configuration`` (CONTRACT section 4).

It maps a resource name (which becomes the events' ``objectType``) to how that resource
is read: a hub ``url`` (date placeholders allowed), the ``idField`` and the date fields.
Unknown keys are kept, because Cloud Elements clients send many.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pollhub.polling.dates import validate_date_format, validate_url_template
from pollhub.polling.timezones import resolve_timezone
from pollhub.settings import get_settings

# The longest refresh interval, in minutes (30 days): far beyond any useful poll, and small
# enough that every date computed from it stays representable.
MAX_REFRESH_MINUTES = 43_200


class DatesConfiguration(BaseModel):
    """Where a resource's updated and created dates are and how to read them."""

    model_config = ConfigDict(extra="allow")

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
    """How one resource is polled."""

    model_config = ConfigDict(extra="allow")

    url: str = Field(min_length=1)
    idField: str = ""
    datesConfiguration: DatesConfiguration | None = None
    pageSize: int | None = Field(default=None, gt=0, le=1000)
    pollDelay: float | None = Field(default=None, ge=0)
    createdCheckTolerance: float | None = Field(default=None, ge=0)
    filterByUpdatedDate: bool | None = None

    @field_validator("url")
    @classmethod
    def _hub_path(cls, url: str) -> str:
        if not url.startswith("/"):
            raise ValueError("must be a hub path starting with '/', e.g. /hubs/documents/events")
        validate_url_template(url)
        return url

    def path(self) -> str:
        """The URL without its query string."""
        return self.url.split("?", 1)[0]


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
