"""Use cases of moderation; each receives its dependencies (transaction, time) as arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from candour_common.events import (
    RejectionReason,
    SafeguardingTrigger,
    SafeguardingUpdated,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.topics import Topic
from candour_moderation.adapters.repository import QueueRepository, Transaction
from candour_moderation.domain.escalations import (
    Escalation,
    RaiseSafeguarding,
    needs_escalation,
    raise_safeguarding,
)
from candour_moderation.domain.feedback import (
    GiveScreeningFeedback,
    ScreeningFeedback,
    corrected_labels,
    feedback_on,
)
from candour_moderation.domain.model import (
    SYSTEM_ACTOR,
    ApproveStory,
    AuditEntry,
    ClaimStory,
    Decision,
    QueueItem,
    QueuePosition,
    RejectStory,
    ReleaseClaim,
    Status,
    StoryNotFound,
    priority_rank,
)
from candour_screening import SafeguardingLevel, Screening
from candour_screening.corpus import format_line

log = structlog.get_logger(__name__)

SCREENING_ACTOR = "screening"
AUTHOR_ACTOR = "author"
NOTIFICATIONS_ACTOR = "notifications"

# Told about each decided story (and whether the system decided it on its own)
# once its transaction has committed: metrics.
DecisionObserver = Callable[[QueueItem, bool], None]


def _ignore(item: QueueItem, automatic: bool) -> None:
    pass


# Screens a story's text fields off the event loop (a worker process in the
# service; the library called directly in unit tests).
Screen = Callable[[Mapping[str, str], str | None], Awaitable[Screening]]


async def receive_story(
    transaction: Transaction,
    event: StorySubmitted,
    *,
    event_id: UUID,
    now: datetime,
    screen: Screen,
    auto_approve: bool = False,
    observe: DecisionObserver = _ignore,
) -> bool:
    """Screen a submitted story and queue it. False when there was nothing to do.

    With `auto_approve`, a story screening found nothing in is approved by the
    system in the same transaction (its `story.approved` goes through the outbox);
    anything flagged waits for a moderator as usual.

    Screening runs before the transaction, so no connection is held while it
    works; a redelivered event is screened again and then found in the inbox.
    """
    screening = await screen(QueueItem.texts_to_screen(event), event.author.display_name)
    async with transaction() as repo:
        if not await repo.record_event_once(event_id, Topic.STORY_SUBMITTED.value):
            return False
        if await repo.is_withdrawn(event.story_id):
            # Its withdrawal overtook it (another topic): never store its words.
            log.info("submitted story was already withdrawn; not queued")
            return False
        if await repo.get(event.story_id) is not None:
            return False
        item = QueueItem.from_submission(event, screening)
        assert item.screening is not None
        automatic = auto_approve and item.auto_approvable
        # Decided before it is stored, so an approved-on-arrival story is written once.
        approved = item.auto_approve(now) if automatic else None
        await repo.add(item)
        await repo.add_audit(
            AuditEntry(
                story_id=item.story_id,
                at=now,
                actor=SCREENING_ACTOR,
                action="received",
                detail={
                    "title": event.title,
                    "body": event.body,
                    "tags": event.tags.model_dump(),
                    "safeguarding": item.screening.safeguarding.level.value,
                    "safeguarding_categories": [
                        c.value for c in item.screening.safeguarding.categories
                    ],
                    "suggested_redactions": len(item.screening.redactions),
                    "language_flags": len(item.screening.language),
                },
            )
        )
        if needs_escalation(item):
            # At once, whatever a moderator decides later: the contacts hear of it now.
            await _escalate(
                repo, item, now=now, trigger=SafeguardingTrigger.SCREENING, by=SCREENING_ACTOR
            )
        if approved is not None:
            published_id = await repo.add_event(approved)
            await repo.add_audit(
                AuditEntry(
                    story_id=item.story_id,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    action="approved",
                    automatic=True,
                    detail={
                        "automatic": True,
                        "criticality": None,
                        "changed": [],
                        "published": {
                            "title": approved.title,
                            "body": approved.body,
                            "tags": approved.tags.model_dump(),
                        },
                        "event_id": str(published_id),
                    },
                )
            )
    if automatic:
        observe(item, True)
        log.info("story approved automatically: screening found nothing")
    else:
        log.info(
            "story queued",
            safeguarding=item.screening.safeguarding.level.value,
            redactions=len(item.screening.redactions),
        )
    return True


async def withdraw_story(
    transaction: Transaction, event: StoryWithdrawn, *, event_id: UUID, now: datetime
) -> bool:
    """The author withdrew: drop the story from the queue and erase its words and its
    provenance everywhere here; tombstone story.approved so the published copy goes too
    (always: an approval may have been published before this withdrawal arrived)."""
    async with transaction() as repo:
        if not await repo.record_event_once(event_id, Topic.STORY_WITHDRAWN.value):
            return False
        await repo.record_withdrawal(event.story_id, event.withdrawn_at)
        item = await repo.get(event.story_id, for_update=True)
        if item is not None:
            item.withdraw(now)
            await repo.save(item)
        await repo.erase_audit_details(event.story_id)
        await repo.erase_events(event.story_id)
        await repo.erase_published(event.story_id)
        await repo.erase_feedback(event.story_id)
        await repo.erase_escalations(event.story_id)
        await repo.add_audit(
            AuditEntry(story_id=event.story_id, at=now, actor=AUTHOR_ACTOR, action="withdrawn")
        )
    log.info("story withdrawn and erased", was_queued=item is not None)
    return True


async def queue_depth(transaction: Transaction) -> dict[SafeguardingLevel, int]:
    """Pending stories by safeguarding level (the queue's priority), zeros included."""
    async with transaction() as repo:
        counts = await repo.pending_by_priority()
    return {level: counts.get(priority_rank(level), 0) for level in SafeguardingLevel}


async def list_queue(
    transaction: Transaction, status: Status, *, limit: int, after: QueuePosition | None = None
) -> list[QueueItem]:
    async with transaction() as repo:
        return await repo.page(status, limit=limit, after=after)


async def get_story(transaction: Transaction, story_id: UUID) -> tuple[QueueItem, list[AuditEntry]]:
    async with transaction() as repo:
        item = await repo.get(story_id)
        if item is None:
            raise StoryNotFound(story_id)
        return item, await repo.audit_trail(story_id)


async def screening_feedback_on(
    transaction: Transaction, story_id: UUID
) -> list[ScreeningFeedback]:
    async with transaction() as repo:
        return await repo.feedback_on(story_id)


async def give_screening_feedback(
    transaction: Transaction, command: GiveScreeningFeedback, *, now: datetime
) -> ScreeningFeedback:
    """A moderator marks a flag wrong or adds a missed one; the audit trail says who."""
    async with transaction() as repo:
        item = await _locked(repo, command.story_id)
        feedback = feedback_on(item, command, now)
        await repo.add_feedback(feedback)
        await repo.add_audit(
            AuditEntry(
                story_id=item.story_id,
                at=now,
                actor=command.moderator,
                action="screening_feedback",
                detail={
                    "verdict": feedback.verdict.value,
                    "category": feedback.category.value,
                    "level": feedback.level.value,
                    "text": feedback.text,
                    "note": feedback.note,
                },
            )
        )
    log.info(
        "screening feedback given",
        verdict=feedback.verdict.value,
        category=feedback.category.value,
        moderator=command.moderator,
    )
    return feedback


async def export_labels(transaction: Transaction) -> list[str]:
    """Corpus rows (`level | categories | text`) for every story moderators gave
    screening feedback on: the labels as corrected, the body with every suggested
    redaction applied, so no identifying detail screening found leaves."""
    async with transaction() as repo:
        story_ids = await repo.stories_with_feedback()
    rows = []
    for story_id in story_ids:
        async with transaction() as repo:
            item = await repo.get(story_id)
            feedback = await repo.feedback_on(story_id)
        if item is None or item.screening is None or item.body is None:
            continue  # withdrawn meanwhile
        labels = corrected_labels(item.screening, feedback)
        text = item.screening.redacted("body", item.body)
        rows.append(format_line(labels.level, labels.categories, text))
    return rows


async def claim_story(transaction: Transaction, command: ClaimStory, *, now: datetime) -> QueueItem:
    async with transaction() as repo:
        item = await _locked(repo, command.story_id)
        item.claim(command.moderator, now, command.lease)
        await repo.save(item)
        await repo.add_audit(
            AuditEntry(
                story_id=item.story_id,
                at=now,
                actor=command.moderator,
                action="claimed",
                detail={"expires_at": _iso(item.claim_expires_at)},
            )
        )
        return item


async def release_claim(
    transaction: Transaction, command: ReleaseClaim, *, now: datetime
) -> QueueItem:
    async with transaction() as repo:
        item = await _locked(repo, command.story_id)
        item.release(command.moderator, now)
        await repo.save(item)
        await repo.add_audit(
            AuditEntry(story_id=item.story_id, at=now, actor=command.moderator, action="released")
        )
        return item


async def decide(
    transaction: Transaction,
    command: Decision,
    *,
    now: datetime,
    observe: DecisionObserver = _ignore,
) -> tuple[QueueItem, UUID]:
    """Approve or reject: the decision, its audit lines and its event commit together.

    An approval that publishes anything other than the author's words first
    records an `edited` line: each field, who wrote the new value (the moderator
    or the suggested redactions) and the spans that changed.

    The row lock makes concurrent or retried decisions queue up behind the first;
    they then find the story decided and fail, so exactly one event is written.
    """
    async with transaction() as repo:
        item = await _locked(repo, command.story_id)
        detail: dict[str, Any]
        if isinstance(command, ApproveStory):
            approved = item.approve(command, now)
            # Approval leaves the author's words in place, so the edits are still visible.
            edits = item.edits(command)
            event_id = await repo.add_event(approved)
            if edits:
                await repo.add_audit(
                    AuditEntry(
                        story_id=item.story_id,
                        at=now,
                        actor=command.moderator,
                        action="edited",
                        detail={"edits": [edit.to_json() for edit in edits]},
                    )
                )
            detail = {
                "criticality": command.criticality,
                "apply_suggested": command.apply_suggested,
                "acknowledge_safeguarding": command.acknowledge_safeguarding,
                "changed": [edit.field for edit in edits],
                "published": {
                    "title": approved.title,
                    "body": approved.body,
                    "tags": approved.tags.model_dump(),
                },
            }
            action = "approved"
        else:
            assert isinstance(command, RejectStory)
            rejected = item.reject(command, now)
            event_id = await repo.add_event(rejected)
            detail = {"reason": command.reason.value, "note": command.note}
            action = "rejected"
        detail["event_id"] = str(event_id)
        await repo.save(item)
        await repo.add_audit(
            AuditEntry(
                story_id=item.story_id,
                at=now,
                actor=command.moderator,
                action=action,
                detail=detail,
            )
        )
        if (
            isinstance(command, RejectStory)
            and command.reason is RejectionReason.SAFEGUARDING_ESCALATED
            and not await repo.escalations_of(item.story_id)
        ):
            # Rejected for safeguarding but never escalated (screening matched nothing):
            # the rejection raises it, with its note. One escalated before is not
            # alerted a second time.
            await _escalate(
                repo,
                item,
                now=now,
                trigger=SafeguardingTrigger.MODERATOR,
                by=command.moderator,
                note=command.note,
            )
    observe(item, False)
    log.info("story decided", decision=action, moderator=command.moderator)
    return item, event_id


async def raise_escalation(
    transaction: Transaction, command: RaiseSafeguarding, *, now: datetime
) -> Escalation:
    """A moderator sends the story, with their note, to the organisation's safeguarding
    contacts now (any story but a withdrawn one; pending, approved or rejected)."""
    async with transaction() as repo:
        item = await _locked(repo, command.story_id)
        escalation = await _escalate(
            repo,
            item,
            now=now,
            trigger=SafeguardingTrigger.MODERATOR,
            by=command.moderator,
            note=command.note,
        )
    log.info("safeguarding raised", moderator=command.moderator)
    return escalation


async def _escalate(
    repo: QueueRepository,
    item: QueueItem,
    *,
    now: datetime,
    trigger: SafeguardingTrigger,
    by: str,
    note: str | None = None,
) -> Escalation:
    """Record an escalation, its `safeguarding.raised` (outbox) and its audit line."""
    escalation, raised = raise_safeguarding(item, now=now, trigger=trigger, raised_by=by, note=note)
    await repo.add_escalation(escalation)
    event_id = await repo.add_event(raised)
    await repo.add_audit(
        AuditEntry(
            story_id=item.story_id,
            at=now,
            actor=by,
            action="safeguarding_raised",
            detail={
                "escalation_id": str(escalation.escalation_id),
                "trigger": trigger.value,
                "note": note,
                "categories": sorted({m.category for m in raised.matches}),
                "event_id": str(event_id),
            },
        )
    )
    return escalation


async def record_escalation_update(
    transaction: Transaction, event: SafeguardingUpdated, *, event_id: UUID, now: datetime
) -> bool:
    """Notifications says who was alerted, who acknowledged, or that the duty moderators
    were alerted again: the console shows it and the audit trail records it."""
    async with transaction() as repo:
        if not await repo.record_event_once(event_id, Topic.SAFEGUARDING_UPDATED.value):
            return False
        escalation = await repo.get_escalation(event.escalation_id, for_update=True)
        if escalation is None:
            log.warning("update of an unknown escalation", escalation_id=str(event.escalation_id))
            return False
        escalation.apply(event)
        await repo.save_escalation(escalation)
        await repo.add_audit(
            AuditEntry(
                story_id=escalation.story_id,
                at=event.at,
                actor=NOTIFICATIONS_ACTOR,
                action=f"safeguarding_{event.state.value}",
                detail={
                    "escalation_id": str(escalation.escalation_id),
                    "recipients": event.recipients,
                    "to_duty_moderators": event.to_duty_moderators,
                    "acknowledged_by": event.acknowledged_by,
                },
            )
        )
    log.info("safeguarding escalation updated", state=event.state.value)
    return True


async def escalations_of(transaction: Transaction, story_id: UUID) -> list[Escalation]:
    async with transaction() as repo:
        return await repo.escalations_of(story_id)


async def _locked(repo: QueueRepository, story_id: UUID) -> QueueItem:
    item = await repo.get(story_id, for_update=True)
    if item is None:
        raise StoryNotFound(story_id)
    return item


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
