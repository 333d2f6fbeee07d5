"""Each simulator serves only the hosts it registered; every element has a simulator."""

from __future__ import annotations

import httpx
import pytest

from pollhub.elements import catalog
from pollhub.sandbox import create_sandbox_app, simulators
from pollhub.sandbox.simulators import MissingSimulator, simulator_for_host
from tests.sandbox.conftest import CLIENT, Sandbox


def test_a_host_no_simulator_registered_is_a_404_naming_it(sandbox: Sandbox) -> None:
    # Before, any unknown host was taken for a DocuShare Flex site and answered as one.
    response = httpx.post(
        f"{sandbox.url}/api.unknown-provider.example/oauth2/token",
        data={**CLIENT, "grant_type": "authorization_code", "code": "any"},
        timeout=30,
    )

    assert response.status_code == 404
    assert "api.unknown-provider.example" in response.json()["error"]


def test_docushare_flex_sites_are_still_served_under_their_own_domain(sandbox: Sandbox) -> None:
    response = httpx.post(
        f"{sandbox.url}/acme.docushareflex.com/oauth2/token",
        data={**CLIENT, "grant_type": "authorization_code", "code": "any"},
        timeout=30,
    )

    assert response.status_code == 200
    assert response.json()["access_token"].startswith("dsf_at_")


def test_every_built_in_element_has_a_simulator() -> None:
    covered = {key for simulator in simulators() for key in simulator.elements}

    assert set(catalog()) <= covered


def test_a_sandbox_for_an_element_without_simulator_refuses_to_start_naming_it() -> None:
    with pytest.raises(MissingSimulator, match="'crmwithoutsimulator'"):
        create_sandbox_app(element_keys=[*catalog(), "crmwithoutsimulator"])


def test_exact_hosts_win_over_a_wildcard_site_pattern() -> None:
    found = simulator_for_host(simulators(), "graph.microsoft.com")
    site = simulator_for_host(simulators(), "Acme.DocuShareFlex.com")

    assert found is not None and found.provider == "graph"
    assert site is not None and site.provider == "docushare"
    assert simulator_for_host(simulators(), "docushareflex.com.evil.example") is None
