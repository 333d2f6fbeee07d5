"""The element catalog: every module in this package that defines ``ELEMENT``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from pollhub.elements.base import Element

_NOT_ELEMENTS = {"base", "urls"}


@cache
def catalog() -> dict[str, Element]:
    """All known elements by key, in a stable order."""
    found: dict[str, Element] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name in _NOT_ELEMENTS or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        element = getattr(module, "ELEMENT", None)
        if isinstance(element, Element):
            found[element.key] = element
    return found


def get_element(key: str) -> Element | None:
    """The element with this key, or None."""
    return catalog().get(key)


def find_element(key_or_id: str) -> Element | None:
    """The element with this key, or with this Cloud Elements id (``/elements/146``)."""
    if key_or_id.isdigit():
        return next((e for e in catalog().values() if e.id == int(key_or_id)), None)
    return get_element(key_or_id)
