"""What story-intake knows: the directory, stories as people submit them, and responses."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from candour_common.about_you import ANSWERS, PREFER_NOT_TO_SAY, Characteristic
from candour_common.events import (
    AuthorContact,
    ChangeMarker,
    OrganisationLanguage,
    OrganisationRef,
    Reach,
    RejectionReason,
    Responder,
    ServiceRef,
    Source,
    StoryLanguage,
    Tags,
)


def name_in(language: str, name: str, name_cy: str | None) -> str:
    """The name a page in `language` (`en`, `cy`) shows: the Welsh one where there is one."""
    return name_cy if language == OrganisationLanguage.WELSH and name_cy else name


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    programme: str | None = None
    name_cy: str | None = None

    def name_in(self, language: str) -> str:
        return name_in(language, self.name, self.name_cy)


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    type: str
    services: tuple[Service, ...] = ()
    name_cy: str | None = None
    email_language: OrganisationLanguage = OrganisationLanguage.ENGLISH

    def name_in(self, language: str) -> str:
        return name_in(language, self.name, self.name_cy)

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)


class StoryStatus(StrEnum):
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class AboutYou:
    """A person's optional answers about themselves (census 2021 categories; see
    candour_common.about_you): each a category code, "prefer_not_to_say", or None when
    not answered. Kept apart from the story, never published, counted only in aggregate
    (see voices.py), erased with the story."""

    age_band: str | None = None
    sex: str | None = None
    ethnic_group: str | None = None
    disability: str | None = None

    def __post_init__(self) -> None:
        for characteristic, answer in self.answers().items():
            if answer is not None and not is_answer(characteristic, answer):
                raise UnknownCategory(characteristic, answer)

    def answers(self) -> dict[Characteristic, str | None]:
        return {
            Characteristic.AGE_BAND: self.age_band,
            Characteristic.SEX: self.sex,
            Characteristic.ETHNIC_GROUP: self.ethnic_group,
            Characteristic.DISABILITY: self.disability,
        }

    @property
    def empty(self) -> bool:
        return all(answer is None for answer in self.answers().values())

    def __repr__(self) -> str:
        # Never in a log line or a traceback by accident.
        return "AboutYou(<withheld>)"


def is_answer(characteristic: Characteristic, answer: str) -> bool:
    return answer == PREFER_NOT_TO_SAY or answer in ANSWERS[characteristic]


@dataclass(frozen=True, slots=True)
class SubmitStory:
    """Command: a person shares their story."""

    title: str
    body: str
    organisation_id: str
    service_id: str | None
    author: AuthorContact
    tags: Tags
    experienced_at: str | None
    source: Source = Source.WEB
    external_id: str | None = None
    assisted_by: str | None = None
    represents: Reach = field(default_factory=Reach)
    about_you: AboutYou | None = None
    language: StoryLanguage = StoryLanguage.ENGLISH


@dataclass(frozen=True, slots=True)
class EditStory:
    """Command: the author changes their story while it waits for a moderator, or after
    it was not published, and sends it again (the next version of the same story).
    `about_you` None keeps the answers given before; given, it replaces them."""

    story_id: UUID
    author_token: str = field(repr=False)
    title: str
    body: str
    organisation_id: str
    service_id: str | None
    tags: Tags
    experienced_at: str | None
    about_you: AboutYou | None = None
    language: StoryLanguage = StoryLanguage.ENGLISH


@dataclass(frozen=True, slots=True)
class PostResponse:
    """Command: staff of the story's organisation answer it in public."""

    story_id: UUID
    organisation_id: str
    responder_subject: str
    responder: Responder
    body: str
    change: ChangeMarker | None


@dataclass(frozen=True, slots=True)
class EditResponse:
    """Command: a responder corrects their own response within the edit window."""

    story_id: UUID
    response_id: UUID
    organisation_id: str
    responder_subject: str
    responder: Responder
    body: str
    change: ChangeMarker | None


@dataclass(frozen=True, slots=True)
class DeleteResponse:
    """Command: a responder takes their own response down within the edit window."""

    story_id: UUID
    response_id: UUID
    organisation_id: str
    responder_subject: str


@dataclass(frozen=True, slots=True)
class StaffResponse:
    """A response as intake keeps it (the newest version; a deleted one has no text)."""

    id: UUID
    story_id: UUID
    organisation_id: str
    responder: Responder
    responder_subject: str
    body: str
    change: ChangeMarker | None
    posted_at: datetime
    version: int
    edited_at: datetime | None
    deleted_at: datetime | None

    def editable_until(self, window: timedelta) -> datetime:
        return self.posted_at + window

    def editable_by(self, subject: str, now: datetime, window: timedelta) -> bool:
        """Only its own responder, only while the window after first posting is open."""
        return (
            self.deleted_at is None
            and self.responder_subject == subject
            and now < self.editable_until(window)
        )


@dataclass(frozen=True, slots=True)
class PublishedStory:
    """A story as it was published (moderated, redacted): what staff read and answer."""

    id: UUID
    organisation_id: str
    title: str
    body: str
    service_id: str | None
    service_name: str | None
    criticality: int | None
    published_at: datetime
    response_count: int


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """An organisation's published stories: unanswered first, then the rest, newest first."""

    organisation_id: str
    service_id: str | None = None
    min_criticality: int | None = None
    answered: bool | None = None
    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class InboxPage:
    stories: tuple[PublishedStory, ...]
    total: int
    query: InboxQuery

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


@dataclass(frozen=True, slots=True)
class Story:
    id: UUID
    title: str
    body: str
    organisation: OrganisationRef
    service: ServiceRef | None
    author: AuthorContact
    tags: Tags
    experienced_at: str | None
    submitted_at: datetime
    author_token_hash: bytes
    source: Source = Source.WEB
    external_id: str | None = None
    assisted_by: str | None = None
    represents: Reach = field(default_factory=Reach)
    # What screening found when it was sent ("none", "concern", "serious"); None: not screened.
    safeguarding_level: str | None = None
    language: StoryLanguage = StoryLanguage.ENGLISH
    # 1 when first sent; each edit by the author sends the next version.
    version: int = 1


# The author may change and send their story again only before it is published: while
# it waits for a moderator, or after a moderator did not publish it.
EDITABLE = frozenset({StoryStatus.SUBMITTED, StoryStatus.REJECTED})


@dataclass(frozen=True, slots=True)
class StoryState:
    """A story's lifecycle as intake knows it (no text: enough to authorise and answer)."""

    id: UUID
    organisation_id: str
    status: StoryStatus
    author_token_hash: bytes
    rejection_reason: RejectionReason | None
    response_count: int
    safeguarding_level: str | None = None
    version: int = 1

    @property
    def editable(self) -> bool:
        """The author may edit the story and send it again."""
        return self.status in EDITABLE

    @property
    def needs_help_now(self) -> bool:
        """Screening flagged the story, or a moderator escalated it: its author's pages
        put where to get help now first."""
        return (
            self.safeguarding_level not in (None, "none")
            or self.rejection_reason is RejectionReason.SAFEGUARDING_ESCALATED
        )

    def authored_by(self, token: str) -> bool:
        return hmac.compare_digest(self.author_token_hash, hash_token(token))


class DomainError(Exception):
    """Base of the rule violations a caller can be told about."""


class UnknownOrganisation(DomainError):
    def __init__(self, organisation_id: str) -> None:
        super().__init__(f"no organisation {organisation_id!r} in the directory")
        self.organisation_id = organisation_id


class UnknownService(DomainError):
    def __init__(self, organisation_id: str, service_id: str) -> None:
        super().__init__(f"organisation {organisation_id!r} has no service {service_id!r}")
        self.service_id = service_id


class UnknownCategory(DomainError):
    def __init__(self, characteristic: Characteristic, answer: str) -> None:
        super().__init__(f"{characteristic.value}: not one of the offered answers")
        self.characteristic = characteristic


class StoryNotFound(DomainError):
    def __init__(self, story_id: UUID) -> None:
        super().__init__(f"no story {story_id}")


class NotTheAuthor(DomainError):
    def __init__(self) -> None:
        super().__init__("the token is not this story's author token")


class WrongOrganisation(DomainError):
    def __init__(self) -> None:
        super().__init__("staff may respond only to stories about their own organisation")


class AlreadyImported(DomainError):
    def __init__(self, source: Source, external_id: str, story_id: UUID) -> None:
        super().__init__(f"{source.value} entry {external_id!r} is already story {story_id}")
        self.story_id = story_id


class StoryNotOpenForResponses(DomainError):
    def __init__(self, status: StoryStatus) -> None:
        super().__init__(f"the story is {status.value}; only published stories take responses")
        self.status = status


class StoryNotEditable(DomainError):
    def __init__(self, status: StoryStatus) -> None:
        super().__init__(
            f"the story is {status.value}; a story can be edited and sent again only while "
            "it is submitted or after it was not published (rejected)"
        )
        self.status = status


class ResponseNotFound(DomainError):
    def __init__(self, response_id: UUID) -> None:
        super().__init__(f"no response {response_id} to this story")


class NotYourResponse(DomainError):
    def __init__(self) -> None:
        super().__init__("only the person who posted a response may change or delete it")


class EditWindowClosed(DomainError):
    def __init__(self, until: datetime) -> None:
        super().__init__(
            "a response can be changed or deleted only in the first minutes after posting; "
            f"this one could be until {until.isoformat(timespec='seconds')}"
        )
        self.until = until


class ResponseDeleted(DomainError):
    def __init__(self) -> None:
        super().__init__("the response has been deleted")


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The first answer to an Idempotency-Key, replayed to a retry of the same request."""

    status_code: int
    body: dict[str, Any]


class KeyReusedWithDifferentRequest(Exception):
    """An Idempotency-Key sent again with a different request."""


class AnswerWithdrawn(Exception):
    """The key's request created a story that has since been withdrawn: its answer is
    gone, and repeating the request must not create the story again."""


def request_fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What tells a retry of a request from another request under the same key."""
    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + body).digest()


def new_author_token() -> tuple[str, bytes]:
    """A random private token for the author, and the hash we keep instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
