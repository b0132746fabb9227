"""A response corrected or deleted by its responder: search keeps the newest version
(real Kafka, real PostgreSQL), ignores an older one arriving late, and a redelivery
changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from candour_common.events import ResponsePosted
from candour_common.keys import response_key
from candour_common.topics import Topic
from tests.integration.search.conftest import SearchHarness, approved, response

pytestmark = pytest.mark.integration


def version(first: ResponsePosted, number: int, **changes: object) -> ResponsePosted:
    return first.model_copy(
        update={
            "version": number,
            "edited_at": first.posted_at + timedelta(minutes=number),
            **changes,
        }
    )


def word() -> str:
    return "zq" + uuid.uuid4().hex[:8]


async def story_page(harness: SearchHarness, story_id: uuid.UUID) -> dict[str, object]:
    answer = await harness.client.get(f"/v1/stories/{story_id}")
    assert answer.status_code == 200, answer.text
    page: dict[str, object] = answer.json()
    return page


async def test_a_corrected_response_replaces_the_first_and_a_late_older_one_is_ignored(
    search_service: SearchHarness,
) -> None:
    typo, fixed = word(), word()
    story = approved(title=f"Story {typo}")
    await search_service.publish(story)
    first = response(story, body=f"Thank you, we have shraed this ({typo}).")
    posted = await search_service.publish(first)
    corrected = await search_service.publish(
        version(first, 2, body=f"Thank you, we have shared this ({fixed}).")
    )
    await search_service.consumed(posted, corrected)
    # Version 1 again, as a replayed dead letter or a second producer would send it: a new
    # event id, so the inbox does not stop it; its version does.
    late = await search_service.publish(first)
    # And the correction redelivered (same event id): nothing changes either.
    again = await search_service.publish(
        version(first, 2, body="forged"), envelope=corrected.envelope
    )
    await search_service.consumed(late, again)

    page = await story_page(search_service, story.story_id)
    responses = page["responses"]
    assert isinstance(responses, list) and len(responses) == 1
    assert responses[0]["body"] == f"Thank you, we have shared this ({fixed})."
    assert responses[0]["posted_at"].startswith(first.posted_at.isoformat()[:16])
    assert (await search_service.search(q=fixed))["total"] == 1
    assert (await search_service.search(q=typo))["results"][0]["response_count"] == 1
    html = await search_service.client.get(f"/stories/{story.story_id}")
    assert "edited by its author" in html.text and "shraed" not in html.text


async def test_a_deleted_response_leaves_the_index_and_an_older_version_does_not_return(
    search_service: SearchHarness,
) -> None:
    text = word()
    story = approved(title=f"Story {text}")
    await search_service.publish(story)
    first = response(story, body=f"We will call you ({text}).", change="planned")
    posted = await search_service.publish(first)
    await search_service.consumed(posted)
    assert (await search_service.search(q=text, responded="true"))["total"] == 1

    deleted = await search_service.publish(version(first, 2, body="", change=None, deleted=True))
    tombstone = await search_service.publish_tombstone(
        Topic.RESPONSE_POSTED, response_key(story.story_id, first.response_id), story.story_id
    )
    await search_service.consumed(deleted, tombstone)
    late = await search_service.publish(first)  # the first version, arriving late
    await search_service.consumed(late)

    page = await story_page(search_service, story.story_id)
    assert page["responses"] == []
    assert page["response_count"] == 0
    hits = (await search_service.search(q=text))["results"]
    assert len(hits) == 1 and hits[0]["response_count"] == 0
    assert (await search_service.search(q=text, responded="true"))["total"] == 0


async def test_a_correction_seen_before_its_first_version_wins(
    search_service: SearchHarness,
) -> None:
    """Out of order (a replay after the newer version): the newest stays."""
    text = word()
    story = approved(title=f"Story {text}")
    await search_service.publish(story)
    first = response(story, body="first words")
    newer = await search_service.publish(version(first, 3, body=f"third words {text}"))
    older = await search_service.publish(version(first, 2, body="second words"))
    oldest = await search_service.publish(first)
    await search_service.consumed(newer, older, oldest)
    page = await story_page(search_service, story.story_id)
    responses = page["responses"]
    assert isinstance(responses, list)
    assert [r["body"] for r in responses] == [f"third words {text}"]
