"""Rebuild by replay: the rebuilt index answers exactly like the live one, the live
service answers throughout, and events consumed by the live service during the rebuild
are in the new index."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition

from candour_common.cloudevents import Envelope
from candour_common.events import Event, OrganisationRef, ServiceRef, StoryApproved, Tags
from candour_search.service_layer.rebuild import RebuildPhase, RebuildProgress, rebuild_index
from tests.integration.search.conftest import (
    BASE_TIME,
    DISTRICT,
    EMERGENCY,
    MATERNITY,
    ORG_A,
    ORG_B,
    Published,
    SearchHarness,
    approved,
    response,
    withdrawn,
)

pytestmark = pytest.mark.integration

ORG_C = OrganisationRef(id="RXC", name="Lakeside Mental Health Partnership")
CRISIS = ServiceRef(id="RXC-CRT", name="Crisis Team")
PLACES: list[tuple[OrganisationRef, ServiceRef | None]] = [
    (ORG_A, MATERNITY),
    (ORG_A, EMERGENCY),
    (ORG_A, None),
    (ORG_B, DISTRICT),
    (ORG_C, CRISIS),
]
TAGS = ["kind staff", "waiting", "communication", "parking", "food", "dignity", "pain relief"]
WORDS = [
    "nurse",
    "midwife",
    "doctor",
    "ward",
    "discharge",
    "appointment",
    "waited",
    "hours",
    "listened",
    "explained",
    "medication",
    "scan",
    "triage",
    "visit",
    "family",
    "night",
    "shift",
    "reception",
    "kind",
    "rude",
    "clean",
    "busy",
]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def fixture_events(seed: int = 7) -> tuple[list[Event], list[StoryApproved]]:
    """Forty stories over three organisations, later revisions, responses (one before its
    story), and withdrawals (one published before its approval). Returns the events in
    publishing order and the stories withdrawn."""
    rng = random.Random(seed)
    stories: list[StoryApproved] = []
    for n in range(40):
        organisation, service = PLACES[n % len(PLACES)]
        stories.append(
            approved(
                title=sentence(rng, 5),
                body=" ".join(sentence(rng, rng.randint(8, 20)) for _ in range(rng.randint(2, 6))),
                organisation=organisation,
                service=service,
                tags=Tags(
                    good=rng.sample(TAGS, rng.randint(0, 2)),
                    improve=rng.sample(TAGS, rng.randint(0, 2)),
                ),
                criticality=rng.choice([None, 0, 1, 2, 3, 4, 5]),
                published_at=BASE_TIME + timedelta(hours=7 * n),
            )
        )
    events: list[Event] = []
    # A response consumed before its story (another topic) still counts.
    events.append(response(stories[0], body="We are sorry to hear this.", change="planned"))
    events.extend(stories)
    for story in stories[::3]:
        events.append(response(story, body=sentence(rng, 12)))
    for story in stories[1::4]:
        events.append(response(story, body=sentence(rng, 9), change="made"))
    # Second revisions replace the first.
    for story in stories[5:8]:
        events.append(story.model_copy(update={"revision": 2, "title": story.title + " (edited)"}))
    gone = [stories[3], stories[9], stories[10]]
    events.extend(withdrawn(story) for story in gone)
    # Withdrawn before its approval arrives: it must never appear.
    late = approved(title="Withdrawn before it was indexed", published_at=BASE_TIME)
    events.insert(0, withdrawn(late))
    events.append(late)
    gone.append(late)
    return events, gone


async def publish_all(
    harness: SearchHarness, events: list[Event], *, envelopes: list[Envelope] | None = None
) -> list[Published]:
    if envelopes is None:
        return [await harness.publish(event) for event in events]
    return [
        await harness.publish(e, envelope=env) for e, env in zip(events, envelopes, strict=True)
    ]


async def publish_poison(harness: SearchHarness) -> Published:
    """A message with a valid envelope but no valid event: dead-lettered live, skipped in a
    rebuild."""
    story = approved()
    envelope = Envelope.new(story, service="test")
    topic = harness.topics.name(story.topic)
    meta = await harness.producer.send_and_wait(
        topic,
        value=b'{"not": "a story"}',
        key=str(story.story_id).encode(),
        headers=[(k, v.encode()) for k, v in envelope.headers().items()],
    )
    return Published(envelope, TopicPartition(topic, meta.partition), meta.offset)


async def snapshot(harness: SearchHarness, story_ids: list[uuid.UUID]) -> dict[str, Any]:
    """Everything the public sees: every page, queries with facets, story pages, stats."""
    pages = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        page = await harness.search(**params)
        pages.append(page)
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    queries = {
        q: await harness.search(q=q, limit=100)
        for q in ("nurse", '"waited hours"', "midwife -rude", "sorry", "edited")
    }
    filtered = await harness.search(organisation_id=ORG_A.id, tag="waiting", responded="true")
    story_pages = {}
    for story_id in story_ids:
        answer = await harness.client.get(f"/v1/stories/{story_id}")
        story_pages[str(story_id)] = (answer.status_code, answer.json())
    stats = {
        group: (await harness.client.get("/v1/stats", params={"group_by": group})).json()
        for group in ("month", "tag", "service", "criticality")
    }
    return {
        "pages": pages,
        "queries": queries,
        "filtered": filtered,
        "story_pages": story_pages,
        "stats": stats,
    }


def story_ids(events: list[Event]) -> list[uuid.UUID]:
    return list(dict.fromkeys(e.story_id for e in events))


async def table_oid(harness: SearchHarness) -> int:
    async with harness.pool.acquire() as conn:
        oid: int = await conn.fetchval("SELECT 'search_stories'::regclass::oid")
        return oid


async def leftover_schemas(harness: SearchHarness) -> list[str]:
    async with harness.pool.acquire() as conn:
        rows = await conn.fetch(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'search\_%'")
        return [r["nspname"] for r in rows]


def database_url(harness: SearchHarness) -> str:
    return harness.settings.database_url.get_secret_value()


async def test_a_rebuild_answers_like_the_live_index(search_service: SearchHarness) -> None:
    events, gone = fixture_events()
    published = await publish_all(search_service, events)
    published.append(await publish_poison(search_service))
    await search_service.consumed(*published)
    ids = story_ids(events)
    before = await snapshot(search_service, ids)
    # The fixture is what it claims to be.
    assert before["pages"][0]["total"] == 40 - 3
    for story in gone:
        assert before["story_pages"][str(story.story_id)][0] == 404
    assert before["story_pages"][str(ids[1])][1]["response_count"] == 2  # before and after it
    old_oid = await table_oid(search_service)

    reports: list[RebuildProgress] = []
    rebuild = asyncio.create_task(
        rebuild_index(
            database_url(search_service),
            search_service.settings.kafka_bootstrap,
            search_service.topics,
            on_progress=reports.append,
            batch_size=10,
        )
    )
    # The live service keeps answering, the same, while the rebuild runs.
    answered_during = 0
    while not rebuild.done():
        page = await search_service.search(limit=100)
        assert page["total"] == before["pages"][0]["total"]
        story_page = await search_service.client.get(f"/v1/stories/{ids[1]}")
        assert story_page.status_code == 200
        answered_during += 1
    result = await rebuild
    assert answered_during > 0

    assert await table_oid(search_service) != old_oid  # reads moved to new tables
    assert await leftover_schemas(search_service) == []
    assert result.events_applied == len(published)
    assert [m.offset for m in result.unreadable] == [published[-1].offset]
    assert reports[-1].phase is RebuildPhase.DONE
    assert reports[-1].events_done == len(published)
    assert any(r.phase is RebuildPhase.REPLAYING and r.events_done > 0 for r in reports)

    assert await snapshot(search_service, ids) == before
    assert result.documents_reused == 0  # no rebuild had vouched for the live documents

    # The switch recorded the recipe that made the documents: a second rebuild keeps the
    # documents of the stories that did not change, and answers the same.
    again = await rebuild_index(
        database_url(search_service),
        search_service.settings.kafka_bootstrap,
        search_service.topics,
        batch_size=10,
    )
    assert again.documents_reused > 0
    assert await snapshot(search_service, ids) == before

    # The live consumers go on writing, into the new tables.
    newer = approved(title="After the rebuild", body="Written after the switch.")
    await search_service.consumed(*await publish_all(search_service, [newer]))
    page = await search_service.search(q="switch")
    assert [hit["story_id"] for hit in page["results"]] == [str(newer.story_id)]


async def test_events_the_live_service_consumed_during_a_rebuild_are_kept(
    search_service: SearchHarness,
) -> None:
    events, gone = fixture_events(seed=11)
    await search_service.consumed(*await publish_all(search_service, events))
    for withdrawn_story in gone:
        answer = await search_service.client.get(f"/v1/stories/{withdrawn_story.story_id}")
        assert answer.status_code == 404
    stories = [e for e in events if isinstance(e, StoryApproved)]
    answered, to_withdraw = stories[1], stories[2]
    arrived = approved(
        title="Published while the index was rebuilt",
        body="Indexed live, past the end offsets the rebuild started with.",
        organisation=ORG_B,
        service=DISTRICT,
    )
    during = [
        arrived,
        response(answered, body="A reply during the rebuild."),
        withdrawn(to_withdraw),
    ]
    ids = story_ids(events + during)
    expected: dict[str, Any] = {}
    sent: list[Published] = []

    async def midway(report: RebuildProgress) -> None:
        # Once, early in the replay: the live service consumes events beyond the rebuild's
        # starting end offsets, into the old tables, before the rebuild goes on.
        if report.phase is RebuildPhase.REPLAYING and report.events_done > 0 and not expected:
            sent.extend(await publish_all(search_service, during))
            await search_service.consumed(*sent)
            expected.update(await snapshot(search_service, ids))

    await rebuild_index(
        database_url(search_service),
        search_service.settings.kafka_bootstrap,
        search_service.topics,
        on_progress=midway,
        batch_size=5,
    )
    assert expected, "the rebuild never reported progress midway"
    after = await snapshot(search_service, ids)
    assert after == expected
    assert after["story_pages"][str(arrived.story_id)][0] == 200
    assert after["story_pages"][str(to_withdraw.story_id)][0] == 404
    assert "A reply during the rebuild." in [
        r["body"] for r in after["story_pages"][str(answered.story_id)][1]["responses"]
    ]

    # Redelivering what both the live service and the rebuild applied changes nothing:
    # the new tables' inbox has it.
    [again] = await publish_all(search_service, [during[1]], envelopes=[sent[1].envelope])
    await search_service.consumed(again)
    assert await snapshot(search_service, ids) == expected


@pytest.mark.parametrize("stop_in", [RebuildPhase.REPLAYING, RebuildPhase.INDEXING])
async def test_a_rebuild_stopped_midway_leaves_the_live_index_serving(
    search_service: SearchHarness, stop_in: RebuildPhase
) -> None:
    """Cancelled while it loads or while it builds its indexes (as Ctrl-C does): the live
    tables never stopped serving and are untouched, the build is dropped, and a schema a
    killed rebuild left behind is dropped by the next one."""
    events, _ = fixture_events(seed=5)
    await search_service.consumed(*await publish_all(search_service, events))
    ids = story_ids(events)
    before = await snapshot(search_service, ids)
    old_oid = await table_oid(search_service)

    async def stop(report: RebuildProgress) -> None:
        if report.phase is stop_in and (report.events_done > 0):
            # The live service answers while the build is half made.
            assert (await search_service.search(limit=100))["total"] == before["pages"][0]["total"]
            assert len(await leftover_schemas(search_service)) == 1
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await rebuild_index(
            database_url(search_service),
            search_service.settings.kafka_bootstrap,
            search_service.topics,
            on_progress=stop,
            batch_size=10,
        )
    assert await leftover_schemas(search_service) == []
    assert await table_oid(search_service) == old_oid
    assert await snapshot(search_service, ids) == before

    # A rebuild killed outright (no chance to clean up) leaves its build schema behind.
    async with search_service.pool.acquire() as conn:
        await conn.execute("CREATE SCHEMA search_build_1")
        await conn.execute("CREATE TABLE search_build_1.search_stories (story_id uuid)")
    result = await rebuild_index(
        database_url(search_service),
        search_service.settings.kafka_bootstrap,
        search_service.topics,
    )
    assert result.events_applied == len(events)
    assert await leftover_schemas(search_service) == []
    assert await snapshot(search_service, ids) == before
    # The live consumers write into the new tables.
    newer = approved(title="After the stopped rebuild", body="Indexed after all.")
    await search_service.consumed(*await publish_all(search_service, [newer]))
    assert [hit["story_id"] for hit in (await search_service.search(q="stopped"))["results"]] == [
        str(newer.story_id)
    ]
