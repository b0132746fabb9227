"""Use cases of moderation: each receives its unit of work (and the time, the
screening, the observers it needs) as arguments and runs in `async with uow:`.

The event consumer has recorded an event in the inbox before its handler runs (a
redelivered event never reaches it) and, under a backlog, runs many handlers in one
unit of work; HTTP commands get a fresh unit of work per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import structlog

from candour_common.events import (
    RejectionReason,
    SafeguardingTrigger,
    SafeguardingUpdated,
    StoryApproved,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.keys import escalation_key, story_key
from candour_common.topics import Topic
from candour_moderation.domain.carried_screening import (
    SCREENED_BY_INTAKE,
    SCREENED_BY_MODERATION,
    usable_screening,
)
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
    Resubmission,
    Status,
    StoryNotFound,
    priority_rank,
)
from candour_moderation.service_layer.unit_of_work import ModerationUnitOfWork
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


# Told, once a batch of stories has committed, how many each screener screened (who:
# `story-intake`, its screening carried on the event, or `moderation`): metrics.
ScreeningObserver = Callable[[str, int], None]


def _ignore_screenings(screened_by: str, count: int) -> None:
    pass


class QueueMetrics(Protocol):
    """Moderation's own metrics, as the use cases and entrypoints feed them."""

    def observe_decision(self, item: QueueItem, automatic: bool) -> None: ...

    def set_queue_depth(self, depth: Mapping[SafeguardingLevel, int]) -> None: ...


# What screening reads of one story: its text fields, and the author's name.
ScreeningRequest = tuple[Mapping[str, str], str | None]
# Screens stories off the event loop, several at once (the service's worker pool; the
# library called directly in unit tests): one Screening per request, in order.
ScreenStories = Callable[[Sequence[ScreeningRequest]], Awaitable[list[Screening]]]
# A story's screening, who made it (`SCREENED_BY_*`) and with which screener.
Screened = tuple[Screening, str, str | None]


async def receive_stories(
    uow: ModerationUnitOfWork,
    events: Sequence[StorySubmitted],
    *,
    now: datetime,
    screen: ScreenStories,
    screener: str | None = None,
    auto_approve: bool = False,
    observe: DecisionObserver = _ignore,
    observe_screenings: ScreeningObserver = _ignore_screenings,
) -> list[QueueItem]:
    """Screen submitted stories and queue them; the items queued (and those an
    author's edit replaced), in order.

    A story whose event carries intake's screening made by `screener` (moderation's
    own: candour_screening.screener_version()) of the same text is not screened again:
    that screening is used (domain/carried_screening.py). Every other story (no
    screening carried, another screener, `screener` None) is screened here. The audit
    trail's `received` (or `resubmitted`) line says which (`screened_by`).

    One story or a consumer's batch alike: the stories neither queued nor withdrawn
    already are screened together (in the screening workers, concurrently), then
    written set-based: their queue rows in one statement, their audit lines in
    another. A story screening matched safeguarding in is escalated at once.

    With `auto_approve`, a story screening found nothing in is approved by the
    system in the same transaction (its `story.approved` goes through the outbox);
    anything flagged waits for a moderator as usual.

    A story already queued that comes again with a higher `version` is its author's
    edit: see `_receive_new_version`.
    """
    counts: dict[str, int] = {}

    async def screen_here(events: Sequence[StorySubmitted]) -> list[Screened]:
        screened = await _screenings(events, screen=screen, screener=screener)
        for _, by, _ in screened:
            counts[by] = counts.get(by, 0) + 1
        return screened

    async with uow:
        fresh = await _not_yet_queued(uow, events)
        items = await _queue_new_stories(
            uow, fresh, now=now, screen=screen_here, auto_approve=auto_approve, observe=observe
        )
        # Everything else is a story already queued (or just now): an author's edit, or
        # a late or repeated submission, in the order it came.
        chosen = {id(event) for event in fresh}
        edits = [event for event in events if id(event) not in chosen]
        for event in edits:
            edited = await _receive_new_version(
                uow,
                event,
                now=now,
                screen=screen_here,
                auto_approve=auto_approve,
                observe=observe,
            )
            if edited is not None:
                items.append(edited)

        def screened() -> None:
            for by, count in counts.items():
                observe_screenings(by, count)

        uow.after_commit(screened)
    return items


async def _screenings(
    events: Sequence[StorySubmitted], *, screen: ScreenStories, screener: str | None
) -> list[Screened]:
    """Each story's screening, in order: intake's where usable (see `receive_stories`),
    the rest screened together in the screening workers."""
    carried = [usable_screening(event, screener) for event in events]
    todo = [event for event, usable in zip(events, carried, strict=True) if usable is None]
    results = (
        await screen([(e.screened_texts(), e.author.display_name) for e in todo]) if todo else []
    )
    own = {id(e): s for e, s in zip(todo, results, strict=True)}
    if unusable := sum(e.screening is not None for e in todo):
        # Another screener (a deploy under way) or another text: screened here.
        log.info("carried screening not used; screened again", stories=unusable)
    out: list[Screened] = []
    for event, usable in zip(events, carried, strict=True):
        if usable is not None:
            assert event.screening is not None
            out.append((usable, SCREENED_BY_INTAKE, event.screening.screener))
        else:
            out.append((own[id(event)], SCREENED_BY_MODERATION, screener))
    return out


# Screens (or takes intake's screening of) stories inside `receive_stories`.
_ScreenHere = Callable[[Sequence[StorySubmitted]], Awaitable[list[Screened]]]


async def _queue_new_stories(
    uow: ModerationUnitOfWork,
    fresh: Sequence[StorySubmitted],
    *,
    now: datetime,
    screen: _ScreenHere,
    auto_approve: bool,
    observe: DecisionObserver,
) -> list[QueueItem]:
    """Screen and queue stories seen for the first time, set-based (see above)."""
    if not fresh:
        return []
    screenings = await screen(fresh)
    items = [
        QueueItem.from_submission(e, s) for e, (s, _, _) in zip(fresh, screenings, strict=True)
    ]
    automatic = {item.story_id for item in items if auto_approve and item.auto_approvable}
    # Decided before they are stored, so an approved-on-arrival story is written once.
    approvals = {
        item.story_id: item.auto_approve(now) for item in items if item.story_id in automatic
    }
    await uow.queue.add_many(items)
    # Each story's audit lines in the order things happened to it.
    await uow.audit.add_many([_received(e, s, now) for e, s in zip(fresh, screenings, strict=True)])
    for item in items:
        if needs_escalation(item):
            # At once, whatever a moderator decides later: the contacts hear of it now.
            await _escalate(
                uow, item, now=now, trigger=SafeguardingTrigger.SCREENING, by=SCREENING_ACTOR
            )
    approved_lines: list[AuditEntry] = []
    for item in items:
        if (approved := approvals.get(item.story_id)) is not None:
            published_id = await uow.add_event(approved)
            approved_lines.append(_approved_automatically(item, approved, published_id, now))
    await uow.audit.add_many(approved_lines)

    def received() -> None:
        for item in items:
            if item.story_id in automatic:
                observe(item, True)
        log.info(
            "stories received",
            queued=len(items) - len(automatic),
            approved_automatically=len(automatic),
            serious=sum(item.priority_rank == 0 for item in items),
        )

    uow.after_commit(received)
    return items


async def _receive_new_version(
    uow: ModerationUnitOfWork,
    event: StorySubmitted,
    *,
    now: datetime,
    screen: _ScreenHere,
    auto_approve: bool,
    observe: DecisionObserver,
) -> QueueItem | None:
    """A story.submitted of a story already queued: the author's edit when its version
    is newer (see QueueItem.resubmit), else a late or repeated one, ignored. The item
    if its text was replaced.

    The new text is screened again, and the audit trail gets a `resubmitted` line with
    it: the `received` line (and any earlier `resubmitted` one) keeps the text before,
    so every version stays auditable. Screening feedback on the old text is dropped
    (the trail keeps it). Screening matching safeguarding in the new text
    escalates it unless the story was escalated before (its contacts know of it). An
    edit of a story already published is never published: the trail records it as
    `edited_after_publication`, with its text, and the published version stands.
    """
    item = await uow.queue.get(event.story_id, for_update=True)
    if item is None or event.version <= item.version or item.status is Status.WITHDRAWN:
        # Withdrawn before it arrived (never queued), withdrawn since, or not newer.
        return None
    [screened] = await screen([event])
    screening = screened[0]
    previous = (item.status, item.version)
    outcome = item.resubmit(event, screening)
    published = outcome is Resubmission.ALREADY_PUBLISHED
    detail = {
        **_received_detail(event, screened),
        "version": event.version,
        "previous_version": previous[1],
        "previous_status": previous[0].value,
        "outcome": outcome.value,
    }
    action = "edited_after_publication" if published else "resubmitted"
    await uow.audit.add(
        AuditEntry(story_id=item.story_id, at=now, actor=AUTHOR_ACTOR, action=action, detail=detail)
    )
    if published:
        log.info("edit of a published story kept out", version=event.version)
        return None
    await uow.queue.save(item)
    # Moderators' screening feedback was about the text before: it would mislabel the
    # new text in the exported corpus. The audit trail keeps what they said.
    await uow.feedback.erase(item.story_id)
    if needs_escalation(item) and not await uow.escalations.of(item.story_id):
        await _escalate(
            uow, item, now=now, trigger=SafeguardingTrigger.SCREENING, by=SCREENING_ACTOR
        )
    if auto_approve and item.auto_approvable:
        approved = item.auto_approve(now)
        await uow.queue.save(item)
        published_id = await uow.add_event(approved)
        await uow.audit.add(_approved_automatically(item, approved, published_id, now))
        uow.after_commit(lambda: observe(item, True))
    log.info("story edited by its author", outcome=outcome.value, version=event.version)
    return item


async def receive_story(
    uow: ModerationUnitOfWork,
    event: StorySubmitted,
    *,
    now: datetime,
    screen: ScreenStories,
    screener: str | None = None,
    auto_approve: bool = False,
    observe: DecisionObserver = _ignore,
    observe_screenings: ScreeningObserver = _ignore_screenings,
) -> QueueItem | None:
    """Screen one submitted story and queue it; None if it was queued or withdrawn before."""
    items = await receive_stories(
        uow,
        [event],
        now=now,
        screen=screen,
        screener=screener,
        auto_approve=auto_approve,
        observe=observe,
        observe_screenings=observe_screenings,
    )
    return items[0] if items else None


async def _not_yet_queued(
    uow: ModerationUnitOfWork, events: Sequence[StorySubmitted]
) -> list[StorySubmitted]:
    """The first submission of each story that is neither queued nor withdrawn.

    A story may come twice under different event ids (a producer's retry), and its
    withdrawal may overtake it (another topic): then its words are never stored.
    """
    first: dict[UUID, StorySubmitted] = {}
    for event in events:
        first.setdefault(event.story_id, event)
    ids = list(first)
    done = await uow.withdrawals.among(ids) | await uow.queue.existing(ids)
    return [event for story_id, event in first.items() if story_id not in done]


def _received_detail(event: StorySubmitted, screened: Screened) -> dict[str, Any]:
    """What the audit trail keeps of a version of the story as it arrived, and who
    screened it (`story-intake`, carried on the event, or `moderation`) with what."""
    screening, screened_by, screener = screened
    return {
        "title": event.title,
        "body": event.body,
        "tags": event.tags.model_dump(),
        "safeguarding": screening.safeguarding.level.value,
        "safeguarding_categories": [c.value for c in screening.safeguarding.categories],
        "suggested_redactions": len(screening.redactions),
        "language_flags": len(screening.language),
        "screened_by": screened_by,
        "screener": screener,
    }


def _received(event: StorySubmitted, screened: Screened, now: datetime) -> AuditEntry:
    return AuditEntry(
        story_id=event.story_id,
        at=now,
        actor=SCREENING_ACTOR,
        action="received",
        detail=_received_detail(event, screened),
    )


def _approved_automatically(
    item: QueueItem, approved: StoryApproved, published_id: UUID, now: datetime
) -> AuditEntry:
    return AuditEntry(
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


async def withdraw_story(
    uow: ModerationUnitOfWork, event: StoryWithdrawn, *, now: datetime
) -> None:
    """The author withdrew: drop the story from the queue and erase its words and its
    provenance everywhere here; tombstone story.approved so the published copy goes too
    (always: an approval may have been published before this withdrawal arrived), and
    each of its escalations on safeguarding.raised (they carried the story)."""
    story_id = event.story_id
    async with uow:
        await uow.withdrawals.record(story_id, event.withdrawn_at)
        item = await uow.queue.get(story_id, for_update=True)
        if item is not None:
            item.withdraw(now)
            await uow.queue.save(item)
        await uow.audit.erase_details(story_id)
        await uow.feedback.erase(story_id)
        escalations = await uow.escalations.erase_notes(story_id)
        # The outbox copies first (they hold the text), then the tombstones, which are
        # published after anything of the story already sent.
        await uow.erase_story_events(story_id)
        await uow.add_tombstone(Topic.STORY_APPROVED, story_key(story_id), story_id=story_id)
        for escalation_id in escalations:
            await uow.add_tombstone(
                Topic.SAFEGUARDING_RAISED,
                escalation_key(story_id, escalation_id),
                story_id=story_id,
            )
        await uow.audit.add(
            AuditEntry(story_id=story_id, at=now, actor=AUTHOR_ACTOR, action="withdrawn")
        )
    log.info("story withdrawn and erased", was_queued=item is not None)


async def queue_depth(uow: ModerationUnitOfWork) -> dict[SafeguardingLevel, int]:
    """Pending stories by safeguarding level (the queue's priority), zeros included."""
    async with uow:
        counts = await uow.queue.pending_by_priority()
    return {level: counts.get(priority_rank(level), 0) for level in SafeguardingLevel}


async def list_queue(
    uow: ModerationUnitOfWork, status: Status, *, limit: int, after: QueuePosition | None = None
) -> list[QueueItem]:
    async with uow:
        return await uow.queue.page(status, limit=limit, after=after)


async def get_story(
    uow: ModerationUnitOfWork, story_id: UUID
) -> tuple[QueueItem, list[AuditEntry]]:
    async with uow:
        item = await uow.queue.get(story_id)
        if item is None:
            raise StoryNotFound(story_id)
        return item, await uow.audit.trail(story_id)


async def screening_feedback_on(
    uow: ModerationUnitOfWork, story_id: UUID
) -> list[ScreeningFeedback]:
    async with uow:
        return await uow.feedback.on(story_id)


async def give_screening_feedback(
    uow: ModerationUnitOfWork, command: GiveScreeningFeedback, *, now: datetime
) -> ScreeningFeedback:
    """A moderator marks a flag wrong or adds a missed one; the audit trail says who."""
    async with uow:
        item = await _locked(uow, command.story_id)
        feedback = feedback_on(item, command, now)
        await uow.feedback.add(feedback)
        await uow.audit.add(
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


async def export_labels(uow: ModerationUnitOfWork) -> list[str]:
    """Corpus rows (`level | categories | text`) for every story moderators gave
    screening feedback on: the labels as corrected, the body with every suggested
    redaction applied, so no identifying detail screening found leaves."""
    rows = []
    async with uow:
        for story_id in await uow.feedback.stories():
            item = await uow.queue.get(story_id)
            if item is None or item.screening is None or item.body is None:
                continue  # withdrawn
            labels = corrected_labels(item.screening, await uow.feedback.on(story_id))
            text = item.screening.redacted("body", item.body)
            rows.append(format_line(labels.level, labels.categories, text))
    return rows


async def claim_story(
    uow: ModerationUnitOfWork, command: ClaimStory, *, now: datetime
) -> QueueItem:
    async with uow:
        item = await _locked(uow, command.story_id)
        item.claim(command.moderator, now, command.lease)
        await uow.queue.save(item)
        await uow.audit.add(
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
    uow: ModerationUnitOfWork, command: ReleaseClaim, *, now: datetime
) -> QueueItem:
    async with uow:
        item = await _locked(uow, command.story_id)
        item.release(command.moderator, now)
        await uow.queue.save(item)
        await uow.audit.add(
            AuditEntry(story_id=item.story_id, at=now, actor=command.moderator, action="released")
        )
        return item


async def decide(
    uow: ModerationUnitOfWork,
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
    async with uow:
        item = await _locked(uow, command.story_id)
        detail: dict[str, Any]
        if isinstance(command, ApproveStory):
            approved = item.approve(command, now)
            # Approval leaves the author's words in place, so the edits are still visible.
            edits = item.edits(command)
            event_id = await uow.add_event(approved)
            if edits:
                await uow.audit.add(
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
            event_id = await uow.add_event(rejected)
            detail = {"reason": command.reason.value, "note": command.note}
            action = "rejected"
        detail["event_id"] = str(event_id)
        await uow.queue.save(item)
        await uow.audit.add(
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
            and not await uow.escalations.of(item.story_id)
        ):
            # Rejected for safeguarding but never escalated (screening matched nothing):
            # the rejection raises it, with its note. One escalated before is not
            # alerted a second time.
            await _escalate(
                uow,
                item,
                now=now,
                trigger=SafeguardingTrigger.MODERATOR,
                by=command.moderator,
                note=command.note,
            )
        uow.after_commit(lambda: observe(item, False))
    log.info("story decided", decision=action, moderator=command.moderator)
    return item, event_id


async def raise_escalation(
    uow: ModerationUnitOfWork, command: RaiseSafeguarding, *, now: datetime
) -> Escalation:
    """A moderator sends the story, with their note, to the organisation's safeguarding
    contacts now (any story but a withdrawn one; pending, approved or rejected)."""
    async with uow:
        item = await _locked(uow, command.story_id)
        escalation = await _escalate(
            uow,
            item,
            now=now,
            trigger=SafeguardingTrigger.MODERATOR,
            by=command.moderator,
            note=command.note,
        )
    log.info("safeguarding raised", moderator=command.moderator)
    return escalation


async def _escalate(
    uow: ModerationUnitOfWork,
    item: QueueItem,
    *,
    now: datetime,
    trigger: SafeguardingTrigger,
    by: str,
    note: str | None = None,
) -> Escalation:
    """Record an escalation, its `safeguarding.raised` (outbox) and its audit line."""
    escalation, raised = raise_safeguarding(item, now=now, trigger=trigger, raised_by=by, note=note)
    await uow.escalations.add(escalation)
    event_id = await uow.add_event(raised)
    await uow.audit.add(
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


async def record_escalation_update(uow: ModerationUnitOfWork, event: SafeguardingUpdated) -> bool:
    """Notifications says who was alerted, who acknowledged, or that the duty moderators
    were alerted again: the console shows it and the audit trail records it."""
    async with uow:
        escalation = await uow.escalations.get(event.escalation_id, for_update=True)
        if escalation is None:
            log.warning("update of an unknown escalation", escalation_id=str(event.escalation_id))
            return False
        escalation.apply(event)
        await uow.escalations.save(escalation)
        await uow.audit.add(
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


async def escalations_of(uow: ModerationUnitOfWork, story_id: UUID) -> list[Escalation]:
    async with uow:
        return await uow.escalations.of(story_id)


async def _locked(uow: ModerationUnitOfWork, story_id: UUID) -> QueueItem:
    item = await uow.queue.get(story_id, for_update=True)
    if item is None:
        raise StoryNotFound(story_id)
    return item


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
