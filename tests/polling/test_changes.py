"""Classification of provider objects into CREATED, UPDATED, DELETED or nothing new."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pollhub.elements.reading import ChangeKind, ProviderChange
from pollhub.polling.changes import (
    ObjectDates,
    Seen,
    classify_change,
    field_value,
    fingerprint,
    object_dates,
    object_id,
)
from pollhub.polling.config import DatesConfiguration

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LAST_POLL = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def change(kind: ChangeKind | None = None, **raw: object) -> ProviderChange:
    return ProviderChange("x", {"id": "x", **raw}, kind)


@pytest.mark.parametrize(
    ("kind", "dates", "previous", "expected"),
    [
        (None, ObjectDates(T1, T1), None, "CREATED"),  # same dates: created
        (None, ObjectDates(T0, T1), None, "UPDATED"),  # existed before the last poll
        (None, ObjectDates(LAST_POLL, T1), None, "CREATED"),  # created since the last poll
        (None, ObjectDates(None, None), None, "CREATED"),  # no dates: new means created
        (None, ObjectDates(T0, T1), "other", "UPDATED"),  # seen before, changed
        ("deleted", ObjectDates(None, None), "other", "DELETED"),
        ("deleted", ObjectDates(None, None), None, "DELETED"),
        ("created", ObjectDates(None, None), None, "CREATED"),  # the provider says so
        ("updated", ObjectDates(None, None), None, "UPDATED"),
    ],
)
def test_classification(
    kind: ChangeKind | None, dates: ObjectDates, previous: str | None, expected: str
) -> None:
    seen = Seen(previous, False) if previous else None

    verdict = classify_change(change(kind), seen, dates, baseline=False, since=LAST_POLL)

    assert verdict.event_type == expected


def test_the_same_version_is_not_reported_again() -> None:
    dates = ObjectDates(T0, T1)
    digest = fingerprint(change(), dates)

    verdict = classify_change(change(), Seen(digest, False), dates, baseline=False, since=None)

    assert verdict.event_type is None


def test_a_delete_already_reported_is_not_reported_again() -> None:
    deleted = change("deleted")
    digest = fingerprint(deleted, ObjectDates(None, None))

    verdict = classify_change(
        deleted, Seen(digest, True), ObjectDates(None, None), baseline=False, since=None
    )

    assert verdict.event_type is None


def test_an_object_deleted_then_seen_again_is_created() -> None:
    verdict = classify_change(
        change(), Seen("gone", True), ObjectDates(T0, T1), baseline=False, since=LAST_POLL
    )

    assert verdict.event_type == "CREATED"


def test_baseline_and_silent_objects_are_remembered_not_reported() -> None:
    silent = ProviderChange("x", {"id": "x"}, None, silent=True)

    assert (
        classify_change(change(), None, ObjectDates(T1, T1), baseline=True, since=None).event_type
        is None
    )
    assert (
        classify_change(silent, None, ObjectDates(T1, T1), baseline=False, since=None).event_type
        is None
    )


def test_the_created_check_tolerance_widens_same() -> None:
    dates = ObjectDates(T0, datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC))

    strict = classify_change(change(), None, dates, baseline=False, since=T1)
    tolerant = classify_change(
        change(), None, dates, baseline=False, since=T1, tolerance_seconds=60
    )

    assert (strict.event_type, tolerant.event_type) == ("UPDATED", "CREATED")


def test_without_dates_the_fingerprint_follows_the_whole_object() -> None:
    none = ObjectDates(None, None)

    assert fingerprint(change(labels=["A"]), none) != fingerprint(change(labels=["B"]), none)
    assert fingerprint(change(labels=["A"]), none) == fingerprint(change(labels=["A"]), none)


def test_dates_and_ids_are_read_from_dotted_paths() -> None:
    raw = {
        "resourceName": "contactGroups/g1",
        "metadata": {"updateTime": "2026-11-25T10:00:00.000Z"},
    }
    config = DatesConfiguration(
        updatedDateField="metadata.updateTime",
        updatedDateFormat="yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
        createdDateField="metadata.updateTime",
        createdDateFormat="yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
    )

    dates = object_dates(raw, config)

    assert dates.updated == T1 and dates.created == T1
    assert field_value(raw, "metadata.updateTime") == "2026-11-25T10:00:00.000Z"
    assert object_id(ProviderChange("natural", raw), "") == "natural"
    assert object_id(ProviderChange("natural", raw), "resourceName") == "contactGroups/g1"
    assert object_id(ProviderChange("natural", raw), "missing.field") == "natural"


def test_an_unreadable_date_is_treated_as_missing() -> None:
    config = DatesConfiguration(updatedDateField="u", updatedDateFormat="yyyy-MM-dd")

    assert object_dates({"u": "not a date"}, config).updated is None


def test_milliseconds_dates() -> None:
    config = DatesConfiguration(updatedDateField="internalDate", updatedDateFormat="milliseconds")

    assert object_dates({"internalDate": "1795600800000"}, config).updated == T1


FIRST_POLL = datetime(2026, 11, 24, 12, 0, 0, 500_000, tzinfo=UTC)
SAME_SECOND = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)  # a provider date, to the second
NEXT_SECOND = datetime(2026, 11, 24, 12, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("deleted_at", "previous", "first_poll", "expected"),
    [
        # Never seen, deleted before the resource was first polled: not news.
        (SAME_SECOND, None, FIRST_POLL, None),
        (T0, None, FIRST_POLL, None),
        # Never seen, but deleted after the first poll: created and deleted between polls.
        (NEXT_SECOND, None, FIRST_POLL, "DELETED"),
        # Seen at the baseline, so it existed after the first poll: its deletion is real.
        (SAME_SECOND, "v1", FIRST_POLL, "DELETED"),
        # Without a date, or a first poll to compare with, a delete is reported.
        (None, None, FIRST_POLL, "DELETED"),
        (SAME_SECOND, None, None, "DELETED"),
    ],
)
def test_a_delete_of_an_object_never_seen_from_before_the_first_poll_is_not_reported(
    deleted_at: datetime | None,
    previous: str | None,
    first_poll: datetime | None,
    expected: str | None,
) -> None:
    """Regression (issue 12): a look-back (DocuShare's two minutes) or a window rendered to
    the second returns a delete from the first poll's own second, before the instance
    existed, of an object the baseline never listed."""
    seen = Seen(previous, False) if previous else None
    dates = ObjectDates(T0, deleted_at)

    verdict = classify_change(
        change("deleted"), seen, dates, baseline=False, since=FIRST_POLL, first_poll=first_poll
    )

    assert verdict.event_type == expected
    assert verdict.deleted
