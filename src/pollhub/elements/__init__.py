"""The element catalog: the built-in elements (definition files) and custom ones."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Protocol

from pollhub.elements.base import Element
from pollhub.elements.builtin import builtin_elements
from pollhub.elements.custom import custom_element

__all__ = ["Element", "ElementHolder", "catalog", "custom_element", "element_of", "get_element"]


class ElementHolder(Protocol):
    """Something that names its element: an instance (with its custom element's definition
    loaded, if it has one)."""

    @property
    def element_key(self) -> str: ...

    @property
    def element_definition(self) -> Mapping[str, Any] | None: ...


@cache
def catalog() -> dict[str, Element]:
    """All built-in elements by key, in a stable order (one definition file each)."""
    return builtin_elements()


def get_element(key: str) -> Element | None:
    """The built-in element with this key, or None."""
    return catalog().get(key)


def element_of(holder: ElementHolder) -> Element | None:
    """The element of an instance, built-in or custom; None when it no longer exists.

    The one lookup the poller, the token keeper, the hub and the instances API share.
    """
    definition = holder.element_definition
    if definition is not None:
        return custom_element(definition)
    return get_element(holder.element_key)
