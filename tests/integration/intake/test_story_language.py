"""A story's language (issue 20): on the API, the share page, the stored row and
story.submitted; against real PostgreSQL and Kafka."""

from __future__ import annotations

import json
import re

import asyncpg
import pytest

from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from tests.infra import read_topic, serving
from tests.integration.intake.conftest import STORY, MakeIntake
from tests.integration.intake.test_pages import SHARE_FORM, csrf_of, submission_key_of

pytestmark = pytest.mark.integration


async def _languages(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["language"] for r in await conn.fetch("SELECT language FROM stories")]
    finally:
        await conn.close()


async def _count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def test_a_welsh_story_is_stored_and_announced_as_welsh_and_english_is_the_default(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    welsh = {
        **STORY,
        "title": "Nyrsys caredig",
        "body": "Roedd y nyrsys yn garedig iawn.",
        "language": "cy",
    }
    async with serving(create_app(settings)) as client:
        sent_welsh = await client.post("/v1/stories", json=welsh)
        sent_plain = await client.post("/v1/stories", json=STORY)
        assert sent_welsh.status_code == 201, sent_welsh.text
        assert sent_plain.status_code == 201, sent_plain.text
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=2, settle=1.0
        )
    url = settings.database_url.get_secret_value()
    assert sorted(await _languages(url)) == ["cy", "en"]
    languages = {json.loads(r.value)["story_id"]: json.loads(r.value)["language"] for r in records}
    assert languages == {
        sent_welsh.json()["story_id"]: "cy",
        sent_plain.json()["story_id"]: "en",
    }


@pytest.mark.parametrize("path", ["/v1/stories", "/v1/stories/check"])
@pytest.mark.parametrize("language", ["fr", "CY", "welsh", ""])
async def test_an_unknown_language_is_a_problem_naming_the_field_and_stores_nothing(
    make_intake: MakeIntake, path: str, language: str
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        response = await client.post(path, json={**STORY, "language": language})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["body.language"]
    url = settings.database_url.get_secret_value()
    assert await _count(url, "stories") == 0
    assert await _count(url, "outbox") == 0


async def test_the_check_accepts_a_welsh_story(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        response = await client.post("/v1/stories/check", json={**STORY, "language": "cy"})
    assert response.status_code == 200, response.text
    assert "story_id" not in response.json()


def _checked_language(html: str) -> str | None:
    checked = re.findall(r'<input[^>]*name="language" value="(\w+)"[^>]*checked', html)
    assert len(checked) <= 1
    return checked[0] if checked else None


async def test_the_share_page_asks_the_language_and_starts_with_the_page_language(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        english = await client.get("/share", headers={"Accept-Language": "en-GB"})
        welsh = await client.get("/share?lang=cy")
        welsh_by_header = await client.get("/share", headers={"Accept-Language": "cy"})
    assert "Which language is your story in?" in english.text
    assert _checked_language(english.text) == "en"
    assert 'value="cy"' in english.text  # both are offered
    assert "Ym mha iaith mae eich stori?" in welsh.text
    assert _checked_language(welsh.text) == "cy"
    assert _checked_language(welsh_by_header.text) == "cy"


async def test_the_share_page_sends_the_chosen_language_and_refuses_an_unknown_one(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    url = settings.database_url.get_secret_value()
    async with serving(create_app(settings)) as client:
        page = await client.get("/share")
        tokens = {"csrf_token": csrf_of(page.text), "submission_key": submission_key_of(page.text)}
        bad = await client.post("/share", data={**SHARE_FORM, **tokens, "language": "fr"})
        assert bad.status_code == 422
        assert 'id="language-error"' in bad.text
        assert 'href="#language"' in bad.text
        assert await _count(url, "stories") == 0

        sent = await client.post(
            "/share", data={**SHARE_FORM, **tokens, "language": "cy"}, follow_redirects=True
        )
    assert sent.status_code == 200, sent.text
    assert await _languages(url) == ["cy"]
