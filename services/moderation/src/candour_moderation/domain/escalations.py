"""Safeguarding escalations: a story that must reach the organisation's safeguarding
contacts now, whatever a moderator later decides, and what became of the alert."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from candour_common.events import (
    EscalationState,
    SafeguardingMatchRef,
    SafeguardingRaised,
    SafeguardingTrigger,
    SafeguardingUpdated,
)
from candour_moderation.domain.model import ModerationError, QueueItem, Status
from candour_screening import CATEGORY_LABELS

NOTE_MAX = 2000


@dataclass(frozen=True, slots=True)
class RaiseSafeguarding:
    """Command: a moderator sends a story to the safeguarding contacts, with a note."""

    story_id: UUID
    moderator: str
    note: str


class NothingToRaise(ModerationError):
    def __init__(self, story_id: UUID) -> None:
        super().__init__(f"story {story_id} was withdrawn by its author: its text is erased")
        self.story_id = story_id


class Progress(StrEnum):
    """Where an escalation stands, as the console shows it."""

    RAISED = "raised"  # sent to notifications, nothing heard back yet
    ALERTED = "alerted"
    REALERTED = "realerted"
    ACKNOWLEDGED = "acknowledged"


@dataclass(slots=True)
class Escalation:
    escalation_id: UUID
    story_id: UUID
    raised_at: datetime
    trigger: SafeguardingTrigger
    raised_by: str
    note: str | None = None
    alerted_at: datetime | None = None
    alerted_to: tuple[str, ...] = ()
    to_duty_moderators: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    realerted_at: datetime | None = None
    realerted_to: tuple[str, ...] = ()

    @property
    def progress(self) -> Progress:
        if self.acknowledged_at is not None:
            return Progress.ACKNOWLEDGED
        if self.realerted_at is not None:
            return Progress.REALERTED
        if self.alerted_at is not None:
            return Progress.ALERTED
        return Progress.RAISED

    def apply(self, update: SafeguardingUpdated) -> None:
        """Take in what notifications reported (each state once; a repeat changes nothing)."""
        if update.state is EscalationState.ALERTED and self.alerted_at is None:
            self.alerted_at = update.at
            self.alerted_to = tuple(update.recipients)
            self.to_duty_moderators = update.to_duty_moderators
        elif update.state is EscalationState.ACKNOWLEDGED and self.acknowledged_at is None:
            self.acknowledged_at = update.at
            self.acknowledged_by = update.acknowledged_by
        elif update.state is EscalationState.REALERTED and self.realerted_at is None:
            self.realerted_at = update.at
            self.realerted_to = tuple(update.recipients)


def needs_escalation(item: QueueItem) -> bool:
    """Screening matched something of safeguarding (any level) in the story."""
    return item.screening is not None and bool(item.screening.safeguarding.matches)


def raise_safeguarding(
    item: QueueItem,
    *,
    now: datetime,
    trigger: SafeguardingTrigger,
    raised_by: str,
    note: str | None = None,
) -> tuple[Escalation, SafeguardingRaised]:
    """A new escalation of the story and the event that carries it to notifications:
    the story as written, every match with its reason, the note. Any status but withdrawn."""
    if item.status is Status.WITHDRAWN or item.title is None or item.body is None:
        raise NothingToRaise(item.story_id)
    assert item.author is not None
    escalation = Escalation(
        escalation_id=uuid.uuid4(),
        story_id=item.story_id,
        raised_at=now,
        trigger=trigger,
        raised_by=raised_by,
        note=note,
    )
    screening = item.screening
    matches = screening.safeguarding.matches if screening is not None else ()
    event = SafeguardingRaised(
        story_id=item.story_id,
        escalation_id=escalation.escalation_id,
        raised_at=now,
        trigger=trigger,
        raised_by=raised_by,
        note=note,
        organisation=item.organisation,
        service=item.service,
        submitted_at=item.submitted_at,
        status=item.status.value,
        title=item.title,
        body=item.body,
        author=item.author,
        level=screening.safeguarding.level.value if screening is not None else "none",
        matches=[
            SafeguardingMatchRef(
                field=m.field,
                text=m.text,
                category=m.category.value,
                category_label=CATEGORY_LABELS[m.category],
                level=m.level.value,
                reason=m.reason,
            )
            for m in matches
        ],
    )
    return escalation, event
