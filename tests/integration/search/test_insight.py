"""GET /v1/insight(.csv) over hand-counted entries from several sources, roles and programmes."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest

from candour_common.events import Reach, ServiceRef, Source, StoryApproved
from tests.integration.search.conftest import (
    ORG_B,
    SearchHarness,
    approved,
    response,
    withdrawn,
)

pytestmark = pytest.mark.integration

CMHT = ServiceRef(id="A-CMHT", name="Community mental health team", programme="mental-health")
CRISIS = ServiceRef(id="B-CRISIS", name="Crisis team", programme="mental-health")
ED = ServiceRef(id="A-ED", name="Emergency department", programme="urgent-care")


def entry(
    service: ServiceRef | None, source: Source, reach: Reach, month: int, **kw: Any
) -> StoryApproved:
    base = approved(
        service=service,
        published_at=datetime.fromisoformat(f"2025-{month:02d}-15T12:00:00+00:00"),
        **kw,
    )
    return base.model_copy(update={"source": source, "represents": reach})


# Hand count (all 2025):
#   E1 web, CMHT, 1 patient                      -> mental-health, 1 individual
#   E2 healthwatch, CRISIS (org B), group of 12: 9 patients, 3 carers
#   E3 staff, CMHT, survey of 30 staff
#   E4 nhs_website, ED, 1 individual (role unknown -> other)
#   E5 complaint, no service, 2 carers
#   E6 web, CMHT, 1 patient, withdrawn -> counts nowhere
E1 = entry(CMHT, Source.WEB, Reach(individuals=1, patients=1), 3)
E2 = entry(
    CRISIS, Source.HEALTHWATCH, Reach(individuals=12, patients=9, carers=3), 4, organisation=ORG_B
)
E3 = entry(CMHT, Source.STAFF, Reach(individuals=30, staff=30), 4)
E4 = entry(ED, Source.NHS_WEBSITE, Reach(individuals=1), 5)
E5 = entry(None, Source.COMPLAINT, Reach(individuals=2, carers=2), 5)
E6 = entry(CMHT, Source.WEB, Reach(individuals=1, patients=1), 5)
EVENTS = [E1, E2, E3, E4, E5, E6, response(E1), withdrawn(E6)]


@pytest.fixture
async def loaded(search_service: SearchHarness) -> SearchHarness:
    published = [await search_service.publish(event) for event in EVENTS]
    await search_service.consumed(*published)
    return search_service


def reach(
    entries: int,
    individuals: int,
    patients: int = 0,
    carers: int = 0,
    staff: int = 0,
    other: int = 0,
) -> dict[str, int]:
    return {
        "entries": entries,
        "individuals": individuals,
        "patients": patients,
        "carers": carers,
        "staff": staff,
        "other": other,
    }


async def test_programme_insight_counts_entries_and_people(loaded: SearchHarness) -> None:
    answer = await loaded.client.get(
        "/v1/insight",
        params={"from": "2025-01-01", "to": "2025-12-31", "programme": "mental-health"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["overall"] == reach(5, 46, patients=10, carers=5, staff=30, other=1)
    assert body["programme"] == reach(3, 43, patients=10, carers=3, staff=30)
    assert body["summary"] == (
        "In 2025 we received 5 entries of feedback from 46 individuals. The number relating "
        "specifically to mental health services was 3, from 43 individuals "
        "(10 patients, 3 carers and 30 staff)."
    )
    assert body["responded_share"] == pytest.approx(1 / 3)  # E1 of the three
    assert {g["value"]: g["entries"] for g in body["by_source"]} == {
        "web": 1,
        "healthwatch": 1,
        "staff": 1,
    }
    assert {g["value"]: g["individuals"] for g in body["by_programme"]} == {
        "mental-health": 43,
        "urgent-care": 1,
        "none": 2,
    }
    assert [(g["label"], g["entries"]) for g in body["by_month"]] == [
        ("March 2025", 1),
        ("April 2025", 2),
    ]

    by_org = (await loaded.client.get("/v1/insight", params={"organisation_id": ORG_B.id})).json()
    assert by_org["overall"] == reach(1, 12, patients=9, carers=3)
    by_source = (await loaded.client.get("/v1/insight", params={"source": "complaint"})).json()
    assert by_source["overall"] == reach(1, 2, carers=2)
    assert by_source["summary"].startswith(
        "In all we received 1 entry of complaint feedback from 2"
    )


async def test_insight_csv_and_bad_parameters(loaded: SearchHarness) -> None:
    answer = await loaded.client.get("/v1/insight.csv", params={"programme": "mental-health"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:5] == ["section", "value", "label", "entries", "individuals"]
    assert ["programme", "mental-health", "mental health", "3", "43", "10", "3", "30", "0"] in rows
    assert rows[-1][0] == "summary"

    for params, field in (
        ({"from": "2025-02-01", "to": "2025-01-01"}, "query.from"),
        ({"programme": "Mental Health!"}, "query.programme"),
        ({"source": "pigeon"}, "query.source"),
    ):
        bad = await loaded.client.get("/v1/insight", params=params)
        assert bad.status_code == 422, params
        assert bad.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in bad.json()["errors"]]
