"""The moderation queue: stories waiting for a moderator, their leases and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    Reach,
    RejectionReason,
    ServiceRef,
    Source,
    StoryApproved,
    StoryLanguage,
    StoryRejected,
    StorySubmitted,
    Tags,
)
from candour_moderation.domain.edits import Edit, text_changes
from candour_screening import SafeguardingLevel, Screening

# The author's text fields a moderator publishes; `assisted_by` is screened too.
FIELDS: tuple[Literal["title", "body"], ...] = ("title", "body")
SCREENED_FIELDS = ("title", "body", "assisted_by")

DEFAULT_LEASE = timedelta(minutes=15)
# Who decides when nobody does: auto-approval, switched on by the operator.
SYSTEM_ACTOR = "system"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Resubmission(StrEnum):
    """What became of an author's edit (a higher `version` of a story already queued)."""

    # Pending: its text and screening replaced, still waiting for a moderator.
    REPLACED = "replaced"
    # Rejected: its text and screening replaced, back in the queue (pending).
    REQUEUED = "requeued"
    # Approved before the edit arrived (intake accepted it before it heard of the
    # approval): the published version stands and the edit is never published; the
    # audit trail keeps its text.
    ALREADY_PUBLISHED = "already_published"
    # Not newer than the version queued (late or repeated), or withdrawn: nothing changes.
    IGNORED = "ignored"


def priority_rank(level: SafeguardingLevel) -> int:
    """Ascending rank = most urgent first: serious 0, concern 1, none 2."""
    return 2 - level.severity


@dataclass(frozen=True, slots=True, order=True)
class QueuePosition:
    """Where an item sits in the queue order; also what a page cursor remembers."""

    priority_rank: int
    submitted_at: datetime
    story_id: UUID


# ------------------------------------------------------------------ commands


@dataclass(frozen=True, slots=True)
class ClaimStory:
    story_id: UUID
    moderator: str
    lease: timedelta = DEFAULT_LEASE


@dataclass(frozen=True, slots=True)
class ReleaseClaim:
    story_id: UUID
    moderator: str


@dataclass(frozen=True, slots=True)
class ApproveStory:
    """Publish the story. Edited `title`/`body` win; otherwise the suggested
    redactions are applied when `apply_suggested`; otherwise the original text."""

    story_id: UUID
    moderator: str
    criticality: int
    title: str | None = None
    body: str | None = None
    tags: Tags | None = None
    apply_suggested: bool = False
    acknowledge_safeguarding: bool = False
    # The author's version the moderator read; None: whichever is queued (API clients
    # that do not say). An edit arriving meanwhile makes the decision stale.
    version: int | None = None


@dataclass(frozen=True, slots=True)
class RejectStory:
    story_id: UUID
    moderator: str
    reason: RejectionReason
    note: str | None = None
    version: int | None = None


Decision = ApproveStory | RejectStory


# -------------------------------------------------------------------- errors


class ModerationError(Exception):
    pass


class StoryNotFound(ModerationError):
    def __init__(self, story_id: UUID) -> None:
        super().__init__(f"no story {story_id} in the moderation queue")
        self.story_id = story_id


class NotPending(ModerationError):
    def __init__(self, story_id: UUID, status: Status) -> None:
        super().__init__(f"story {story_id} is already {status.value}")
        self.story_id = story_id
        self.status = status


class ClaimedByAnother(ModerationError):
    def __init__(self, story_id: UUID, moderator: str, until: datetime) -> None:
        super().__init__(f"story {story_id} is claimed by {moderator} until {until.isoformat()}")
        self.moderator = moderator
        self.until = until


class VersionChanged(ModerationError):
    def __init__(self, story_id: UUID, read: int, queued: int) -> None:
        super().__init__(
            f"the author sent version {queued} of story {story_id} after you read version "
            f"{read}: read the new text before deciding"
        )
        self.read = read
        self.queued = queued


class NotAutoApprovable(ModerationError):
    def __init__(self, story_id: UUID) -> None:
        super().__init__(f"story {story_id} has screening flags: a moderator must read it")


class SafeguardingNotAcknowledged(ModerationError):
    def __init__(self, story_id: UUID) -> None:
        super().__init__(
            f"story {story_id} has a serious safeguarding match: escalate it, or set "
            "acknowledge_safeguarding to publish it anyway"
        )


# --------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a story's audit trail. `detail` is None once the author withdrew;
    `automatic` (no moderator involved) is not the author's words, so it stays."""

    story_id: UUID
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any] | None = None
    automatic: bool = False


class Provenance(BaseModel):
    """Where the story came from; passed through to story.approved unchanged."""

    model_config = ConfigDict(frozen=True)

    source: Source = Source.WEB
    external_id: str | None = None
    assisted_by: str | None = None
    represents: Reach = Field(default_factory=Reach)


@dataclass(slots=True)
class QueueItem:
    story_id: UUID
    status: Status
    organisation: OrganisationRef
    service: ServiceRef | None
    submitted_at: datetime
    priority_rank: int
    # The author's words; all None once the author withdrew the story.
    title: str | None
    body: str | None
    author: PublicAuthor | None
    screening: Screening | None
    tags: Tags = field(default_factory=Tags)
    experienced_at: str | None = None
    provenance: Provenance = field(default_factory=lambda: Provenance())
    # The language the author wrote in (not screening's `language`: swearing and slurs).
    language: StoryLanguage = StoryLanguage.ENGLISH
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    withdrawn_at: datetime | None = None
    # The author's version of the text queued (story.submitted's `version`).
    version: int = 1

    @staticmethod
    def texts_to_screen(event: StorySubmitted) -> dict[str, str]:
        """What screening reads: the title, the story and who helped write it (as intake
        screens them: see `StorySubmitted.screened_texts`)."""
        return event.screened_texts()

    @classmethod
    def from_submission(cls, event: StorySubmitted, screening: Screening) -> QueueItem:
        return cls(
            story_id=event.story_id,
            status=Status.PENDING,
            organisation=event.organisation,
            service=event.service,
            submitted_at=event.submitted_at,
            priority_rank=priority_rank(screening.safeguarding.level),
            title=event.title,
            body=event.body,
            # The author's contact stays behind: moderation never needs it.
            author=PublicAuthor(
                display_name=event.author.display_name, relationship=event.author.relationship
            ),
            screening=screening,
            tags=event.tags,
            experienced_at=event.experienced_at,
            provenance=Provenance(
                source=event.source,
                external_id=event.external_id,
                assisted_by=event.assisted_by,
                represents=event.represents,
            ),
            language=event.language,
            version=event.version,
        )

    def resubmit(self, event: StorySubmitted, screening: Screening) -> Resubmission:
        """The author edited the story and sent it again (`event`, screened): a newer
        version replaces the text, tags and screening of a pending or rejected story and
        puts it back in the queue, undecided and unclaimed (a moderator reading the old
        text must read the new). A published story keeps what was published: the edit
        is never published unread. A version not newer than the one queued changes nothing."""
        if event.version <= self.version or self.status is Status.WITHDRAWN:
            return Resubmission.IGNORED
        if self.status is Status.APPROVED:
            return Resubmission.ALREADY_PUBLISHED
        outcome = Resubmission.REQUEUED if self.status is Status.REJECTED else Resubmission.REPLACED
        self.status = Status.PENDING
        self.version = event.version
        self.title, self.body = event.title, event.body
        self.organisation, self.service = event.organisation, event.service
        self.author = PublicAuthor(
            display_name=event.author.display_name, relationship=event.author.relationship
        )
        self.tags = event.tags
        self.experienced_at = event.experienced_at
        self.language = event.language
        self.screening = screening
        self.priority_rank = priority_rank(screening.safeguarding.level)
        self.decided_by = self.decided_at = None
        self.claimed_by = self.claim_expires_at = None
        return outcome

    @property
    def position(self) -> QueuePosition:
        return QueuePosition(self.priority_rank, self.submitted_at, self.story_id)

    def holder(self, now: datetime) -> str | None:
        """Who holds an unexpired lease on the story, if anyone."""
        if self.claimed_by is None or self.claim_expires_at is None:
            return None
        return self.claimed_by if self.claim_expires_at > now else None

    def claim(self, moderator: str, now: datetime, lease: timedelta = DEFAULT_LEASE) -> None:
        """Take (or renew) the lease; another moderator's live lease wins."""
        self._ensure_pending()
        self._ensure_not_held_by_other(moderator, now)
        self.claimed_by = moderator
        self.claim_expires_at = now + lease

    def release(self, moderator: str, now: datetime) -> None:
        self._ensure_pending()
        self._ensure_not_held_by_other(moderator, now)
        self.claimed_by = None
        self.claim_expires_at = None

    def approve(self, command: ApproveStory, now: datetime) -> StoryApproved:
        self._ensure_pending()
        self._ensure_version(command.version)
        self._ensure_not_held_by_other(command.moderator, now)
        screening = self._screening()
        if (
            screening.safeguarding.level is SafeguardingLevel.SERIOUS
            and not command.acknowledge_safeguarding
        ):
            raise SafeguardingNotAcknowledged(self.story_id)
        title, body = self.published_text(command)
        self._decide(Status.APPROVED, command.moderator, now)
        assert self.author is not None
        return StoryApproved(
            story_id=self.story_id,
            published_at=now,
            title=title,
            body=body,
            organisation=self.organisation,
            service=self.service,
            author=self.author,
            tags=command.tags if command.tags is not None else self.tags,
            criticality=command.criticality,
            experienced_at=self.experienced_at,
            source=self.provenance.source,
            external_id=self.provenance.external_id,
            assisted_by=self.published_assisted_by(command),
            represents=self.provenance.represents,
            language=self.language,
            safeguarding_categories=[c.value for c in screening.safeguarding.categories],
        )

    def published_assisted_by(self, command: ApproveStory) -> str | None:
        """Who helped write it, with the suggested redactions when the moderator applies them."""
        assisted_by = self.provenance.assisted_by
        if assisted_by and command.apply_suggested and self.screening is not None:
            return self.screening.redacted("assisted_by", assisted_by)
        return assisted_by

    @property
    def auto_approvable(self) -> bool:
        """Nothing for a moderator to look at: no safeguarding match, no suggested
        redaction, and no swearing, slur or shouting (publishing those unread would
        skip the very judgement the flags ask for)."""
        screening = self.screening
        return (
            self.status is Status.PENDING
            and screening is not None
            and not screening.safeguarding.matches
            and not screening.redactions
            and not screening.language
        )

    def auto_approve(self, now: datetime) -> StoryApproved:
        """Publish the author's text as written, with no criticality rating."""
        if not self.auto_approvable:
            self._ensure_pending()
            raise NotAutoApprovable(self.story_id)
        assert self.title is not None
        assert self.body is not None
        assert self.author is not None
        self._decide(Status.APPROVED, SYSTEM_ACTOR, now)
        return StoryApproved(
            story_id=self.story_id,
            published_at=now,
            title=self.title,
            body=self.body,
            organisation=self.organisation,
            service=self.service,
            author=self.author,
            tags=self.tags,
            criticality=None,
            experienced_at=self.experienced_at,
            source=self.provenance.source,
            external_id=self.provenance.external_id,
            assisted_by=self.provenance.assisted_by,
            represents=self.provenance.represents,
            language=self.language,
        )

    def edits(self, command: ApproveStory) -> list[Edit]:
        """How the text and tags `command` publishes differ from the author's."""
        screening = self._screening()
        published = dict(zip(FIELDS, self.published_text(command), strict=True))
        typed = {"title": command.title, "body": command.body}
        originals = {"title": self.title, "body": self.body}
        found: list[Edit] = []
        for name in FIELDS:
            original = originals[name]
            assert original is not None
            if published[name] == original:
                continue
            found.append(
                Edit(
                    field=name,
                    source="moderator" if typed[name] is not None else "suggested_redactions",
                    changes=text_changes(original, published[name]),
                    matches_suggestion=published[name] == screening.redacted(name, original),
                )
            )
        if command.tags is not None and command.tags != self.tags:
            found.append(
                Edit(
                    field="tags",
                    source="moderator",
                    tags_before=self.tags.model_dump(),
                    tags_after=command.tags.model_dump(),
                )
            )
        return found

    def published_text(self, command: ApproveStory) -> tuple[str, str]:
        screening = self._screening()
        assert self.title is not None
        assert self.body is not None
        title, body = self.title, self.body
        if command.apply_suggested:
            title = screening.redacted("title", title)
            body = screening.redacted("body", body)
        return (
            command.title if command.title is not None else title,
            command.body if command.body is not None else body,
        )

    def reject(self, command: RejectStory, now: datetime) -> StoryRejected:
        self._ensure_pending()
        self._ensure_version(command.version)
        self._ensure_not_held_by_other(command.moderator, now)
        self._decide(Status.REJECTED, command.moderator, now)
        return StoryRejected(
            story_id=self.story_id,
            rejected_at=now,
            organisation=self.organisation,
            service=self.service,
            reason=command.reason,
            version=self.version,
        )

    def withdraw(self, now: datetime) -> None:
        """The author withdrew: the story leaves the queue and its words are erased."""
        self.status = Status.WITHDRAWN
        self.withdrawn_at = now
        self.title = self.body = None
        self.author = None
        self.screening = None
        self.tags = Tags()
        self.experienced_at = None
        self.claimed_by = None
        self.claim_expires_at = None

    def _decide(self, status: Status, moderator: str, now: datetime) -> None:
        self.status = status
        self.decided_by = moderator
        self.decided_at = now
        self.claimed_by = None
        self.claim_expires_at = None

    def _screening(self) -> Screening:
        assert self.screening is not None, "a pending story always has its screening"
        return self.screening

    def _ensure_pending(self) -> None:
        if self.status is not Status.PENDING:
            raise NotPending(self.story_id, self.status)

    def _ensure_version(self, read: int | None) -> None:
        if read is not None and read != self.version:
            raise VersionChanged(self.story_id, read, self.version)

    def _ensure_not_held_by_other(self, moderator: str, now: datetime) -> None:
        holder = self.holder(now)
        if holder is not None and holder != moderator:
            assert self.claim_expires_at is not None
            raise ClaimedByAnother(self.story_id, holder, self.claim_expires_at)
