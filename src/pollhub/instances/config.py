"""An instance's configuration, parsed into typed values and checked against its element."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from pollhub.db import configuration as keys
from pollhub.delivery.callback_settings import parse_callback_headers
from pollhub.elements.base import Element
from pollhub.elements.definition import ElementDefinition
from pollhub.errors import BadRequest
from pollhub.polling.config import (
    MAX_REFRESH_MINUTES,
    PollerResource,
    decode_json_string,
    parse_legacy_urls,
    refresh_seconds,
)
from pollhub.polling.plan import check_resource
from pollhub.settings import get_settings

MASK = "********"
# Keys the platform itself treats as secret (Cloud Elements masks the client id too); any
# extra key that looks secret (a misspelt signature key too) is kept secret too.
SECRET_KEYS = frozenset(
    {
        keys.OAUTH_API_KEY,
        keys.OAUTH_API_SECRET,
        keys.SIGNATURE_KEY,
        keys.CALLBACK_HEADERS,
        keys.BASIC_USERNAME,
        keys.BASIC_PASSWORD,
        keys.ACCESS_TOKEN,
        keys.REFRESH_TOKEN,
    }
)
# A key whose name says it holds a secret: apiKey, private_key, signature_key, passwd,
# clientCredential… (a harmless key that happens to match is merely shown masked).
_SECRET_LOOKING = re.compile(r"secret|passw(or)?d|token|credential|key|signature", re.IGNORECASE)
_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


class InstanceConfiguration(BaseModel):
    """The configuration keys pollhub acts on; every other key is kept as sent."""

    model_config = ConfigDict(extra="allow", populate_by_name=False)

    oauth_api_key: str | None = Field(default=None, alias=keys.OAUTH_API_KEY)
    oauth_api_secret: str | None = Field(default=None, alias=keys.OAUTH_API_SECRET)
    oauth_callback_url: str | None = Field(default=None, alias=keys.OAUTH_CALLBACK_URL)
    oauth_scope: str | None = Field(default=None, alias=keys.OAUTH_SCOPE)
    events_enabled: bool = Field(default=False, alias=keys.EVENTS_ENABLED)
    callback_url: str | None = Field(default=None, alias=keys.CALLBACK_URL)
    signature_key: str | None = Field(default=None, alias=keys.SIGNATURE_KEY)
    vendor_type: Literal["polling", "webhook"] | None = Field(default=None, alias=keys.VENDOR_TYPE)
    refresh_interval: float = Field(
        default=keys.DEFAULT_REFRESH_MINUTES,
        gt=0,
        le=MAX_REFRESH_MINUTES,
        allow_inf_nan=False,
        alias=keys.REFRESH_INTERVAL,
    )
    poller_configuration: dict[str, PollerResource] | None = Field(
        default=None, alias=keys.POLLER_CONFIGURATION
    )
    # Webhook elements: fetch each changed object so ``raw`` carries it, as polling does.
    fetch_objects: bool = Field(default=False, alias=keys.FETCH_OBJECTS)
    # Callbacks: extra headers and HTTP Basic on every attempt, and what happens after the
    # last retry (see pollhub.delivery.callback_settings).
    callback_headers: dict[str, str] | None = Field(default=None, alias=keys.CALLBACK_HEADERS)
    basic_username: str | None = Field(default=None, alias=keys.BASIC_USERNAME)
    basic_password: str | None = Field(default=None, alias=keys.BASIC_PASSWORD)
    failure_policy: keys.FailurePolicy = Field(default=keys.RETRY, alias=keys.FAILURE_POLICY)
    # Tokens a client already holds (``externalAuthentication: "initial"``): the access token
    # was obtained at ``refresh_time`` (epoch ms) and lives ``refresh_interval`` seconds.
    user_token: str | None = Field(default=None, alias=keys.ACCESS_TOKEN)
    user_refresh_token: str | None = Field(default=None, alias=keys.REFRESH_TOKEN)
    user_refresh_interval: float | None = Field(
        default=None, ge=0, alias=keys.USER_REFRESH_INTERVAL
    )
    user_refresh_time: float | None = Field(default=None, ge=0, alias=keys.USER_REFRESH_TIME)

    @model_validator(mode="before")
    @classmethod
    def _legacy_poller_urls(cls, data: Any) -> Any:
        # Cloud Elements migrated the pipe form to the JSON form; so do we, when written.
        if not isinstance(data, dict) or keys.LEGACY_POLLER_URLS not in data:
            return data
        data = dict(data)
        urls = data.pop(keys.LEGACY_POLLER_URLS)
        if urls in (None, ""):
            return data  # Cloud Elements' own provisioner clears it this way
        if not isinstance(urls, str):
            raise ValueError(
                f"'{keys.LEGACY_POLLER_URLS}' must be a string of resource|url|… lines"
            )
        try:
            data[keys.POLLER_CONFIGURATION] = parse_legacy_urls(urls)
        except ValueError as exc:
            raise ValueError(f"'{keys.LEGACY_POLLER_URLS}': {exc}") from None
        return data

    @field_validator("vendor_type", mode="before")
    @classmethod
    def _vendor_type_alias(cls, value: Any) -> Any:
        # Cloud Elements' own docs also write "webhooks".
        return "webhook" if value == "webhooks" else value

    @field_validator("refresh_interval", mode="before")
    @classmethod
    def _minutes_not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number of minutes, not a boolean")
        return value

    @field_validator("poller_configuration", mode="before")
    @classmethod
    def _json_string(cls, value: Any) -> Any:
        return decode_json_string(value)

    @field_validator("callback_headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        return parse_callback_headers(value) if value not in (None, "") else None

    @field_validator("failure_policy", mode="before")
    @classmethod
    def _policy_default(cls, value: Any) -> Any:
        return keys.RETRY if value in (None, "") else str(value).lower()

    @model_validator(mode="after")
    def _basic_auth_is_whole(self) -> InstanceConfiguration:
        if self.basic_password and not self.basic_username:
            raise ValueError(f"'{keys.BASIC_USERNAME}' is required with '{keys.BASIC_PASSWORD}'")
        if self.basic_username and any(
            name.lower() == "authorization" for name in self.callback_headers or {}
        ):
            raise ValueError(
                f"'{keys.CALLBACK_HEADERS}' cannot set 'Authorization' when "
                f"'{keys.BASIC_USERNAME}' is set"
            )
        return self

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value:
            _HTTP_URL.validate_python(value)
        return value or None

    def refresh_interval_seconds(self) -> float:
        """The polling period, floored at ``POLLHUB_MIN_REFRESH_SECONDS``."""
        return refresh_seconds(self.refresh_interval)

    def extras(self) -> dict[str, Any]:
        """The keys pollhub does not interpret, as sent."""
        return dict(self.model_extra or {})


def is_secret_key(key: str, element: Element | None = None) -> bool:
    """True for configuration keys whose values are secrets (stored encrypted, shown masked):
    the platform's, any that looks like one, and those ``element`` declares secret."""
    definition = element.definition if element is not None else None
    declared = definition.secret_keys() if definition is not None else frozenset()
    return key in declared or key in SECRET_KEYS or bool(_SECRET_LOOKING.search(key))


def check_sizes(tags: list[str] | None, configuration: dict[str, Any] | None) -> None:
    """Refuse, with a 400, tags or a configuration over the operator's limits
    (``POLLHUB_MAX_TAGS``, ``POLLHUB_MAX_TAG_LENGTH``, ``POLLHUB_MAX_CONFIGURATION_KEYS``,
    ``POLLHUB_MAX_CONFIGURATION_BYTES``)."""
    settings = get_settings()
    if tags is not None:
        if len(tags) > settings.max_tags:
            raise BadRequest(f"'tags': at most {settings.max_tags} tags")
        if any(len(tag) > settings.max_tag_length for tag in tags):
            raise BadRequest(f"'tags': a tag has at most {settings.max_tag_length} characters")
    if configuration is not None:
        if len(configuration) > settings.max_configuration_keys:
            raise BadRequest(f"'configuration': at most {settings.max_configuration_keys} keys")
        size = len(json.dumps(configuration, default=str).encode())
        if size > settings.max_configuration_bytes:
            raise BadRequest(
                f"'configuration': at most {settings.max_configuration_bytes} bytes as JSON"
            )


def parse_configuration(element: Element, raw: dict[str, Any]) -> InstanceConfiguration:
    """Validate ``raw`` for ``element``; a problem is a :class:`BadRequest` naming the key."""
    try:
        config = InstanceConfiguration.model_validate(raw)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc, prefix="configuration")) from exc
    _check_against_element(element, config)
    return config


def effective_vendor_type(element: Element, config: InstanceConfiguration) -> str:
    """``event.vendor.type`` as given, else the element's own mechanism."""
    return config.vendor_type or element.event_mechanism


def effective_poller_configuration(
    element: Element, config: InstanceConfiguration
) -> dict[str, PollerResource]:
    """The resources to poll: as configured, else the element's defaults."""
    if config.poller_configuration is not None:
        return config.poller_configuration
    defaults = element.default_poller_configuration()
    return {name: PollerResource.model_validate(entry) for name, entry in defaults.items()}


def _check_against_element(element: Element, config: InstanceConfiguration) -> None:
    vendor_type = effective_vendor_type(element, config)
    if vendor_type != element.event_mechanism:
        raise BadRequest(
            f"configuration '{keys.VENDOR_TYPE}': {element.key} supports "
            f"'{element.event_mechanism}' events, not '{vendor_type}'"
        )
    if config.events_enabled and not config.callback_url:
        raise BadRequest(
            f"configuration '{keys.CALLBACK_URL}' is required when '{keys.EVENTS_ENABLED}' is true"
        )
    if element.definition is not None:
        _check_declared_keys(element.definition, config)
    for key in element.required_configuration:
        if not (config.model_dump(by_alias=True).get(key) or config.extras().get(key)):
            raise BadRequest(f"configuration '{key}' is required for {element.key}")
    if config.poller_configuration is not None:
        if element.event_mechanism != "polling":
            raise BadRequest(
                f"configuration '{keys.POLLER_CONFIGURATION}': {element.key} receives "
                "webhooks and does not poll"
            )
        for name, resource in config.poller_configuration.items():
            try:
                check_resource(element, resource)
            except ValueError as exc:
                raise BadRequest(
                    f"configuration '{keys.POLLER_CONFIGURATION}.{name}.url': {exc}"
                ) from None


def _check_declared_keys(definition: ElementDefinition, config: InstanceConfiguration) -> None:
    """The element's own keys, typed and checked as its definition declares them."""
    try:
        checked = definition.check_configuration(config.model_dump(by_alias=True) | config.extras())
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    platform = {field.alias for field in InstanceConfiguration.model_fields.values()}
    if config.model_extra is not None:
        config.model_extra.update({k: v for k, v in checked.items() if k not in platform})


def describe_validation_error(exc: ValidationError, prefix: str) -> str:
    """One readable sentence per problem, each naming the offending key."""
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"] if part != "__root__")
        where = f"{prefix} '{location}'" if location else prefix
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)
