"""Queue ordering, leases and decisions: the domain rules and the use cases over fakes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    RejectionReason,
    Relationship,
    SafeguardingRaised,
    ServiceRef,
    StoryApproved,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
    Tags,
)
from candour_common.keys import story_key
from candour_common.topics import Topic
from candour_moderation.domain.model import (
    ApproveStory,
    ClaimedByAnother,
    ClaimStory,
    NotPending,
    QueueItem,
    RejectStory,
    ReleaseClaim,
    SafeguardingNotAcknowledged,
    Status,
    StoryNotFound,
)
from candour_moderation.service_layer import handlers
from tests.unit.moderation.fakes import FakeDatabase, queue_item, screen_in_process

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ORG = OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust")


def submitted(
    body: str = "The staff were kind.",
    *,
    at: datetime = T0,
    title: str = "Kind staff",
    story_id: uuid.UUID | None = None,
) -> StorySubmitted:
    return StorySubmitted(
        story_id=story_id or uuid.uuid4(),
        submitted_at=at,
        title=title,
        body=body,
        organisation=ORG,
        service=ServiceRef(id="TAD-CMHT", name="Community mental health team"),
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.PATIENT,
            email="sam.private@example.org",
            notify_on_response=True,
        ),
        tags=Tags(good=["kindness"]),
    )


def item(body: str = "The staff were kind.", **kwargs: object) -> QueueItem:
    return queue_item(submitted(body, **kwargs))  # type: ignore[arg-type]


# ------------------------------------------------------------ domain rules


def test_queue_order_is_serious_then_concern_then_oldest_first() -> None:
    calm_old = item("All fine.", at=T0)
    calm_new = item("All fine.", at=T0 + timedelta(hours=2))
    concern = item("Mum developed pressure sores.", at=T0 + timedelta(hours=3))
    serious = item("I want to kill myself.", at=T0 + timedelta(hours=4))
    ordered = sorted([calm_new, concern, calm_old, serious], key=lambda i: i.position)
    assert ordered == [serious, concern, calm_old, calm_new]


def test_a_claim_is_a_lease_that_others_cannot_take_until_it_expires() -> None:
    story = item()
    story.claim("alice", T0, timedelta(minutes=15))
    assert story.holder(T0 + timedelta(minutes=14)) == "alice"
    with pytest.raises(ClaimedByAnother) as raised:
        story.claim("bob", T0 + timedelta(minutes=14))
    assert raised.value.moderator == "alice"
    story.claim("bob", T0 + timedelta(minutes=15))  # expired: bob may take it
    assert story.holder(T0 + timedelta(minutes=15)) == "bob"


def test_the_holder_can_renew_and_release_but_others_cannot_release() -> None:
    story = item()
    story.claim("alice", T0)
    story.claim("alice", T0 + timedelta(minutes=10))
    assert story.claim_expires_at == T0 + timedelta(minutes=25)
    with pytest.raises(ClaimedByAnother):
        story.release("bob", T0 + timedelta(minutes=11))
    story.release("alice", T0 + timedelta(minutes=11))
    assert story.holder(T0 + timedelta(minutes=11)) is None
    story.claim("bob", T0 + timedelta(minutes=12))


def test_another_moderator_cannot_decide_a_claimed_story() -> None:
    story = item()
    story.claim("alice", T0)
    with pytest.raises(ClaimedByAnother):
        story.approve(ApproveStory(story.story_id, "bob", criticality=1), T0)
    event = story.approve(ApproveStory(story.story_id, "alice", criticality=1), T0)
    assert event.criticality == 1
    assert story.status is Status.APPROVED
    assert story.holder(T0) is None


def test_a_story_is_decided_once() -> None:
    story = item()
    story.reject(RejectStory(story.story_id, "alice", RejectionReason.DUPLICATE), T0)
    with pytest.raises(NotPending):
        story.approve(ApproveStory(story.story_id, "alice", criticality=0), T0)
    with pytest.raises(NotPending):
        story.claim("alice", T0)


def test_approval_publishes_edits_or_suggested_redactions_or_the_original() -> None:
    body = "Dr Patel called me on 07911 123456."
    story = item(body, title="Thanks Dr Patel")
    original = story.published_text(ApproveStory(story.story_id, "m", criticality=0))
    assert original == ("Thanks Dr Patel", body)
    suggested = story.published_text(
        ApproveStory(story.story_id, "m", criticality=0, apply_suggested=True)
    )
    assert suggested == ("Thanks Dr [name]", "Dr [name] called me on [phone number].")
    edited = story.published_text(
        ApproveStory(story.story_id, "m", criticality=0, title="Thanks", apply_suggested=True)
    )
    assert edited == ("Thanks", "Dr [name] called me on [phone number].")


def test_the_approved_event_carries_no_author_contact() -> None:
    story = item("Nice.")
    event = story.approve(ApproveStory(story.story_id, "m", criticality=2), T0)
    data = event.model_dump_json()
    assert "sam.private@example.org" not in data
    assert event.author.display_name == "Sam"
    assert event.author.relationship is Relationship.PATIENT
    assert event.tags == Tags(good=["kindness"])


def test_serious_safeguarding_needs_an_acknowledgement_to_publish() -> None:
    story = item("I want to kill myself.")
    with pytest.raises(SafeguardingNotAcknowledged):
        story.approve(ApproveStory(story.story_id, "m", criticality=3), T0)
    assert story.status is Status.PENDING
    story.approve(
        ApproveStory(story.story_id, "m", criticality=3, acknowledge_safeguarding=True), T0
    )
    assert story.status is Status.APPROVED


def test_withdrawal_erases_the_authors_words() -> None:
    story = item("Dr Patel was kind.")
    story.claim("alice", T0)
    story.withdraw(T0)
    assert story.status is Status.WITHDRAWN
    assert (story.title, story.body, story.author, story.screening) == (None, None, None, None)
    assert story.tags == Tags()
    assert story.holder(T0) is None


# ---------------------------------------------------------- use cases (fakes)


async def test_a_submitted_story_is_queued_once_even_if_it_comes_again() -> None:
    # A redelivered event never reaches the handler (the consumer's inbox); the same
    # story under another event id (a producer's retry) does, and changes nothing.
    db = FakeDatabase()
    event = submitted("Dr Patel was kind.")
    assert await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    assert not await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    # Twice in one batch too.
    assert (
        await handlers.receive_stories(db.uow(), [event, event], now=T0, screen=screen_in_process)
        == []
    )
    queued = await handlers.list_queue(db.uow(), Status.PENDING, limit=10)
    assert [i.story_id for i in queued] == [event.story_id]
    assert queued[0].screening is not None
    assert [r.text for r in queued[0].screening.redactions] == ["Patel"]
    _, audit = await handlers.get_story(db.uow(), event.story_id)
    assert [a.action for a in audit] == ["received"]
    assert audit[0].detail is not None
    assert audit[0].detail["body"] == "Dr Patel was kind."


async def test_pages_follow_the_queue_order() -> None:
    db = FakeDatabase()
    bodies = ["fine", "pressure sores", "fine", "I want to die", "fine"]
    events = [submitted(b, at=T0 + timedelta(minutes=n)) for n, b in enumerate(bodies)]
    for event in events:
        await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    first = await handlers.list_queue(db.uow(), Status.PENDING, limit=2)
    rest = await handlers.list_queue(db.uow(), Status.PENDING, limit=10, after=first[-1].position)
    order = [i.story_id for i in first + rest]
    expected = [events[3], events[1], events[0], events[2], events[4]]
    assert order == [e.story_id for e in expected]


async def test_two_moderators_racing_to_claim_exactly_one_wins() -> None:
    db = FakeDatabase()
    event = submitted()
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    results = await asyncio.gather(
        handlers.claim_story(db.uow(), ClaimStory(event.story_id, "alice"), now=T0),
        handlers.claim_story(db.uow(), ClaimStory(event.story_id, "bob"), now=T0),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, QueueItem)]
    losers = [r for r in results if isinstance(r, ClaimedByAnother)]
    assert len(winners) == 1
    assert len(losers) == 1


async def test_a_retried_decision_writes_exactly_one_event() -> None:
    db = FakeDatabase()
    event = submitted("Email me at sam@example.org please.")
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    approve = ApproveStory(event.story_id, "alice", criticality=1, apply_suggested=True)
    results = await asyncio.gather(
        handlers.decide(db.uow(), approve, now=T0),
        handlers.decide(db.uow(), approve, now=T0),
        return_exceptions=True,
    )
    assert sum(isinstance(r, NotPending) for r in results) == 1
    assert len(db.state.outbox) == 1
    published = db.state.outbox[0][1]
    assert isinstance(published, StoryApproved)
    assert published.body == "Email me at [email address] please."
    _, audit = await handlers.get_story(db.uow(), event.story_id)
    approved = [a for a in audit if a.action == "approved"]
    assert len(approved) == 1
    assert approved[0].actor == "alice"
    assert approved[0].detail is not None
    assert approved[0].detail["changed"] == ["body"]
    assert approved[0].detail["event_id"] == str(db.state.outbox[0][0])


async def test_a_failed_decision_leaves_nothing_behind() -> None:
    db = FakeDatabase()
    event = submitted("I want to kill myself.")
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    with pytest.raises(SafeguardingNotAcknowledged):
        await handlers.decide(
            db.uow(), ApproveStory(event.story_id, "alice", criticality=2), now=T0
        )
    # Only the escalation screening raised on arrival.
    assert [type(e) for _, e in db.state.outbox] == [SafeguardingRaised]
    reject = RejectStory(event.story_id, "alice", RejectionReason.SAFEGUARDING_ESCALATED)
    await handlers.decide(db.uow(), reject, now=T0)
    # Escalated before: rejecting for safeguarding does not alert a second time.
    assert [type(e) for _, e in db.state.outbox] == [SafeguardingRaised, StoryRejected]


async def test_unknown_stories_are_not_found() -> None:
    db = FakeDatabase()
    with pytest.raises(StoryNotFound):
        await handlers.get_story(db.uow(), uuid.uuid4())
    with pytest.raises(StoryNotFound):
        await handlers.claim_story(db.uow(), ClaimStory(uuid.uuid4(), "alice"), now=T0)
    with pytest.raises(StoryNotFound):
        await handlers.release_claim(db.uow(), ReleaseClaim(uuid.uuid4(), "alice"), now=T0)


async def test_withdrawal_leaves_the_queue_and_keeps_only_ids_and_times() -> None:
    db = FakeDatabase()
    event = submitted("Dr Patel was kind.")
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    await handlers.claim_story(db.uow(), ClaimStory(event.story_id, "alice"), now=T0)
    withdrawn = StoryWithdrawn(story_id=event.story_id, withdrawn_at=T0, organisation_id="TAD")
    await handlers.withdraw_story(db.uow(), withdrawn, now=T0)
    assert await handlers.list_queue(db.uow(), Status.PENDING, limit=10) == []
    story, audit = await handlers.get_story(db.uow(), event.story_id)
    assert story.status is Status.WITHDRAWN
    assert story.body is None
    assert [a.action for a in audit] == ["received", "claimed", "withdrawn"]
    assert all(a.detail is None for a in audit)
    with pytest.raises(NotPending):
        await handlers.decide(
            db.uow(), ApproveStory(event.story_id, "alice", criticality=0), now=T0
        )


async def test_a_withdrawal_that_overtakes_its_submission_keeps_the_story_out() -> None:
    db = FakeDatabase()
    event = submitted()
    withdrawn = StoryWithdrawn(story_id=event.story_id, withdrawn_at=T0, organisation_id="TAD")
    await handlers.withdraw_story(db.uow(), withdrawn, now=T0)
    assert not await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    assert db.state.items == {}


async def test_withdrawing_an_approved_story_drops_its_outbox_copies() -> None:
    db = FakeDatabase()
    event = submitted()
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    await handlers.decide(db.uow(), ApproveStory(event.story_id, "alice", criticality=0), now=T0)
    assert len(db.state.outbox) == 1
    withdrawn = StoryWithdrawn(story_id=event.story_id, withdrawn_at=T0, organisation_id="TAD")
    await handlers.withdraw_story(db.uow(), withdrawn, now=T0)
    assert db.state.outbox == []
    # What was already published is erased by a tombstone on story.approved.
    assert db.state.tombstones == [
        (Topic.STORY_APPROVED, story_key(event.story_id), event.story_id)
    ]
