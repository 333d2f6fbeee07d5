"""Request and response bodies of the ``/instances`` API (Cloud Elements' JSON shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ElementRef(BaseModel):
    """``{"key": "onedrivev2"}``."""

    key: str = Field(min_length=1)


class ProviderData(BaseModel):
    """What the provider gave back at the end of the OAuth flow."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None


class InstanceCreate(BaseModel):
    """``POST /instances``: exactly the seeds' JSON."""

    model_config = ConfigDict(extra="allow")

    element: ElementRef
    providerData: ProviderData | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    name: str = Field(min_length=1, max_length=200)


class InstanceUpdate(BaseModel):
    """``PATCH /instances/{id}``: any subset; a configuration key set to null is removed."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tags: list[str] | None = None
    configuration: dict[str, Any] | None = None
    providerData: ProviderData | None = None


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
    tags: list[str]
    valid: bool
    invalidReason: str | None = None
    disabled: bool
    eventsEnabled: bool
    createdDate: datetime
    updatedDate: datetime
    configuration: dict[str, Any]
    user: UserSummary


class InstanceDeleted(BaseModel):
    """``DELETE /instances/{id}``."""

    id: int
    deleted: bool
