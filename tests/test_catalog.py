"""The element catalog: /elements and each element's OAuth URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests import seeds
from tests.conftest import Tenant

API = "/elements/api-v2"


async def test_the_catalog_lists_the_five_elements_and_how_they_deliver_events(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(f"{API}/elements", headers=tenant.headers)

    assert response.status_code == 200
    mechanisms = {e["key"]: e["eventTypes"] for e in response.json()}
    assert mechanisms == {
        "docushareflex": ["polling"],
        "dropbox": ["polling"],
        "googlesuite": ["polling"],
        "microsoftgraph": ["webhook"],
        "onedrivev2": ["polling"],
    }


async def test_an_element_shows_its_resources_and_default_poller_configuration(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(f"{API}/elements/googlesuite", headers=tenant.headers)

    element = response.json()
    assert element["authentication"]["tokenUrl"] == "https://oauth2.googleapis.com/token"
    # The defaults are exactly what Cloud Elements documented for Google Suite (seed 002).
    documented = seeds.GOOGLESUITE["configuration"]["event.poller.configuration"]
    assert element["defaultPollerConfiguration"] == documented
    assert [r["name"] for r in element["resources"]] == list(documented)


async def test_an_element_lists_its_hub_resources_and_how_each_is_read(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """What a poller ``url`` or a hub GET can name: the path, the where conditions the
    provider filters on (the rest is applied after fetching), paging, how deletes are
    seen, a fan-out's parent."""
    docushare = (await client.get(f"{API}/elements/docushareflex", headers=tenant.headers)).json()
    google = (await client.get(f"{API}/elements/googlesuite", headers=tenant.headers)).json()

    resources = {r["path"]: r for r in docushare["hubResources"] + google["hubResources"]}
    documents = resources["/hubs/documents/documents"]
    assert documents["whereSentToProvider"] == {
        "modified_date": [">", ">="],
        "owner": ["="],
        "title": ["=", "like"],
    }
    assert documents["whereAppliedAfterFetching"] == "every other condition"
    assert documents["pagination"] == "nextLink"
    assert documents["pageSize"] == {"param": "pageSize", "default": 20, "maximum": 200}
    assert (documents["changeFeed"], documents["deletes"]) == (False, "markedDeleted")
    assert documents["objectPath"] == "/hubs/documents/documents/{id}"
    feed = resources["/hubs/documents/events"]
    assert (feed["changeFeed"], feed["deletes"]) == (True, "changeFeed")
    assert feed["whereSentToProvider"] == {}
    assert feed["whereAppliedAfterFetching"] == "every condition"
    events = resources["/hubs/general/calendars/{calendarId}/events"]
    assert events["fanOut"] == {"placeholder": "calendarId", "parent": "/hubs/general/calendars"}
    assert events["whereSentToProvider"] == {"updated": [">", ">="]}
    assert events["pagination"] == "cursor"
    messages = resources["/hubs/general/messages"]  # all of them into Gmail's search q
    assert messages["whereSentToProvider"] == {
        "from": ["!=", "="],
        "labelIds": ["!=", "="],
        "lastUpdated": ["<", "<=", ">", ">="],
        "subject": ["!=", "="],
        "to": ["!=", "="],
    }
    assert resources["/hubs/general/contacts"]["deletes"] == "missingFromUnfilteredList"
    assert resources["/hubs/general/contacts"]["objectPath"] is None
    assert resources["/hubs/general/calendars"]["fanOut"] is None
    # The fields the catalog had are kept (CONTRACT section 3).
    assert {"key", "name", "eventTypes", "authentication", "defaultPollerConfiguration"} <= set(
        docushare
    )


async def test_an_unknown_element_is_a_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(f"{API}/elements/myspace", headers=tenant.headers)

    assert response.status_code == 404
    assert "myspace" in response.json()["message"]


async def test_an_element_id_written_in_other_digits_is_a_clear_4xx_not_a_500(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # '²' passes str.isdigit() but not int(): schemathesis found the 500.
    for method, path in (
        ("GET", "/elements/%C2%B2/instances"),
        ("GET", "/elements/%C2%B2/instances/1"),
        ("DELETE", "/elements/%C2%B2/instances/1"),
    ):
        response = await client.request(method, f"{API}{path}", headers=tenant.headers)

        assert response.status_code in (400, 404), path
        assert response.json()["message"]


@pytest.mark.parametrize(
    ("key", "authorize", "extra"),
    [
        (
            "onedrivev2",
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            {"scope": ["files.readwrite offline_access"]},
        ),
        (
            "microsoftgraph",
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            {"scope": ["Calendars.Read offline_access"]},
        ),
        (
            "googlesuite",
            "https://accounts.google.com/o/oauth2/v2/auth",
            {"access_type": ["offline"], "prompt": ["consent"]},
        ),
    ],
)
async def test_oauth_url_points_at_the_providers_authorize_page(
    client: httpx.AsyncClient, tenant: Tenant, key: str, authorize: str, extra: dict[str, list[str]]
) -> None:
    response = await client.get(
        f"{API}/elements/{key}/oauth/url",
        params={"apiKey": "client-1", "apiSecret": "s", "callbackUrl": "https://app.example/cb"},
        headers=tenant.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["element"] == key
    url = urlsplit(body["oauthUrl"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == authorize
    query = parse_qs(url.query)
    assert query["client_id"] == ["client-1"]
    assert query["redirect_uri"] == ["https://app.example/cb"]
    assert query["response_type"] == ["code"]
    assert query["state"] == [key]
    assert "s" not in query.get("client_secret", []), "the secret never goes to the browser"
    for name, value in extra.items():
        assert query[name] == value


async def test_oauth_url_takes_scope_and_state(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        f"{API}/elements/microsoftgraph/oauth/url",
        params={
            "apiKey": "k",
            "callbackUrl": "https://app.example/cb",
            "scope": "Calendars.Read Calendars.ReadWrite offline_access",
            "state": "xyz",
        },
        headers=tenant.headers,
    )

    query = parse_qs(urlsplit(response.json()["oauthUrl"]).query)
    assert query["scope"] == ["Calendars.Read Calendars.ReadWrite offline_access"]
    assert query["state"] == ["xyz"]


async def test_docushare_oauth_url_is_on_the_customers_site(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    params = {"apiKey": "k", "callbackUrl": "https://app.example/cb"}

    without_site = await client.get(
        f"{API}/elements/docushareflex/oauth/url", params=params, headers=tenant.headers
    )
    with_site = await client.get(
        f"{API}/elements/docushareflex/oauth/url",
        params={**params, "siteAddress": "mysite.docushareflex.com"},
        headers=tenant.headers,
    )

    assert without_site.status_code == 400
    assert "siteAddress" in without_site.json()["message"]
    assert with_site.json()["oauthUrl"].startswith(
        "https://mysite.docushareflex.com/oauth2/authorize?"
    )


async def test_the_openapi_document_lists_the_site_address_of_the_oauth_url(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()

    operation = document["paths"][f"{API}/elements/{{key}}/oauth/url"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert {"apiKey", "callbackUrl", "scope", "state", "siteAddress"} <= set(parameters)
    site = parameters["siteAddress"]
    assert site["in"] == "query" and site["required"] is False
    assert "DocuShare Flex" in site["description"]


async def test_oauth_url_needs_an_api_key_and_callback(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(f"{API}/elements/onedrivev2/oauth/url", headers=tenant.headers)

    assert response.status_code == 400
    assert "apiKey" in response.json()["message"]
