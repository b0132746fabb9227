"""An author's edit reaching moderation (issue 20): a newer version of a queued story
replaces its text and screening, a rejected one goes back to the queue, both versions
stay in the audit trail; an older or repeated version changes nothing; and an edit of a
story already published is never published."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from candour_common.events import (
    RejectionReason,
    SafeguardingRaised,
    StoryApproved,
    StoryLanguage,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
    Tags,
)
from candour_moderation.domain.feedback import GiveScreeningFeedback, Verdict
from candour_moderation.domain.model import (
    ApproveStory,
    ClaimStory,
    RejectStory,
    Resubmission,
    Status,
    VersionChanged,
)
from candour_moderation.service_layer import handlers
from candour_screening import SafeguardingCategory, SafeguardingLevel
from tests.unit.moderation.fakes import FakeDatabase, queue_item, screen_in_process
from tests.unit.moderation.test_queue import T0, submitted

pytestmark = pytest.mark.unit

SERIOUS = "Since discharge I want to kill myself."


def edited(first: StorySubmitted, version: int = 2, **changes: object) -> StorySubmitted:
    fields: dict[str, object] = {
        "version": version,
        "title": "Kind staff, long wait",
        "body": "The staff were kind but I waited six hours.",
        "tags": Tags(improve=["waiting times"]),
    }
    fields.update(changes)
    return first.model_copy(update=fields)


async def receive(db: FakeDatabase, *events: StorySubmitted, auto_approve: bool = False) -> None:
    await handlers.receive_stories(
        db.uow(), list(events), now=T0, screen=screen_in_process, auto_approve=auto_approve
    )


def actions(db: FakeDatabase, story_id: uuid.UUID) -> list[str]:
    return [a.action for a in db.state.audit if a.story_id == story_id]


def test_a_newer_version_replaces_a_rejected_storys_text_and_puts_it_back() -> None:
    first = submitted(SERIOUS)
    item = queue_item(first)
    item.reject(RejectStory(first.story_id, "mod", RejectionReason.OTHER), T0)
    again = edited(first)
    assert item.resubmit(again, queue_item(again).screening) is Resubmission.REQUEUED  # type: ignore[arg-type]
    assert (item.status, item.version, item.title) == (Status.PENDING, 2, "Kind staff, long wait")
    assert (item.decided_by, item.decided_at) == (None, None)
    # Screened again: the new text matched nothing serious, so it is no longer first.
    assert item.priority_rank == 2 and item.tags.improve == ["waiting times"]
    rejected = item.reject(RejectStory(first.story_id, "mod", RejectionReason.OTHER), T0)
    assert rejected.version == 2


async def test_an_edit_of_a_pending_story_replaces_its_text_and_lets_go_of_the_claim() -> None:
    db = FakeDatabase()
    first = submitted()
    await receive(db, first)
    await handlers.claim_story(db.uow(), ClaimStory(first.story_id, "mod-a"), now=T0)
    await receive(db, edited(first))
    item = db.state.items[first.story_id]
    assert (item.status, item.version, item.body) == (
        Status.PENDING,
        2,
        "The staff were kind but I waited six hours.",
    )
    # The moderator reading version 1 has to open the story again to read version 2.
    assert item.claimed_by is None
    assert actions(db, first.story_id) == ["received", "claimed", "resubmitted"]


async def test_an_edit_after_a_rejection_is_pending_again_with_both_versions_audited() -> None:
    db = FakeDatabase()
    first = submitted("My nurse Jane Smith on ward 4 was rude.")
    await receive(db, first)
    await handlers.decide(
        db.uow(), RejectStory(first.story_id, "mod", RejectionReason.OTHER), now=T0
    )
    await receive(db, edited(first))
    item = db.state.items[first.story_id]
    assert (item.status, item.version) == (Status.PENDING, 2)
    received, _, resubmitted = (a for a in db.state.audit if a.story_id == first.story_id)
    assert received.detail is not None and resubmitted.detail is not None
    assert received.detail["body"] == "My nurse Jane Smith on ward 4 was rude."
    assert resubmitted.detail["body"] == "The staff were kind but I waited six hours."
    assert resubmitted.detail["version"] == 2
    assert resubmitted.detail["previous_status"] == "rejected"
    assert resubmitted.detail["outcome"] == "requeued"
    # A moderator can now publish the new version.
    await handlers.decide(
        db.uow(), ApproveStory(first.story_id, "mod", criticality=1), now=T0 + timedelta(hours=1)
    )
    [published] = [e for _, e in db.state.outbox if isinstance(e, StoryApproved)]
    assert published.body == "The staff were kind but I waited six hours."


async def test_a_version_not_newer_than_the_one_queued_changes_nothing() -> None:
    db = FakeDatabase()
    first = submitted()
    second, third = edited(first, 2), edited(first, 3, title="Third")
    await receive(db, first, third)
    before = db.state.items[first.story_id]
    audit = list(db.state.audit)
    # Late (2 after 3) or repeated (3 again, 1 again): ignored.
    await receive(db, second, third, first)
    assert db.state.items[first.story_id] == before
    assert db.state.audit == audit
    assert before.title == "Third" and before.version == 3


async def test_versions_in_one_batch_are_applied_in_order() -> None:
    db = FakeDatabase()
    first = submitted()
    await receive(db, first, edited(first, 2, title="Second"), edited(first, 3, title="Third"))
    item = db.state.items[first.story_id]
    assert (item.title, item.version) == ("Third", 3)
    assert actions(db, first.story_id) == ["received", "resubmitted", "resubmitted"]


async def test_an_edit_of_a_published_story_is_never_published() -> None:
    """The race: intake accepted the edit before it heard of the approval. The published
    version stands; the edit is kept in the audit trail, not queued, not published."""
    db = FakeDatabase()
    first = submitted()
    await receive(db, first)
    await handlers.decide(db.uow(), ApproveStory(first.story_id, "mod", criticality=0), now=T0)
    published_before = [e for _, e in db.state.outbox if isinstance(e, StoryApproved)]
    await receive(db, edited(first), auto_approve=True)
    item = db.state.items[first.story_id]
    assert (item.status, item.version, item.title) == (Status.APPROVED, 1, "Kind staff")
    assert [e for _, e in db.state.outbox if isinstance(e, StoryApproved)] == published_before
    last = db.state.audit[-1]
    assert last.action == "edited_after_publication"
    assert last.detail is not None and last.detail["body"].endswith("six hours.")


async def test_an_edit_of_a_withdrawn_story_is_ignored() -> None:
    db = FakeDatabase()
    first = submitted()
    await receive(db, first)
    await handlers.withdraw_story(
        db.uow(),
        StoryWithdrawn(story_id=first.story_id, withdrawn_at=T0, organisation_id="TAD"),
        now=T0,
    )
    await receive(db, edited(first))
    item = db.state.items[first.story_id]
    assert (item.status, item.title, item.body) == (Status.WITHDRAWN, None, None)


async def test_an_edit_that_screening_flags_is_escalated_once() -> None:
    db = FakeDatabase()
    first = submitted()
    await receive(db, first)
    await receive(db, edited(first, 2, body=SERIOUS))
    assert db.state.items[first.story_id].priority_rank == 0
    await receive(db, edited(first, 3, body=SERIOUS + " Still."))
    raised = [e for _, e in db.state.outbox if isinstance(e, SafeguardingRaised)]
    assert len(raised) == 1


async def test_a_clean_edit_is_approved_automatically_when_that_is_on() -> None:
    db = FakeDatabase()
    first = submitted("My nurse Jane Smith was rude.")
    await receive(db, first, auto_approve=True)
    assert db.state.items[first.story_id].status is Status.PENDING
    await handlers.decide(
        db.uow(), RejectStory(first.story_id, "mod", RejectionReason.OTHER), now=T0
    )
    await receive(db, edited(first, body="The staff were kind."), auto_approve=True)
    assert db.state.items[first.story_id].status is Status.APPROVED
    [rejected] = [e for _, e in db.state.outbox if isinstance(e, StoryRejected)]
    assert rejected.version == 1


async def test_a_decision_on_the_version_before_an_edit_is_refused() -> None:
    """A moderator read version 1; the author's version 2 arrived before they decided:
    publishing would put out text nobody read, so the decision is refused."""
    db = FakeDatabase()
    first = submitted()
    await receive(db, first)
    await receive(db, edited(first))
    with pytest.raises(VersionChanged):
        await handlers.decide(
            db.uow(), ApproveStory(first.story_id, "mod", criticality=0, version=1), now=T0
        )
    with pytest.raises(VersionChanged):
        await handlers.decide(
            db.uow(),
            RejectStory(first.story_id, "mod", RejectionReason.OTHER, version=1),
            now=T0,
        )
    assert not [e for _, e in db.state.outbox if isinstance(e, StoryApproved | StoryRejected)]
    await handlers.decide(
        db.uow(), ApproveStory(first.story_id, "mod", criticality=0, version=2), now=T0
    )
    assert db.state.items[first.story_id].status is Status.APPROVED


async def test_screening_feedback_on_the_text_before_an_edit_is_dropped() -> None:
    """Feedback labels the text it was given on: kept for the new text, the exported
    corpus would label words it was not about. The audit trail keeps it."""
    db = FakeDatabase()
    first = submitted("The staff were kind.")
    await receive(db, first)
    await handlers.give_screening_feedback(
        db.uow(),
        GiveScreeningFeedback(
            first.story_id,
            "mod",
            Verdict.MISSED,
            category=SafeguardingCategory.SELF_HARM,
            level=SafeguardingLevel.CONCERN,
        ),
        now=T0,
    )
    assert await handlers.export_labels(db.uow())
    await receive(db, edited(first))
    assert await handlers.screening_feedback_on(db.uow(), first.story_id) == []
    assert await handlers.export_labels(db.uow()) == []
    assert "screening_feedback" in actions(db, first.story_id)


async def test_an_edit_brings_its_language() -> None:
    db = FakeDatabase()
    first = submitted()
    await receive(db, first)
    await receive(db, edited(first, language=StoryLanguage.WELSH))
    assert db.state.items[first.story_id].language is StoryLanguage.WELSH
