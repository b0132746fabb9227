"""Filters, facets and pagination of GET /v1/search over a small fixture set."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from candour_common.events import StoryApproved, Tags
from candour_search.adapters import hits
from tests.integration.search.conftest import (
    BASE_TIME,
    DISTRICT,
    EMERGENCY,
    MATERNITY,
    ORG_A,
    ORG_B,
    SearchHarness,
    approved,
    eventually,
    response,
)

pytestmark = pytest.mark.integration


def day(n: int) -> datetime:
    return BASE_TIME + timedelta(days=n)


FIXTURES = {
    "birth": approved(
        title="Lovely birth experience",
        body="The midwives were calm and supportive throughout the night.",
        service=MATERNITY,
        tags=Tags(good=["Kind staff"]),
        criticality=0,
        published_at=day(0),
    ),
    "triage": approved(
        title="Long wait in triage",
        body="We waited six hours to be seen in maternity triage.",
        service=MATERNITY,
        tags=Tags(improve=["Waiting"]),
        criticality=3,
        published_at=day(1),
    ),
    "emergency": approved(
        title="Busy night in A&E",
        body="Staff were kind but the wait was very long and nobody explained why.",
        service=EMERGENCY,
        tags=Tags(good=["kind staff"], improve=["waiting"]),
        criticality=4,
        published_at=day(2),
    ),
    "parking": approved(
        title="Nowhere to park",
        body="The car park was full and the machines did not take cards.",
        service=None,
        tags=Tags(improve=["parking"]),
        criticality=None,
        published_at=day(3),
    ),
    "district": approved(
        title="Nurses who listened",
        body="The district nurses visited every day and listened to my mother.",
        organisation=ORG_B,
        service=DISTRICT,
        tags=Tags(good=["kind staff"]),
        criticality=1,
        published_at=day(4),
    ),
    "missed": approved(
        title="Missed visits",
        body="Visits were missed three times; we kept waiting at home all day.",
        organisation=ORG_B,
        service=DISTRICT,
        tags=Tags(improve=["waiting"]),
        criticality=5,
        published_at=day(5),
    ),
}
NAME = {str(s.story_id): name for name, s in FIXTURES.items()}


def names(page: dict[str, Any]) -> list[str]:
    return [NAME[h["story_id"]] for h in page["results"]]


def facet(page: dict[str, Any], name: str) -> list[tuple[str, str, int]]:
    return [(f["value"], f["label"], f["count"]) for f in page["facets"][name]]


@pytest.fixture(scope="module")
async def fixture_set(shared_search_service: SearchHarness) -> SearchHarness:
    """The fixture stories, loaded once; the tests using it only read."""
    harness = shared_search_service
    for story in FIXTURES.values():
        await harness.publish(story)
    await harness.publish(response(FIXTURES["missed"], change="planned"))

    async def indexed() -> bool:
        page = await harness.search(responded="true")
        return bool(page["total"] == 1 and (await harness.search())["total"] == len(FIXTURES))

    await eventually(indexed)
    return harness


async def test_everything_newest_first_with_facets(fixture_set: SearchHarness) -> None:
    page = await fixture_set.search()
    assert page["total"] == 6
    assert names(page) == ["missed", "district", "parking", "emergency", "triage", "birth"]
    assert page["next_cursor"] is None
    assert facet(page, "organisation") == [(ORG_A.id, ORG_A.name, 4), (ORG_B.id, ORG_B.name, 2)]
    assert facet(page, "service") == [
        (MATERNITY.id, MATERNITY.name, 2),
        (DISTRICT.id, DISTRICT.name, 2),
        (EMERGENCY.id, EMERGENCY.name, 1),
    ]
    assert facet(page, "tag") == [
        ("kind staff", "kind staff", 3),
        ("waiting", "waiting", 3),
        ("parking", "parking", 1),
    ]
    assert facet(page, "criticality") == [
        ("0", "not critical", 1),
        ("1", "minimally critical", 1),
        ("3", "moderately critical", 1),
        ("4", "strongly critical", 1),
        ("5", "severely critical", 1),
    ]
    missed = page["results"][0]
    assert missed["response_count"] == 1
    assert missed["service"] == {"id": DISTRICT.id, "name": DISTRICT.name}
    parking = page["results"][2]
    assert parking["service"] is None
    assert parking["criticality"] is None
    assert parking["snippet"] == "The car park was full and the machines did not take cards."


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"organisation_id": ORG_B.id}, ["missed", "district"]),
        ({"organisation_id": "NOPE"}, []),
        ({"service_id": MATERNITY.id}, ["triage", "birth"]),
        ({"tag": "waiting"}, ["missed", "emergency", "triage"]),
        ({"tag": "Kind  Staff"}, ["district", "emergency", "birth"]),
        ({"tag": ["waiting", "kind staff"]}, ["emergency"]),
        ({"min_criticality": 3}, ["missed", "emergency", "triage"]),
        ({"max_criticality": 1}, ["district", "birth"]),
        ({"min_criticality": 3, "max_criticality": 4}, ["emergency", "triage"]),
        ({"responded": "true"}, ["missed"]),
        ({"responded": "false"}, ["district", "parking", "emergency", "triage", "birth"]),
        ({"change": "planned"}, ["missed"]),
        ({"change": "made"}, []),
        (
            {
                "published_from": day(1).date().isoformat(),
                "published_to": day(3).date().isoformat(),
            },
            ["parking", "emergency", "triage"],
        ),
        ({"q": "wait", "organisation_id": ORG_A.id, "sort": "newest"}, ["emergency", "triage"]),
        # "District Nursing" (a service name) matches too: names are indexed.
        ({"q": "nurses OR midwives", "sort": "newest"}, ["missed", "district", "birth"]),
        ({"q": '"car park"'}, ["parking"]),
    ],
)
async def test_filters(
    fixture_set: SearchHarness, params: dict[str, Any], expected: list[str]
) -> None:
    page = await fixture_set.search(**params)
    assert names(page) == expected
    assert page["total"] == len(expected)


async def test_facets_count_the_filtered_stories(fixture_set: SearchHarness) -> None:
    page = await fixture_set.search(tag="waiting")
    assert facet(page, "organisation") == [(ORG_A.id, ORG_A.name, 2), (ORG_B.id, ORG_B.name, 1)]
    assert facet(page, "tag") == [("waiting", "waiting", 3), ("kind staff", "kind staff", 1)]
    assert [v for v, _, _ in facet(page, "criticality")] == ["3", "4", "5"]

    narrowed = await fixture_set.search(q="wait", organisation_id=ORG_B.id)
    assert narrowed["total"] == 1
    assert facet(narrowed, "service") == [(DISTRICT.id, DISTRICT.name, 1)]


async def test_a_title_match_outranks_a_body_match(fixture_set: SearchHarness) -> None:
    # "wait" is in the triage title (weight A), only in the bodies of the others.
    page = await fixture_set.search(q="wait")
    assert names(page)[0] == "triage"
    assert set(names(page)) == {"triage", "emergency", "missed"}
    assert "<mark>" in page["results"][0]["snippet"]


async def test_total_and_facets_do_not_depend_on_the_page(fixture_set: SearchHarness) -> None:
    first = await fixture_set.search(limit=2)
    second = await fixture_set.search(limit=2, cursor=first["next_cursor"])
    assert first["total"] == second["total"] == 6
    assert first["facets"] == second["facets"]


async def test_a_cursor_for_another_query_is_refused(fixture_set: SearchHarness) -> None:
    first = await fixture_set.search(limit=2)
    r = await fixture_set.client.get(
        "/v1/search", params={"limit": 2, "tag": "waiting", "cursor": first["next_cursor"]}
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["query.cursor"]


async def collect(harness: SearchHarness, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        page = await harness.search(**params, **({"cursor": cursor} if cursor else {}))
        assert len(page["results"]) <= params["limit"]
        ids.extend(h["story_id"] for h in page["results"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    pytest.fail("pagination did not end")


async def test_pagination_returns_every_story_exactly_once(search_service: SearchHarness) -> None:
    # Ties on published_at (and on rank) must still page without duplicates or gaps.
    stories: list[StoryApproved] = []
    for i in range(23):
        repeats = " ".join(["hospital"] * (1 + i % 4))
        stories.append(
            approved(
                title=f"Visit {i}",
                body=f"At the {repeats} the care was fine. Story number {i}.",
                published_at=day(i // 3),
            )
        )
    for story in stories:
        await search_service.publish(story)

    async def indexed() -> bool:
        return bool((await search_service.search())["total"] == len(stories))

    await eventually(indexed)
    expected = {str(s.story_id) for s in stories}

    newest = await collect(search_service, limit=5)
    assert len(newest) == len(expected)
    assert set(newest) == expected
    by_key = sorted(stories, key=lambda s: (s.published_at, str(s.story_id)), reverse=True)
    assert newest == [str(s.story_id) for s in by_key]

    relevant = await collect(search_service, q="hospital", limit=4)
    assert len(relevant) == len(expected)
    assert set(relevant) == expected

    everything = await collect(search_service, limit=100)
    assert len(everything) == len(expected)


async def test_pagination_is_stable_while_stories_arrive(search_service: SearchHarness) -> None:
    originals = [
        approved(title=f"Ward {i}", body="The ward was clean.", published_at=day(i))
        for i in range(12)
    ]
    for story in originals:
        await search_service.publish(story)

    async def indexed() -> bool:
        return bool((await search_service.search())["total"] == len(originals))

    await eventually(indexed)

    seen: list[str] = []
    page = await search_service.search(limit=5)
    seen.extend(h["story_id"] for h in page["results"])
    # Newer stories arrive between pages.
    newcomers = [
        approved(title=f"New ward {i}", body="The ward was clean.", published_at=day(30 + i))
        for i in range(3)
    ]
    for story in newcomers:
        await search_service.publish(story)

    async def arrived() -> bool:
        total = (await search_service.search())["total"]
        return bool(total == len(originals) + len(newcomers))

    await eventually(arrived)
    cursor = page["next_cursor"]
    while cursor is not None:
        page = await search_service.search(limit=5, cursor=cursor)
        seen.extend(h["story_id"] for h in page["results"])
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    assert set(seen) == {str(s.story_id) for s in originals}


async def test_relevance_ranks_a_window_of_the_newest_matches_then_pages_on(
    search_service: SearchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window of 5 (200 in the service) so a few stories cross it.
    monkeypatch.setattr(hits, "RELEVANCE_WINDOW", 5)
    stories: list[StoryApproved] = []
    for i in range(14):
        repeats = " ".join(["hospital"] * (1 + (i * 7) % 5))
        stories.append(
            approved(title=f"Visit {i}", body=f"At the {repeats} it was fine.", published_at=day(i))
        )
    for story in stories:
        await search_service.publish(story)

    async def indexed() -> bool:
        return bool((await search_service.search())["total"] == len(stories))

    await eventually(indexed)
    newest_first = [str(s.story_id) for s in sorted(stories, key=lambda s: s.published_at)][::-1]

    first = await search_service.search(q="hospital", limit=3)
    ranks = {h["story_id"] for h in first["results"]}
    assert ranks <= set(newest_first[:5])  # the first page ranks only the window
    # Stories arriving between pages join the window; none is skipped or repeated.
    newer = approved(title="Visit later", body="hospital hospital", published_at=day(40))
    await search_service.publish(newer)

    async def arrived() -> bool:
        return bool((await search_service.search())["total"] == len(stories) + 1)

    await eventually(arrived)
    seen = [h["story_id"] for h in first["results"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = await search_service.search(q="hospital", limit=3, cursor=cursor)
        seen.extend(h["story_id"] for h in page["results"])
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    assert set(newest_first) <= set(seen)
    # The window's five by relevance (whatever joined it), then the rest newest first.
    window = [s for s in seen if s in set(newest_first[:5]) | {str(newer.story_id)}]
    assert seen[: len(window)] == window
    assert seen[len(window) :] == newest_first[5:]
