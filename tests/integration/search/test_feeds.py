"""Atom feeds of stories and responses, read with a real feed parser."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from lxml import etree

from candour_common.events import Tags
from tests.integration.search.conftest import (
    BASE_TIME,
    EMERGENCY,
    ORG_A,
    ORG_B,
    SearchHarness,
    approved,
    eventually,
    response,
    withdrawn,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ATOM = "{http://www.w3.org/2005/Atom}"


def valid_atom(xml: bytes) -> etree._Element:
    """Well-formed, and what RFC 4287 requires of a feed and of each entry."""
    root = etree.fromstring(xml)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    feed_author = root.find(f"{ATOM}author") is not None
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert entry.find(f"{ATOM}id").text.startswith("tag:")
        # A link without rel is rel="alternate" (RFC 4287, 4.2.7.2).
        links = entry.findall(f"{ATOM}link")
        assert any(link.get("rel", "alternate") == "alternate" for link in links)
        assert feed_author or entry.find(f"{ATOM}author") is not None
    return root


async def test_stories_feed_follows_a_search(search_service: SearchHarness) -> None:
    h = search_service
    older = approved(
        title="Kind midwives",
        body="The midwives were kind at night. " * 40,
        tags=Tags(good=["Kindness"]),
        criticality=0,
        published_at=BASE_TIME,
    )
    newer = approved(
        title="Long wait in A&E",
        body="We waited nine hours in the emergency department.",
        service=EMERGENCY,
        criticality=4,
        published_at=BASE_TIME + timedelta(days=2),
    )
    elsewhere = approved(title="District nurses", organisation=ORG_B, service=None)
    for story in (older, newer, elsewhere):
        await h.consumed(await h.publish(story))

    page = await h.client.get("/v1/feeds/stories.atom", params={"organisation_id": ORG_A.id})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("application/atom+xml")
    valid_atom(page.content)
    feed = feedparser.parse(page.content)
    assert not feed.bozo, feed.bozo_exception
    assert [e.title for e in feed.entries] == ["Long wait in A&E", "Kind midwives"]
    first = feed.entries[0]
    assert str(newer.story_id) in first.id
    assert first.link.endswith(f"/stories/{newer.story_id}")
    assert first.published_parsed and first.updated_parsed
    assert any(t.term == "4" and t.label == "strongly critical" for t in first.tags)
    kind = feed.entries[1]
    assert any(t.term == "kindness" for t in kind.tags)
    assert len(kind.summary) < 600 and kind.summary.endswith("…")
    assert feed.feed.links[0].rel == "self"

    # Conditional GET: the same feed is not sent twice.
    etag, modified = page.headers["etag"], page.headers["last-modified"]
    again = await h.client.get(
        "/v1/feeds/stories.atom",
        params={"organisation_id": ORG_A.id},
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304 and again.content == b""
    since = await h.client.get(
        "/v1/feeds/stories.atom",
        params={"organisation_id": ORG_A.id},
        headers={"If-Modified-Since": modified},
    )
    assert since.status_code == 304

    # A search's words filter the feed as they filter /v1/search.
    words = feedparser.parse(
        (await h.client.get("/v1/feeds/stories.atom", params={"q": "midwives"})).content
    )
    assert [e.title for e in words.entries] == ["Kind midwives"]

    # A withdrawn story leaves the feed at once, and the feed's ETag changes.
    await h.consumed(await h.publish(withdrawn(newer)))
    after = await h.client.get(
        "/v1/feeds/stories.atom",
        params={"organisation_id": ORG_A.id},
        headers={"If-None-Match": etag},
    )
    assert after.status_code == 200
    assert [e.title for e in feedparser.parse(after.content).entries] == ["Kind midwives"]

    # A filter XML cannot carry (found by schemathesis: a 500) still gives a valid feed.
    odd = await h.client.get("/v1/feeds/stories.atom", params={"organisation_id": "A\x01B"})
    assert odd.status_code == 200
    valid_atom(odd.content)

    bad = await h.client.get("/v1/feeds/stories.atom", params={"min_criticality": "9"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.min_criticality"


async def test_responses_feed(search_service: SearchHarness) -> None:
    h = search_service
    story = approved(title="Lost letter")
    await h.consumed(await h.publish(story))
    first = response(story, body="We are sorry; we have changed how letters are sent.")
    second = response(
        story, body="An update: the change is made.", posted_at=BASE_TIME + timedelta(days=9)
    )
    second = second.model_copy(update={"change": "made"})
    other = approved(title="Elsewhere", organisation=ORG_B, service=None)
    await h.consumed(await h.publish(other))
    for event in (first, second, response(other)):
        await h.consumed(await h.publish(event))

    page = await h.client.get("/v1/feeds/responses.atom", params={"organisation_id": ORG_A.id})
    assert page.status_code == 200
    valid_atom(page.content)
    feed = feedparser.parse(page.content)
    assert not feed.bozo
    assert [e.summary for e in feed.entries] == [second.body, first.body]
    assert feed.entries[0].link.endswith(f"/stories/{story.story_id}#response-{second.response_id}")
    assert "Head of Midwifery" in feed.entries[0].author
    assert any(t.term == "change-made" for t in feed.entries[0].tags)

    await h.consumed(await h.publish(withdrawn(story)))

    async def emptied() -> bool:
        body = (
            await h.client.get("/v1/feeds/responses.atom", params={"organisation_id": ORG_A.id})
        ).content
        return feedparser.parse(body).entries == []

    await eventually(emptied)


async def test_pages_link_their_feeds(search_service: SearchHarness) -> None:
    h = search_service
    await h.consumed(await h.publish(approved(title="Linked")))
    search_page = (await h.client.get("/search", params={"q": "linked"})).text
    assert 'type="application/atom+xml"' in search_page
    assert "/v1/feeds/stories.atom?q=linked" in search_page
    organisation_page = (await h.client.get(f"/organisations/{ORG_A.id}")).text
    assert f"/v1/feeds/stories.atom?organisation_id={ORG_A.id}" in organisation_page
    assert 'id="feeds"' in organisation_page
