"""Auto-approval, the audit trail of edits, and moderation's metrics (over fakes)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from candour_common.events import StoryApproved, StoryWithdrawn, Tags
from candour_moderation.adapters.metrics import ModerationMetrics, moderation_metrics
from candour_moderation.domain.edits import TextChange, text_changes
from candour_moderation.domain.model import (
    SYSTEM_ACTOR,
    ApproveStory,
    NotAutoApprovable,
    QueueItem,
    SafeguardingNotAcknowledged,
    Status,
)
from candour_moderation.service_layer import handlers
from candour_screening import SafeguardingLevel
from tests.unit.moderation.fakes import FakeDatabase, screen_in_process
from tests.unit.moderation.test_queue import T0, item, submitted

pytestmark = pytest.mark.unit


class RecordedDecisions:
    def __init__(self) -> None:
        self.seen: list[tuple[uuid.UUID, Status, bool]] = []

    def __call__(self, decided: QueueItem, automatic: bool) -> None:
        self.seen.append((decided.story_id, decided.status, automatic))


# ------------------------------------------------------------ auto-approval

CLEAN = "The staff on the ward were patient and explained every step of my treatment."
FLAGGED = {
    "a suggested redaction": "Dr Patel explained every step of my treatment.",
    "a concern": "Mum developed pressure sores on the ward.",
    "a serious disclosure": "Since discharge I want to kill myself.",
    "swearing": "The wait was bloody awful and the food was crap.",
    "shouting": "THE WAITING ROOM WAS FREEZING AND NOBODY CAME",
}


def test_only_a_story_screening_found_nothing_in_is_auto_approvable() -> None:
    assert item(CLEAN).auto_approvable
    for what, body in FLAGGED.items():
        assert not item(body).auto_approvable, what


def test_auto_approval_publishes_the_authors_text_with_no_criticality() -> None:
    story = item(CLEAN)
    event = story.auto_approve(T0)
    assert isinstance(event, StoryApproved)
    assert event.criticality is None
    assert (event.title, event.body) == (story.title, story.body)
    assert event.tags == Tags(good=["kindness"])
    assert story.status is Status.APPROVED
    assert story.decided_by == SYSTEM_ACTOR
    with pytest.raises(NotAutoApprovable):
        item(FLAGGED["a concern"]).auto_approve(T0)


async def test_with_auto_approval_on_a_clean_story_is_approved_in_the_same_transaction() -> None:
    db = FakeDatabase()
    decisions = RecordedDecisions()
    event = submitted(CLEAN)
    received = await handlers.receive_story(
        db.uow(),
        event,
        now=T0,
        screen=screen_in_process,
        auto_approve=True,
        observe=decisions,
    )
    assert received
    assert await handlers.list_queue(db.uow(), Status.PENDING, limit=10) == []
    [(published_id, published)] = db.state.outbox
    assert isinstance(published, StoryApproved)
    assert published.criticality is None
    assert published.body == CLEAN
    story, audit = await handlers.get_story(db.uow(), event.story_id)
    assert story.status is Status.APPROVED
    assert story.decided_by == SYSTEM_ACTOR
    assert [(a.action, a.actor, a.automatic) for a in audit] == [
        ("received", "screening", False),
        ("approved", SYSTEM_ACTOR, True),
    ]
    assert audit[1].detail is not None
    assert audit[1].detail["automatic"] is True
    assert audit[1].detail["criticality"] is None
    assert audit[1].detail["event_id"] == str(published_id)
    assert decisions.seen == [(event.story_id, Status.APPROVED, True)]

    # Redelivered: nothing more is published.
    again = await handlers.receive_story(
        db.uow(),
        event,
        now=T0,
        screen=screen_in_process,
        auto_approve=True,
        observe=decisions,
    )
    assert not again
    assert len(db.state.outbox) == 1
    assert len(decisions.seen) == 1


async def test_with_auto_approval_on_anything_flagged_waits_for_a_moderator() -> None:
    db = FakeDatabase()
    decisions = RecordedDecisions()
    events = [submitted(body) for body in FLAGGED.values()]
    for event in events:
        await handlers.receive_story(
            db.uow(),
            event,
            now=T0,
            screen=screen_in_process,
            auto_approve=True,
            observe=decisions,
        )
    pending = await handlers.list_queue(db.uow(), Status.PENDING, limit=20)
    assert {i.story_id for i in pending} == {e.story_id for e in events}
    # Nothing published; only the safeguarding escalations of the stories that have a match.
    assert not [e for _, e in db.state.outbox if isinstance(e, StoryApproved)]
    assert decisions.seen == []
    assert not any(a.automatic for a in db.state.audit)


async def test_auto_approval_is_off_by_default() -> None:
    db = FakeDatabase()
    event = submitted(CLEAN)
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    pending = await handlers.list_queue(db.uow(), Status.PENDING, limit=10)
    assert [i.story_id for i in pending] == [event.story_id]
    assert db.state.outbox == []


async def test_withdrawing_an_auto_approved_story_keeps_only_that_it_was_automatic() -> None:
    db = FakeDatabase()
    event = submitted(CLEAN)
    await handlers.receive_story(
        db.uow(),
        event,
        now=T0,
        screen=screen_in_process,
        auto_approve=True,
    )
    withdrawn = StoryWithdrawn(story_id=event.story_id, withdrawn_at=T0, organisation_id="TAD")
    await handlers.withdraw_story(db.uow(), withdrawn, now=T0)
    _, audit = await handlers.get_story(db.uow(), event.story_id)
    assert [(a.action, a.automatic, a.detail) for a in audit] == [
        ("received", False, None),
        ("approved", True, None),
        ("withdrawn", False, None),
    ]
    assert db.state.outbox == []


# ---------------------------------------------------------------- edit audit


def test_text_changes_name_the_spans_of_the_original_that_changed() -> None:
    original = "Dr Patel called me on Monday."
    assert text_changes(original, original) == ()
    assert text_changes(original, "Dr [name] called me on Monday.") == (
        TextChange(3, 8, "Patel", "[name]"),
    )
    assert text_changes(original, "Dr Patel called me.") == (TextChange(18, 28, " on Monday", ""),)
    assert text_changes("Kind staff.", "Kind, caring staff.") == (TextChange(4, 4, "", ", caring"),)
    for change in text_changes(original, "The doctor rang me on Monday!"):
        assert original[change.start : change.end] == change.before


async def audit_after(approve: ApproveStory, db: FakeDatabase) -> list[dict[str, object]]:
    await handlers.decide(db.uow(), approve, now=T0 + timedelta(minutes=5))
    _, audit = await handlers.get_story(db.uow(), approve.story_id)
    edited = [a for a in audit if a.action == "edited"]
    assert len(edited) <= 1
    if not edited:
        return []
    assert edited[0].actor == approve.moderator
    assert edited[0].at == T0 + timedelta(minutes=5)
    assert edited[0].detail is not None
    edits = edited[0].detail["edits"]
    assert isinstance(edits, list)
    return edits


async def queued(db: FakeDatabase, body: str, title: str = "Kind staff") -> uuid.UUID:
    event = submitted(body, title=title)
    await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    return event.story_id


async def test_an_approval_without_changes_records_no_edit() -> None:
    db = FakeDatabase()
    story_id = await queued(db, "Dr Patel was kind.")
    assert await audit_after(ApproveStory(story_id, "alice", criticality=0), db) == []
    _, audit = await handlers.get_story(db.uow(), story_id)
    assert [a.action for a in audit] == ["received", "approved"]
    assert audit[0].detail is not None
    assert audit[0].detail["body"] == "Dr Patel was kind."
    assert audit[0].detail["tags"] == {"good": ["kindness"], "improve": [], "feelings": []}


async def test_accepted_suggestions_are_recorded_as_edits_by_the_suggested_redactions() -> None:
    db = FakeDatabase()
    story_id = await queued(db, "Dr Patel called on 07911 123456.")
    edits = await audit_after(
        ApproveStory(story_id, "alice", criticality=1, apply_suggested=True), db
    )
    assert edits == [
        {
            "field": "body",
            "source": "suggested_redactions",
            "matches_suggestion": True,
            "changes": [
                {"start": 3, "end": 8, "before": "Patel", "after": "[name]"},
                {"start": 19, "end": 31, "before": "07911 123456", "after": "[phone number]"},
            ],
        }
    ]


async def test_a_moderators_own_edits_of_title_body_and_tags_are_recorded() -> None:
    db = FakeDatabase()
    story_id = await queued(db, "Dr Patel was kind. The food was cold.", title="Thanks Dr Patel")
    edits = await audit_after(
        ApproveStory(
            story_id,
            "alice",
            criticality=2,
            title="Thanks to the team",
            body="Dr [name] was kind.",
            tags=Tags(good=["kindness"], improve=["food"]),
        ),
        db,
    )
    by_field = {e["field"]: e for e in edits}
    assert list(by_field) == ["title", "body", "tags"]
    assert all(e["source"] == "moderator" for e in edits)
    assert by_field["title"]["matches_suggestion"] is False
    # The moderator removed a sentence as well as the name: not the suggestion.
    assert by_field["body"]["matches_suggestion"] is False
    assert by_field["body"]["changes"] == [
        {"start": 3, "end": 8, "before": "Patel", "after": "[name]"},
        {"start": 18, "end": 37, "before": " The food was cold.", "after": ""},
    ]
    assert by_field["tags"]["before"] == {"good": ["kindness"], "improve": [], "feelings": []}
    assert by_field["tags"]["after"] == {"good": ["kindness"], "improve": ["food"], "feelings": []}
    _, audit = await handlers.get_story(db.uow(), story_id)
    assert [a.action for a in audit] == ["received", "edited", "approved"]
    assert audit[-1].detail is not None
    assert audit[-1].detail["changed"] == ["title", "body", "tags"]


async def test_a_failed_approval_records_no_edit() -> None:
    db = FakeDatabase()
    story_id = await queued(db, "I want to kill myself.")
    with pytest.raises(SafeguardingNotAcknowledged):
        await handlers.decide(
            db.uow(), ApproveStory(story_id, "alice", criticality=1, body="edited"), now=T0
        )
    _, audit = await handlers.get_story(db.uow(), story_id)
    assert [a.action for a in audit] == ["received", "safeguarding_raised"]


# ------------------------------------------------------------------- metrics


async def test_queue_depth_counts_pending_stories_by_priority() -> None:
    db = FakeDatabase()
    assert await handlers.queue_depth(db.uow()) == {
        SafeguardingLevel.NONE: 0,
        SafeguardingLevel.CONCERN: 0,
        SafeguardingLevel.SERIOUS: 0,
    }
    for body in ["All fine.", "All fine too.", "pressure sores", "I want to die"]:
        await queued(db, body)
    decided = await queued(db, "Fine again.")
    await handlers.decide(db.uow(), ApproveStory(decided, "alice", criticality=0), now=T0)
    assert await handlers.queue_depth(db.uow()) == {
        SafeguardingLevel.NONE: 2,
        SafeguardingLevel.CONCERN: 1,
        SafeguardingLevel.SERIOUS: 1,
    }


async def test_a_decision_is_observed_once_after_it_commits() -> None:
    db = FakeDatabase()
    decisions = RecordedDecisions()
    story_id = await queued(db, "I want to kill myself.")
    with pytest.raises(SafeguardingNotAcknowledged):
        await handlers.decide(
            db.uow(),
            ApproveStory(story_id, "alice", criticality=1),
            now=T0,
            observe=decisions,
        )
    assert decisions.seen == []
    approve = ApproveStory(story_id, "alice", criticality=1, acknowledge_safeguarding=True)
    await handlers.decide(db.uow(), approve, now=T0, observe=decisions)
    assert decisions.seen == [(story_id, Status.APPROVED, False)]


def test_metrics_live_on_the_apps_registry_and_measure_submission_to_decision() -> None:
    registry = CollectorRegistry()
    metrics = moderation_metrics(registry)
    assert moderation_metrics(registry) is metrics
    assert moderation_metrics(CollectorRegistry()) is not metrics
    assert registry.get_sample_value("candour_moderation_queue_depth", {"priority": "serious"}) == 0

    metrics.set_queue_depth({SafeguardingLevel.SERIOUS: 2, SafeguardingLevel.NONE: 5})
    assert registry.get_sample_value("candour_moderation_queue_depth", {"priority": "serious"}) == 2
    assert registry.get_sample_value("candour_moderation_queue_depth", {"priority": "none"}) == 5

    story = item("Fine.", at=T0)
    story.approve(ApproveStory(story.story_id, "alice", criticality=0), T0 + timedelta(hours=3))
    metrics.observe_decision(story, False)
    labels = {"decision": "approved", "automatic": "false"}
    assert registry.get_sample_value(
        "candour_moderation_time_to_decision_seconds_sum", labels
    ) == pytest.approx(3 * 3600)
    assert (
        registry.get_sample_value("candour_moderation_time_to_decision_seconds_count", labels) == 1
    )
    assert isinstance(metrics, ModerationMetrics)


def test_auto_approval_is_an_operator_setting_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from candour_moderation.settings import ModerationSettings

    monkeypatch.delenv("CANDOUR_AUTO_APPROVE", raising=False)
    assert ModerationSettings().auto_approve is False
    monkeypatch.setenv("CANDOUR_AUTO_APPROVE", "true")
    assert ModerationSettings().auto_approve is True
