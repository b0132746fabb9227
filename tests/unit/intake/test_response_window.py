"""The rules of the staff side that need no database: who may change a response and
until when, the inbox's pages, and the times staff read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from candour_common.events import Responder
from candour_intake.domain import InboxPage, InboxQuery, StaffResponse
from candour_intake.entrypoints.pages import _inbox_query

pytestmark = pytest.mark.unit

POSTED = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def response(**changes: object) -> StaffResponse:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "story_id": uuid.uuid4(),
        "organisation_id": "TAD",
        "responder": Responder(display_name="Sam", role="Manager"),
        "responder_subject": "sam@tad",
        "body": "Thank you.",
        "change": None,
        "posted_at": POSTED,
        "version": 1,
        "edited_at": None,
        "deleted_at": None,
        **changes,
    }
    return StaffResponse(**values)  # type: ignore[arg-type]


def test_only_its_responder_may_change_a_response_and_only_within_the_window() -> None:
    mine = response()
    assert mine.editable_until(WINDOW) == POSTED + WINDOW
    assert mine.editable_by("sam@tad", POSTED + timedelta(minutes=29, seconds=59), WINDOW)
    assert not mine.editable_by("sam@tad", POSTED + WINDOW, WINDOW)
    assert not mine.editable_by("colleague@tad", POSTED, WINDOW)
    # A correction does not move the window: it runs from the first posting.
    corrected = response(version=2, edited_at=POSTED + timedelta(minutes=25))
    assert not corrected.editable_by("sam@tad", POSTED + timedelta(minutes=31), WINDOW)
    deleted = response(deleted_at=POSTED + timedelta(minutes=1))
    assert not deleted.editable_by("sam@tad", POSTED + timedelta(minutes=2), WINDOW)


def test_inbox_filters_are_read_with_an_error_for_each_bad_one() -> None:
    query, errors = _inbox_query("TAD", "TAD-CMHT", "3", "no", "2")
    assert errors == {}
    assert query == InboxQuery("TAD", "TAD-CMHT", 3, False, 2, 20)
    assert query.offset == 20
    _, errors = _inbox_query("TAD", "", "9", "maybe", "x")
    assert set(errors) == {"criticality", "answered"}
    query, errors = _inbox_query("TAD", "", "", "", "-3")
    assert errors == {} and query.page == 1 and query.answered is None


def test_inbox_page_count() -> None:
    query = InboxQuery("TAD", page_size=20)
    assert InboxPage((), 0, query).pages == 1
    assert InboxPage((), 20, query).pages == 1
    assert InboxPage((), 21, query).pages == 2
