"""Dates in words and times on the UK clock, the same on every page and in every email."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from candour_common.settings import ServiceSettings
from candour_common.web.dates import month_in_words, uk_date, uk_time
from candour_common.web.pages import create_templates

pytestmark = pytest.mark.unit


def test_times_are_on_the_uk_clock_and_say_which_clock() -> None:
    assert uk_time(datetime(2026, 7, 1, 9, 5, tzinfo=UTC)) == "1 July 2026, 10:05am BST"
    assert uk_time(datetime(2026, 12, 6, 15, 57, tzinfo=UTC)) == "6 December 2026, 3:57pm GMT"
    assert uk_time(datetime(2026, 12, 6, 0, 1, tzinfo=UTC)) == "6 December 2026, 12:01am GMT"
    assert uk_time(None) == ""


def test_the_clock_changes_on_the_last_sunday_of_march_and_october() -> None:
    assert uk_time(datetime(2025, 3, 30, 0, 59, tzinfo=UTC)) == "30 March 2025, 12:59am GMT"
    assert uk_time(datetime(2025, 3, 30, 1, 0, tzinfo=UTC)) == "30 March 2025, 2:00am BST"
    assert uk_time(datetime(2025, 10, 26, 0, 59, tzinfo=UTC)) == "26 October 2025, 1:59am BST"
    assert uk_time(datetime(2025, 10, 26, 1, 0, tzinfo=UTC)) == "26 October 2025, 1:00am GMT"


def test_events_carry_iso_strings_and_naive_values_are_utc() -> None:
    assert uk_time("2025-01-14T09:15:00+00:00") == "14 January 2025, 9:15am GMT"
    assert uk_time(datetime(2025, 6, 1, 12, 0)) == "1 June 2025, 1:00pm BST"


def test_a_day_is_the_day_in_the_uk() -> None:
    # 23:30 UTC on 30 June is already 1 July in London (BST).
    assert uk_date(datetime(2025, 6, 30, 23, 30, tzinfo=UTC)) == "1 July 2025"
    assert uk_date(date(2025, 3, 1)) == "1 March 2025"
    assert uk_date("2025-12-24T10:00:00+00:00") == "24 December 2025"
    assert uk_date(None) == ""


def test_a_month_is_in_words() -> None:
    assert month_in_words("2025-03") == "March 2025"
    assert month_in_words(date(2024, 11, 5)) == "November 2024"
    assert month_in_words("2025-03", locale="cy") == "Mawrth 2025"
    # Not a month: shown as written rather than hidden.
    assert month_in_words("2025-13") == "2025-13"
    assert month_in_words("") == ""


def test_every_service_template_gets_the_filters(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="test")
    templates = create_templates(tmp_path, settings)
    page = templates.env.from_string(
        "{{ at | uk_time }} / {{ at | uk_date }} / {{ '2025-03' | month_in_words }}"
        " / {{ cell_heading('Submitted <b>') }}"
    )
    assert page.render(at=datetime(2025, 3, 31, 23, 30, tzinfo=UTC)) == (
        "1 April 2025, 12:30am BST / 1 April 2025 / March 2025"
        ' / <span class="nhsuk-table__heading" aria-hidden="true">Submitted &lt;b&gt; </span>'
    )
