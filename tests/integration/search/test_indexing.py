"""search builds its index from story.approved, response.posted and story.withdrawn."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from candour_common.events import PublicAuthor, Relationship, ResponsePosted, StoryApproved, Tags
from tests.integration.search.conftest import (
    EMERGENCY,
    ORG_A,
    SearchHarness,
    approved,
    eventually,
    response,
    withdrawn,
)

pytestmark = pytest.mark.integration


def unique_word() -> str:
    # A made-up word that only this test's story contains.
    return "zq" + uuid.uuid4().hex[:8]


async def test_an_approved_story_becomes_searchable(search_service: SearchHarness) -> None:
    word = unique_word()
    story = approved(
        title=f"Nurses were {word} and kind",
        body=f'The <b>night</b> team & the "day" team were {word}. <script>alert(1)</script>',
        service=EMERGENCY,
        tags=Tags(good=["Kind Staff"], improve=["parking"]),
        criticality=2,
    )
    await search_service.publish(story)

    async def found() -> dict[str, Any] | None:
        page = await search_service.search(q=word)
        return page if page["total"] == 1 else None

    page = await eventually(found)
    [hit] = page["results"]
    assert hit["story_id"] == str(story.story_id)
    assert hit["title"] == story.title
    assert hit["organisation"] == {"id": ORG_A.id, "name": ORG_A.name}
    assert hit["service"] == {"id": EMERGENCY.id, "name": EMERGENCY.name}
    assert hit["tags"] == ["kind staff", "parking"]
    assert hit["criticality"] == 2
    assert hit["response_count"] == 0
    assert f"<mark>{word}</mark>" in hit["snippet"]
    # Escaped first, then marked: the only markup in a snippet is <mark>.
    assert "<script>" not in hit["snippet"]
    assert "&lt;script&gt;" in hit["snippet"]
    assert "&lt;/b&gt;" in hit["snippet"]
    unmarked = hit["snippet"].replace("<mark>", "").replace("</mark>", "")
    assert "<" not in unmarked
    assert ">" not in unmarked
    assert '"' not in unmarked
    assert "&amp;" in hit["snippet"]
    assert page["next_cursor"] is None

    # Words are stemmed (English), and tags and names are searchable too.
    assert (await search_service.search(q=f"{word} nurse"))["total"] == 1
    assert (await search_service.search(q=f"{word} kind staff"))["total"] == 1
    assert (await search_service.search(q=f"{word} emergency"))["total"] == 1
    assert (await search_service.search(q=f"{word} -nurse"))["total"] == 0
    assert (await search_service.search(q=f'"{word} and kind"'))["total"] == 1

    page_response = await search_service.client.get(f"/v1/stories/{story.story_id}")
    assert page_response.status_code == 200
    published = page_response.json()
    assert published["body"] == story.body
    assert published["tags"] == {"good": ["Kind Staff"], "improve": ["parking"], "feelings": []}
    assert published["author"] == {"display_name": "A patient", "relationship": "patient"}
    assert published["criticality_label"] == "mildly critical"
    assert published["responses"] == []


async def test_unknown_story_is_404_problem(search_service: SearchHarness) -> None:
    response_ = await search_service.client.get(f"/v1/stories/{uuid.uuid4()}")
    assert response_.status_code == 404
    assert response_.headers["content-type"].startswith("application/problem+json")


async def test_a_redelivered_event_changes_nothing(search_service: SearchHarness) -> None:
    word = unique_word()
    story = approved(title=f"First {word}")
    first = await search_service.publish(story)
    await search_service.consumed(first)

    # The same event id again, even with other content, is not applied twice.
    forged = story.model_copy(update={"title": f"Changed {word}", "revision": 2})
    again = await search_service.publish(forged, envelope=first.envelope)
    await search_service.consumed(again)
    page = await search_service.search(q=word)
    assert [h["title"] for h in page["results"]] == [f"First {word}"]

    reply = response(story)
    posted = await search_service.publish(reply)
    await search_service.consumed(posted)
    await search_service.publish(reply, envelope=posted.envelope)
    # A second response after the duplicate on the same partition: once it shows,
    # the duplicate was handled too.
    last = await search_service.publish(response(story, body="And another thing."))
    await search_service.consumed(last)
    story_page = (await search_service.client.get(f"/v1/stories/{story.story_id}")).json()
    assert len(story_page["responses"]) == 2
    assert (await search_service.search(q=word))["results"][0]["response_count"] == 2


async def test_a_newer_revision_replaces_and_an_older_one_is_ignored(
    search_service: SearchHarness,
) -> None:
    word = unique_word()
    story = approved(title=f"Original {word}", criticality=4)
    await search_service.publish(story)
    await search_service.publish(
        story.model_copy(update={"title": f"Edited {word}", "revision": 2, "criticality": 3})
    )
    stale = await search_service.publish(
        story.model_copy(update={"title": f"Stale {word}", "revision": 1})
    )
    await search_service.consumed(stale)

    page = await search_service.search(q=word)
    assert page["total"] == 1
    assert page["results"][0]["title"] == f"Edited {word}"
    assert page["results"][0]["criticality"] == 3
    assert (await search_service.search(q=f"{word} original"))["total"] == 0
    story_page = (await search_service.client.get(f"/v1/stories/{story.story_id}")).json()
    assert story_page["revision"] == 2


async def test_a_response_updates_count_responded_and_the_text_index(
    search_service: SearchHarness,
) -> None:
    word, answer_word = unique_word(), unique_word()
    story = approved(title=f"Waiting {word}")
    other = approved(title=f"Unanswered {word}")
    await search_service.publish(story)
    await search_service.publish(other)
    later = response(story, body=f"We have changed the rota ({answer_word}).", change="made")
    earlier = replace_posted(response(story, body="We are sorry."), story, hours=1)
    await search_service.publish(later)
    await search_service.publish(earlier)

    async def answered() -> dict[str, Any] | None:
        page = await search_service.search(q=word, responded="true")
        hits = page["results"]
        return page if len(hits) == 1 and hits[0]["response_count"] == 2 else None

    page = await eventually(answered)
    assert page["results"][0]["story_id"] == str(story.story_id)
    unanswered = await search_service.search(q=word, responded="false")
    assert [h["story_id"] for h in unanswered["results"]] == [str(other.story_id)]
    assert (await search_service.search(q=word, change="made"))["total"] == 1
    assert (await search_service.search(q=word, change="planned"))["total"] == 0

    # Response text is searchable (lowest weight).
    found = await search_service.search(q=answer_word)
    assert [h["story_id"] for h in found["results"]] == [str(story.story_id)]

    story_page = (await search_service.client.get(f"/v1/stories/{story.story_id}")).json()
    assert story_page["response_count"] == 2
    assert [r["body"] for r in story_page["responses"]] == [earlier.body, later.body]
    assert story_page["responses"][1]["change"] == "made"
    assert story_page["responses"][0]["responder"] == {
        "display_name": "Sam Jones",
        "role": "Head of Midwifery",
    }


def replace_posted(event: ResponsePosted, story: StoryApproved, *, hours: int) -> ResponsePosted:
    return event.model_copy(update={"posted_at": story.published_at + timedelta(hours=hours)})


async def test_a_response_consumed_before_its_story_still_counts(
    search_service: SearchHarness,
) -> None:
    word = unique_word()
    story = approved(title=f"Late {word}")
    early = await search_service.publish(response(story))
    await search_service.consumed(early)
    await search_service.publish(story)

    async def counted() -> bool:
        hits = (await search_service.search(q=word))["results"]
        return len(hits) == 1 and hits[0]["response_count"] == 1

    await eventually(counted)


async def test_a_withdrawn_story_is_deleted_with_its_responses(
    search_service: SearchHarness,
) -> None:
    word = unique_word()
    story = approved(title=f"Withdraw me {word}")
    await search_service.publish(story)
    await search_service.publish(response(story))

    async def indexed() -> bool:
        hits = (await search_service.search(q=word))["results"]
        return len(hits) == 1 and hits[0]["response_count"] == 1

    await eventually(indexed)
    await search_service.publish(withdrawn(story))

    async def gone() -> bool:
        r = await search_service.client.get(f"/v1/stories/{story.story_id}")
        return r.status_code == 404

    await eventually(gone)
    assert (await search_service.search(q=word))["total"] == 0
    async with search_service.pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM search_stories WHERE story_id = $1", story.story_id
            )
            == 0
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM search_responses WHERE story_id = $1", story.story_id
            )
            == 0
        )

    # An approval or response consumed after the withdrawal does not bring it back.
    late = await search_service.publish(story.model_copy(update={"revision": 5}))
    late_reply = await search_service.publish(response(story))
    await search_service.consumed(late, late_reply)
    r = await search_service.client.get(f"/v1/stories/{story.story_id}")
    assert r.status_code == 404
    assert (await search_service.search(q=word))["total"] == 0


async def test_each_story_shows_its_progress_and_search_filters_by_it(
    search_service: SearchHarness,
) -> None:
    word = unique_word()
    waiting = approved(title=f"Waiting {word}")
    answered = approved(title=f"Answered {word}")
    planned = approved(title=f"Planned {word}")
    made = approved(title=f"Made {word}")
    for story in (waiting, answered, planned, made):
        await search_service.publish(story)
    await search_service.publish(response(answered, body="Thank you for telling us."))
    await search_service.publish(
        response(planned, body="We will change the rota.", change="planned")
    )
    await search_service.publish(response(made, body="The rota has changed.", change="made"))
    expected = {
        str(waiting.story_id): "published",
        str(answered.story_id): "responded",
        str(planned.story_id): "change_planned",
        str(made.story_id): "change_made",
    }

    async def all_answered() -> dict[str, str] | None:
        hits = (await search_service.search(q=word))["results"]
        progress = {h["story_id"]: h["progress"] for h in hits}
        return progress if progress == expected else None

    assert await eventually(all_answered) == expected
    for story_id, stage in expected.items():
        # One stage each: the filter selects exactly the stories standing there, with
        # words (counted over the index) and by organisation alone (the count tables).
        found = await search_service.search(q=word, progress=stage)
        assert [h["story_id"] for h in found["results"]] == [story_id]
        assert found["total"] == 1
        alone = await search_service.search(organisation_id=waiting.organisation.id, progress=stage)
        assert [h["story_id"] for h in alone["results"]] == [story_id]
        assert (alone["total"], alone["total_is_estimate"]) == (1, False)
        story_page = (await search_service.client.get(f"/v1/stories/{story_id}")).json()
        assert story_page["progress"] == stage
    bad = await search_service.client.get("/v1/search", params={"progress": "finished"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.progress"


async def test_a_story_without_a_name_is_shown_as_anonymous(
    search_service: SearchHarness,
) -> None:
    word = unique_word()
    story = approved(title=f"Told {word} without a name").model_copy(
        update={"author": PublicAuthor(relationship=Relationship.CARER)}
    )
    assert story.author.display_name is None
    await search_service.publish(story)

    async def found() -> dict[str, Any] | None:
        page = await search_service.search(q=word)
        return page if page["total"] == 1 else None

    await eventually(found)
    api = (await search_service.client.get(f"/v1/stories/{story.story_id}")).json()
    assert api["author"] == {"display_name": "Anonymous", "relationship": "carer"}
    page = await search_service.client.get(f"/stories/{story.story_id}")
    assert page.status_code == 200
    assert "shared by Anonymous (" in " ".join(page.text.split())
    feed = await search_service.client.get("/v1/feeds/stories.atom", params={"q": word})
    assert feed.status_code == 200, feed.text
    assert "<name>Anonymous</name>" in feed.text
