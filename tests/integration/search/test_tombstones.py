"""Tombstones on story.approved and response.posted, live and in a rebuild, before and
after Apache Kafka has compacted the topics.

A withdrawal leaves story.withdrawn plus tombstones (null values): one on story.approved
for the story, one on response.posted per response (key `<story id>/<response id>`).
Another story is erased by its tombstone alone (no story.withdrawn): a null value on
story.approved means the story is gone. Live, search takes both out; a rebuild from the
beginning gives the same index, with no message counted unreadable, both while the
superseded records are still on the topics and after compaction removed them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from candour_common.keys import response_key, story_key
from candour_common.topics import Topic, TopicNames
from candour_search.service_layer.rebuild import rebuild_index
from tests import infra
from tests.compaction import create_compacted_topics, wait_for_compaction
from tests.integration.search.conftest import (
    ORG_B,
    SearchHarness,
    approved,
    response,
    running_search,
    withdrawn,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

WITHDRAWN_WORD = f"zebra{uuid.uuid4().hex[:6]}"
UNPUBLISHED_WORD = f"okapi{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def compacted_search(
    create_database: Callable[[str], Awaitable[str]], kafka_bootstrap: str
) -> AsyncIterator[SearchHarness]:
    topics = TopicNames(prefix=f"t{uuid.uuid4().hex[:10]}.")
    await create_compacted_topics(kafka_bootstrap, topics)
    try:
        async with running_search(
            await create_database("search"), kafka_bootstrap, topics
        ) as harness:
            yield harness
    finally:
        await infra.delete_topics(kafka_bootstrap, topics.prefix)


async def index_view(harness: SearchHarness, ids: list[uuid.UUID]) -> dict[str, Any]:
    pages = {}
    for story_id in ids:
        answer = await harness.client.get(f"/v1/stories/{story_id}")
        pages[str(story_id)] = (answer.status_code, answer.json())
    return {
        "all": await harness.search(limit=100),
        "withdrawn word": await harness.search(q=WITHDRAWN_WORD),
        "unpublished word": await harness.search(q=UNPUBLISHED_WORD),
        "pages": pages,
    }


async def test_tombstones_erase_live_and_a_rebuild_agrees_before_and_after_compaction(
    compacted_search: SearchHarness, kafka_bootstrap: str
) -> None:
    harness = compacted_search
    kept = approved(title="Kept story", body="The district nurses were wonderful.")
    gone = approved(title=f"Withdrawn {WITHDRAWN_WORD}", body=f"Words {WITHDRAWN_WORD} here.")
    unpublished = approved(
        title=f"Unpublished {UNPUBLISHED_WORD}", body=f"{UNPUBLISHED_WORD} body", organisation=ORG_B
    )
    kept_reply = response(kept, body="Thank you, we passed it on.")
    gone_reply = response(gone, body=f"Sorry {WITHDRAWN_WORD}.")
    # A response from before responses had keys of their own: keyed by the story id.
    legacy = approved(title="Story with an old response", organisation=ORG_B)
    legacy_reply = response(legacy, body=f"An old reply {WITHDRAWN_WORD}.")
    published = [
        await harness.publish(event)
        for event in (kept, gone, unpublished, legacy, kept_reply, gone_reply, withdrawn(gone))
    ]
    published.append(await harness.publish_with_story_key(legacy_reply))
    published += [
        await harness.publish_tombstone(
            Topic.STORY_APPROVED, story_key(gone.story_id), gone.story_id
        ),
        await harness.publish_tombstone(
            Topic.RESPONSE_POSTED,
            response_key(gone.story_id, gone_reply.response_id),
            gone.story_id,
        ),
        await harness.publish_tombstone(
            Topic.STORY_APPROVED, story_key(unpublished.story_id), unpublished.story_id
        ),
        # A bare story id on response.posted: every response of that story goes.
        await harness.publish_tombstone(
            Topic.RESPONSE_POSTED, story_key(legacy.story_id), legacy.story_id
        ),
    ]
    await harness.consumed(*published)
    ids = [kept.story_id, gone.story_id, unpublished.story_id, legacy.story_id]

    live = await index_view(harness, ids)
    assert {hit["story_id"] for hit in live["all"]["results"]} == {
        str(kept.story_id),
        str(legacy.story_id),
    }
    assert live["pages"][str(legacy.story_id)][1]["response_count"] == 0
    assert live["withdrawn word"]["total"] == 0
    assert live["unpublished word"]["total"] == 0
    assert live["pages"][str(gone.story_id)][0] == 404
    assert live["pages"][str(unpublished.story_id)][0] == 404
    assert live["pages"][str(kept.story_id)][1]["response_count"] == 1

    database_url = harness.settings.database_url.get_secret_value()
    before_compaction = await rebuild_index(database_url, kafka_bootstrap, harness.topics)
    assert before_compaction.unreadable == ()
    assert await index_view(harness, ids) == live

    # Let the broker compact: then nothing of the erased stories' text is on the topics.
    def holds_erased_text(record: infra.Record) -> bool:
        value = record.value or b""
        return WITHDRAWN_WORD.encode() in value or UNPUBLISHED_WORD.encode() in value

    for topic in (Topic.STORY_APPROVED, Topic.RESPONSE_POSTED):
        left = await wait_for_compaction(
            kafka_bootstrap, harness.topics, topic, erased=holds_erased_text
        )
        assert any(r.value is not None for r in left), f"{topic.value} lost the kept story"

    after_compaction = await rebuild_index(database_url, kafka_bootstrap, harness.topics)
    assert after_compaction.unreadable == ()
    # It kept the documents of the stories still live (the first rebuild vouched for
    # them), and erased stories stay erased.
    assert after_compaction.documents_reused > 0
    assert await index_view(harness, ids) == live
