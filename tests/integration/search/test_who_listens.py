"""The response-rate table against hand-counted fixtures, as JSON, CSV and a page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from candour_common.events import OrganisationRef
from tests.integration.search.conftest import ORG_A, ORG_B, SearchHarness, approved, response

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ORG_C = OrganisationRef(id="RXC", name="Coastal Mental Health Trust")


async def _fixtures(h: SearchHarness) -> None:
    now = datetime.now(UTC)
    a1 = approved(title="A1", published_at=now - timedelta(days=3))
    a2 = approved(title="A2", published_at=now - timedelta(days=10))
    a3 = approved(title="A3", published_at=now - timedelta(days=20))
    b1 = approved(
        title="B1", organisation=ORG_B, service=None, published_at=now - timedelta(days=5)
    )
    c1 = approved(
        title="C1", organisation=ORG_C, service=None, published_at=now - timedelta(days=60)
    )
    for story in (a1, a2, a3, b1, c1):
        await h.consumed(await h.publish(story))
    answers = [
        # A1 answered after 2 hours (change planned), then again later.
        response(a1, posted_at=a1.published_at + timedelta(hours=2), change="planned"),
        response(a1, posted_at=a1.published_at + timedelta(hours=30)),
        # A2 answered after 6 hours, saying the change is made.
        response(a2, posted_at=a2.published_at + timedelta(hours=6), change="made"),
        # C1 answered after 1 hour (but 60 days ago).
        response(c1, posted_at=c1.published_at + timedelta(hours=1)),
    ]
    for answer in answers:
        await h.consumed(await h.publish(answer))


async def test_who_listens_counts_by_hand(search_service: SearchHarness) -> None:
    h = search_service
    await _fixtures(h)

    body = (await h.client.get("/v1/stats/organisations")).json()
    assert body["days"] == 30 and body["sort"] == "response_rate" and body["order"] == "desc"
    items = {i["organisation_id"]: i for i in body["items"]}
    assert set(items) == {ORG_A.id, ORG_B.id}  # C's story is 60 days old
    a = items[ORG_A.id]
    assert a == {
        "organisation_id": ORG_A.id,
        "name": ORG_A.name,
        "stories": 3,
        "responded": 2,
        "response_rate": 0.6667,
        "median_hours_to_first_response": 4.0,
        "changes_planned": 1,
        "changes_made": 1,
    }
    b = items[ORG_B.id]
    assert (b["stories"], b["responded"], b["response_rate"]) == (1, 0, 0.0)
    assert b["median_hours_to_first_response"] is None
    assert [i["organisation_id"] for i in body["items"]] == [ORG_A.id, ORG_B.id]

    longer = (await h.client.get("/v1/stats/organisations", params={"days": 90})).json()
    by_id = {i["organisation_id"]: i for i in longer["items"]}
    assert by_id[ORG_C.id]["response_rate"] == 1.0
    assert by_id[ORG_C.id]["median_hours_to_first_response"] == 1.0

    # Sorting by each field; the organisation without a median comes last either way.
    for order in ("asc", "desc"):
        sorted_ = (
            await h.client.get(
                "/v1/stats/organisations",
                params={"days": 90, "sort": "median_hours_to_first_response", "order": order},
            )
        ).json()["items"]
        assert sorted_[-1]["organisation_id"] == ORG_B.id
    by_name = (
        await h.client.get("/v1/stats/organisations", params={"days": 90, "sort": "name"})
    ).json()
    assert by_name["order"] == "asc"
    assert [i["name"] for i in by_name["items"]] == sorted(i["name"] for i in by_name["items"])

    bad = await h.client.get("/v1/stats/organisations", params={"days": 31})
    assert bad.status_code == 422
    assert "days" in bad.json()["errors"][0]["field"]

    sheet = (await h.client.get("/v1/stats/organisations.csv", params={"days": 90})).text
    rows = list(csv.DictReader(io.StringIO(sheet)))
    assert {r["organisation_id"]: r["stories"] for r in rows} == {
        ORG_A.id: "3",
        ORG_B.id: "1",
        ORG_C.id: "1",
    }
    assert (
        next(r for r in rows if r["organisation_id"] == ORG_B.id)["median_hours_to_first_response"]
        == ""
    )


async def test_who_listens_page(search_service: SearchHarness) -> None:
    h = search_service
    await _fixtures(h)
    page = await h.client.get("/who-listens", params={"sort": "stories"})
    assert page.status_code == 200
    html = page.text
    assert html.count(' organisation-rate" ') == 2
    assert "67% (2 of 3)" in html
    assert 'aria-sort="descending"' in html
    assert 'href="?days=30&amp;sort=stories&amp;order=asc"' in html  # the toggle
    assert 'id="rate-chart"' in html and html.count("<circle") == 2
    assert f'href="/organisations/{ORG_A.id}"' in html
    yearly = (await h.client.get("/who-listens", params={"days": 365})).text
    assert yearly.count(' organisation-rate" ') == 3
