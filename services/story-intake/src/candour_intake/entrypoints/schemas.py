"""HTTP request and response bodies for story-intake."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from candour_common.about_you import ANSWERS, PREFER_NOT_TO_SAY, Characteristic
from candour_common.events import ChangeMarker, RejectionReason, Relationship, StoryLanguage
from candour_intake.domain import is_answer
from candour_intake.service_layer.check import StoryCheck

MAX_WORDS = 1000
OPERATOR_ONLY_FIELDS = ("source", "external_id", "assisted_by", "represents")
TagText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthorIn(_Strict):
    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] | None
    ) = Field(
        default=None,
        description=(
            'Optional: the name shown with the story. Without one it is shown as "Anonymous". '
            'Suggest a name that does not identify the author, like "A patient" or "A carer".'
        ),
    )
    relationship: Relationship
    email: EmailStr | None = None
    notify_on_response: bool = False


class TagsIn(_Strict):
    good: list[TagText] = Field(default_factory=list, max_length=10)
    improve: list[TagText] = Field(default_factory=list, max_length=10)
    feelings: list[TagText] = Field(default_factory=list, max_length=10)


def _answer_field(characteristic: Characteristic, question: str) -> Any:
    extra: dict[str, Any] = {"enum": [*ANSWERS[characteristic], PREFER_NOT_TO_SAY, None]}
    return Field(
        default=None,
        description=f"{question} Optional; one of the codes listed, or `prefer_not_to_say`.",
        json_schema_extra=extra,
    )


class AboutYouIn(_Strict):
    """Optional answers about the person sharing: never published, never returned, counted
    only in aggregate (counts under 5 hidden) to show whose voices are missing."""

    age_band: str | None = _answer_field(Characteristic.AGE_BAND, "Age band.")
    sex: str | None = _answer_field(Characteristic.SEX, "Sex (census 2021 question).")
    ethnic_group: str | None = _answer_field(
        Characteristic.ETHNIC_GROUP,
        "Ethnic group: one of the 19 census 2021 categories for England and Wales.",
    )
    disability: str | None = _answer_field(
        Characteristic.DISABILITY, "Disabled under the Equality Act: yes or no."
    )

    @field_validator("age_band", "sex", "ethnic_group", "disability")
    @classmethod
    def _offered_answer(cls, value: str | None, info: ValidationInfo) -> str | None:
        characteristic = Characteristic(str(info.field_name))
        if value is not None and not is_answer(characteristic, value):
            # The message names the allowed codes, never the value sent.
            raise PydanticCustomError(
                "unknown_category",
                "not one of the offered answers: {allowed}",
                {"allowed": ", ".join([*ANSWERS[characteristic], PREFER_NOT_TO_SAY])},
            )
        return value


class StoryIn(_Strict):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
    organisation_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)
    ]
    service_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    author: AuthorIn
    tags: TagsIn = Field(default_factory=TagsIn)
    experienced_at: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = (
        Field(default=None, description="Month of the experience, `YYYY-MM`.")
    )
    about_you: AboutYouIn | None = Field(
        default=None,
        description=(
            'Optional "about you" answers (age band, sex, ethnic group, disability). Kept '
            "apart from the story, never published or returned, erased if the story is "
            "withdrawn; only counts per programme leave story-intake."
        ),
    )
    language: StoryLanguage = Field(
        default=StoryLanguage.ENGLISH,
        description=(
            "The language the story is written in: `en` (English, the default) or `cy` "
            "(Welsh). Search matches a Welsh story's words without English stemming."
        ),
    )

    # Operator-only: where an entry came from, who entered it, how many it speaks for.
    # Only `candour import feedback` sets them; through the public API (and the share
    # page) they are refused by name. Not in the OpenAPI document.
    source: SkipJsonSchema[Any] = Field(default=None, exclude=True)
    external_id: SkipJsonSchema[Any] = Field(default=None, exclude=True)
    assisted_by: SkipJsonSchema[Any] = Field(default=None, exclude=True)
    represents: SkipJsonSchema[Any] = Field(default=None, exclude=True)

    @field_validator(*OPERATOR_ONLY_FIELDS)
    @classmethod
    def _operator_only(cls, value: Any, info: ValidationInfo) -> Any:
        raise PydanticCustomError(
            "operator_only",
            "{field} is set only by operators (`candour import feedback`), "
            "never through the public API",
            {"field": info.field_name},
        )

    @field_validator("body")
    @classmethod
    def _at_most_1000_words(cls, body: str) -> str:
        if len(body.split()) > MAX_WORDS:
            raise ValueError(f"must be at most {MAX_WORDS} words")
        return body

    @field_validator("experienced_at")
    @classmethod
    def _recent_month(cls, value: str | None) -> str | None:
        if value is None:
            return None
        year, month = (int(p) for p in value.split("-"))
        now = datetime.now(UTC)
        months_ago = (now.year - year) * 12 + (now.month - month)
        if months_ago < 0:
            raise ValueError("must not be in the future")
        if months_ago > 36:
            raise ValueError("must be within the last 3 years")
        return value


class StoryEditIn(StoryIn):
    """The author's changed story: the body of `POST /v1/stories` without `author` (the
    contact and name given when it was first sent stay). Derived from StoryIn, so every
    field and rule of a submission applies to an edit too."""

    author: SkipJsonSchema[Any] = Field(default=None, exclude=True)

    @field_validator("author")
    @classmethod
    def _author_stays(cls, value: Any) -> Any:
        raise PydanticCustomError(
            "not_editable",
            "author cannot be changed by an edit: the name and contact given when the story "
            "was first sent stay",
        )


class StoryEdited(BaseModel):
    story_id: UUID
    status: Literal["submitted"] = "submitted"
    version: int = Field(
        description="The story's version now: 1 when first sent, one more for each edit."
    )


class StoryCreated(BaseModel):
    story_id: UUID
    status: Literal["submitted"] = "submitted"
    author_token: str = Field(
        description="Private: lets the author follow or withdraw the story. Shown once."
    )


class ServiceOut(BaseModel):
    id: str
    name: str
    name_cy: str | None = Field(default=None, description="The service's Welsh name, if any.")


class OrganisationOut(BaseModel):
    id: str = Field(description="ODS code.")
    name: str
    name_cy: str | None = Field(
        default=None, description="The organisation's Welsh name, if it has one."
    )
    type: str
    services: list[ServiceOut]


class StoryStatusOut(BaseModel):
    story_id: UUID
    status: Literal["submitted", "published", "rejected", "withdrawn"]
    rejection_reason: RejectionReason | None = Field(
        default=None, description="Why it was not published (only when rejected)."
    )
    response_count: int


class WithdrawalAccepted(BaseModel):
    story_id: UUID
    status: Literal["withdrawn"] = "withdrawn"


class ResponderIn(_Strict):
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)
    ]
    role: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class ResponseIn(_Strict):
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
    responder: ResponderIn
    change: ChangeMarker | None = None

    @field_validator("body")
    @classmethod
    def _at_most_1000_words(cls, body: str) -> str:
        if len(body.split()) > MAX_WORDS:
            raise ValueError(f"must be at most {MAX_WORDS} words")
        return body


class ResponseCreated(BaseModel):
    response_id: UUID


class ResponseEdited(BaseModel):
    response_id: UUID
    version: int = Field(description="The version now published on response.posted.")
    edited_at: datetime


class ResponseDeletedOut(BaseModel):
    response_id: UUID
    version: int = Field(description="The version (marked deleted) published on response.posted.")
    status: Literal["deleted"] = "deleted"


class RedactionOut(BaseModel):
    field: Literal["title", "body"] = Field(description="The field the detail is in.")
    start: int = Field(description="Start of the detail: a character offset into the field.")
    end: int = Field(description="End of the detail (exclusive).")
    text: str = Field(description="The detail as written: `field[start:end]`.")
    kind: str = Field(description='What it is: "email", "phone", "person_name", "date", ...')
    replacement: str = Field(description='What removes it, e.g. "[name]".')


class SafeguardingOut(BaseModel):
    level: Literal["none", "concern", "serious"]
    categories: list[str] = Field(description="What screening matched, most severe first.")


class SupportContactOut(BaseModel):
    name: str
    phone: str
    when: str


class SupportOut(BaseModel):
    heading: str
    message: str
    contacts: list[SupportContactOut] = Field(
        description="Samaritans 116 123, NHS 111 (option 2), 999: where to get help now."
    )


class StoryChecked(BaseModel):
    """What the story would give away, before it is sent. Nothing is stored."""

    redactions: list[RedactionOut] = Field(
        description="Each identifying detail, in order, with the replacement that removes it."
    )
    safeguarding: SafeguardingOut
    support: SupportOut | None = Field(
        description=(
            "Where to get help now, to show before anything else; null when safeguarding "
            "found nothing (`level` is `none`)."
        )
    )

    @classmethod
    def of(cls, checked: StoryCheck) -> StoryChecked:
        support = checked.support
        return cls(
            redactions=[
                RedactionOut(
                    field=r.field,
                    start=r.start,
                    end=r.end,
                    text=r.text,
                    kind=r.kind.value,
                    replacement=r.replacement,
                )
                for r in checked.redactions
            ],
            safeguarding=SafeguardingOut(
                level=checked.level.value,
                categories=[c.value for c in checked.categories],
            ),
            support=None
            if support is None
            else SupportOut(
                heading=support.heading,
                message=support.message,
                contacts=[
                    SupportContactOut(name=c.name, phone=c.phone, when=c.when)
                    for c in support.contacts
                ],
            ),
        )
