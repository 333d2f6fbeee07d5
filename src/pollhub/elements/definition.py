"""An element as data: the definition format of CONTRACT section 7.

One JSON document says everything pollhub needs to know of a provider: who it is (key,
name, hub), where its API lives (``baseUrl``), how an instance authenticates
(OAuth 2.0 authorization code, an API key, HTTP basic, or nothing), which configuration
keys an instance carries (with their types and validation), which resources it offers and
how to page and filter them, and how its events arrive.

Organizations register custom elements in this shape (``POST /elements``); built-in
elements are kept in it as files. :func:`definition_json_schema` is the published JSON
Schema (``GET /elements/api-v2/elements/schema``, ``docs/element-definition.schema.json``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pollhub.elements.resources import ResourceDefinition, match_resource

ELEMENT_KEY_PATTERN = r"^[a-z][a-z0-9_-]{1,63}$"
# Dotted lower-case words, like the platform's own keys (``oauth.api.key``).
CONFIGURATION_KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"
# ``{docushare.domain}``: a configuration key's value put into a URL for one instance.
CONFIGURATION_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_.]*)\}")
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")

ConfigurationType = Literal["string", "secret", "boolean", "number", "integer", "url", "hostname"]
EventMechanism = Literal["polling", "webhook"]
# A resource's path under the hub: ``tickets``, ``calendars/{calendarId}/events``.
ResourceName = Annotated[str, Field(pattern=r"^[A-Za-z{][A-Za-z0-9_{}/-]{0,199}$")]


class _Strict(BaseModel):
    """A part of a definition: unknown fields are refused, so a typo is a 400, not ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _check_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an absolute http(s) URL such as https://api.example.com/v2")
    return value.rstrip("/")


class OAuth2Authentication(_Strict):
    """OAuth 2.0 authorization code grant: instances are created with ``providerData.code``
    and their access tokens refreshed like the built-in elements'."""

    type: Literal["oauth2"]
    authorizationUrl: str = Field(description="the provider's authorize page")
    tokenUrl: str = Field(description="the provider's token endpoint")
    scope: str = Field(default="", description="scopes asked for when the instance gives none")
    authorizationParameters: dict[str, str] = Field(
        default_factory=dict,
        description="extra query parameters of the authorize URL, e.g. access_type=offline",
    )

    _urls = field_validator("authorizationUrl", "tokenUrl")(_check_url)


class ApiKeyAuthentication(_Strict):
    """An API key from the instance configuration, sent in a header or a query parameter."""

    type: Literal["apiKey"]
    in_: Literal["header", "query"] = Field(alias="in", description="where the key is sent")
    name: str = Field(min_length=1, description="the header or query parameter's name")
    configKey: str = Field(
        pattern=CONFIGURATION_KEY_PATTERN, description="the configuration key holding it"
    )
    prefix: str = Field(default="", description='put before the key, e.g. "Bearer "')


class BasicAuthentication(_Strict):
    """HTTP basic authentication with a user name and password from the configuration."""

    type: Literal["basic"]
    usernameKey: str = Field(pattern=CONFIGURATION_KEY_PATTERN)
    passwordKey: str = Field(pattern=CONFIGURATION_KEY_PATTERN)


class NoAuthentication(_Strict):
    """A public API."""

    type: Literal["none"]


Authentication = Annotated[
    OAuth2Authentication | ApiKeyAuthentication | BasicAuthentication | NoAuthentication,
    Field(discriminator="type"),
]


class Validation(_Strict):
    """Extra checks of one configuration value."""

    pattern: str | None = Field(default=None, description="a regular expression it must match")
    minLength: int | None = Field(default=None, ge=0)
    maxLength: int | None = Field(default=None, ge=1)
    minimum: float | None = None
    maximum: float | None = None
    enum: list[str | int | float | bool] | None = Field(default=None, min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a regular expression ({exc})") from exc
        return value


class ConfigurationKey(_Strict):
    """One key an instance of this element carries in its configuration."""

    key: str = Field(pattern=CONFIGURATION_KEY_PATTERN, description="e.g. api.key")
    label: str = ""
    description: str = ""
    type: ConfigurationType = Field(
        default="string", description="secret values are encrypted at rest and masked on read"
    )
    required: bool = False
    default: str | int | float | bool | None = None
    validation: Validation | None = None
    oauthUrlParameter: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        description="the query parameter of GET /elements/{key}/oauth/url that gives this "
        "key's value (e.g. siteAddress for a per-customer site)",
    )

    @property
    def secret(self) -> bool:
        """True when the value must be encrypted at rest and never shown."""
        return self.type == "secret"

    def check(self, value: Any) -> Any:
        """``value`` in this key's type, or ValueError saying what is wrong with it."""
        typed = _as_type(self.type, value)
        rules = self.validation
        if rules is None:
            return typed
        if rules.enum is not None and typed not in rules.enum:
            raise ValueError(f"must be one of {', '.join(map(str, rules.enum))}")
        if isinstance(typed, str):
            if rules.pattern is not None and not re.fullmatch(rules.pattern, typed):
                raise ValueError(f"must match {rules.pattern}")
            if rules.minLength is not None and len(typed) < rules.minLength:
                raise ValueError(f"must be at least {rules.minLength} characters long")
            if rules.maxLength is not None and len(typed) > rules.maxLength:
                raise ValueError(f"must be at most {rules.maxLength} characters long")
        if isinstance(typed, int | float) and not isinstance(typed, bool):
            if rules.minimum is not None and typed < rules.minimum:
                raise ValueError(f"must be at least {rules.minimum:g}")
            if rules.maximum is not None and typed > rules.maximum:
                raise ValueError(f"must be at most {rules.maximum:g}")
        return typed


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _as_type(kind: ConfigurationType, value: Any) -> Any:
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError("must be true or false")
    if kind in ("number", "integer"):
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or (kind == "integer" and not number.is_integer()):
            raise ValueError(f"must be a{'n integer' if kind == 'integer' else ' number'}")
        return int(number) if kind == "integer" else number
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if kind == "url" and not _URL.match(value):
        raise ValueError("must be an absolute http(s) URL")
    if kind == "hostname":
        if not _HOSTNAME.match(value.lower()):
            raise ValueError("must be a host name such as example.com")
        return value.lower()
    return value


class ElementDefinition(BaseModel):
    """A whole element (CONTRACT section 7)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        title="pollhub element definition",
        json_schema_extra={"$id": "https://pollhub.dev/schemas/element-definition.json"},
    )

    key: str = Field(pattern=ELEMENT_KEY_PATTERN, description="unique, e.g. tickets")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    hub: str = Field(pattern=r"^[a-z][a-z0-9-]{0,49}$", description="the /hubs/{hub} segment")
    baseUrl: str = Field(
        description="the API's root; resource paths are relative to it. May hold "
        "{configuration.key} placeholders"
    )
    authentication: Authentication
    configuration: list[ConfigurationKey] = Field(default_factory=list)
    resources: dict[ResourceName, ResourceDefinition] = Field(
        default_factory=dict, description="what the element offers at /hubs/{hub}/{name}"
    )
    eventMechanisms: list[EventMechanism] = Field(
        default_factory=lambda: list[EventMechanism](["polling"]),
        min_length=1,
        description="how events arrive",
    )
    defaultPollerConfiguration: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="event.poller.configuration when an instance gives none; by default "
        "every resource with its datesConfiguration",
    )

    _url = field_validator("baseUrl")(_check_url)

    @model_validator(mode="after")
    def _references_are_declared(self) -> ElementDefinition:
        declared = {entry.key for entry in self.configuration}
        if len(declared) != len(self.configuration):
            raise ValueError("configuration: a key is declared twice")
        for where, key in self._referenced_keys():
            if key not in declared:
                raise ValueError(
                    f"{where}: configuration key '{key}' is not declared in 'configuration'"
                )
        for name in self.defaultPollerConfiguration or {}:
            if match_resource(self.resources, name, objects=False) is None:
                raise ValueError(f"defaultPollerConfiguration.{name}: no such resource")
        return self

    def _referenced_keys(self) -> list[tuple[str, str]]:
        auth = self.authentication
        found = [("baseUrl", key) for key in CONFIGURATION_PLACEHOLDER.findall(self.baseUrl)]
        if isinstance(auth, ApiKeyAuthentication):
            found.append(("authentication.configKey", auth.configKey))
        elif isinstance(auth, BasicAuthentication):
            found += [
                ("authentication.usernameKey", auth.usernameKey),
                ("authentication.passwordKey", auth.passwordKey),
            ]
        elif isinstance(auth, OAuth2Authentication):
            for field in ("authorizationUrl", "tokenUrl"):
                url = getattr(auth, field)
                placeholders = CONFIGURATION_PLACEHOLDER.findall(url)
                found += [(f"authentication.{field}", key) for key in placeholders]
        return found

    def check_configuration(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The element's own keys of an instance configuration, typed, defaults filled in.

        A missing required key or a value that does not fit is a ValueError whose message
        names the key (``configuration 'api.key': …``); keys the element does not declare
        are left to the caller.
        """
        checked: dict[str, Any] = {}
        for entry in self.configuration:
            value = values.get(entry.key)
            if value is None or value == "":
                if entry.required and entry.default is None:
                    raise ValueError(
                        f"configuration '{entry.key}' is required for {self.key}"
                        + (f" ({entry.label})" if entry.label else "")
                    )
                if entry.default is not None:
                    checked[entry.key] = entry.default
                continue
            try:
                checked[entry.key] = entry.check(value)
            except ValueError as exc:
                raise ValueError(f"configuration '{entry.key}': {exc}") from None
        return checked

    def outbound_urls(self) -> list[tuple[str, str]]:
        """The provider URLs pollhub itself will call, by field, that can be checked now
        (a host taken from an instance's configuration is checked when called)."""
        urls = [("baseUrl", self.baseUrl)]
        if isinstance(self.authentication, OAuth2Authentication):
            urls.append(("authentication.tokenUrl", self.authentication.tokenUrl))
        for name, resource in self.resources.items():
            if resource.base:
                urls.append((f"resources.{name}.base", resource.base))
            if resource.path.startswith("https://"):
                urls.append((f"resources.{name}.path", resource.path))
        return [(field, url) for field, url in urls if not CONFIGURATION_PLACEHOLDER.search(url)]

    def configuration_key(self, key: str) -> ConfigurationKey | None:
        """The declaration of one configuration key, if this element declares it."""
        return next((entry for entry in self.configuration if entry.key == key), None)

    def secret_keys(self) -> frozenset[str]:
        """Configuration keys whose values are secrets."""
        return frozenset(entry.key for entry in self.configuration if entry.secret)


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`ElementDefinition` (what ``POST /elements`` accepts)."""
    schema = ElementDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
