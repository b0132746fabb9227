"""The voices view in search, against real PostgreSQL and Kafka: insight.voices is kept
per programme (the newest wins), shown beside the operator's population file in the API,
its CSV twin and the deep dive page."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from candour_cli import demo
from candour_common.about_you import Characteristic
from candour_common.events import CategoryCount, CharacteristicMix, VoicesSummarised
from candour_common.topics import TopicNames
from tests.integration.search.conftest import SearchHarness, running_search

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PROGRAMME = "mental-health"
AT = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)


def summary(*, at: datetime = AT, asian: int | None = 5, white: int = 24) -> VoicesSummarised:
    answered = white + (asian or 0) + 2
    return VoicesSummarised(
        programme=PROGRAMME,
        summarised_at=at,
        characteristics=[
            CharacteristicMix(
                characteristic=Characteristic.ETHNIC_GROUP,
                answered=answered,
                prefer_not_to_say=None,
                categories=[
                    CategoryCount(category="asian", count=asian),
                    CategoryCount(category="black", count=None),
                    CategoryCount(category="mixed", count=None),
                    CategoryCount(category="white", count=white),
                    CategoryCount(category="other", count=None),
                ],
            ),
            CharacteristicMix(
                characteristic=Characteristic.SEX,
                answered=None,
                prefer_not_to_say=None,
                categories=[
                    CategoryCount(category="female", count=None),
                    CategoryCount(category="male", count=None),
                ],
            ),
        ],
    )


@pytest.fixture
async def harness(
    create_database: Callable[[str], Awaitable[str]],
    kafka_bootstrap: str,
    topics: TopicNames,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[SearchHarness]:
    # As an operator sets it: search reads the file at start-up.
    monkeypatch.setenv("CANDOUR_POPULATION_FILE", demo.population_csv_path())
    async with running_search(await create_database("search"), kafka_bootstrap, topics) as h:
        yield h


async def _voices(harness: SearchHarness, **params: str) -> dict[str, object]:
    answer = await harness.client.get(
        "/v1/insight/voices", params={"programme": PROGRAMME, **params}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_the_newest_summary_is_shown_beside_the_population(harness: SearchHarness) -> None:
    before = await _voices(harness)
    assert before["summarised_at"] is None
    assert before["sentence"] == (
        "No one has answered the questions about themselves for this programme yet."
    )

    newest = await harness.publish(summary())
    older = await harness.publish(summary(at=AT - timedelta(days=1), asian=None, white=30))
    await harness.consumed(newest, older)

    body = await _voices(harness)
    assert body["area"] == "Bradford" and body["areas"] == ["Bradford", "England"]
    assert body["sentence"] == (
        "Compared with the population of Bradford, these groups are under-represented: "
        "ethnic group: Asian, Asian British or Asian Welsh."
    )
    assert "four-fifths" in str(body["rule"])
    [ethnic, sex] = body["characteristics"]  # type: ignore[misc]
    asian = ethnic["categories"][0]
    assert asian["count"] == 5 and asian["voice_share"] == pytest.approx(5 / 31)
    assert asian["population_share"] == pytest.approx(0.321) and asian["under_represented"]
    assert ethnic["categories"][1]["count"] is None
    assert sex["answered"] is None

    england = await _voices(harness, area="England")
    # Asian 16% of voices against 9.6% of England: not under-represented there.
    assert england["sentence"] == (
        "No group is under-represented compared with the population of England."
    )

    table = await harness.client.get(
        "/v1/insight/voices.csv", params={"programme": PROGRAMME, "area": "Bradford"}
    )
    assert table.status_code == 200
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 7
    assert rows[0] == {
        "programme": PROGRAMME,
        "area": "Bradford",
        "characteristic": "ethnic_group",
        "category": "asian",
        "stories": "5",
        "share_of_voices_percent": "16.1",
        "share_of_population_percent": "32.1",
        "under_represented": "yes",
    }
    assert rows[1]["stories"] == "fewer than 5"

    page = await harness.client.get(f"/insight/{PROGRAMME}")
    assert page.status_code == 200
    assert "Whose voices are missing" in page.text
    assert "under-represented: ethnic group: Asian, Asian British or Asian Welsh." in page.text
    assert "fewer than 5" in page.text and "32%" in page.text
    assert "four-fifths" in page.text
    other_area = await harness.client.get(f"/insight/{PROGRAMME}", params={"area": "England"})
    assert "No group is under-represented compared with the population of England." in (
        other_area.text
    )


async def test_bad_queries_are_422s_naming_the_field(harness: SearchHarness) -> None:
    missing = await harness.client.get("/v1/insight/voices")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "query.programme"
    unknown = await harness.client.get(
        "/v1/insight/voices.csv", params={"programme": PROGRAMME, "area": "Atlantis"}
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    [error] = unknown.json()["errors"]
    assert error["field"] == "query.area" and "Bradford, England" in error["message"]
    bad = await harness.client.get("/v1/insight/voices", params={"programme": "<b>"})
    assert bad.status_code == 422


async def test_without_a_population_file_the_view_says_so(
    create_database: Callable[[str], Awaitable[str]], kafka_bootstrap: str, topics: TopicNames
) -> None:
    async with running_search(await create_database("search"), kafka_bootstrap, topics) as h:
        await h.consumed(await h.publish(summary()))
        body = await _voices(h)
        assert body["area"] is None and body["areas"] == []
        assert str(body["sentence"]).startswith("There are no population figures")


def test_search_refuses_to_start_with_a_bad_population_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "population.csv"
    bad.write_text("area,characteristic,category,share\nLeeds,sex,female,lots\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "candour_search"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "CANDOUR_POPULATION_FILE": str(bad),
            "CANDOUR_JWT_SECRET": "search-integration-secret-0123456789abcdef",
        },
    )
    assert result.returncode == 78, result.stderr
    assert "CANDOUR_POPULATION_FILE line 2: share 'lots' is not a number" in result.stderr
