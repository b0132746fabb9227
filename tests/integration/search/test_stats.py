"""GET /v1/stats over a small hand-counted fixture set (figures worked out in comments)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from candour_common.events import Tags
from tests.integration.search.conftest import (
    DISTRICT,
    EMERGENCY,
    MATERNITY,
    ORG_A,
    ORG_B,
    SearchHarness,
    approved,
    response,
    withdrawn,
)

pytestmark = pytest.mark.integration


def at(month: int, day: int) -> datetime:
    return datetime.fromisoformat(f"2025-{month:02d}-{day:02d}T12:00:00+00:00")


# Organisation A: four stories, three answered (first responses after 4 h, 24 h, 2 h).
S1 = approved(  # May, maternity, answered after 4 h (change planned) and again after 10 h
    service=MATERNITY, tags=Tags(good=["Kind staff"]), criticality=0, published_at=at(5, 10)
)
S2 = approved(  # May, maternity, answered after 24 h (change made)
    service=MATERNITY, tags=Tags(improve=["Waiting"]), criticality=3, published_at=at(5, 20)
)
S3 = approved(  # June, emergency, never answered
    service=EMERGENCY,
    tags=Tags(good=["kind staff"], improve=["waiting"]),
    criticality=4,
    published_at=at(6, 2),
)
S4 = approved(  # June, no service, not rated, answered after 2 h (no change)
    service=None, tags=Tags(improve=["Parking"]), criticality=None, published_at=at(6, 15)
)
# Organisation B: one story answered after 8 h (change planned).
S5 = approved(
    organisation=ORG_B,
    service=DISTRICT,
    tags=Tags(good=["kind staff"]),
    criticality=1,
    published_at=at(6, 20),
)
# Answered, then withdrawn: counts nowhere.
S6 = approved(service=MATERNITY, tags=Tags(good=["Kind staff"]), published_at=at(5, 11))

EVENTS = [
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    response(S1, posted_at=S1.published_at + timedelta(hours=4), change="planned"),
    response(S1, posted_at=S1.published_at + timedelta(hours=10)),
    response(S2, posted_at=S2.published_at + timedelta(hours=24), change="made"),
    response(S4, posted_at=S4.published_at + timedelta(hours=2)),
    response(S5, posted_at=S5.published_at + timedelta(hours=8), change="planned"),
    response(S6, posted_at=S6.published_at + timedelta(hours=1), change="made"),
    withdrawn(S6),
]


def figures(
    stories: int,
    responded: int,
    median: float | None,
    planned: int = 0,
    made: int = 0,
) -> dict[str, Any]:
    return {
        "stories": stories,
        "responded": responded,
        "responded_share": responded / stories if stories else None,
        "median_hours_to_first_response": median,
        "change_planned": planned,
        "change_made": made,
        # A handful of stories: every figure is computed exactly.
        "counts_are_estimates": False,
        "median_is_estimate": False,
    }


def group(value: str | None, label: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"value": value, "label": label, **figures(*args, **kwargs)}


@pytest.fixture
async def loaded(search_service: SearchHarness) -> SearchHarness:
    published = [await search_service.publish(event) for event in EVENTS]
    await search_service.consumed(*published)
    return search_service


async def stats(harness: SearchHarness, **params: Any) -> dict[str, Any]:
    answer = await harness.client.get("/v1/stats", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_statistics(loaded: SearchHarness) -> None:
    # Everything: S1..S5; first responses 4, 24, 2, 8 h -> median 6.
    everything = await stats(loaded)
    assert everything == {
        "overall": figures(5, 4, 6.0, planned=2, made=1),
        "group_by": None,
        "groups": [],
    }

    # Organisation A: S1..S4; first responses 4, 24, 2 h -> median 4.
    org_a = figures(4, 3, 4.0, planned=1, made=1)
    by_month = await stats(loaded, organisation_id=ORG_A.id, group_by="month")
    assert by_month["overall"] == org_a
    assert by_month["group_by"] == "month"
    assert by_month["groups"] == [
        group("2025-05", "May 2025", 2, 2, 14.0, planned=1, made=1),  # S1, S2: (4 + 24) / 2
        group("2025-06", "June 2025", 2, 1, 2.0),  # S3, S4
    ]

    by_tag = await stats(loaded, organisation_id=ORG_A.id, group_by="tag")
    assert by_tag["overall"] == org_a
    assert by_tag["groups"] == [
        group("kind staff", "kind staff", 2, 1, 4.0, planned=1),  # S1, S3
        group("waiting", "waiting", 2, 1, 24.0, made=1),  # S2, S3
        group("parking", "parking", 1, 1, 2.0),  # S4
    ]

    by_service = await stats(loaded, organisation_id=ORG_A.id, group_by="service")
    assert by_service["groups"] == [
        group(MATERNITY.id, MATERNITY.name, 2, 2, 14.0, planned=1, made=1),  # S1, S2
        group(EMERGENCY.id, EMERGENCY.name, 1, 0, None),  # S3
        group(None, "No service given", 1, 1, 2.0),  # S4
    ]

    by_criticality = await stats(loaded, organisation_id=ORG_A.id, group_by="criticality")
    assert [(g["value"], g["label"], g["stories"]) for g in by_criticality["groups"]] == [
        ("0", "not critical", 1),
        ("3", "moderately critical", 1),
        ("4", "strongly critical", 1),
        (None, "Not rated", 1),
    ]


async def test_statistics_filters(loaded: SearchHarness) -> None:
    # Dates are inclusive UTC days: S3 (2 June) and S4 (15 June).
    june = await stats(loaded, **{"from": "2025-06-01", "to": "2025-06-15"})
    assert june["overall"] == figures(2, 1, 2.0)
    until_14th = await stats(loaded, **{"from": "2025-06-01", "to": "2025-06-14"})
    assert until_14th["overall"] == figures(1, 0, None)
    since_june = await stats(loaded, **{"from": "2025-06-01"})
    assert since_june["overall"] == figures(3, 2, 5.0, planned=1)  # S3, S4, S5: (2 + 8) / 2

    maternity = await stats(loaded, service_id=MATERNITY.id)
    assert maternity["overall"] == figures(2, 2, 14.0, planned=1, made=1)

    org_b = await stats(loaded, organisation_id=ORG_B.id, group_by="service")
    assert org_b["groups"] == [group(DISTRICT.id, DISTRICT.name, 1, 1, 8.0, planned=1)]

    nobody = await stats(loaded, organisation_id="NOPE", group_by="month")
    assert nobody == {"overall": figures(0, 0, None), "group_by": "month", "groups": []}
