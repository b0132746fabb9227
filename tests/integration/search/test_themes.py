"""Themes for the commissioners' deep dive, on a real search database: found, named,
merged, reported, and gone with a withdrawn story."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from candour_common.auth import Role, issue_token
from candour_common.events import ServiceRef
from candour_search.adapters import repository
from candour_search.adapters.theme_finder import find_here
from candour_search.service_layer.themes import rebuild_themes
from tests.data.themes.corpus import generate
from tests.integration.search.conftest import (
    BASE_TIME,
    SearchHarness,
    approved,
    eventually,
    withdrawn,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PROGRAMME = "mental-health"
COMMUNITY = ServiceRef(id="RXA-CMHT", name="Community mental health", programme=PROGRAMME)


async def _load(harness: SearchHarness, count: int) -> list[uuid.UUID]:
    """Published entries of the programme, straight into the index (as the consumer
    writes them), spread over six months; every third one rated critical."""
    ids = []
    async with harness.pool.acquire() as conn, conn.transaction():
        for i, entry in enumerate(generate(count, seed=5)):
            event = approved(
                title=f"Entry {i}",
                body=entry.text,
                service=COMMUNITY,
                criticality=4 if i % 3 == 0 else 1,
                published_at=BASE_TIME + timedelta(days=(i * 180) // count),
            )
            await repository.upsert_story(conn, event)
            ids.append(event.story_id)
    return ids


async def _rebuild(harness: SearchHarness) -> None:
    async def find(texts):  # type: ignore[no-untyped-def]
        return await find_here(texts, seed=0, count=12)

    await rebuild_themes(harness.app.state.platform.unit_of_work, find, programme=PROGRAMME)


def _operator(harness: SearchHarness) -> dict[str, str]:
    secret = harness.settings.jwt_secret.get_secret_value()
    token = issue_token(secret, role=Role.OPERATOR, subject="insight-lead")
    return {"Authorization": f"Bearer {token}"}


async def _themes(harness: SearchHarness) -> dict:  # type: ignore[type-arg]
    response = await harness.client.get("/v1/insight/themes", params={"programme": PROGRAMME})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_themes_are_found_reported_renamed_and_merged(search_service: SearchHarness) -> None:
    await _load(search_service, 600)
    before = await _themes(search_service)
    assert before["themes"] == [] and before["built_at"] is None

    await _rebuild(search_service)
    report = await _themes(search_service)
    themes = report["themes"]
    assert report["entries"] == 600
    assert 10 <= len(themes) <= 12
    assert sum(t["count"] for t in themes) == report["themed"] <= 600
    first = themes[0]
    assert first["count"] == max(t["count"] for t in themes)
    assert len(first["months"]) == 6 and sum(m["count"] for m in first["months"]) == first["count"]
    assert first["sources"] == [{"source": "web", "count": first["count"]}]
    assert 0 < len(first["quotes"]) <= 3
    assert first["quotes"][0]["url"].endswith(f"/stories/{first['quotes'][0]['story_id']}")
    assert first["negative_share"] is not None and 0 <= first["negative_share"] <= 1

    # A name a person gives survives a rebuild (the theme carries on).
    renamed = await search_service.client.patch(
        f"/v1/insight/themes/{first['theme_id']}",
        json={"name": "Our first theme"},
        headers=_operator(search_service),
    )
    assert renamed.status_code == 204, renamed.text
    await _rebuild(search_service)
    after = {t["theme_id"]: t for t in (await _themes(search_service))["themes"]}
    assert after[first["theme_id"]]["name"] == "Our first theme"

    # Merging counts one theme as part of another.
    second, third = themes[1], themes[2]
    merged = await search_service.client.post(
        f"/v1/insight/themes/{third['theme_id']}/merge",
        json={"into": second["theme_id"]},
        headers=_operator(search_service),
    )
    assert merged.status_code == 204, merged.text
    now = {t["theme_id"]: t for t in (await _themes(search_service))["themes"]}
    assert third["theme_id"] not in now
    assert now[second["theme_id"]]["count"] == (
        after[second["theme_id"]]["count"] + after[third["theme_id"]]["count"]
    )
    assert now[second["theme_id"]]["merged"] == [third["theme_id"]]
    loop = await search_service.client.post(
        f"/v1/insight/themes/{second['theme_id']}/merge",
        json={"into": third["theme_id"]},
        headers=_operator(search_service),
    )
    assert loop.status_code == 422
    assert loop.json()["errors"][0]["field"] == "body.into"

    csv_text = (
        await search_service.client.get("/v1/insight/themes.csv", params={"programme": PROGRAMME})
    ).text
    header = csv_text.splitlines()[0]
    assert header.startswith("theme_id,name,label,terms,count,negative_share,sources,")
    assert len(csv_text.splitlines()) == len(now) + 1


async def test_changing_themes_needs_a_moderator_or_operator(
    search_service: SearchHarness,
) -> None:
    theme = uuid.uuid4()
    anonymous = await search_service.client.patch(f"/v1/insight/themes/{theme}", json={"name": "x"})
    assert anonymous.status_code == 401
    secret = search_service.settings.jwt_secret.get_secret_value()
    staff = issue_token(secret, role=Role.STAFF, subject="s", organisation_id="RXA")
    forbidden = await search_service.client.patch(
        f"/v1/insight/themes/{theme}",
        json={"name": "x"},
        headers={"Authorization": f"Bearer {staff}"},
    )
    assert forbidden.status_code == 403
    missing = await search_service.client.patch(
        f"/v1/insight/themes/{theme}", json={"name": "x"}, headers=_operator(search_service)
    )
    assert missing.status_code == 404
    no_programme = await search_service.client.get("/v1/insight/themes")
    assert no_programme.status_code == 422
    assert no_programme.json()["errors"][0]["field"] == "query.programme"


async def test_a_withdrawn_story_leaves_the_deep_dive_at_once(
    search_service: SearchHarness,
) -> None:
    ids = await _load(search_service, 300)
    await _rebuild(search_service)
    report = await _themes(search_service)
    quoted = uuid.UUID(report["themes"][0]["quotes"][0]["story_id"])
    assert quoted in ids

    story = approved(story_id=quoted, service=COMMUNITY)
    published = await search_service.publish(withdrawn(story))
    await search_service.consumed(published)

    async def gone() -> bool:
        now = await _themes(search_service)
        quotes = [q["story_id"] for t in now["themes"] for q in t["quotes"]]
        return str(quoted) not in quotes and now["entries"] == 299

    await eventually(gone)
    async with search_service.pool.acquire() as conn:
        left = await conn.fetchval(
            "SELECT count(*) FROM insight_story_themes WHERE story_id = $1", quoted
        )
    assert left == 0


async def test_the_deep_dive_page(search_service: SearchHarness) -> None:
    await _load(search_service, 400)
    empty = await search_service.client.get(f"/insight/{PROGRAMME}")
    assert empty.status_code == 200
    assert 'id="no-themes"' in empty.text

    await _rebuild(search_service)
    page = await search_service.client.get(f"/insight/{PROGRAMME}", params={"sort": "name"})
    assert page.status_code == 200
    html = page.text
    assert html.count(' theme-row" ') >= 10
    assert "<polyline" in html  # a sparkline per theme
    assert 'id="movers-chart"' in html and 'id="movers-table"' in html
    assert "<blockquote>" in html
    assert 'href="?sort=count"' in html
    assert (await search_service.client.get("/insight/no%20such")).status_code == 404
