"""Search's event handlers and subscriptions over the fake unit of work.

Redelivery is the consumer's business (it records the inbox before a handler runs:
tests/integration/common/test_event_consumer.py, and tests/integration/search for the
index); these test what each handler does with an event it is given, and that the
batch handler of story.approved ends where applying the batch one by one ends.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered
from candour_common.events import (
    BaseEvent,
    OrganisationListed,
    ResponsePosted,
    StoryApproved,
    StoryWithdrawn,
    VoicesSummarised,
)
from candour_common.topics import Topic
from candour_search.entrypoints import consumers
from candour_search.service_layer import handlers
from candour_search.settings import SearchSettings
from tests.unit.search.fakes import FakeDatabase, FakeState
from tests.unit.search.test_index_fold import AT, reply, story

pytestmark = pytest.mark.unit
MINUTE = timedelta(minutes=1)


def withdrawal(story_id: uuid.UUID) -> StoryWithdrawn:
    return StoryWithdrawn(story_id=story_id, withdrawn_at=AT, organisation_id="RXA")


def delivered(event: BaseEvent) -> Delivered[BaseEvent]:
    return Delivered(event, Envelope.new(event, service="moderation"))


def listed(organisation_id: str, name: str) -> OrganisationListed:
    return OrganisationListed(
        organisation_id=organisation_id, name=name, type="nhs_trust", listed_at=AT
    )


def voices(programme: str, at: datetime) -> VoicesSummarised:
    return VoicesSummarised(
        programme=programme, summarised_at=at, suppressed_below=5, characteristics=[]
    )


def index_of(state: FakeState) -> dict[uuid.UUID, tuple[int, str, int, str]]:
    return {
        s: (kept.event.revision, kept.event.title, kept.response_count, kept.response_text)
        for s, kept in state.stories.items()
    }


async def test_a_story_is_indexed_and_a_newer_revision_replaces_it() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await handlers.index_story(db.uow(), story(story_id, 1, "First"))
    await handlers.index_story(db.uow(), story(story_id, 3, "Third"))
    await handlers.index_story(db.uow(), story(story_id, 2, "Second, late"))
    await handlers.index_story(db.uow(), story(story_id, 3, "Third again, other text"))
    assert index_of(db.state) == {story_id: (3, "Third", 0, "")}


async def test_a_response_before_its_story_counts_once_the_story_arrives() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await handlers.add_response(db.uow(), reply(story_id, uuid.uuid4(), body="Early reply."))
    assert db.state.stories == {}
    await handlers.index_story(db.uow(), story(story_id))
    assert index_of(db.state)[story_id][2:] == (1, "Early reply.")


async def test_an_older_response_version_is_ignored_and_a_deleted_one_leaves() -> None:
    db = FakeDatabase()
    story_id, response_id = uuid.uuid4(), uuid.uuid4()
    await handlers.index_story(db.uow(), story(story_id))
    await handlers.add_response(db.uow(), reply(story_id, response_id, version=2, body="v2"))
    await handlers.add_response(db.uow(), reply(story_id, response_id, version=1, body="v1"))
    assert index_of(db.state)[story_id][2:] == (1, "v2")
    await handlers.add_response(db.uow(), reply(story_id, response_id, version=3, deleted=True))
    assert index_of(db.state)[story_id][2:] == (0, "")


async def test_a_withdrawn_story_leaves_the_index_and_its_themes_and_stays_out() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await handlers.index_story(db.uow(), story(story_id))
    await handlers.add_response(db.uow(), reply(story_id, uuid.uuid4()))
    await handlers.withdraw_story(db.uow(), withdrawal(story_id))
    assert db.state.stories == {}
    assert db.state.responses == {}
    assert db.state.forgotten == [story_id]
    # Later (or redelivered older) events about it change nothing.
    await handlers.index_story(db.uow(), story(story_id, 2))
    await handlers.add_response(db.uow(), reply(story_id, uuid.uuid4()))
    await handlers.index_stories(db.uow(), [story(story_id, 3)])
    assert db.state.stories == {}
    assert db.state.responses == {}


async def test_tombstones_erase_a_story_or_one_response_or_every_response() -> None:
    db = FakeDatabase()
    kept, erased = uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    for story_id in (kept, erased):
        await handlers.index_story(db.uow(), story(story_id))
    await handlers.add_response(db.uow(), reply(kept, first, body="one"))
    await handlers.add_response(db.uow(), reply(kept, second, body="two"))

    await handlers.erase_by_tombstone(db.uow(), Topic.RESPONSE_POSTED, f"{kept}/{first}", AT)
    assert index_of(db.state)[kept][2:] == (1, "two")
    await handlers.erase_by_tombstone(db.uow(), Topic.RESPONSE_POSTED, str(kept), AT)
    assert index_of(db.state)[kept][2:] == (0, "")
    await handlers.erase_by_tombstone(db.uow(), Topic.STORY_APPROVED, str(erased), AT)
    assert set(db.state.stories) == {kept}
    assert erased in db.state.withdrawn


async def test_a_tombstone_naming_nothing_is_a_bad_message_and_changes_nothing() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await handlers.index_story(db.uow(), story(story_id))
    with pytest.raises(ValueError):
        await handlers.erase_by_tombstone(db.uow(), Topic.STORY_APPROVED, "not-a-uuid", AT)
    with pytest.raises(ValueError):
        await handlers.erase_by_tombstone(db.uow(), Topic.STORY_WITHDRAWN, str(story_id), AT)
    assert set(db.state.stories) == {story_id}


async def test_the_directory_keeps_the_last_name_of_each_organisation() -> None:
    db = FakeDatabase()
    await handlers.list_organisations(
        db.uow(), [listed("RXA", "Old name"), listed("RXB", "Hillview"), listed("RXA", "New")]
    )
    assert db.state.organisations == {"RXA": "New", "RXB": "Hillview"}


async def test_the_directory_keeps_each_organisations_welsh_name_as_the_last_entry_has_it() -> None:
    db = FakeDatabase()
    powys = listed("7A7", "Powys Teaching Health Board")
    welsh = powys.model_copy(update={"name_cy": "Bwrdd Iechyd Addysgu Powys"})
    await handlers.list_organisations(db.uow(), [powys, welsh, listed("RXB", "Hillview")])
    assert db.state.welsh_names == {"7A7": "Bwrdd Iechyd Addysgu Powys"}
    assert await handlers.welsh_names(db.uow()) == {"7A7": "Bwrdd Iechyd Addysgu Powys"}
    # A later entry without a Welsh name takes it away.
    await handlers.list_organisations(db.uow(), [powys])
    assert await handlers.welsh_names(db.uow()) == {}


async def test_an_older_voices_summary_arriving_late_changes_nothing() -> None:
    db = FakeDatabase()
    newer, older = voices("maternity", AT), voices("maternity", AT - timedelta(days=1))
    await handlers.record_voices(db.uow(), newer)
    await handlers.record_voices(db.uow(), older)
    assert db.state.voices == {"maternity": newer}


Backlog = list[StoryApproved | StoryWithdrawn | ResponsePosted]


def approvals(seed: int) -> Backlog:
    """A backlog with repeats: revisions out of order, equal revisions with other text,
    responses before and after their stories, withdrawals in between."""
    rng = random.Random(seed)
    ids = [uuid.uuid4() for _ in range(12)]
    out: Backlog = []
    for n in range(80):
        story_id = rng.choice(ids)
        chance = rng.random()
        if chance < 0.06:
            out.append(withdrawal(story_id))
        elif chance < 0.25:
            out.append(reply(story_id, uuid.uuid4(), body=f"Reply {n}", posted_at=AT + n * MINUTE))
        else:
            out.append(story(story_id, rng.randint(1, 4), f"Title {n}"))
    return out


async def one_by_one(events: Backlog) -> FakeState:
    db = FakeDatabase()
    for event in events:
        if isinstance(event, StoryApproved):
            await handlers.index_story(db.uow(), event)
        elif isinstance(event, ResponsePosted):
            await handlers.add_response(db.uow(), event)
        else:
            await handlers.withdraw_story(db.uow(), event)
    return db.state


async def in_batches(events: Backlog, seed: int) -> FakeState:
    """As the consumer calls the subscriptions: consecutive story.approved events of a
    batch go to the batch handler together, in one unit of work."""
    subs = consumers.subscriptions(SearchSettings())
    approved = subs.get(Topic.STORY_APPROVED)
    assert approved.handle_batch is not None
    rng = random.Random(seed)
    db = FakeDatabase()
    i = 0
    while i < len(events):
        uow = db.uow()
        async with uow:
            end = min(len(events), i + rng.choice([1, 5, 30]))
            while i < end:
                event = events[i]
                if not isinstance(event, StoryApproved):
                    await subs.get(event.topic).handle(uow, event, delivered(event).envelope)
                    i += 1
                    continue
                j = i
                while j < end and isinstance(events[j], StoryApproved):
                    j += 1
                await approved.handle_batch(uow, [delivered(e) for e in events[i:j]])
                i = j
    return db.state


@pytest.mark.parametrize("seed", range(8))
async def test_the_batch_of_approvals_ends_where_one_by_one_ends(seed: int) -> None:
    events = approvals(seed)
    expected = await one_by_one(events)
    batched = await in_batches(events, seed)
    assert index_of(batched) == index_of(expected)
    assert batched.withdrawn.keys() == expected.withdrawn.keys()
    assert batched.responses == expected.responses
    assert any(count for _, _, count, _ in index_of(expected).values())


async def test_the_batch_writes_stories_and_response_columns_in_one_statement() -> None:
    events = [story(uuid.uuid4(), 1, f"Story {n}") for n in range(50)]
    db = FakeDatabase()
    await handlers.index_stories(db.uow(), events)
    # The upsert of all 50 computes their response columns too.
    assert db.state.statements == 1
    assert len(db.state.stories) == 50


async def test_a_failing_batch_changes_nothing() -> None:
    db = FakeDatabase()
    kept = story(uuid.uuid4())
    await handlers.index_story(db.uow(), kept)
    before = index_of(db.state)

    async def batch_then_a_failure() -> None:
        uow = db.uow()
        async with uow:
            await handlers.index_stories(uow, [story(uuid.uuid4()), story(kept.story_id, 2)])
            raise RuntimeError("the next record's handler failed")

    with pytest.raises(RuntimeError):
        await batch_then_a_failure()
    assert index_of(db.state) == before


def test_search_reads_each_topic_once_and_documents_each() -> None:
    subs = consumers.subscriptions(SearchSettings())
    assert subs.service == "search"
    assert set(subs.topics) == {
        Topic.STORY_APPROVED,
        Topic.RESPONSE_POSTED,
        Topic.STORY_WITHDRAWN,
        Topic.DIRECTORY_ORGANISATIONS,
        Topic.INSIGHT_VOICES,
    }
    assert all(s.description for s in subs)
    tombstones = {s.topic for s in subs if s.handle_tombstone is not None}
    assert tombstones == {Topic.STORY_APPROVED, Topic.RESPONSE_POSTED}


async def test_a_tombstone_without_an_envelope_erases_at_once() -> None:
    subs = consumers.subscriptions(SearchSettings())
    on_tombstone = subs.get(Topic.STORY_APPROVED).handle_tombstone
    assert on_tombstone is not None
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await handlers.index_story(db.uow(), story(story_id))
    before = datetime.now(UTC)
    await on_tombstone(db.uow(), str(story_id), None)
    assert db.state.stories == {}
    assert db.state.withdrawn[story_id] >= before


async def test_each_subscription_reaches_its_handler() -> None:
    subs = consumers.subscriptions(SearchSettings())
    db = FakeDatabase()
    story_id = uuid.uuid4()
    for event in (
        listed("RXA", "Riverside"),
        voices("maternity", AT),
        story(story_id),
        reply(story_id, uuid.uuid4()),
    ):
        d = delivered(event)
        await subs.get(event.topic).handle(db.uow(), event, d.envelope)
    assert db.state.organisations == {"RXA": "Riverside"}
    assert set(db.state.voices) == {"maternity"}
    assert index_of(db.state)[story_id][2] == 1
    event = withdrawal(story_id)
    await subs.get(Topic.STORY_WITHDRAWN).handle(db.uow(), event, delivered(event).envelope)
    assert db.state.stories == {}
