"""Moderators teach screening: a flag marked wrong, or a missed one added.

Each piece of feedback names a safeguarding category and level. The corrected
labels of a story (what screening should have said) are its screening's matches
less those marked wrong, plus those added as missed; `candour screening
export-labels` writes them as corpus rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from candour_common.translatable import N_, Filled
from candour_moderation.domain.model import ModerationError, QueueItem
from candour_screening import (
    SafeguardingCategory,
    SafeguardingLevel,
    SafeguardingMatch,
    Screening,
)

NOTE_MAX = 2000
TEXT_MAX = 500


class Verdict(StrEnum):
    # A flag screening raised that does not hold.
    WRONG = "wrong"
    # A safeguarding matter screening did not flag.
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class GiveScreeningFeedback:
    """Mark match number `match` of the story's screening wrong, or add a missed
    flag of `category` at `level` (with the words that show it, if given)."""

    story_id: UUID
    moderator: str
    verdict: Verdict
    match: int | None = None
    category: SafeguardingCategory | None = None
    level: SafeguardingLevel = SafeguardingLevel.CONCERN
    text: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ScreeningFeedback:
    story_id: UUID
    at: datetime
    moderator: str
    verdict: Verdict
    category: SafeguardingCategory
    level: SafeguardingLevel
    field: str | None = None
    match_start: int | None = None
    match_end: int | None = None
    text: str | None = None
    note: str | None = None

    def is_about(self, match: SafeguardingMatch) -> bool:
        return (
            self.verdict is Verdict.WRONG
            and self.field == match.field
            and self.match_start == match.start
            and self.match_end == match.end
            and self.category is match.category
        )


class FeedbackNotPossible(ModerationError):
    def __init__(self, story_id: UUID, why: str) -> None:
        super().__init__(f"story {story_id}: {why}")
        self.story_id = story_id
        self.why = why


def feedback_on(
    item: QueueItem, command: GiveScreeningFeedback, now: datetime
) -> ScreeningFeedback:
    """The feedback `command` gives on `item`, checked against its screening."""
    screening = item.screening
    if screening is None or item.body is None:
        raise FeedbackNotPossible(
            item.story_id, N_("The author withdrew this story: nothing to label")
        )
    if command.verdict is Verdict.WRONG:
        matches = screening.safeguarding.matches
        if command.match is None or not 0 <= command.match < len(matches):
            raise FeedbackNotPossible(
                item.story_id,
                Filled(N_("It has no safeguarding flag number {number}"), number=command.match),
            )
        match = matches[command.match]
        return ScreeningFeedback(
            story_id=item.story_id,
            at=now,
            moderator=command.moderator,
            verdict=Verdict.WRONG,
            category=match.category,
            level=match.level,
            field=match.field,
            match_start=match.start,
            match_end=match.end,
            text=match.text,
            note=command.note,
        )
    if command.category is None:
        raise FeedbackNotPossible(item.story_id, N_("A missed flag needs its category"))
    if command.level is SafeguardingLevel.NONE:
        raise FeedbackNotPossible(item.story_id, N_("A missed flag is a concern or serious"))
    return ScreeningFeedback(
        story_id=item.story_id,
        at=now,
        moderator=command.moderator,
        verdict=Verdict.MISSED,
        category=command.category,
        level=command.level,
        text=command.text,
        note=command.note,
    )


@dataclass(frozen=True, slots=True)
class CorrectedLabels:
    level: SafeguardingLevel
    categories: frozenset[SafeguardingCategory]


def corrected_labels(
    screening: Screening, feedback: Iterable[ScreeningFeedback]
) -> CorrectedLabels:
    """What screening should have said, by the moderators' feedback."""
    given = list(feedback)
    kept = [
        (m.category, m.level)
        for m in screening.safeguarding.matches
        if not any(f.is_about(m) for f in given)
    ]
    kept += [(f.category, f.level) for f in given if f.verdict is Verdict.MISSED]
    level = max(
        (level for _, level in kept),
        key=lambda level: level.severity,
        default=SafeguardingLevel.NONE,
    )
    return CorrectedLabels(level, frozenset(category for category, _ in kept))
