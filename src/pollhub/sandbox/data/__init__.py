"""The simulated providers' data: in-memory stores that render the providers' JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

JSON = dict[str, Any]


class UnknownObject(KeyError):
    """The control API named an object the store does not have."""


class InvalidFields(ValueError):
    """The control API sent fields the store cannot accept."""


class ControlledCollection(Protocol):
    """What the control API needs from a collection (``/control/{element}/{collection}``)."""

    def list_objects(self) -> list[JSON]:
        """Every object, as the provider would show it."""
        ...

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """Create an object; the result has an ``id``."""
        ...

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Change an object (its modified time moves on)."""
        ...

    def delete(self, object_id: str) -> JSON:
        """Delete an object the way the provider shows deletes."""
        ...


def text_field(fields: Mapping[str, Any], name: str, default: str) -> str:
    """A string field of a control request, checked."""
    value = fields.get(name, default)
    if not isinstance(value, str):
        raise InvalidFields(f"{name} must be a string")
    return value


def int_field(fields: Mapping[str, Any], name: str, default: int) -> int:
    """A non-negative integer field of a control request, checked."""
    value = fields.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidFields(f"{name} must be a non-negative integer")
    return value


def string_list_field(fields: Mapping[str, Any], name: str, default: list[str]) -> list[str]:
    """A list-of-strings field of a control request, checked."""
    value = fields.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidFields(f"{name} must be a list of strings")
    return list(value)
