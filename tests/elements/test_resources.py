"""Resource definitions: validation, hub path matching, filters, provider URLs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pollhub.elements import where
from pollhub.elements.resources import (
    ResourceDefinition,
    match_resource,
    provider_resource_url,
    unfilled,
)

RESOURCES = {
    "files": ResourceDefinition(path="/me/drive/items"),
    "folders/{id}/contents": ResourceDefinition(path="/me/drive/items/{id}/children", object=""),
    "calendars/{calendarId}/events": ResourceDefinition(path="/calendars/{calendarId}/events"),
    "calendars/primary/changed-events": ResourceDefinition(path="/calendars/primary/events"),
    "calendars/{calendarId}/changed-events": ResourceDefinition(path="/calendars/{calendarId}/e"),
}


def test_a_hub_path_finds_the_most_literal_resource_and_its_values() -> None:
    found = match_resource(RESOURCES, "/calendars/team@x.com/events")
    assert found is not None
    assert (found.key, found.values, found.object_id) == (
        "calendars/{calendarId}/events",
        {"calendarId": "team@x.com"},
        None,
    )
    primary = match_resource(RESOURCES, "calendars/primary/changed-events")
    assert primary is not None and primary.key == "calendars/primary/changed-events"


def test_a_hub_path_one_segment_longer_names_one_object() -> None:
    found = match_resource(RESOURCES, "files/abc")
    assert found is not None and (found.key, found.object_id) == ("files", "abc")
    assert match_resource(RESOURCES, "folders/1/contents/2") is None  # no single-object call
    assert match_resource(RESOURCES, "nothing") is None


def test_a_literal_placeholder_is_the_fan_out_form() -> None:
    found = match_resource(RESOURCES, "calendars/{calendarId}/changed-events")
    assert found is not None and unfilled(found.values) == ["calendarId"]


def test_provider_urls_fill_config_and_path_placeholders_encoded() -> None:
    url = provider_resource_url(
        "https://{docushare.domain}/api",
        "/calendars/{calendarId}/events",
        {"calendarId": "a/b#c"},
        {"docushare.domain": "acme.docushareflex.com"},
    )
    assert url == "https://acme.docushareflex.com/api/calendars/a%2Fb%23c/events"
    with pytest.raises(KeyError):
        provider_resource_url("https://x", "/{id}", {}, {})


def test_filters_map_operators_to_parameters_and_templates() -> None:
    definition = ResourceDefinition.model_validate(
        {
            "path": "/items",
            "filters": {
                "modified": {">": "modifiedAfter"},
                "name": {"=": {"param": "$filter", "value": "name eq '{value}'", "join": " and "}},
                "size": {">": {"param": "$filter", "value": "size gt {value}", "join": " and "}},
            },
        }
    )
    translation = definition.translate(
        where.parse("modified > '2026-01-01' and name = 'a' and size > 3 and kind = 'x'")
    )
    assert translation.params == {
        "modifiedAfter": "2026-01-01",
        "$filter": "name eq 'a' and size gt 3",
    }
    assert translation.residual == where.Condition("kind", "=", "x")


@pytest.mark.parametrize(
    "bad",
    [
        {"path": "items"},
        {"path": "/items", "pagination": {"type": "cursor", "field": "next"}},
        {"path": "/items", "pagination": {"type": "nextLink"}},
        {"path": "/items", "pagination": {"type": "sideways"}},
        {"path": "/items", "filters": {"a": {"~": "x"}}},
        {"path": "/items", "deletedWhen": "status ="},
        {"path": "/items", "unknown": 1},
    ],
)
def test_malformed_definitions_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ResourceDefinition.model_validate(bad)


def test_page_size_defaults_to_twenty_and_respects_the_maximum() -> None:
    assert ResourceDefinition(path="/x").page_size(None) == 20
    capped = ResourceDefinition.model_validate(
        {"path": "/x", "pageSize": {"param": "top", "default": 50, "maximum": 100}}
    )
    assert (capped.page_size(None), capped.page_size(500), capped.page_size(7)) == (50, 100, 7)
