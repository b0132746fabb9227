"""Event contracts (version 1) for every Candour topic.

Each model is the `data` of a CloudEvent; the envelope travels in Kafka headers
(see `cloudevents`). Within v1 changes are additive only: add optional fields,
never rename, remove or tighten one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from candour_common.about_you import SUPPRESS_BELOW, Characteristic
from candour_common.keys import escalation_key, response_key, story_key
from candour_common.topics import Topic
from candour_common.translatable import N_

Criticality = Annotated[
    int,
    Field(
        ge=0,
        le=5,
        description=(
            "How critical the story is: 0 not critical, 1 minimally, 2 mildly, "
            "3 moderately, 4 strongly, 5 severely critical."
        ),
    ),
]

CRITICALITY_LABELS: dict[int, str] = {
    0: N_("not critical"),
    1: N_("minimally critical"),
    2: N_("mildly critical"),
    3: N_("moderately critical"),
    4: N_("strongly critical"),
    5: N_("severely critical"),
}


class Relationship(StrEnum):
    PATIENT = "patient"
    SERVICE_USER = "service_user"
    CARER = "carer"
    PARENT_GUARDIAN = "parent_guardian"
    RELATIVE = "relative"
    FRIEND = "friend"
    STAFF = "staff"
    OTHER = "other"


# How a page names the author's relationship to the care ("shared by Sam (carer)").
RELATIONSHIP_LABELS: dict[str, str] = {
    Relationship.PATIENT: N_("patient"),
    Relationship.SERVICE_USER: N_("service user"),
    Relationship.CARER: N_("carer"),
    Relationship.PARENT_GUARDIAN: N_("parent or guardian"),
    Relationship.RELATIVE: N_("relative"),
    Relationship.FRIEND: N_("friend"),
    Relationship.STAFF: N_("member of staff"),
    Relationship.OTHER: N_("other"),
}


class RejectionReason(StrEnum):
    COMMERCIAL = "commercial"
    NOT_ABOUT_CARE = "not_about_care"
    TOO_OLD = "too_old"
    DUPLICATE = "duplicate"
    SAFEGUARDING_ESCALATED = "safeguarding_escalated"
    OFFENSIVE = "offensive"
    OTHER = "other"


class Source(StrEnum):
    """Where a piece of feedback came from."""

    WEB = "web"
    PHONE = "phone"
    LEAFLET = "leaflet"
    EMAIL = "email"
    NHS_WEBSITE = "nhs_website"
    HEALTHWATCH = "healthwatch"
    COMPLAINT = "complaint"
    LOCAL_GROUP = "local_group"
    STAFF = "staff"
    OTHER = "other"


# How a page names where feedback came from.
SOURCE_LABELS: dict[str, str] = {
    Source.WEB: N_("web"),
    Source.PHONE: N_("phone"),
    Source.LEAFLET: N_("leaflet"),
    Source.EMAIL: N_("email"),
    Source.NHS_WEBSITE: N_("NHS website"),
    Source.HEALTHWATCH: N_("Healthwatch"),
    Source.COMPLAINT: N_("complaint"),
    Source.LOCAL_GROUP: N_("local group"),
    Source.STAFF: N_("staff"),
    Source.OTHER: N_("other"),
}


class StoryLanguage(StrEnum):
    """The language a story is written in (the share page offers both of Wales')."""

    ENGLISH = "en"
    WELSH = "cy"


class OrganisationLanguage(StrEnum):
    """The language an organisation's staff are written to in."""

    ENGLISH = "en"
    WELSH = "cy"
    BILINGUAL = "bilingual"


class ChangeMarker(StrEnum):
    PLANNED = "planned"
    MADE = "made"


class _Contract(BaseModel):
    # Consumers ignore fields they do not know, so v1 can grow additively.
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrganisationRef(_Contract):
    id: str = Field(description="The organisation's ODS code, e.g. `TAD`.", min_length=1)
    name: str = Field(description="The organisation's name as the directory had it.")


class ServiceRef(_Contract):
    id: str = Field(description="The service's id within the directory.", min_length=1)
    name: str = Field(description="The service's name as the directory had it.")
    programme: str | None = Field(
        default=None,
        description="The programme of work the service belongs to, e.g. `mental-health`.",
    )


class Reach(_Contract):
    """How many people one entry speaks for (a group session, a survey summary)."""

    individuals: int = Field(default=1, ge=1, description="People this entry speaks for.")
    patients: int = Field(default=0, ge=0, description="Of whom patients or service users.")
    carers: int = Field(default=0, ge=0, description="Of whom carers, relatives or friends.")
    staff: int = Field(default=0, ge=0, description="Of whom staff.")


class Tags(_Contract):
    good: list[str] = Field(default_factory=list, description="What was good.")
    improve: list[str] = Field(default_factory=list, description="What could be improved.")
    feelings: list[str] = Field(default_factory=list, description="How the author felt.")


# The tags a story can carry from the share page: a small fixed vocabulary keeps them
# comparable across stories, searchable, and something a subscription can filter on.
TAG_VOCABULARY: dict[str, tuple[str, ...]] = {
    "good": (
        N_("kindness"),
        N_("listening"),
        N_("clear information"),
        N_("quick care"),
        N_("cleanliness"),
        N_("dignity and respect"),
    ),
    "improve": (
        N_("waiting times"),
        N_("communication"),
        N_("staff attitude"),
        N_("getting an appointment"),
        N_("food"),
        N_("leaving hospital"),
    ),
    "feelings": (
        N_("reassured"),
        N_("grateful"),
        N_("listened to"),
        N_("anxious"),
        N_("frustrated"),
        N_("ignored"),
    ),
}


# How a story whose author chose no name is shown.
ANONYMOUS = "Anonymous"


class PublicAuthor(_Contract):
    display_name: str | None = Field(
        default=None,
        description=(
            "The name the author chose to be shown publicly; absent (null) for an anonymous "
            'author, whom pages and emails show as "Anonymous".'
        ),
    )
    relationship: Relationship = Field(description="The author's relationship to the care.")

    @property
    def shown_name(self) -> str:
        """The name pages and emails show: the chosen one, else "Anonymous"."""
        return self.display_name or ANONYMOUS


class AuthorContact(_Contract):
    display_name: str | None = Field(
        default=None,
        description=(
            "The name the author chose to be shown publicly; absent (null) for an anonymous "
            'author, whom pages and emails show as "Anonymous".'
        ),
    )
    relationship: Relationship = Field(description="The author's relationship to the care.")
    email: EmailStr | None = Field(
        default=None, description="Private: where to tell the author about responses."
    )
    notify_on_response: bool = Field(
        default=False,
        description="Whether the author asked to be emailed when a response is posted.",
    )

    @property
    def shown_name(self) -> str:
        """The name pages and emails show: the chosen one, else "Anonymous"."""
        return self.display_name or ANONYMOUS


class BaseEvent(_Contract):
    """Base of every event on a Candour topic: the topic, the key and the subject."""

    topic: ClassVar[Topic]

    def kafka_key(self) -> str:
        raise NotImplementedError

    def subject(self) -> str:
        """What the event is about: its CloudEvents `subject`."""
        raise NotImplementedError

    def story(self) -> UUID | None:
        """The story the event concerns (consumers serialise one story's writers), or
        None for an event about no story."""
        return None


class Event(BaseEvent):
    """An event about exactly one story (every topic but the directory's)."""

    story_id: UUID = Field(description="The story this event is about; also the Kafka key.")

    def kafka_key(self) -> str:
        """The Kafka message key: the story id (a topic compacted per story)."""
        return story_key(self.story_id)

    def subject(self) -> str:
        return str(self.story_id)

    def story(self) -> UUID | None:
        return self.story_id


class ScreenedSpan(_Contract):
    """Where in the story's text screening found something: `text == fields[field][start:end]`
    (Python string offsets)."""

    field: str = Field(description="Which text: `title`, `body` or `assisted_by`.")
    start: int = Field(ge=0, description="Offset of its first character in that field.")
    end: int = Field(ge=0, description="Offset just after its last character.")
    text: str = Field(description="The words found, as the author wrote them.")


class ScreenedSafeguardingMatch(ScreenedSpan):
    category: str = Field(description="The safeguarding category, e.g. `suicide`, `neglect`.")
    level: str = Field(description="`concern` or `serious`.")
    reason: str = Field(description='Why it matched, e.g. "means + intent".')


class ScreenedSafeguarding(_Contract):
    level: str = Field(description="The most severe match: `none`, `concern` or `serious`.")
    categories: list[str] = Field(
        default_factory=list, description="Each category matched once, the most severe first."
    )
    matches: list[ScreenedSafeguardingMatch] = Field(default_factory=list)


class ScreenedRedaction(ScreenedSpan):
    """An identifying detail screening suggests redacting."""

    kind: str = Field(description="What it is, e.g. `person_name`, `phone`, `email`.")
    replacement: str = Field(description="What the published text would say instead.")


class ScreenedLanguage(ScreenedSpan):
    """Language a moderator should see (swearing, discriminatory words, shouting)."""

    kind: str = Field(description="`swearing`, `discriminatory` or `capitals`.")


class StoryScreening(_Contract):
    """story-intake's screening of the story as sent (candour_screening), so moderation
    need not screen the same text again. Moderation uses it only when `screener` is its
    own screener and `inputs_sha256` is of this event's text; otherwise it screens."""

    screener: str = Field(
        description=(
            "Which screener produced it: the candour-screening version with a digest of "
            "its rules, and the versions of the libraries under them (spaCy, its lemma "
            "tables, phonenumbers)."
        )
    )
    inputs_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "SHA-256 (hex) of what was screened: the text fields `title`, `body`, "
            "`assisted_by` (empty when none) and the author's display name "
            "(candour_screening.inputs_digest)."
        ),
    )
    safeguarding: ScreenedSafeguarding
    redactions: list[ScreenedRedaction] = Field(
        default_factory=list, description="Identifying details suggested for redaction."
    )
    language: list[ScreenedLanguage] = Field(
        default_factory=list, description="Language flags for the moderator."
    )
    limits: list[str] = Field(
        default_factory=list,
        description=(
            "Bounds screening reached on an unusual text (a moderator must read it in full)."
        ),
    )


def screened_texts(title: str, body: str, assisted_by: str | None) -> dict[str, str]:
    """What screening reads of a story, in order: its title, the story and who helped
    write it (with the author's display name beside them)."""
    return {"title": title, "body": body, "assisted_by": assisted_by or ""}


class StorySubmitted(Event):
    """A person submitted a story. Internal: carries unmoderated text and the author's contact."""

    topic: ClassVar[Topic] = Topic.STORY_SUBMITTED
    submitted_at: datetime = Field(description="When story-intake accepted the story (UTC).")
    title: str = Field(description="The author's title, unmoderated.")
    body: str = Field(description="The author's story, unmoderated.")
    organisation: OrganisationRef
    service: ServiceRef | None = None
    author: AuthorContact
    tags: Tags = Field(default_factory=Tags)
    experienced_at: str | None = Field(
        default=None, description="Month of the experience, `YYYY-MM`.", pattern=r"^\d{4}-\d{2}$"
    )
    source: Source = Field(default=Source.WEB, description="Where the feedback came from.")
    external_id: str | None = Field(
        default=None, description="The entry's id in its source system, if it came from one."
    )
    assisted_by: str | None = Field(
        default=None, description="Who entered it on the author's behalf, if someone did."
    )
    represents: Reach = Field(default_factory=Reach, description="How many people it speaks for.")
    language: StoryLanguage = Field(
        default=StoryLanguage.ENGLISH,
        description="The language the story is written in: `en` or `cy` (Welsh).",
    )
    version: int = Field(
        default=1,
        ge=1,
        description=(
            "1 when first sent; each time the author edits the story before it is published "
            "(or after it was not), it is sent again with the same `story_id` and a higher "
            "version. Keep the highest version and ignore a lower one arriving later."
        ),
    )
    screening: StoryScreening | None = Field(
        default=None,
        description=(
            "story-intake's screening of this version's text, when intake screened it "
            "(a person's submission or edit; absent for bulk imports). A consumer that "
            "screens uses it only if it is of the same screener and the same text, and "
            "screens the story itself otherwise."
        ),
    )

    def screened_texts(self) -> dict[str, str]:
        """What screening reads of this story (see `screened_texts`)."""
        return screened_texts(self.title, self.body, self.assisted_by)


class StoryApproved(Event):
    """A moderator published a story. Public: redacted text, no author contact."""

    topic: ClassVar[Topic] = Topic.STORY_APPROVED
    published_at: datetime = Field(description="When the story was published (UTC).")
    revision: int = Field(
        default=1, ge=1, description="Increases when a published story is edited; the newest wins."
    )
    title: str = Field(description="The published (moderated, redacted) title.")
    body: str = Field(description="The published (moderated, redacted) story.")
    organisation: OrganisationRef
    service: ServiceRef | None = None
    author: PublicAuthor
    tags: Tags = Field(default_factory=Tags)
    criticality: Criticality | None = Field(
        default=None, description="0..5, or null when approved automatically without a rating."
    )
    experienced_at: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    source: Source = Field(default=Source.WEB, description="Where the feedback came from.")
    external_id: str | None = Field(
        default=None, description="The entry's id in its source system, if it came from one."
    )
    assisted_by: str | None = Field(
        default=None, description="Who entered it on the author's behalf, if someone did."
    )
    represents: Reach = Field(default_factory=Reach, description="How many people it speaks for.")
    safeguarding_categories: list[str] = Field(
        default_factory=list,
        description=(
            "The kinds of harm screening found in the story as submitted (for example "
            "`suicide`, `self_harm`, `domestic_abuse`; see docs/consuming.md), so a page "
            "showing it can offer help to readers it may affect. Empty when none."
        ),
    )
    language: StoryLanguage = Field(
        default=StoryLanguage.ENGLISH,
        description="The language the story is written in: `en` or `cy` (Welsh).",
    )


class StoryRejected(Event):
    """A moderator decided a story will not be published."""

    topic: ClassVar[Topic] = Topic.STORY_REJECTED
    rejected_at: datetime
    organisation: OrganisationRef
    service: ServiceRef | None = None
    reason: RejectionReason = Field(description="Why the story was not published.")
    version: int = Field(
        default=1,
        ge=1,
        description=(
            "The version of the submitted story (`story.submitted`'s `version`) this "
            "decision was made on. A rejection of a version older than one the author has "
            "sent since is out of date: the newer version waits for a moderator."
        ),
    )


class Responder(_Contract):
    display_name: str = Field(description="The responder's name as they want it shown.")
    role: str = Field(description="The responder's job title or role.")


class ResponsePosted(Event):
    """Staff of the story's organisation answered it in public."""

    topic: ClassVar[Topic] = Topic.RESPONSE_POSTED
    response_id: UUID
    posted_at: datetime
    organisation: OrganisationRef
    responder: Responder
    body: str = Field(description="The response text.")
    change: ChangeMarker | None = Field(
        default=None, description="Whether the response says a change is planned or made."
    )
    version: int = Field(
        default=1,
        ge=1,
        description=(
            "1 when first posted; each correction (or the deletion) by its responder is "
            "published again with the same `response_id` and a higher version. Keep the "
            "highest version of each response and ignore a lower one arriving later."
        ),
    )
    edited_at: datetime | None = Field(
        default=None, description="When this version was made (UTC); null for version 1."
    )
    deleted: bool = Field(
        default=False,
        description=(
            "True when the responder deleted the response: drop it (body is empty). "
            "A later tombstone on the same key erases the record itself."
        ),
    )

    def kafka_key(self) -> str:
        """`<story id>/<response id>`: compacted per response, on the story's partition."""
        return response_key(self.story_id, self.response_id)


class StoryWithdrawn(Event):
    """The author withdrew their story: every copy of it must go."""

    topic: ClassVar[Topic] = Topic.STORY_WITHDRAWN
    withdrawn_at: datetime
    organisation_id: str = Field(description="The ODS code of the story's organisation.")


class SafeguardingTrigger(StrEnum):
    """What raised a safeguarding escalation."""

    SCREENING = "screening"  # screening matched the story as it arrived
    MODERATOR = "moderator"  # a moderator raised it, with a note


class SafeguardingMatchRef(_Contract):
    """One thing screening matched, with why (see libs/screening)."""

    field: str = Field(description="Which text it is in: `title`, `body` or `assisted_by`.")
    text: str = Field(description="The words that matched, as the author wrote them.")
    category: str = Field(description="The safeguarding category, e.g. `suicide`, `neglect`.")
    category_label: str = Field(description="The category in words, for people.")
    level: str = Field(description="`concern` or `serious`.")
    reason: str = Field(description='Why it matched, e.g. "means + intent".')


class SafeguardingRaised(Event):
    """A story needs the organisation's safeguarding contacts now. Internal: carries the
    story as written (unmoderated), the screening matches and the moderator's note; never
    the author's contact (notifications keeps that from story.submitted)."""

    topic: ClassVar[Topic] = Topic.SAFEGUARDING_RAISED
    escalation_id: UUID = Field(
        description="This escalation; a story may have several (screening, then moderators)."
    )
    raised_at: datetime
    trigger: SafeguardingTrigger
    raised_by: str = Field(description="`screening`, or the moderator who raised it.")
    note: str | None = Field(default=None, description="The moderator's note, if any.")
    organisation: OrganisationRef
    service: ServiceRef | None = None
    submitted_at: datetime = Field(description="When the author sent the story (UTC).")
    status: str = Field(
        description="Where the story stands in moderation: `pending`, `approved` or `rejected`."
    )
    title: str = Field(description="The author's title, as written.")
    body: str = Field(description="The author's story, as written.")
    author: PublicAuthor
    level: str = Field(description="The most severe match: `none`, `concern` or `serious`.")
    matches: list[SafeguardingMatchRef] = Field(default_factory=list)

    def kafka_key(self) -> str:
        """`<story id>/<escalation id>`: compacted per escalation, on the story's partition."""
        return escalation_key(self.story_id, self.escalation_id)


class EscalationState(StrEnum):
    ALERTED = "alerted"  # the alert went to the recipients
    ACKNOWLEDGED = "acknowledged"  # one of them acknowledged it from the email
    REALERTED = "realerted"  # nobody acknowledged in time: the duty moderators were told


class SafeguardingUpdated(Event):
    """What became of a safeguarding escalation: notifications tells moderation, whose
    console shows it. Internal: staff addresses, no story text."""

    topic: ClassVar[Topic] = Topic.SAFEGUARDING_UPDATED
    escalation_id: UUID
    state: EscalationState
    at: datetime
    recipients: list[str] = Field(
        default_factory=list, description="Who was emailed (alerted, realerted)."
    )
    to_duty_moderators: bool = Field(
        default=False,
        description=(
            "The organisation has no safeguarding contact, so the platform's duty "
            "moderators were alerted instead (alerted)."
        ),
    )
    acknowledged_by: str | None = Field(
        default=None, description="Whose link acknowledged it (acknowledged)."
    )


class OrganisationListed(BaseEvent):
    """The organisation directory (kept by story-intake) lists this organisation, with
    every service it has now. Public: names only. The newest record of an organisation
    replaces every earlier one (the topic is compacted per organisation), so reading the
    topic from the beginning gives the whole directory."""

    topic: ClassVar[Topic] = Topic.DIRECTORY_ORGANISATIONS
    organisation_id: str = Field(
        description="The organisation's ODS code, e.g. `TAD`; also the Kafka key.", min_length=1
    )
    name: str = Field(description="The organisation's name.")
    name_cy: str | None = Field(
        default=None,
        description="The organisation's Welsh name, where it has one (Welsh pages show it).",
    )
    email_language: OrganisationLanguage = Field(
        default=OrganisationLanguage.ENGLISH,
        description=(
            "The language of the organisation's staff emails: `en` (the default), `cy`, or "
            "`bilingual` (Welsh and English in one email; Welsh public bodies)."
        ),
    )
    type: str = Field(description="The kind of organisation, e.g. `nhs_trust`.")
    services: list[ServiceRef] = Field(
        default_factory=list,
        description="Every service of the organisation people can share a story about.",
    )
    listed_at: datetime = Field(description="When story-intake published this entry (UTC).")

    def kafka_key(self) -> str:
        """The organisation's ODS code: compacted per organisation."""
        return self.organisation_id

    def subject(self) -> str:
        return self.organisation_id


class CategoryCount(_Contract):
    category: str = Field(
        description=(
            "The category's code (see docs/consuming.md: ethnic groups are the 5 high-level "
            "census 2021 groups for England and Wales)."
        )
    )
    count: int | None = Field(
        ge=0,
        description=(
            "Stories whose author gave this category; null when suppressed: fewer than 5, "
            "or a second cell hidden so that a suppressed one cannot be worked out from "
            "`answered`."
        ),
    )


class CharacteristicMix(_Contract):
    characteristic: Characteristic = Field(description="Which question the counts answer.")
    answered: int | None = Field(
        ge=0,
        description=(
            'Stories whose author gave one of the categories (not "prefer not to say"): '
            "the denominator of each category's share; null when fewer than 5."
        ),
    )
    prefer_not_to_say: int | None = Field(
        ge=0, description='Stories whose author chose "prefer not to say"; null when fewer than 5.'
    )
    categories: list[CategoryCount] = Field(
        description="Every category of the question, in the order the question lists them."
    )


class VoicesSummarised(BaseEvent):
    """Whose voices a programme hears: per characteristic, how many of its stories' authors
    gave each "about you" answer. An aggregate with small counts suppressed; no answer of
    any one person. Internal: story-intake publishes it on a schedule for search's deep dive."""

    topic: ClassVar[Topic] = Topic.INSIGHT_VOICES
    programme: str = Field(
        min_length=1, description="The programme of work, e.g. `mental-health`; the Kafka key."
    )
    summarised_at: datetime = Field(description="When intake counted (UTC).")
    suppressed_below: int = Field(
        default=SUPPRESS_BELOW, description="Counts below this are published as null."
    )
    characteristics: list[CharacteristicMix] = Field(
        description="One mix per question: age band, sex, ethnic group, disability."
    )

    def kafka_key(self) -> str:
        """The programme: compacted per programme, so the newest summary is what stays."""
        return self.programme

    def subject(self) -> str:
        return self.programme


EVENT_MODELS: dict[Topic, type[BaseEvent]] = {
    model.topic: model
    for model in (
        StorySubmitted,
        StoryApproved,
        StoryRejected,
        ResponsePosted,
        StoryWithdrawn,
        SafeguardingRaised,
        SafeguardingUpdated,
        OrganisationListed,
        VoicesSummarised,
    )
}

SpecVersion = Literal["1.0"]
