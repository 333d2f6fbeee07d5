"""The console's forms: what a browser sent, turned into the API's request bodies, and the
services' error messages put back next to the field they name.

Parsing only; every rule about instances stays in the services, which name the offending
key in their :class:`~pollhub.errors.BadRequest` messages (``configuration 'key': …``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError
from starlette.datastructures import FormData

from pollhub.db import configuration as keys
from pollhub.elements.base import Element
from pollhub.instances.schemas import InstanceCreate

from .session import PendingAuthorization

FORM_ERROR = "_form"
_QUOTED = re.compile(r"'([^']+)'")
_POLLER = keys.POLLER_CONFIGURATION
_FIELD_BY_KEY = {
    "name": "name",
    "tags": "tags",
    keys.EVENTS_ENABLED: "events_enabled",
    keys.CALLBACK_URL: "callback_url",
    keys.SIGNATURE_KEY: "signature_key",
    keys.REFRESH_INTERVAL: "refresh_interval",
    keys.OAUTH_API_KEY: "client_id",
    keys.OAUTH_API_SECRET: "client_secret",
    keys.OAUTH_SCOPE: "scope",
    _POLLER: "resources",
}

Errors = dict[str, str]


def config_field_id(key: str) -> str:
    """The form field of an element's required configuration key (``docushare.domain``)."""
    return "config-" + re.sub(r"[^a-z0-9]+", "-", key.lower())


class AskedKey(NamedTuple):
    """A configuration key the connect form asks for."""

    key: str
    label: str
    secret: bool
    required: bool


def asked_keys(element: Element) -> list[AskedKey]:
    """The configuration keys to ask for before connecting: those an element's definition
    declares (an API key, a site), else the ones it requires."""
    if element.definition is not None:
        return [
            AskedKey(e.key, e.label or e.key, e.secret, e.required)
            for e in element.definition.configuration
        ]
    return [AskedKey(key, key, False, True) for key in element.required_configuration]


def text(form: FormData, name: str) -> str:
    """A text field, stripped; absent is empty."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass
class ConnectForm:
    """Step one: the OAuth app that asks the user for access."""

    client_id: str = ""
    client_secret: str = ""
    scope: str = ""
    configuration: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, form: FormData, element: Element) -> ConnectForm:
        """Read the connect form of ``element``."""
        return cls(
            client_id=text(form, "client_id"),
            client_secret=text(form, "client_secret"),
            scope=text(form, "scope") or element.default_scope,
            configuration={
                asked.key: text(form, config_field_id(asked.key)) for asked in asked_keys(element)
            },
        )

    def as_configuration(self, element: Element) -> dict[str, Any]:
        """The instance configuration this much of the form gives."""
        oauth = {
            keys.OAUTH_API_KEY: self.client_id,
            keys.OAUTH_API_SECRET: self.client_secret,
            keys.OAUTH_SCOPE: self.scope,
        }
        given = {k: v for k, v in self.configuration.items() if v}
        return {**oauth, **given} if element.uses_oauth else given


@dataclass
class ResourceChoice:
    """One pollable resource on the form: chosen or not, with its configuration as JSON."""

    index: int
    name: str
    description: str
    selected: bool
    configuration: str

    @property
    def field_id(self) -> str:
        """The id of its configuration text area."""
        return f"resource-{self.index}"


@dataclass
class CreateForm:
    """Step two: everything about the instance once the provider granted access."""

    name: str = ""
    tags: str = ""
    events_enabled: bool = True
    callback_url: str = ""
    signature_key: str = ""
    refresh_interval: str = "15"
    resources: list[ResourceChoice] = field(default_factory=list)

    @classmethod
    def defaults(cls, element: Element) -> CreateForm:
        """The blank form: every resource chosen with the element's default configuration."""
        resources = [
            ResourceChoice(
                index=i,
                name=r.name,
                description=r.description,
                selected=True,  # as the API does when no poller configuration is given
                configuration=json.dumps(r.default_configuration(), indent=2),
            )
            for i, r in enumerate(element.resources)
        ]
        return cls(name=f"My {element.name}", resources=resources)

    @classmethod
    def parse(cls, form: FormData, element: Element) -> CreateForm:
        """Read the submitted form of ``element``."""
        chosen = set(form.getlist("resources"))
        resources = [
            ResourceChoice(
                index=i,
                name=r.name,
                description=r.description,
                selected=str(i) in chosen,
                configuration=text(form, f"resource-{i}"),
            )
            for i, r in enumerate(element.resources)
        ]
        return cls(
            name=text(form, "name"),
            tags=text(form, "tags"),
            events_enabled=form.get("events_enabled") == "on",
            callback_url=text(form, "callback_url"),
            signature_key=text(form, "signature_key"),
            refresh_interval=text(form, "refresh_interval"),
            resources=resources,
        )

    def to_request(
        self, element: Element, pending: PendingAuthorization
    ) -> tuple[InstanceCreate | None, Errors]:
        """The ``POST /instances`` body this form means, or the fields it cannot parse."""
        errors: Errors = {}
        oauth = {
            keys.OAUTH_API_KEY: pending.client_id,
            keys.OAUTH_API_SECRET: pending.client_secret,
            keys.OAUTH_CALLBACK_URL: pending.redirect_uri,
            keys.OAUTH_SCOPE: pending.scope,
        }
        configuration: dict[str, Any] = {
            **(oauth if element.uses_oauth else {}),
            **pending.configuration,
            keys.EVENTS_ENABLED: self.events_enabled,
        }
        if self.callback_url:
            configuration[keys.CALLBACK_URL] = self.callback_url
        if self.signature_key:
            configuration[keys.SIGNATURE_KEY] = self.signature_key
        if element.polls:
            if self.refresh_interval:
                configuration[keys.REFRESH_INTERVAL] = self.refresh_interval
            configuration[_POLLER] = self._poller_configuration(errors)
        body = {
            "element": {"key": element.key},
            "providerData": {"code": pending.code} if element.uses_oauth else None,
            "configuration": configuration,
            "tags": [t.strip() for t in self.tags.split(",") if t.strip()],
            "name": self.name,
        }
        try:
            request = InstanceCreate.model_validate(body)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                errors.setdefault(
                    _FIELD_BY_KEY.get(str(error["loc"][0]), FORM_ERROR), str(error["msg"])
                )
            return None, errors
        return (None, errors) if errors else (request, errors)

    def _poller_configuration(self, errors: Errors) -> dict[str, Any]:
        chosen = [r for r in self.resources if r.selected]
        if self.events_enabled and self.resources and not chosen:
            errors["resources"] = "Select at least one resource to poll."
        poller: dict[str, Any] = {}
        for resource in chosen:
            try:
                entry = json.loads(resource.configuration)
            except json.JSONDecodeError as exc:
                errors[resource.field_id] = f"Not valid JSON: {exc}"
                continue
            if not isinstance(entry, dict):
                errors[resource.field_id] = 'Must be a JSON object, such as {"url": …}.'
                continue
            poller[resource.name] = entry
        return poller


def errors_by_field(message: str, element: Element) -> Errors:
    """Put each problem of a service's message next to the field whose key it names."""
    errors: Errors = {}
    for problem in message.split("; "):
        target = FORM_ERROR
        for key in _QUOTED.findall(problem):
            target = _field_for_key(key, element) or target
            if target != FORM_ERROR:
                break
        errors[target] = f"{errors[target]} {problem}" if target in errors else problem
    return errors


def _field_for_key(key: str, element: Element) -> str | None:
    if key.startswith(f"{_POLLER}."):
        rest = key[len(_POLLER) + 1 :]
        for i, resource in enumerate(element.resources):
            if rest == resource.name or rest.startswith(f"{resource.name}."):
                return f"resource-{i}"
    if key in {asked.key for asked in asked_keys(element)}:
        return config_field_id(key)
    return _FIELD_BY_KEY.get(key)
