"""Safeguarding escalations over fakes: raised at intake on any match and by moderators,
never twice for one rejection, followed from notifications' reports, erased on withdrawal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from candour_common.events import (
    EscalationState,
    RejectionReason,
    SafeguardingRaised,
    SafeguardingTrigger,
    SafeguardingUpdated,
    StoryWithdrawn,
)
from candour_common.keys import escalation_key, story_key
from candour_common.topics import Topic
from candour_moderation.domain.escalations import NothingToRaise, Progress, RaiseSafeguarding
from candour_moderation.domain.model import ApproveStory, RejectStory
from candour_moderation.service_layer import handlers
from tests.unit.moderation.fakes import FakeDatabase, screen_in_process
from tests.unit.moderation.test_queue import submitted

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SERIOUS = "Since discharge I want to kill myself."
CALM = "The staff were kind."


def raised(db: FakeDatabase) -> list[SafeguardingRaised]:
    return [e for _, e in db.state.outbox if isinstance(e, SafeguardingRaised)]


async def receive(db: FakeDatabase, body: str) -> uuid.UUID:
    event = submitted(body)
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    return event.story_id


async def test_a_match_is_raised_on_arrival_with_the_story_and_each_reason() -> None:
    db = FakeDatabase()
    story_id = await receive(db, SERIOUS)
    await receive(db, CALM)
    [event] = raised(db)
    assert event.story_id == story_id
    assert event.trigger is SafeguardingTrigger.SCREENING
    assert event.body == SERIOUS
    assert event.status == "pending"
    assert event.matches and all(m.reason and m.category_label for m in event.matches)
    assert event.kafka_key() == f"{story_id}/{event.escalation_id}"
    # Approving it after escalation raises nothing more: the alert went on arrival.
    await handlers.decide(
        db.uow(),
        ApproveStory(story_id, "alice", criticality=4, acknowledge_safeguarding=True),
        now=T0,
    )
    assert len(raised(db)) == 1


async def test_a_moderator_raises_with_a_note_on_any_story_but_a_withdrawn_one() -> None:
    db = FakeDatabase()
    story_id = await receive(db, CALM)
    await handlers.decide(db.uow(), ApproveStory(story_id, "alice", criticality=0), now=T0)
    escalation = await handlers.raise_escalation(
        db.uow(), RaiseSafeguarding(story_id, "bob", "Call the author."), now=T0
    )
    [event] = raised(db)
    assert (event.note, event.raised_by, event.status) == ("Call the author.", "bob", "approved")
    assert escalation.progress is Progress.RAISED
    _, audit = await handlers.get_story(db.uow(), story_id)
    assert audit[-1].action == "safeguarding_raised"
    assert audit[-1].detail is not None and audit[-1].detail["note"] == "Call the author."
    await handlers.withdraw_story(
        db.uow(),
        StoryWithdrawn(story_id=story_id, withdrawn_at=T0, organisation_id="TAD"),
        now=T0,
    )
    [kept] = await handlers.escalations_of(db.uow(), story_id)
    assert kept.note is None
    assert [(t, k) for t, k, _ in db.state.tombstones] == [
        (Topic.STORY_APPROVED, story_key(story_id)),
        (Topic.SAFEGUARDING_RAISED, escalation_key(story_id, escalation.escalation_id)),
    ]
    assert raised(db) == []  # the outbox copy is gone too
    with pytest.raises(NothingToRaise):
        await handlers.raise_escalation(
            db.uow(), RaiseSafeguarding(story_id, "bob", "again"), now=T0
        )


async def test_rejecting_for_safeguarding_raises_only_a_story_not_yet_escalated() -> None:
    db = FakeDatabase()
    calm, serious = await receive(db, CALM), await receive(db, SERIOUS)
    for story_id in (calm, serious):
        await handlers.decide(
            db.uow(),
            RejectStory(story_id, "alice", RejectionReason.SAFEGUARDING_ESCALATED, "See note"),
            now=T0,
        )
    events = raised(db)
    assert [e.story_id for e in events] == [serious, calm]
    assert events[1].note == "See note"
    assert events[1].status == "rejected"


async def test_reports_from_notifications_move_the_escalation_on() -> None:
    # Each report once: a redelivered one stops at the consumer's inbox.
    db = FakeDatabase()
    story_id = await receive(db, SERIOUS)
    [event] = raised(db)

    def update(state: EscalationState, minutes: int, **fields: object) -> SafeguardingUpdated:
        return SafeguardingUpdated(
            story_id=story_id,
            escalation_id=event.escalation_id,
            state=state,
            at=T0 + timedelta(minutes=minutes),
            **fields,  # type: ignore[arg-type]
        )

    alerted = update(EscalationState.ALERTED, 1, recipients=["lead@trust.example"])
    assert await handlers.record_escalation_update(db.uow(), alerted)
    for report in (
        update(EscalationState.REALERTED, 61, recipients=["duty@candour.example"]),
        update(EscalationState.ACKNOWLEDGED, 70, acknowledged_by="lead@trust.example"),
    ):
        await handlers.record_escalation_update(db.uow(), report)
    [escalation] = await handlers.escalations_of(db.uow(), story_id)
    assert escalation.progress is Progress.ACKNOWLEDGED
    assert escalation.alerted_to == ("lead@trust.example",)
    assert escalation.realerted_to == ("duty@candour.example",)
    assert escalation.acknowledged_by == "lead@trust.example"
    _, audit = await handlers.get_story(db.uow(), story_id)
    assert [a.action for a in audit][-3:] == [
        "safeguarding_alerted",
        "safeguarding_realerted",
        "safeguarding_acknowledged",
    ]
