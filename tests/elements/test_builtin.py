"""Built-in elements are definition files; Python only behind the capabilities they name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pollhub.elements import catalog
from pollhub.elements.builtin import DEFINITIONS, BrokenDefinition, load_builtin


def definition(key: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEFINITIONS / f"{key}.json").read_text())
    return loaded


def test_every_built_in_element_is_one_definition_file() -> None:
    files = sorted(path.stem for path in DEFINITIONS.glob("*.json"))

    assert sorted(catalog()) == files
    for key, element in catalog().items():
        assert element.definition is not None and element.definition.key == key


def test_change_feeds_and_webhooks_come_from_the_named_capabilities() -> None:
    onedrive, graph = catalog()["onedrivev2"], catalog()["microsoftgraph"]

    assert onedrive.change_feed(onedrive.hub_resources["events"]) is not None
    assert onedrive.webhooks is None and onedrive.polls
    assert graph.webhooks is not None and not graph.polls


def test_docushare_flex_declares_and_validates_its_site_domain() -> None:
    element = catalog()["docushareflex"]
    assert element.definition is not None
    domain = element.definition.configuration_key("docushare.domain")

    assert domain is not None and domain.required and domain.oauthUrlParameter == "siteAddress"
    assert domain.check("MySite.DocuShareFlex.com") == "mysite.docushareflex.com"
    with pytest.raises(ValueError, match="host name"):
        domain.check("not a host/")


def test_a_change_feed_the_capabilities_lack_is_refused_naming_it(tmp_path: Path) -> None:
    broken = definition("onedrivev2")
    broken["resources"]["events"]["changeFeed"] = "noSuchFeed"
    path = tmp_path / "onedrivev2.json"
    path.write_text(json.dumps(broken))

    with pytest.raises(BrokenDefinition, match="noSuchFeed"):
        load_builtin(path)


def test_webhook_events_without_webhook_mechanics_are_refused(tmp_path: Path) -> None:
    broken = definition("onedrivev2")
    broken["eventMechanisms"] = ["webhook"]
    path = tmp_path / "onedrivev2.json"
    path.write_text(json.dumps(broken))

    with pytest.raises(BrokenDefinition, match="WEBHOOKS"):
        load_builtin(path)


def test_a_typo_in_a_definition_file_is_refused(tmp_path: Path) -> None:
    broken = {**definition("docushareflex"), "basUrl": "https://example.com"}
    path = tmp_path / "docushareflex.json"
    path.write_text(json.dumps(broken))

    with pytest.raises(ValidationError, match="basUrl"):
        load_builtin(path)
