"""The callback body: Cloud Elements' envelope, byte for byte, and how changes are batched."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.delivery.envelope import EnvelopeEvent, EnvelopeInstance, build_body, java_date
from pollhub.delivery.outbox import ChangeEvent, enqueue_polled_changes, enqueue_webhook_events
from tests.conftest import Tenant
from tests.delivery.conftest import add_instance, changes

CHANGED = datetime(2018, 8, 20, 15, 29, 6, tzinfo=UTC)
POLLED = datetime(2018, 8, 20, 15, 29, 34, 827000, tzinfo=UTC)
CREATED = datetime(2018, 8, 20, 15, 30, 7, tzinfo=UTC)


def test_envelope_is_the_originals_shape_byte_for_byte() -> None:
    body = build_body(
        instance=EnvelopeInstance(
            id=7950647,
            element_key="netsuiteerpv2",
            name="Local netsuite",
            tags=["Local netsuite"],
            organization_id=874,
            user_id=2749,
        ),
        hub_key="erp",
        event_id="AWVX9OTIhdQRdI1F7Q7v",
        envelope_id="1496771",
        created=CREATED,
        raw={
            "invoices": [{"internalId": "14682"}],
            "pollDate": 1534778974827,
            "objectType": "invoices",
        },
        events=[EnvelopeEvent("CREATED", "14682", "invoices", CHANGED, POLLED)],
    )

    assert body == (
        b'{"severity":"medium","createdDate":"Mon Aug 20 15:30:07 UTC 2018",'
        b'"topic":"instance-7950647-netsuiteerpv2-events","action":"create","id":"1496771",'
        b'"message":{"elementKey":"netsuiteerpv2","accountId":874,"eventId":"AWVX9OTIhdQRdI1F7Q7v",'
        b'"companyId":874,"instanceId":7950647,"instance_id":7950647,'
        b'"instanceName":"Local netsuite","instanceTags":["Local netsuite"],'
        b'"raw":{"invoices":[{"internalId":"14682"}],"pollDate":1534778974827,"objectType":"invoices"},'
        b'"userId":2749,"events":[{"date":"2018-08-20T15:29:06Z","elementKey":"netsuiteerpv2",'
        b'"pollDate":"2018-08-20T15:29:34Z","eventType":"CREATED","hubKey":"erp",'
        b'"objectId":"14682","objectType":"invoices"}]},'
        b'"user":"notifications@pollhub"}'
    )


def test_created_date_is_javas_date_to_string_in_utc_whatever_the_zone() -> None:
    from zoneinfo import ZoneInfo

    moment = datetime(2020, 2, 21, 17, 43, 41, tzinfo=ZoneInfo("Europe/Paris"))

    assert java_date(moment) == "Fri Feb 21 16:43:41 UTC 2020"
    assert java_date(datetime(2026, 1, 4, 0, 0, 0, tzinfo=UTC)) == "Sun Jan 04 00:00:00 UTC 2026"


async def test_polled_changes_are_batched_ten_per_notification_with_their_raw_objects(
    session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://client.example.com/events")
    poll_date = datetime(2026, 11, 25, 10, 0, 5, 123000, tzinfo=UTC)

    added = await enqueue_polled_changes(
        session,
        instance,
        hub_key="documents",
        object_type="files",
        events=changes(25),
        poll_date=poll_date,
    )
    await session.commit()

    assert [n.event_count for n in added] == [10, 10, 5]
    bodies = [json.loads(n.body) for n in added]
    assert len({n.event_id for n in added}) == 3
    for notification, body in zip(added, bodies, strict=True):
        message = body["message"]
        assert message["eventId"] == notification.event_id
        assert body["topic"] == f"instance-{instance.id}-onedrivev2-events"
        assert message["instanceId"] == message["instance_id"] == instance.id
        assert message["accountId"] == tenant.organization_id
        assert message["userId"] == tenant.user_id
        assert message["raw"]["pollDate"] == 1795600805123
        assert message["raw"]["objectType"] == "files"
        assert [o["id"] for o in message["raw"]["files"]] == [
            e["objectId"] for e in message["events"]
        ]
        assert {e["pollDate"] for e in message["events"]} == {"2026-11-25T10:00:05Z"}
        assert {e["hubKey"] for e in message["events"]} == {"documents"}
    assert [e["objectId"] for b in bodies for e in b["message"]["events"]] == [
        f"f{i}" for i in range(25)
    ]
    assert added[0].status == "pending" and added[0].event_types == "CREATED"
    assert added[0].callback_url == "https://client.example.com/events"


async def test_webhook_events_are_batched_twenty_per_notification_each_with_the_full_body(
    session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://client.example.com/events")
    events = [
        ChangeEvent("UPDATED" if i % 2 else "DELETED", f"e{i}", "events", None) for i in range(45)
    ]
    vendor_body = {"value": [{"resource": f"e{i}"} for i in range(45)]}

    added = await enqueue_webhook_events(
        session, instance, hub_key="general", events=events, body=vendor_body
    )
    await session.commit()

    assert [n.event_count for n in added] == [20, 20, 5]
    for notification in added:
        message = json.loads(notification.body)["message"]
        assert message["raw"] == vendor_body
        # No provider date: the moment pollhub received the webhook stands in.
        assert all(e["date"] == e["pollDate"] for e in message["events"])
    assert added[0].event_types == "DELETED,UPDATED"


async def test_nothing_is_enqueued_when_events_are_disabled_or_there_is_no_callback_url(
    session: AsyncSession, tenant: Tenant
) -> None:
    disabled = await add_instance(
        session, tenant, "https://client.example.com/events", events_enabled=False
    )
    no_url = await add_instance(session, tenant, "")

    for instance in (disabled, no_url):
        assert (
            await enqueue_polled_changes(
                session,
                instance,
                hub_key="documents",
                object_type="files",
                events=changes(3),
                poll_date=clock.now(),
            )
            == []
        )
        assert (
            await enqueue_webhook_events(
                session, instance, hub_key="general", events=changes(3), body={}
            )
            == []
        )
