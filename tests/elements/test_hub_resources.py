"""Each element's hub resources: where clauses become the provider's own filter, what it
cannot filter stays to be applied to fetched objects, fan-outs skip what is polled by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pollhub.elements import get_element, where
from pollhub.elements.hub import HubPathError, plan_call
from pollhub.polling.config import PollerResource
from pollhub.polling.plan import (
    check_resource,
    describe_resource,
    plan_resource,
    skipped_parents,
)
from tests import seeds

WHEN = "'2026-01-01T00:00:00Z'"


@pytest.mark.parametrize(
    ("element", "path", "clause", "params", "residual"),
    [
        (
            "onedrivev2",
            "/hubs/documents/folders/root/contents",
            f"name = 'a.txt' and lastModifiedDateTime > {WHEN} and size > 3",
            {"$filter": "name eq 'a.txt' and lastModifiedDateTime gt 2026-01-01T00:00:00Z"},
            "size > 3",
        ),
        (
            "googlesuite",
            "/hubs/general/calendars/primary/events",
            f"updated >= {WHEN} and summary like 'Stand%'",
            {"updatedMin": "2026-01-01T00:00:00Z"},
            "summary like 'Stand%'",
        ),
        (
            "googlesuite",
            "/hubs/general/contacts",
            "names.0.displayName = 'Ann'",
            {},
            "names.0.displayName = 'Ann'",
        ),
        (
            "docushareflex",
            "/hubs/documents/documents",
            f"modified_date > {WHEN} and title like 'Q%' and owner = 'ann'",
            {"modifiedAfter": "2026-01-01T00:00:00Z", "titleLike": "Q%", "owner": "ann"},
            None,
        ),
        # Gmail: every condition it can search on joins the one search query q.
        (
            "googlesuite",
            "/hubs/general/messages",
            f"subject = 'Invoice' and lastUpdated > {WHEN}",
            {"q": "subject:Invoice after:1767225600"},
            None,
        ),
        (
            "googlesuite",
            "/hubs/general/messages",
            "subject = 'Q3 report' and from != 'bob@example.com' and labelIds = 'UNREAD' "
            "and lastUpdated <= '2026-02-01' and threadId = 't1'",
            {"q": 'subject:"Q3 report" -from:bob@example.com label:UNREAD before:1769904000'},
            "threadId = 't1'",
        ),
        (
            "googlesuite",
            "/hubs/general/messages",
            "subject = 'say \"hi\"' and lastUpdated > 'soon' and (to = 'a' or to = 'b')",
            {},
            "subject = 'say \"hi\"' and lastUpdated > 'soon' and (to = 'a' or to = 'b')",
        ),
        (
            "docushareflex",
            "/hubs/documents/documents",
            "title = 'a' or title = 'b'",
            {},
            "title = 'a' or title = 'b'",
        ),
    ],
)
def test_where_clauses_become_the_providers_filter_or_stay_local(
    element: str, path: str, clause: str, params: dict[str, str], residual: str | None
) -> None:
    found = get_element(element)
    assert found is not None
    call = plan_call(found, path, clause)
    assert call.translation.params == params
    left = call.translation.residual
    assert (where.render(left) if left else None) == residual


def test_an_unknown_hub_path_names_the_resources_there_are() -> None:
    element = get_element("docushareflex")
    assert element is not None
    with pytest.raises(HubPathError, match="/hubs/documents/documents"):
        plan_call(element, "/hubs/documents/folders", None)
    with pytest.raises(HubPathError):
        plan_call(element, "/hubs/general/documents", None)


def test_every_default_poller_resource_is_a_hub_resource() -> None:
    for key in ("onedrivev2", "googlesuite", "docushareflex"):
        element = get_element(key)
        assert element is not None
        for entry in element.default_poller_configuration().values():
            assert element.find_resource(entry["url"], objects=False) is not None, entry["url"]


def test_the_seed_calendar_fan_out_leaves_the_primary_calendar_to_its_own_resource() -> None:
    element = get_element("googlesuite")
    assert element is not None
    entries = seeds.GOOGLESUITE["configuration"]["event.poller.configuration"]
    resources = {name: PollerResource.model_validate(e) for name, e in entries.items()}
    assert skipped_parents(element, resources, "calendars/{calendarId}/changed-events") == {
        "primary"
    }
    assert skipped_parents(element, resources, "calendars/primary/changed-events") == set()


def test_the_poller_status_says_what_is_sent_and_what_is_applied_after_fetching() -> None:
    element = get_element("docushareflex")
    assert element is not None
    resources = {
        "docs": PollerResource(
            url="/hubs/documents/documents?where=modified_date > "
            "'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}' and create_date < '2026-01-01'"
        ),
        "feed": PollerResource(url="/hubs/documents/events?where=title = 'x'"),
    }
    docs = describe_resource(element, resources, "docs")
    assert docs["sentToProvider"] == ["modified_date > '${gmtDate:yyyy-MM-ddTHH:mm:ssZ}'"]
    assert docs["appliedToFetchedObjects"] == "create_date < '2026-01-01'"
    feed = describe_resource(element, resources, "feed")
    assert feed["changeFeed"] == "documentsSince"
    assert feed["sentToProvider"] == [] and feed["appliedToFetchedObjects"] == "title = 'x'"
    # Paging and how deletes are seen: the facts the catalog lists for the hub resource.
    assert (docs["pagination"], docs["deletes"]) == ("nextLink", "markedDeleted")
    assert (feed["pagination"], feed["deletes"]) == ("nextLink", "changeFeed")


def test_the_poller_status_shows_the_gmail_search_a_poll_sends() -> None:
    element = get_element("googlesuite")
    assert element is not None
    url = (
        "/hubs/general/messages?where=subject = 'Invoice' and "
        "lastUpdated > '${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}' and snippet like '%due%'"
    )
    described = describe_resource(element, {"mail": PollerResource(url=url)}, "mail")
    when = "${gmtDate:yyyy-MM-ddTHH:mm:ssZ}"
    assert described["sentToProvider"] == ["subject = 'Invoice'", f"lastUpdated > '{when}'"]
    assert described["providerParameters"] == {"q": f"subject:Invoice after:{when}"}
    assert described["appliedToFetchedObjects"] == "snippet like '%due%'"
    since = datetime(2026, 1, 1, tzinfo=UTC)
    polled = plan_resource(element, PollerResource(url=url), since, since)
    assert polled.translation.params == {"q": "subject:Invoice after:1767225600"}


@pytest.mark.parametrize(
    ("clause", "refused"),
    [
        ("subject like 'Inv%'", "\"subject like 'Inv%'\""),
        ("subject = 'Invoice' or from = 'ann'", "\"subject = 'Invoice'\" and \"from = 'ann'\""),
        ("subject = 'say \"hi\"' and threadId != 't1'", '"subject = \'say "hi"\'"'),
        ("snippet like '%due%'", "\"snippet like '%due%'\""),
    ],
)
def test_a_gmail_condition_on_a_field_messages_are_not_listed_with_is_refused(
    clause: str, refused: str
) -> None:
    """Gmail lists messages as id and threadId: a condition on another field that cannot
    go into q would match no message (or every one), so it is refused, naming it."""
    element = get_element("googlesuite")
    assert element is not None
    resource = PollerResource(url=f"/hubs/general/messages?where={clause}")
    with pytest.raises(ValueError) as refusal:
        check_resource(element, resource)
    assert refusal.value.args[0].startswith(f"{refused} cannot be sent to the provider")
    assert "carry only id, threadId" in str(refusal.value)


@pytest.mark.parametrize(
    ("element", "url"),
    [
        # Sent as q, or applied to a field the listed messages carry.
        (
            "googlesuite",
            "/hubs/general/messages?where=subject = 'Invoice' and "
            "lastUpdated > '${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}' and threadId like 't%'",
        ),
        # A change feed's and other resources' objects are whole: applied after fetching.
        ("googlesuite", "/hubs/general/changed-messages?where=subject like 'Inv%'"),
        ("googlesuite", "/hubs/general/contacts?where=names.0.displayName like 'A%'"),
        ("docushareflex", "/hubs/documents/documents?where=title = 'a' or title = 'b'"),
    ],
)
def test_conditions_the_listed_objects_can_answer_are_accepted(element: str, url: str) -> None:
    found = get_element(element)
    assert found is not None
    check_resource(found, PollerResource(url=url))
