"""Stories in English and Welsh (issue 20): Welsh stories are indexed without English
stemming, English ones still with it; /v1/search and the pages filter by language; the
story's language is in the API and marks its text on the pages. Real Kafka and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest

from candour_common.events import StoryApproved, StoryLanguage, Tags
from tests.integration.search.conftest import BASE_TIME, SearchHarness, approved, eventually

pytestmark = pytest.mark.integration


def _story(n: int, title: str, body: str, language: StoryLanguage, **kwargs: Any) -> StoryApproved:
    return approved(
        title=title,
        body=body,
        published_at=BASE_TIME + timedelta(hours=n),
        **kwargs,
    ).model_copy(update={"language": language})


WELSH = _story(
    20,
    "Aros yn hir am y nyrsys",
    "Bu'n rhaid i ni aros am oriau cyn i'r nyrsys ein gweld. Roedd y staff yn garedig iawn.",
    StoryLanguage.WELSH,
    tags=Tags(good=["kind staff"]),
)
NURSES = _story(
    19, "Kind nurses", "The nurses were kind and listened carefully.", StoryLanguage.ENGLISH
)
WAITED = _story(
    18, "Staff waited with us", "The staff waited with us all night.", StoryLanguage.ENGLISH
)
# Enough Welsh stories for a second page of Welsh results (the pages show 10).
FILLERS = [
    _story(n, f"Gofal da {n}", "Gofal da ar y ward bob dydd.", StoryLanguage.WELSH)
    for n in range(10)
]
STORIES = [WELSH, NURSES, WAITED, *FILLERS]
NAME = {str(WELSH.story_id): "welsh", str(NURSES.story_id): "nurses"}
NAME |= {str(WAITED.story_id): "waited"} | {str(s.story_id): "filler" for s in FILLERS}


@pytest.fixture(scope="module")
async def indexed(shared_search_service: SearchHarness) -> SearchHarness:
    harness = shared_search_service
    for story in STORIES:
        await harness.publish(story)

    async def all_in() -> bool:
        return bool((await harness.search())["total"] == len(STORIES))

    await eventually(all_in)
    return harness


async def names(harness: SearchHarness, **params: Any) -> list[str]:
    page = await harness.search(**params)
    return [NAME[r["story_id"]] for r in page["results"]]


async def test_a_welsh_story_is_found_by_its_welsh_words_without_english_stemming(
    indexed: SearchHarness,
) -> None:
    assert await names(indexed, q="aros") == ["welsh"]
    assert await names(indexed, q="nyrsys") == ["welsh"]
    assert await names(indexed, q='"aros am oriau"') == ["welsh"]
    # English stemming would have indexed "aros" as "aro" and "nyrsys" as "nyrsi".
    assert await names(indexed, q="aro") == []
    assert await names(indexed, q="nyrsi") == []
    # English stop words are Welsh words: "am" (for), "a" (and) are kept.
    assert await names(indexed, q="aros am") == ["welsh"]
    async with indexed.pool.acquire() as conn:
        document = await conn.fetchval(
            "SELECT document::text FROM search_stories WHERE story_id = $1", WELSH.story_id
        )
    assert "'nyrsys'" in document and "'aros'" in document and "'am'" in document
    assert "'nyrsi'" not in document


async def test_english_stories_are_still_found_by_stemmed_forms(indexed: SearchHarness) -> None:
    assert await names(indexed, q="nurse") == ["nurses"]
    assert await names(indexed, q="listening") == ["nurses"]
    assert await names(indexed, q="waiting") == ["waited"]


async def test_a_word_left_out_stays_out_whichever_form_matches(indexed: SearchHarness) -> None:
    """`-waiting` leaves out the English story with "waited" (its stemmed form), though the
    unstemmed form "waiting" is not in it; the Welsh story with "staff" stays."""
    assert await names(indexed, q="staff -waiting") == ["welsh"]


async def test_words_that_make_no_query_match_nothing(indexed: SearchHarness) -> None:
    """English stop words alone are no English query: they must not match every English
    story; and no words can match the mark Welsh documents carry."""
    assert await names(indexed, q="the") == []
    assert await names(indexed, q="the and of") == []
    assert await names(indexed, q="lang cy") == []
    assert (await indexed.search(q="!!! ???"))["total"] == 0


async def test_search_snippets_mark_welsh_words(indexed: SearchHarness) -> None:
    page = await indexed.search(q="nyrsys")
    assert "<mark>nyrsys</mark>" in page["results"][0]["snippet"]
    assert page["results"][0]["language"] == "cy"


async def test_the_api_filters_by_language_and_shows_it(indexed: SearchHarness) -> None:
    english = await indexed.search(language="en")
    assert english["total"] == 2
    assert {r["language"] for r in english["results"]} == {"en"}
    welsh = await indexed.search(language="cy", limit=100)
    assert welsh["total"] == 11
    assert {r["language"] for r in welsh["results"]} == {"cy"}
    assert await names(indexed, q="staff", language="en") == ["waited"]
    assert await names(indexed, q="staff", language="cy") == ["welsh"]
    # Language with other filters, and a tag the Welsh story carries.
    assert await names(indexed, tag="kind staff", language="cy") == ["welsh"]
    assert await names(indexed, tag="kind staff", language="en") == []

    story = await indexed.client.get(f"/v1/stories/{WELSH.story_id}")
    assert story.json()["language"] == "cy"
    plain = await indexed.client.get(f"/v1/stories/{NURSES.story_id}")
    assert plain.json()["language"] == "en"


@pytest.mark.parametrize("value", ["fr", "CY", "welsh", ""])
async def test_an_unknown_language_is_a_problem_naming_the_parameter(
    indexed: SearchHarness, value: str
) -> None:
    response = await indexed.client.get("/v1/search", params={"language": value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["query.language"]


async def test_a_cursor_stays_with_its_language(indexed: SearchHarness) -> None:
    first = await indexed.search(language="cy", limit=5)
    assert first["next_cursor"]
    refused = await indexed.client.get(
        "/v1/search", params={"language": "en", "limit": 5, "cursor": first["next_cursor"]}
    )
    assert refused.status_code == 422
    seen = [r["story_id"] for r in first["results"]]
    cursor = first["next_cursor"]
    while cursor:
        page = await indexed.search(language="cy", limit=5, cursor=cursor)
        seen += [r["story_id"] for r in page["results"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(str(s.story_id) for s in [WELSH, *FILLERS])


async def _page(harness: SearchHarness, path: str, status: int = 200, **params: Any) -> str:
    got = await harness.client.get(path, params=params or None)
    assert got.status_code == status, got.text
    return got.text


async def test_the_search_page_filters_by_language_and_keeps_it_in_its_links(
    indexed: SearchHarness,
) -> None:
    html = await _page(indexed, "/search", language="cy")
    assert re.search(r'<option value="cy" selected>\s*Welsh\s*</option>', html)
    assert str(NURSES.story_id) not in html and str(WAITED.story_id) not in html
    assert f'<a href="/stories/{WELSH.story_id}" lang="cy">' in html
    next_link = re.search(r'href="(/search\?[^"]+)" rel="next"', html)
    assert next_link is not None and "language=cy" in unescape(next_link.group(1))
    assert "stories.atom?language=cy" in html  # the feed of this search too
    second = await _page(indexed, unescape(next_link.group(1)))
    assert "Gofal da" in second and str(NURSES.story_id) not in second

    english = await _page(indexed, "/search", language="en", q="staff")
    assert str(WAITED.story_id) in english and str(WELSH.story_id) not in english

    in_welsh = await _page(indexed, "/search", lang="cy")
    assert "Iaith y stori" in in_welsh and "Cymraeg neu Saesneg" in in_welsh

    bad = await _page(indexed, "/search", 422, language="fr")
    assert 'href="#language"' in bad and 'id="language-error"' in bad
    assert "Choose a language from the list." in bad


async def test_the_story_page_marks_the_text_of_a_story_in_the_other_language(
    indexed: SearchHarness,
) -> None:
    welsh_on_english = await _page(indexed, f"/stories/{WELSH.story_id}")
    assert '<h1 id="story-title" lang="cy">' in welsh_on_english
    assert '<div class="story-body" lang="cy">' in welsh_on_english
    assert re.search(
        r'id="story-language" data-language="cy">\s*written in Welsh', welsh_on_english
    )

    welsh_on_welsh = await _page(indexed, f"/stories/{WELSH.story_id}", lang="cy")
    assert '<h1 id="story-title">' in welsh_on_welsh
    assert '<div class="story-body">' in welsh_on_welsh
    assert re.search(r'data-language="cy">\s*iaith: Cymraeg', welsh_on_welsh)

    english_on_welsh = await _page(indexed, f"/stories/{NURSES.story_id}", lang="cy")
    assert '<div class="story-body" lang="en">' in english_on_welsh
    english_on_english = await _page(indexed, f"/stories/{NURSES.story_id}")
    assert '<div class="story-body">' in english_on_english
