"""Search's public pages over a real index: home, search, a story, an organisation.

The stories arrive as events on real Kafka (as in production) and the pages are read
through the app over HTTP; they are plain HTML, so the checks read the markup.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
import pytest

from candour_common.events import StoryApproved, Tags
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
    withdrawn,
)

# A responsive table's cell starts with its column heading (shown when rows stack).
HEADING = r'(?:<span class="nhsuk-table__heading"[^>]*>[^<]*</span>)?'

pytestmark = pytest.mark.integration

HOSTILE_BODY = 'I wrote <script>alert("pwned")</script> and <b>bold</b> about the parking.'
ANSWERED = approved(
    title="Midwives who listened",
    body="The midwives listened to every worry we had during a long labour.",
    service=MATERNITY,
    tags=Tags(good=["Listening"], feelings=["reassured"]),
    criticality=2,
    published_at=BASE_TIME + timedelta(days=40),
)
HOSTILE = approved(
    title="Parking <script>",
    body=HOSTILE_BODY,
    service=EMERGENCY,
    tags=Tags(improve=["parking"]),
    criticality=4,
    published_at=BASE_TIME + timedelta(days=41),
)
GONE = approved(title="Soon withdrawn", body="This one will be withdrawn.")
# Enough stories about one organisation, over several months, to need a second page.
ROUTINE = [
    approved(
        title=f"Routine visit {n}",
        body=f"A routine district nursing visit, number {n}.",
        organisation=ORG_B,
        service=DISTRICT,
        tags=Tags(good=["kindness"]),
        criticality=0,
        # Every 9 days from June 2025, with no stories in August: a gap the chart keeps.
        published_at=BASE_TIME + timedelta(days=n * 9 + (60 if n >= 6 else 0)),
    )
    for n in range(11)
]
FIRST_RESPONSE = response(
    ANSWERED,
    body="Thank you. We are planning longer appointments.",
    change="planned",
    posted_at=ANSWERED.published_at + timedelta(hours=5),
)
SECOND_RESPONSE = response(
    ANSWERED,
    body="Longer appointments start this month.",
    change="made",
    posted_at=ANSWERED.published_at + timedelta(hours=30),
)
STORIES: list[StoryApproved] = [ANSWERED, HOSTILE, *ROUTINE]


@pytest.fixture(scope="module")
async def site(shared_search_service: SearchHarness) -> SearchHarness:
    """The stories above, loaded once; the tests only read."""
    harness = shared_search_service
    for story in [*STORIES, GONE]:
        await harness.publish(story)
    await harness.publish(SECOND_RESPONSE)
    await harness.publish(FIRST_RESPONSE)
    await harness.publish(withdrawn(GONE))

    async def indexed() -> bool:
        everything = await harness.search()
        answered = await harness.search(responded="true")
        gone = await harness.client.get(f"/v1/stories/{GONE.story_id}")
        return bool(
            everything["total"] == len(STORIES)
            and answered["total"] == 1
            and answered["results"][0]["response_count"] == 2
            and gone.status_code == 404
        )

    await eventually(indexed)
    return harness


async def page(harness: SearchHarness, path: str, status: int = 200, **params: Any) -> str:
    # No `params` at all when there are none: httpx would drop the path's own query string.
    got = await harness.client.get(path, params=params or None)
    assert got.status_code == status, got.text
    assert got.headers["content-type"].startswith("text/html")
    return got.text


def text_of(html: str) -> str:
    """The visible words, roughly: tags dropped, entities decoded, spaces squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def test_home_shows_the_newest_stories_and_a_search_box(site: SearchHarness) -> None:
    html = await page(site, "/")
    assert 'type="search" id="q" name="q"' in html
    assert 'action="/search"' in html
    titles = re.findall(r'<a href="/stories/[0-9a-f-]+">([^<]+)</a>', html)
    newest = sorted(STORIES, key=lambda s: s.published_at, reverse=True)[:10]
    assert [unescape(t) for t in titles] == [s.title for s in newest]
    assert f'href="/organisations/{ORG_B.id}"' in html
    assert "Hillview Community Health (11 stories)" in text_of(html)


async def test_search_highlights_the_matched_words(site: SearchHarness) -> None:
    html = await page(site, "/search", q="midwives")
    assert f'<a href="/stories/{ANSWERED.story_id}">' in html
    assert "<mark>midwives</mark>" in html.lower()
    assert "1 story matching “midwives”" in text_of(html)
    assert 'value="midwives"' in html  # the box keeps the words


async def test_markup_in_a_story_is_shown_as_text_never_run(site: SearchHarness) -> None:
    for html in (
        await page(site, "/search", q="parking"),  # snippet from ts_headline
        await page(site, "/"),  # plain snippet
        await page(site, f"/stories/{HOSTILE.story_id}"),
    ):
        assert "<script>alert" not in html
        assert "<b>bold</b>" not in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html
        assert "Parking &lt;script&gt;" in html  # the title too
    highlighted = await page(site, "/search", q="parking")
    assert "<mark>parking</mark>" in highlighted


async def test_filters_with_facet_counts(site: SearchHarness) -> None:
    html = await page(site, "/search")
    # Facet counts are part of each choice.
    assert f'<option value="{ORG_B.id}">{ORG_B.name} (11)</option>' in html
    assert f'<option value="{ORG_A.id}">{ORG_A.name} (2)</option>' in html
    assert f'<option value="{DISTRICT.id}">{DISTRICT.name} (11)</option>' in html
    assert '<option value="kindness">kindness (11)</option>' in html
    # "At least" criticality choices count every story at or above the level.
    assert '<option value="0">not critical or more (13)</option>' in html
    assert '<option value="4">strongly critical or more (1)</option>' in html

    filtered = await page(site, "/search", organisation_id=ORG_A.id, min_criticality="", q="")
    assert "2 stories" in text_of(filtered)
    assert f'<option value="{ORG_A.id}" selected>' in filtered

    answered = await page(site, "/search", responded="true")
    assert "1 story" in text_of(answered)
    assert f"/stories/{ANSWERED.story_id}" in answered
    assert 'id="responded-true" name="responded" value="true" checked' in answered

    critical = await page(site, "/search", min_criticality="4")
    assert "1 story" in text_of(critical)
    assert f"/stories/{HOSTILE.story_id}" in critical

    tagged = await page(site, "/search", tag="Listening")
    assert "1 story" in text_of(tagged)


async def test_pagination_follows_the_cursor(site: SearchHarness) -> None:
    first = await page(site, "/search")
    assert "13 stories" in text_of(first)
    assert len(re.findall(r'<li class="story-summary"', first)) == 10
    match = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first)
    assert match is not None
    second = await page(site, unescape(match.group(1)))
    assert len(re.findall(r'<li class="story-summary"', second)) == 3
    assert 'rel="next"' not in second
    assert ">First page</a>" in second
    seen = set(re.findall(r'href="/stories/([0-9a-f-]+)"', first + second))
    assert seen == {str(s.story_id) for s in STORIES}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"min_criticality": "9"}, "min_criticality", "Choose a criticality"),
        ({"min_criticality": "high"}, "min_criticality", "Choose a criticality"),
        ({"responded": "maybe"}, "responded", "Choose whether"),
        ({"cursor": "not-a-cursor"}, "cursor", "start the search again"),
        ({"organisation_id": "X" * 41}, "organisation_id", "at most 40"),
        ({"q": "x" * 501}, "q", "at most 500"),
        ({"q": "nul\x00byte"}, "q", "NUL"),
        ({"tag": [f"t{n}" for n in range(11)]}, "tag", "at most 10"),
    ],
)
async def test_bad_parameters_get_the_page_with_a_message(
    site: SearchHarness, params: dict[str, Any], field: str, message: str
) -> None:
    html = await page(site, "/search", 422, **params)
    assert "There is a problem" in html
    assert f'href="#{field}"' in html
    assert message in text_of(html)
    assert f'id="{field}"' in html  # the summary's link lands somewhere


async def test_a_cursor_from_another_search_is_refused(site: SearchHarness) -> None:
    first = await page(site, "/search")
    match = re.search(r'href="/search\?cursor=([^"&]+)" rel="next"', first)
    assert match is not None
    html = await page(site, "/search", 422, q="visit", cursor=unescape(match.group(1)))
    assert "out of date or was changed" in html


async def test_the_story_page_shows_responses_in_order(site: SearchHarness) -> None:
    html = await page(site, f"/stories/{ANSWERED.story_id}")
    text = text_of(html)
    assert f'<h1 id="story-title">{ANSWERED.title}</h1>' in html
    assert f'href="/organisations/{ORG_A.id}">{ORG_A.name}</a>' in html
    assert MATERNITY.name in text
    assert 'data-criticality="2"' in html and "mildly critical" in text
    assert "Listening" in text and "reassured" in text
    assert "2 responses" in text
    assert re.findall(r'data-change="(\w+)"', html) == ["planned", "made"]
    assert text.index(FIRST_RESPONSE.body) < text.index(SECOND_RESPONSE.body)
    assert "Change planned" in text and "Change made" in text
    assert "<strong>Sam Jones</strong>, Head of Midwifery" in html
    # Where it stands: every stage reached up to a change made, that one current.
    assert 'data-progress="change_made"' in html
    assert html.count("progress-step--done") == 4
    assert re.search(r'aria-current="step">\s*Change made', html)


async def test_search_results_show_and_filter_by_progress(site: SearchHarness) -> None:
    html = await page(site, "/search?progress=change_made")
    assert re.findall(r'data-progress="(\w+)"', html) == ["change_made"]
    assert ANSWERED.title in html
    html = await page(site, "/search?progress=published")
    assert ANSWERED.title not in html
    assert set(re.findall(r'data-progress="(\w+)"', html)) == {"published"}
    html = await page(site, "/search?progress=finished", 422)
    assert "Choose where the stories stand from the list." in html


async def test_unknown_or_withdrawn_stories_get_a_404_page(site: SearchHarness) -> None:
    for path in (f"/stories/{GONE.story_id}", f"/stories/{uuid.uuid4()}", "/stories/nonsense"):
        html = await page(site, path, 404)
        assert "Story not found" in html
        assert GONE.body not in html


async def test_the_organisation_page_charts_its_statistics(site: SearchHarness) -> None:
    html = await page(site, f"/organisations/{ORG_A.id}")
    text = text_of(html)
    assert f"<h1>{ORG_A.name}</h1>" in html
    assert re.search(r'id="figure-stories"[^>]*>2<', html)
    assert "50% (1 of 2)" in text
    assert "5 hours" in text  # the median time to the first response
    for chart in ("chart-stories", "chart-response-rate", "chart-median"):
        assert f'<svg id="{chart}" role="img" aria-labelledby="{chart}-title"' in html
    # Both stories were published in July 2025: one month, one bar per chart.
    rows = re.findall(rf'<th [^>]*scope="row">{HEADING}([^<]+)</th>', html)
    assert rows == ["July 2025"]
    assert html.count("<rect ") == 3


async def test_the_organisation_page_fills_months_without_stories(site: SearchHarness) -> None:
    html = await page(site, f"/organisations/{ORG_B.id}")
    rows = re.findall(
        rf'<th [^>]*scope="row">{HEADING}([^<]+)</th><td [^>]*>{HEADING}(\d+)</td>', html
    )
    months = [month for month, _ in rows]
    # The routine visits span June to October 2025; August had none but still shows.
    assert months == ["June 2025", "July 2025", "August 2025", "September 2025", "October 2025"]
    assert ("August 2025", "0") in rows
    assert sum(int(count) for _, count in rows) == 11
    assert "0% (0 of 11)" in text_of(html)
    assert "no response yet" in text_of(html)


async def test_an_unknown_organisation_gets_a_404_page(site: SearchHarness) -> None:
    html = await page(site, "/organisations/NOPE", 404)
    assert "Organisation not found" in html
    await page(site, "/organisations/" + "X" * 41, 404)


async def test_the_pages_stay_out_of_the_api_description(site: SearchHarness) -> None:
    spec = (await site.client.get("/openapi.json")).json()
    assert all(path.startswith("/v1/") for path in spec["paths"]), list(spec["paths"])


async def test_the_shared_stylesheet_is_served(site: SearchHarness) -> None:
    got = await site.client.get("/static/candour.css")
    assert got.status_code == 200
    assert isinstance(got, httpx.Response)
