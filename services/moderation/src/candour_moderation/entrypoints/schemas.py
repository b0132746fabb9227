"""HTTP request and response bodies for moderation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from candour_common.events import (
    Criticality,
    OrganisationRef,
    PublicAuthor,
    RejectionReason,
    SafeguardingTrigger,
    ServiceRef,
    StoryLanguage,
    Tags,
)
from candour_moderation.domain.escalations import NOTE_MAX as ESCALATION_NOTE_MAX
from candour_moderation.domain.escalations import Escalation, Progress
from candour_moderation.domain.feedback import NOTE_MAX, TEXT_MAX, ScreeningFeedback, Verdict
from candour_moderation.domain.model import AuditEntry, Provenance, QueueItem, Status
from candour_screening import (
    LanguageKind,
    RedactionKind,
    SafeguardingCategory,
    SafeguardingLevel,
    Screening,
)

# Which text the offsets point into: "title", "body" or "assisted_by".
TextField = str

TagText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ requests


class TagsIn(_Strict):
    good: list[TagText] = Field(default_factory=list, max_length=10)
    improve: list[TagText] = Field(default_factory=list, max_length=10)
    feelings: list[TagText] = Field(default_factory=list, max_length=10)


# The author's version a moderator read: a decision on an older one is refused.
VersionRead = Annotated[
    int | None,
    Field(
        ge=1,
        description=(
            "The story's `version` you read. If its author has sent a newer version since, "
            "409 and nothing is decided: read the new text first."
        ),
    ),
]


class ApproveIn(_Strict):
    decision: Literal["approve"]
    criticality: Criticality
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
        | None
    ) = Field(default=None, description="The edited title to publish (replaces the original).")
    body: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
        | None
    ) = Field(default=None, description="The edited story to publish (replaces the original).")
    tags: TagsIn | None = Field(
        default=None, description="Tags to publish instead of the author's."
    )
    apply_suggested: bool = Field(
        default=False,
        description="Apply the suggested redactions to any field not edited in this request.",
    )
    acknowledge_safeguarding: bool = Field(
        default=False,
        description="Required to publish a story with a serious safeguarding match.",
    )
    version: VersionRead = None


class RejectIn(_Strict):
    decision: Literal["reject"]
    reason: RejectionReason
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = Field(
        default=None, description="Internal note for the audit trail; never published."
    )
    version: VersionRead = None


DecisionIn = Annotated[ApproveIn | RejectIn, Field(discriminator="decision")]

FeedbackNote = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]


class WrongFlagIn(_Strict):
    verdict: Literal["wrong"]
    match: int = Field(
        ge=0, description="Which flag: its index in `screening.safeguarding.matches`."
    )
    note: FeedbackNote | None = Field(default=None, description="Why, for whoever reads it.")


class MissedFlagIn(_Strict):
    verdict: Literal["missed"]
    category: SafeguardingCategory
    level: Literal["concern", "serious"] = "concern"
    text: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX)]
        | None
    ) = Field(default=None, description="The words that show it, if any.")
    note: FeedbackNote | None = Field(default=None, description="Why, for whoever reads it.")


ScreeningFeedbackIn = Annotated[WrongFlagIn | MissedFlagIn, Field(discriminator="verdict")]


class RaiseSafeguardingIn(_Strict):
    note: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ESCALATION_NOTE_MAX)
    ] = Field(
        description=(
            "What the safeguarding contacts need to know: why you raise it, what you have "
            "done. Emailed to them with the story; never published."
        )
    )


# ----------------------------------------------------------------- responses


class SafeguardingMatchOut(BaseModel):
    field: TextField = Field(description="Which text the offsets point into.")
    start: int
    end: int
    text: str
    category: SafeguardingCategory
    level: SafeguardingLevel
    reason: str = Field(description='Why it matched, for a moderator: "means + intent", ...')


class SafeguardingOut(BaseModel):
    level: SafeguardingLevel
    categories: list[SafeguardingCategory] = Field(
        description="Each category matched once, the most severe first."
    )
    matches: list[SafeguardingMatchOut]


class RedactionOut(BaseModel):
    field: TextField = Field(description="Which text the offsets point into.")
    start: int
    end: int
    text: str
    kind: RedactionKind
    replacement: str


class LanguageOut(BaseModel):
    field: TextField = Field(description="Which text the offsets point into.")
    start: int
    end: int
    text: str
    kind: LanguageKind


class ScreeningOut(BaseModel):
    safeguarding: SafeguardingOut
    redactions: list[RedactionOut]
    language: list[LanguageOut]
    limits: list[str] = Field(
        description=(
            "Bounds screening reached on an unusually long or hostile text (for example "
            "'body: only the first 20,000 of 100,000 characters were screened for "
            "safeguarding'): read the text in full. Empty for every story intake accepts."
        )
    )

    @classmethod
    def of(cls, screening: Screening) -> ScreeningOut:
        return cls(
            safeguarding=SafeguardingOut(
                level=screening.safeguarding.level,
                categories=list(screening.safeguarding.categories),
                matches=[
                    SafeguardingMatchOut(
                        field=m.field,
                        start=m.start,
                        end=m.end,
                        text=m.text,
                        category=m.category,
                        level=m.level,
                        reason=m.reason,
                    )
                    for m in screening.safeguarding.matches
                ],
            ),
            redactions=[
                RedactionOut(
                    field=r.field,
                    start=r.start,
                    end=r.end,
                    text=r.text,
                    kind=r.kind,
                    replacement=r.replacement,
                )
                for r in screening.redactions
            ],
            language=[
                LanguageOut(field=f.field, start=f.start, end=f.end, text=f.text, kind=f.kind)
                for f in screening.language
            ],
            limits=list(screening.limits),
        )


class SuggestedText(BaseModel):
    title: str
    body: str


class QueueItemOut(BaseModel):
    story_id: UUID
    status: Status
    title: str | None = Field(description="The original title; null once the author withdrew.")
    body: str | None = Field(description="The original story; null once the author withdrew.")
    organisation: OrganisationRef
    service: ServiceRef | None
    author: PublicAuthor | None
    tags: Tags
    experienced_at: str | None
    language: StoryLanguage = Field(description="The language the story is written in.")
    submitted_at: datetime
    claimed_by: str | None = Field(description="The moderator holding a live claim, if any.")
    claim_expires_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    version: int = Field(
        description=(
            "The author's version of the text: 1 when first sent, higher after each edit "
            "they sent again (the audit trail keeps every version)."
        )
    )
    screening: ScreeningOut | None
    suggested: SuggestedText | None = Field(
        description="The text with every suggested redaction applied."
    )
    provenance: Provenance | None = Field(
        default=None,
        description=(
            "Where the story came from, who entered it and how many people it speaks for "
            "(set only by operators' imports); null once the author withdrew."
        ),
    )

    @classmethod
    def of(cls, item: QueueItem, now: datetime) -> QueueItemOut:
        holder = item.holder(now)
        suggested = None
        if item.screening is not None and item.title is not None and item.body is not None:
            suggested = SuggestedText(
                title=item.screening.redacted("title", item.title),
                body=item.screening.redacted("body", item.body),
            )
        return cls(
            story_id=item.story_id,
            status=item.status,
            title=item.title,
            body=item.body,
            organisation=item.organisation,
            service=item.service,
            author=item.author,
            tags=item.tags,
            experienced_at=item.experienced_at,
            language=item.language,
            submitted_at=item.submitted_at,
            claimed_by=holder,
            claim_expires_at=item.claim_expires_at if holder else None,
            decided_by=item.decided_by,
            decided_at=item.decided_at,
            version=item.version,
            screening=ScreeningOut.of(item.screening) if item.screening else None,
            suggested=suggested,
            provenance=item.provenance if item.status is not Status.WITHDRAWN else None,
        )


class QueuePage(BaseModel):
    items: list[QueueItemOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    automatic: bool = Field(
        description="True when the system acted on its own (auto-approval), not a moderator."
    )
    detail: dict[str, Any] | None = Field(
        description=(
            "What happened: `received` keeps the original title, body and tags; "
            "`resubmitted` the author's newer version (with `version`, `previous_version`, "
            "`previous_status`), `edited_after_publication` an edit that came after the story "
            "was published (kept, never published); `edited` "
            "lists each changed field (`source`: moderator or suggested_redactions) with the "
            "spans of the original that changed; `approved`/`rejected` the decision and the "
            "published text. Null once the author withdrew (only ids and times remain)."
        )
    )

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            automatic=entry.automatic,
            detail=entry.detail,
        )


class ScreeningFeedbackOut(BaseModel):
    at: datetime
    moderator: str
    verdict: Verdict = Field(description="`wrong`: a flag that does not hold; `missed`: one added.")
    category: SafeguardingCategory
    level: SafeguardingLevel
    field: TextField | None = Field(description="For a wrong flag: the text it was in.")
    start: int | None
    end: int | None
    text: str | None
    note: str | None

    @classmethod
    def of(cls, feedback: ScreeningFeedback) -> ScreeningFeedbackOut:
        return cls(
            at=feedback.at,
            moderator=feedback.moderator,
            verdict=feedback.verdict,
            category=feedback.category,
            level=feedback.level,
            field=feedback.field,
            start=feedback.match_start,
            end=feedback.match_end,
            text=feedback.text,
            note=feedback.note,
        )


class EscalationOut(BaseModel):
    escalation_id: UUID
    raised_at: datetime
    trigger: SafeguardingTrigger
    raised_by: str
    note: str | None = Field(description="The moderator's note; null once the author withdrew.")
    state: Progress = Field(
        description=(
            "`raised` (nothing heard from notifications yet), `alerted`, `realerted` (nobody "
            "acknowledged in time: the duty moderators were alerted again) or `acknowledged`."
        )
    )
    alerted_at: datetime | None
    alerted_to: list[str] = Field(description="Who the alert was emailed to.")
    to_duty_moderators: bool = Field(
        description="The organisation has no safeguarding contact: the duty moderators got it."
    )
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    realerted_at: datetime | None
    realerted_to: list[str]

    @classmethod
    def of(cls, escalation: Escalation) -> EscalationOut:
        return cls(
            escalation_id=escalation.escalation_id,
            raised_at=escalation.raised_at,
            trigger=escalation.trigger,
            raised_by=escalation.raised_by,
            note=escalation.note,
            state=escalation.progress,
            alerted_at=escalation.alerted_at,
            alerted_to=list(escalation.alerted_to),
            to_duty_moderators=escalation.to_duty_moderators,
            acknowledged_at=escalation.acknowledged_at,
            acknowledged_by=escalation.acknowledged_by,
            realerted_at=escalation.realerted_at,
            realerted_to=list(escalation.realerted_to),
        )


class QueueItemDetail(QueueItemOut):
    audit: list[AuditOut]
    escalations: list[EscalationOut] = Field(
        default_factory=list,
        description="Each time the story was sent to the safeguarding contacts, and its state.",
    )
    screening_feedback: list[ScreeningFeedbackOut] = Field(
        description="Flags moderators marked wrong or added as missed."
    )


class ClaimOut(BaseModel):
    story_id: UUID
    claimed_by: str
    expires_at: datetime


class ReleaseOut(BaseModel):
    story_id: UUID
    claimed_by: None = None


class DecisionOut(BaseModel):
    story_id: UUID
    status: Status
    decided_by: str
    decided_at: datetime
    event_id: UUID = Field(description="The id (ce_id) of the story.approved/rejected event.")
