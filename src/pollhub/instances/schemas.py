"""Request and response bodies of the ``/instances`` API (Cloud Elements' JSON shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pollhub.db import configuration as keys
from pollhub.polling.config import MAX_REFRESH_MINUTES


class ElementRef(BaseModel):
    """``{"key": "onedrivev2"}`` (or the original's ``{"id": 146}``)."""

    key: str | None = Field(default=None, min_length=1, max_length=100)
    id: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @model_validator(mode="after")
    def _key_or_id(self) -> ElementRef:
        if self.key is None and self.id is None:
            raise ValueError("'key' is required")
        return self


class ProviderData(BaseModel):
    """What the provider gave back at the end of the OAuth flow."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None


def _find_nul(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a NUL character, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = _find_nul(key, where) or _find_nul(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}[{index}]")
            if found:
                return found
    return None


class _InstanceBody(BaseModel):
    """A request body that will be stored: no NUL characters (PostgreSQL refuses them)."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        where = _find_nul(data, "")
        if where:
            raise ValueError(f"'{where}' contains a NUL character, which cannot be stored")
        return data


# The configuration stays a free-form object (every key is kept), but the keys with bounds
# are described, so clients and schema-driven tests (schemathesis) know and reach them.
_CONFIGURATION_SCHEMA: dict[str, Any] = {
    "properties": {
        keys.REFRESH_INTERVAL: {
            "description": "minutes between polls (a number or a numeric string)",
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_REFRESH_MINUTES},
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
            ],
        },
        keys.EVENTS_ENABLED: {"anyOf": [{"type": "boolean"}, {"type": "string"}]},
    },
    "examples": [{keys.REFRESH_INTERVAL: MAX_REFRESH_MINUTES}],
}


ExternalAuthentication = Literal["none", "initial"]


class InstanceCreate(_InstanceBody):
    """``POST /instances`` (and ``PUT /instances/{id}``): exactly the seeds' JSON, or
    ``externalAuthentication: "initial"`` with the tokens in the configuration."""

    element: ElementRef | None = None
    providerData: ProviderData | None = None
    configuration: dict[str, Any] = Field(
        default_factory=dict, json_schema_extra=_CONFIGURATION_SCHEMA
    )
    tags: list[str] = Field(default_factory=list)
    name: str = Field(min_length=1, max_length=200)
    externalAuthentication: ExternalAuthentication = "none"


class InstanceUpdate(_InstanceBody):
    """``PATCH /instances/{id}``: any subset; a configuration key set to null is removed."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tags: list[str] | None = None
    configuration: dict[str, Any] | None = Field(
        default=None, json_schema_extra=_CONFIGURATION_SCHEMA
    )
    providerData: ProviderData | None = None
    externalAuthentication: ExternalAuthentication | None = None


class ElementSummary(BaseModel):
    """The element an instance belongs to."""

    key: str
    name: str
    hub: str


class UserSummary(BaseModel):
    """The user who created an instance."""

    id: int
    emailAddress: str


class InstanceOut(BaseModel):
    """An instance as the API shows it: every secret masked."""

    id: int
    name: str
    token: str
    element: ElementSummary
    elementId: int | None = None  # the original's numeric element id, where known
    tags: list[str]
    valid: bool
    invalidReason: str | None = None
    disabled: bool
    eventsEnabled: bool
    createdDate: datetime
    updatedDate: datetime
    configuration: dict[str, Any]
    externalAuthentication: ExternalAuthentication
    user: UserSummary
    draining: bool = Field(
        default=False,
        description="DELETE ?drain=true was asked: deleted once its callbacks are delivered",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Configuration keys that look like a misspelt known key, with the "
        "key probably meant (they are kept as sent and have no effect)",
    )


class InstanceDeleted(BaseModel):
    """``DELETE /instances/{id}``: deleted now, or (``?drain=true``) once drained."""

    id: int
    deleted: bool
    droppedCallbacks: int = Field(
        default=0, description="callbacks not yet delivered that were dropped with it"
    )
    draining: bool = Field(
        default=False, description="deleted once its pending callbacks are delivered"
    )
    pendingCallbacks: int = Field(
        default=0, description="callbacks still to deliver before it is deleted (drain)"
    )


class ConfigurationEntryOut(BaseModel):
    """One configuration key of an instance (``/instances/{id}/configuration``); the value
    is text, as the original kept it, and ``********`` for a secret."""

    id: int
    key: str
    propertyValue: str | None


class ConfigurationEntryUpdate(_InstanceBody):
    """``PATCH /instances/{id}/configuration/{configId}``: the entry with a new
    ``propertyValue`` (``null`` removes the key)."""

    propertyValue: Any
    key: str | None = None
