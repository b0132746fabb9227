"""Use cases of moderation; each receives its dependencies (transaction, time) as arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from candour_common.events import StorySubmitted, StoryWithdrawn
from candour_common.topics import Topic
from candour_moderation.adapters.repository import QueueRepository, Transaction
from candour_moderation.domain.model import (
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
)

log = structlog.get_logger(__name__)

SCREENING_ACTOR = "screening"
AUTHOR_ACTOR = "author"


async def receive_story(
    transaction: Transaction, event: StorySubmitted, *, event_id: UUID, now: datetime
) -> bool:
    """Screen a submitted story and queue it. False when there was nothing to do."""
    async with transaction() as repo:
        if not await repo.record_event_once(event_id, Topic.STORY_SUBMITTED.value):
            return False
        if await repo.is_withdrawn(event.story_id):
            # Its withdrawal overtook it (another topic): never store its words.
            log.info("submitted story was already withdrawn; not queued")
            return False
        if await repo.get(event.story_id) is not None:
            return False
        item = QueueItem.from_submission(event)
        assert item.screening is not None
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
                    "safeguarding": item.screening.safeguarding.level.value,
                    "suggested_redactions": len(item.screening.redactions),
                    "language_flags": len(item.screening.language),
                },
            )
        )
    log.info(
        "story queued",
        safeguarding=item.screening.safeguarding.level.value,
        redactions=len(item.screening.redactions),
    )
    return True


async def withdraw_story(
    transaction: Transaction, event: StoryWithdrawn, *, event_id: UUID, now: datetime
) -> bool:
    """The author withdrew: drop the story from the queue and erase its words everywhere here."""
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
        await repo.add_audit(
            AuditEntry(story_id=event.story_id, at=now, actor=AUTHOR_ACTOR, action="withdrawn")
        )
    log.info("story withdrawn and erased", was_queued=item is not None)
    return True


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
    transaction: Transaction, command: Decision, *, now: datetime
) -> tuple[QueueItem, UUID]:
    """Approve or reject: the decision, its audit line and its event commit together.

    The row lock makes concurrent or retried decisions queue up behind the first;
    they then find the story decided and fail, so exactly one event is written.
    """
    async with transaction() as repo:
        item = await _locked(repo, command.story_id)
        detail: dict[str, Any]
        if isinstance(command, ApproveStory):
            # Read before approving: approval checks the status first.
            original_title, original_body = item.title, item.body
            approved = item.approve(command, now)
            event_id = await repo.add_event(approved)
            detail = {
                "criticality": command.criticality,
                "apply_suggested": command.apply_suggested,
                "acknowledge_safeguarding": command.acknowledge_safeguarding,
                "changed": [
                    name
                    for name, before, after in (
                        ("title", original_title, approved.title),
                        ("body", original_body, approved.body),
                    )
                    if before != after
                ]
                + (["tags"] if command.tags is not None and command.tags != item.tags else []),
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
    log.info("story decided", decision=action, moderator=command.moderator)
    return item, event_id


async def _locked(repo: QueueRepository, story_id: UUID) -> QueueItem:
    item = await repo.get(story_id, for_update=True)
    if item is None:
        raise StoryNotFound(story_id)
    return item


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
