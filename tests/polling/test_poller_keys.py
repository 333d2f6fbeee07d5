"""Every poller key and placeholder, by its effect on the wire and on the callbacks.

A DocuShare Flex site (respx) serves the ``documents`` hub resource with its real query:
``modifiedAfter``, ``title``, ``pageSize``; each case configures one resource, polls
once for the baseline, changes the site's documents, polls again, and checks what the
site was asked and which events were written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import PollState
from pollhub.polling.dates import render_url
from pollhub.sandbox.timefmt import parse_datetime, seconds_z
from tests import seeds
from tests.conftest import Tenant
from tests.polling.conftest import RunPolls, delivered_events

API = "/elements/api-v2"
SITE = "https://mysite.docushareflex.com/api/v1/objects"
INTERVAL = timedelta(minutes=15, seconds=1)
ISO = "yyyy-MM-dd'T'HH:mm:ss'Z'"


@dataclass
class FakeSite:
    """DocuShare's objects list: modifiedAfter (strict), title, owner, page/pageSize."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        found = self.documents
        if after := params.get("modifiedAfter"):
            moment = parse_datetime(after)
            assert moment is not None, after
            found = [d for d in found if parse_datetime(d["modified_date"]) > moment]  # type: ignore[operator]
        else:
            found = [d for d in found if not d.get("deleted")]
        for key in ("title", "owner"):
            if key in params:
                found = [d for d in found if d[key] == params[key]]
        size, page = int(params.get("pageSize", 50)), int(params.get("page", 1))
        chunk = found[(page - 1) * size : page * size]
        more = page * size < len(found)
        next_url = str(request.url.copy_merge_params({"page": str(page + 1)})) if more else None
        return httpx.Response(200, json={"items": chunk, "next": next_url})


def doc(handle: str, created: datetime, modified: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "handle": handle,
        "title": f"{handle}.pdf",
        "owner": "ann",
        "create_date": seconds_z(created),
        "modified_date": seconds_z(modified),
        **extra,
    }


@pytest.fixture
def site(providers: respx.MockRouter) -> FakeSite:
    fake = FakeSite()
    providers.get(url__startswith=SITE).mock(side_effect=fake.handler)
    return fake


async def create(
    client: httpx.AsyncClient, tenant: Tenant, entry: dict[str, Any]
) -> httpx.Response:
    body = seeds.filled(seeds.DOCUSHAREFLEX)
    body["configuration"]["event.poller.configuration"] = {"docs": entry}
    return await client.post(f"{API}/instances", json=body, headers=tenant.headers)


async def last_success(session: AsyncSession) -> datetime:
    session.expire_all()
    state = await session.scalar(select(PollState))
    assert state is not None and state.last_success_at is not None
    return state.last_success_at


Changes = Callable[[datetime], list[dict[str, Any]]]


def updated_and_new(t0: datetime) -> list[dict[str, Any]]:
    """D1 existed at the baseline and changed after it; D2 is new."""
    old = t0 - timedelta(days=3)
    return [
        doc("D1", old, t0 + timedelta(seconds=30)),
        doc("D2", t0 + timedelta(seconds=40), t0 + timedelta(seconds=40)),
    ]


@dataclass(frozen=True)
class Case:
    entry: dict[str, Any]
    wire: dict[str, str | None]  # query parameter → value (None: must be absent)
    events: list[tuple[str, str]]  # (objectId, eventType)
    changes: Changes = updated_and_new
    at_baseline: Changes = lambda t0: [doc("D1", t0 - timedelta(days=3), t0 - timedelta(days=2))]


URL = "/hubs/documents/documents"
SINCE = f"{URL}?where=modified_date > '${{gmtDate:{ISO}}}'"

CASES = {
    "defaults: every document, 20 a page, changes by fingerprint": Case(
        {"url": URL, "idField": "handle"},
        {"pageSize": "20", "modifiedAfter": None, "type": "Document"},
        [("D1", "UPDATED"), ("D2", "CREATED")],
    ),
    "pageSize is sent": Case(
        {"url": URL, "pageSize": 7},
        {"pageSize": "7"},
        [("D1", "UPDATED"), ("D2", "CREATED")],
    ),
    "where on a filterable field is sent as the site's query": Case(
        {"url": f"{URL}?where=title = 'D2.pdf'"},
        {"title": "D2.pdf"},
        [("D2", "CREATED")],
    ),
    "where on a field the site cannot filter is applied to what was fetched": Case(
        {"url": f"{URL}?where=owner != 'bob'"},
        {"owner": None, "modifiedAfter": None},
        [("D2", "CREATED")],
        changes=lambda t0: [
            doc("D1", t0 - timedelta(days=3), t0 + timedelta(seconds=30), owner="bob"),
            doc("D2", t0 + timedelta(seconds=40), t0 + timedelta(seconds=40)),
        ],
    ),
    "idField names the objectId": Case(
        {"url": URL, "idField": "title"},
        {},
        [("D1.pdf", "UPDATED"), ("D2.pdf", "CREATED")],
    ),
    "filterByUpdatedDate false filters by the created date": Case(
        {"url": URL, "filterByUpdatedDate": False},
        {},
        [("D2", "CREATED")],
    ),
    "filterByUpdateDate (Cloud Elements' misspelling) is the same key": Case(
        {"url": URL, "filterByUpdateDate": "false"},
        {},
        [("D2", "CREATED")],
    ),
    "filterByCurrentDate leaves what changed after the poll began to the next poll": Case(
        {"url": URL, "filterByCurrentDate": True},
        {},
        [("D2", "CREATED")],
        changes=lambda t0: [
            doc("D1", t0 - timedelta(days=3), t0 + timedelta(days=1)),
            doc("D2", t0 + timedelta(seconds=40), t0 + timedelta(seconds=40)),
        ],
    ),
    "createdCheckTolerance widens 'created equals updated'": Case(
        {"url": SINCE, "createdCheckTolerance": 60},
        {},
        [("D3", "CREATED")],
        changes=lambda t0: [doc("D3", t0 - timedelta(seconds=10), t0 + timedelta(seconds=20))],
        at_baseline=lambda t0: [],
    ),
    "without createdCheckTolerance the same document was updated": Case(
        {"url": SINCE},
        {},
        [("D3", "UPDATED")],
        changes=lambda t0: [doc("D3", t0 - timedelta(seconds=10), t0 + timedelta(seconds=20))],
        at_baseline=lambda t0: [],
    ),
    "a deleted document the site marks is DELETED": Case(
        {"url": SINCE},
        {},
        [("D1", "DELETED")],
        # Minutes after the baseline, not seconds: under a loaded test run the baseline poll
        # came 5 s after t0, its cursor passed the change, and the change was never listed.
        changes=lambda t0: [
            doc("D1", t0 - timedelta(days=3), t0 + timedelta(minutes=5), deleted=True)
        ],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_each_key_has_its_effect_on_the_wire_and_the_callbacks(
    client: httpx.AsyncClient,
    tenant: Tenant,
    site: FakeSite,
    run_polls: RunPolls,
    session: AsyncSession,
    case: Case,
) -> None:
    t0 = clock.now()
    site.documents = case.at_baseline(t0)
    response = await create(client, tenant, case.entry)
    assert response.status_code == 200, response.text
    assert await run_polls() == ["baseline"]

    clock.advance(INTERVAL)
    site.documents = case.changes(t0)
    outcomes = await run_polls()

    assert outcomes[0].startswith("ok"), outcomes
    params = site.requests[-1].url.params
    for key, value in case.wire.items():
        assert params.get(key) == value, (key, str(site.requests[-1].url))
    received = [(e["objectId"], e["eventType"]) for e in await delivered_events(session)]
    assert received == case.events
    assert {e["objectType"] for e in await delivered_events(session)} <= {"docs"}


PLACEHOLDERS = [
    f"${{gmtDate:{ISO}}}",
    "${gmtDate:yyyy-MM-dd'T'HH:mm:ssXXX}",
    f"${{date:{ISO}}}",
    "${date}",
    "${dateTimeZone:EST:yyyy-MM-dd'T'HH:mm:ss}",
    "${dateTimeZone:-6:00:yyyy-MM-dd HH:mm}",
    "${nowTimeZone:GMT:yyyy-MM-dd'T'HH:mm:ss}",
    "${epoch}",
    "${epoch:s}",
    "${epoch:ms}",
    "${epoch:us}",
    "${epoch:0}",
    "${milliseconds}",
]


@pytest.mark.parametrize(
    ("placeholder", "poll_delay"),
    [*((p, None) for p in PLACEHOLDERS), (PLACEHOLDERS[0], 90), (PLACEHOLDERS[7], 90)],
)
async def test_each_placeholder_renders_the_last_poll_minus_poll_delay_on_the_wire(
    client: httpx.AsyncClient,
    tenant: Tenant,
    site: FakeSite,
    run_polls: RunPolls,
    session: AsyncSession,
    placeholder: str,
    poll_delay: int | None,
) -> None:
    # title is sent as the site's own query, so the rendered value reaches the wire as is.
    entry: dict[str, Any] = {"url": f"{URL}?where=title = '{placeholder}'"}
    if poll_delay is not None:
        entry["pollDelay"] = poll_delay
    assert (await create(client, tenant, entry)).status_code == 200
    await run_polls()
    first = await last_success(session)
    clock.advance(INTERVAL)
    await run_polls()
    second = await last_success(session)

    since = first - timedelta(seconds=poll_delay or 0)
    expected = render_url(placeholder, since, second)
    assert site.requests[-1].url.params["title"] == expected


async def test_the_first_poll_renders_its_own_start_and_reports_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    site: FakeSite,
    run_polls: RunPolls,
    session: AsyncSession,
) -> None:
    t0 = clock.now()
    site.documents = [doc("D1", t0 - timedelta(days=1), t0 - timedelta(seconds=5))]
    assert (await create(client, tenant, {"url": SINCE, "pollDelay": 60})).status_code == 200
    assert await run_polls() == ["baseline"]
    first = await last_success(session)
    sent = site.requests[-1].url.params["modifiedAfter"]
    assert sent == render_url(f"${{gmtDate:{ISO}}}", first - timedelta(seconds=60), first)
    assert await delivered_events(session) == []


async def test_a_delete_from_the_first_polls_own_second_is_reported_only_if_it_was_listed(
    client: httpx.AsyncClient,
    tenant: Tenant,
    site: FakeSite,
    run_polls: RunPolls,
    session: AsyncSession,
) -> None:
    """Regression (issue 12): the site dates changes to the second and ``pollDelay`` reaches
    back past the first poll, so the second poll gets tombstones dated in the first poll's
    own second. D0 was deleted before the first poll (it never listed it): old news. D1 was
    listed, so it existed after the first poll: its deletion is real."""
    t0 = clock.now()
    created = t0 - timedelta(days=2)
    site.documents = [doc("D1", created, t0 - timedelta(minutes=1))]
    assert (await create(client, tenant, {"url": SINCE, "pollDelay": 300})).status_code == 200
    assert await run_polls() == ["baseline"]
    first = await last_success(session)

    clock.advance(INTERVAL)
    site.documents = [
        doc("D0", created, first, deleted=True),
        doc("D1", created, first, deleted=True),
        doc("D2", first + timedelta(seconds=5), first + timedelta(seconds=5)),
    ]
    assert (await run_polls())[0].startswith("ok")

    received = [(e["objectId"], e["eventType"]) for e in await delivered_events(session)]
    assert received == [("D1", "DELETED"), ("D2", "CREATED")]


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"url": URL, "filterByUpdatedDates": True}, "filterByUpdatedDates"),
        ({"url": URL, "pageSize": 0}, "pageSize"),
        ({"url": URL, "pollDelay": -1}, "pollDelay"),
        ({"url": URL, "datesConfiguration": {"updatedField": "x"}}, "updatedField"),
        ({"url": f"{URL}?orderBy=title"}, "orderBy"),
        ({"url": f"{URL}?where=title = "}, "where"),
        ({"url": "/hubs/documents/nothing"}, "/hubs/documents/nothing"),
        ({"url": "/hubs/general/contacts"}, "/hubs/general/contacts"),
    ],
)
async def test_an_unknown_or_wrong_key_is_a_400_naming_it(
    client: httpx.AsyncClient, tenant: Tenant, entry: dict[str, Any], named: str
) -> None:
    response = await create(client, tenant, entry)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]


MILLIS = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"


def millis_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class ElementCase:
    """One element's list resource polled with a where clause: part of it goes to the
    provider as its own filter, the rest is applied to what the provider returned."""

    seed: dict[str, Any]
    url: str  # the poller url
    provider: str  # the provider list URL the poll calls
    wire: Callable[[datetime], dict[str, str]]  # query parameters, from the first poll
    listed: Callable[[datetime], dict[str, Any]]  # the provider's answer after the baseline
    events: list[tuple[str, str]]


ELEMENT_CASES = {
    "onedrivev2: name to $filter, size applied after fetching": ElementCase(
        seeds.ONEDRIVE,
        "/hubs/documents/folders/root/contents?where=name = 'a.txt' and size > 3",
        "https://graph.microsoft.com/v1.0/me/drive/items/root/children",
        lambda first: {"$filter": "name eq 'a.txt'", "$top": "20"},
        lambda first: {
            "value": [
                {
                    "id": f"F{size}",
                    "name": "a.txt",
                    "size": size,
                    "createdDateTime": seconds_z(first + timedelta(seconds=9)),
                    "lastModifiedDateTime": seconds_z(first + timedelta(seconds=9)),
                }
                for size in (10, 1)
            ]
        },
        [("F10", "CREATED")],
    ),
    "googlesuite: updated to updatedMin, summary applied after fetching": ElementCase(
        seeds.GOOGLESUITE,
        "/hubs/general/calendars/primary/events?where=updated > "
        f"'${{gmtDate:{MILLIS}}}' and summary like 'Stand%'",
        "https://www.googleapis.com/calendar/v3/calendars/primary/events",
        lambda first: {"updatedMin": millis_z(first), "maxResults": "20", "showDeleted": "true"},
        lambda first: {
            "items": [
                {
                    "id": summary.lower(),
                    "summary": summary,
                    "status": "confirmed",
                    "created": millis_z(first + timedelta(seconds=9)),
                    "updated": millis_z(first + timedelta(seconds=9)),
                }
                for summary in ("Standup", "Lunch")
            ]
        },
        [("standup", "CREATED")],
    ),
    "docushareflex: title like to titleLike, owner != applied after fetching": ElementCase(
        seeds.DOCUSHAREFLEX,
        "/hubs/documents/documents?where=title like 'Q%' and owner != 'bob'",
        SITE,
        lambda first: {"titleLike": "Q%", "pageSize": "20", "type": "Document"},
        lambda first: {
            "items": [
                doc(f"Q-{owner}", first + timedelta(seconds=9), first + timedelta(seconds=9))
                | {"owner": owner}
                for owner in ("ann", "bob")
            ],
            "next": None,
        },
        [("Q-ann", "CREATED")],
    ),
}


@pytest.mark.parametrize("case", ELEMENT_CASES.values(), ids=ELEMENT_CASES.keys())
async def test_each_elements_where_clause_is_sent_as_its_filter_and_the_rest_applied(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    run_polls: RunPolls,
    session: AsyncSession,
    case: ElementCase,
) -> None:
    answer: dict[str, Any] = {}
    route = providers.get(url__startswith=case.provider).mock(
        side_effect=lambda request: httpx.Response(200, json=answer)
    )
    body = seeds.filled(case.seed)
    body["configuration"]["event.poller.configuration"] = {"docs": {"url": case.url}}
    if case.seed is seeds.DOCUSHAREFLEX:
        body["configuration"]["docushare.domain"] = "mysite.docushareflex.com"
    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    answer.update({"value": [], "items": []})
    assert await run_polls() == ["baseline"]
    first = await last_success(session)

    clock.advance(INTERVAL)
    answer.clear()
    answer.update(case.listed(first))
    assert (await run_polls())[0].startswith("ok")

    params = dict(route.calls.last.request.url.params)
    assert params == case.wire(first)
    received = [(e["objectId"], e["eventType"]) for e in await delivered_events(session)]
    assert received == case.events
