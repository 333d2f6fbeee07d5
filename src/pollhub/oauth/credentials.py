"""What an instance of an element without OAuth sends its provider: the API key or user
name and password its configuration holds (secrets included), as its definition says."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from pollhub.elements.base import Element
from pollhub.elements.credentials import configured_auth


class HoldsConfiguration(Protocol):
    """An instance as stored, or as a worker keeps it in memory."""

    @property
    def configuration(self) -> dict[str, Any]: ...
    @property
    def secrets(self) -> dict[str, Any]: ...


def instance_credentials(element: Element, instance: HoldsConfiguration) -> httpx.Auth | None:
    """The authentication of ``instance``'s requests (None: the provider needs none).

    Raises :class:`~pollhub.elements.credentials.MissingCredentials` when the element's
    definition now names a key the instance's configuration lacks.
    """
    if element.definition is None:
        return None
    return configured_auth(element.definition, {**instance.configuration, **instance.secrets})
