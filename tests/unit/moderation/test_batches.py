"""Moderation's subscriptions and its batch of submitted stories, over the fakes.

The event consumer (tests/integration/common/test_event_consumer.py) hands a backlog
of story.submitted to the topic's batch handler in one unit of work; these tests
drive the same subscriptions with the fake unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered
from candour_common.events import (
    SafeguardingRaised,
    StoryApproved,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.topics import Topic
from candour_moderation.adapters.screening import CHUNKS_PER_WORKER, chunks
from candour_moderation.domain.model import (
    ApproveStory,
    NotPending,
    QueueItem,
    Status,
)
from candour_moderation.entrypoints import consumers
from candour_moderation.service_layer import handlers
from candour_moderation.service_layer.handlers import ScreeningRequest
from candour_moderation.settings import ModerationSettings
from candour_screening import Screening
from tests.unit.moderation.fakes import FakeDatabase, screen_in_process
from tests.unit.moderation.test_queue import submitted

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CLEAN = "The nurses on the ward were kind and explained everything."
SERIOUS = "Since discharge I want to kill myself."


class CountingScreen:
    """Screens in process and remembers how many stories each call had."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def __call__(self, stories: Sequence[ScreeningRequest]) -> list[Screening]:
        self.calls.append(len(stories))
        return await screen_in_process(stories)


def settings(*, auto_approve: bool) -> ModerationSettings:
    return ModerationSettings(auto_approve=auto_approve)


def delivered(event: StorySubmitted) -> Delivered[StorySubmitted]:
    return Delivered(event, Envelope.new(event, service="story-intake"))


async def test_a_batch_is_screened_in_one_call_and_queued_in_one_unit_of_work() -> None:
    db = FakeDatabase()
    screen = CountingScreen()
    subs = consumers.subscriptions(
        settings(auto_approve=True), screen=screen, observe=lambda item, automatic: None
    )
    submission = subs.get(Topic.STORY_SUBMITTED)
    assert submission.handle_batch is not None
    withdrawn_first, queued_before = submitted(CLEAN), submitted(CLEAN)
    await handlers.withdraw_story(
        db.uow(),
        StoryWithdrawn(story_id=withdrawn_first.story_id, withdrawn_at=T0, organisation_id="TAD"),
        now=T0,
    )
    await handlers.receive_story(db.uow(), queued_before, now=T0, screen=screen_in_process)
    clean, serious = submitted(CLEAN), submitted(SERIOUS)
    batch = [clean, withdrawn_first, serious, queued_before, clean]

    uow = db.uow()
    async with uow:  # as the consumer does: one unit of work for the batch
        await submission.handle_batch(uow, [delivered(e) for e in batch])
    assert uow.committed

    # One screening call, for the two stories that were new.
    assert screen.calls == [2]
    assert set(db.state.items) == {queued_before.story_id, clean.story_id, serious.story_id}
    assert db.state.items[clean.story_id].status is Status.APPROVED
    assert db.state.items[serious.story_id].status is Status.PENDING
    published = [e for _, e in db.state.outbox]
    assert [type(e) for e in published] == [SafeguardingRaised, StoryApproved]
    assert [e.story_id for e in published] == [serious.story_id, clean.story_id]
    # Each story's audit lines in the order things happened to it.
    _, clean_audit = await handlers.get_story(db.uow(), clean.story_id)
    _, serious_audit = await handlers.get_story(db.uow(), serious.story_id)
    assert [a.action for a in clean_audit] == ["received", "approved"]
    assert [a.action for a in serious_audit] == ["received", "safeguarding_raised"]


async def test_a_batch_that_fails_leaves_nothing_behind() -> None:
    db = FakeDatabase()

    async def broken_after_screening(stories: Sequence[ScreeningRequest]) -> list[Screening]:
        return (await screen_in_process(stories))[:-1]  # one result short

    with pytest.raises(ValueError, match="zip"):
        await handlers.receive_stories(
            db.uow(),
            [submitted(CLEAN), submitted(SERIOUS)],
            now=T0,
            screen=broken_after_screening,
        )
    assert db.state.items == {}
    assert db.state.audit == []
    assert db.state.outbox == []


async def test_decisions_are_observed_only_once_committed() -> None:
    db = FakeDatabase()
    seen: list[tuple[uuid.UUID, bool]] = []

    def observe(item: QueueItem, automatic: bool) -> None:
        seen.append((item.story_id, automatic))

    clean, flagged = submitted(CLEAN), submitted(SERIOUS)
    uow = db.uow()
    async with uow:
        await handlers.receive_stories(
            uow,
            [clean, flagged],
            now=T0,
            screen=screen_in_process,
            auto_approve=True,
            observe=observe,
        )
        assert seen == []  # inside the consumer's transaction: not yet
    assert seen == [(clean.story_id, True)]
    await handlers.decide(
        db.uow(),
        ApproveStory(flagged.story_id, "alice", criticality=2, acknowledge_safeguarding=True),
        now=T0,
        observe=observe,
    )
    assert seen[-1] == (flagged.story_id, False)
    with pytest.raises(NotPending):
        await handlers.decide(
            db.uow(),
            ApproveStory(flagged.story_id, "bob", criticality=2, acknowledge_safeguarding=True),
            now=T0,
            observe=observe,
        )
    assert len(seen) == 2


def test_subscriptions_name_each_topic_moderation_reads() -> None:
    subs = consumers.subscriptions(
        settings(auto_approve=False), screen=screen_in_process, observe=lambda i, a: None
    )
    assert subs.service == "moderation"
    assert subs.topics == [
        Topic.STORY_SUBMITTED,
        Topic.STORY_WITHDRAWN,
        Topic.SAFEGUARDING_UPDATED,
    ]
    assert all(s.description for s in subs)
    # Only story.submitted pays for a batch handler (set-based queue inserts).
    assert [s.topic for s in subs if s.handle_batch is not None] == [Topic.STORY_SUBMITTED]


@pytest.mark.parametrize(("stories", "workers"), [(0, 1), (1, 1), (5, 1), (9, 2), (1000, 3)])
def test_a_batch_is_cut_into_a_few_ordered_chunks_per_worker(stories: int, workers: int) -> None:
    work = [({"body": str(n)}, None) for n in range(stories)]
    parts = chunks(work, workers)
    assert [story for part in parts for story in part] == work
    assert len(parts) == min(stories, workers * CHUNKS_PER_WORKER)
    if parts:
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 1
