"""What an instance of an element without OAuth sends its provider: the API key or user
name and password its configuration holds (secrets included), as its definition says."""

from __future__ import annotations

import httpx

from pollhub.db.models import Instance
from pollhub.elements.base import Element
from pollhub.elements.credentials import configured_auth


def instance_credentials(element: Element, instance: Instance) -> httpx.Auth | None:
    """The authentication of ``instance``'s requests (None: the provider needs none).

    Raises :class:`~pollhub.elements.credentials.MissingCredentials` when the element's
    definition now names a key the instance's configuration lacks.
    """
    if element.definition is None:
        return None
    return configured_auth(element.definition, {**instance.configuration, **instance.secrets})
