"""HTTP request and response bodies for story-intake."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from candour_common.events import ChangeMarker, RejectionReason, Relationship, Source

MAX_WORDS = 1000
TagText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthorIn(_Strict):
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)
    ]
    relationship: Relationship
    email: EmailStr | None = None
    notify_on_response: bool = False


class TagsIn(_Strict):
    good: list[TagText] = Field(default_factory=list, max_length=10)
    improve: list[TagText] = Field(default_factory=list, max_length=10)
    feelings: list[TagText] = Field(default_factory=list, max_length=10)


class ReachIn(_Strict):
    individuals: int = Field(default=1, ge=1, le=100_000)
    patients: int = Field(default=0, ge=0, le=100_000)
    carers: int = Field(default=0, ge=0, le=100_000)
    staff: int = Field(default=0, ge=0, le=100_000)

    @model_validator(mode="after")
    def _roles_fit(self) -> ReachIn:
        if self.patients + self.carers + self.staff > self.individuals:
            raise ValueError("patients + carers + staff cannot exceed individuals")
        return self


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

    source: Source = Field(default=Source.WEB, description="Where the feedback came from.")
    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = Field(
        default=None, description="The entry's id in its source; a second entry with it is refused."
    )
    assisted_by: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] | None
    ) = Field(default=None, description="Who entered it on the author's behalf.")
    represents: ReachIn = Field(
        default_factory=lambda: ReachIn(), description="How many people it speaks for."
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


class StoryCreated(BaseModel):
    story_id: UUID
    status: Literal["submitted"] = "submitted"
    author_token: str = Field(
        description="Private: lets the author follow or withdraw the story. Shown once."
    )


class ServiceOut(BaseModel):
    id: str
    name: str


class OrganisationOut(BaseModel):
    id: str = Field(description="ODS code.")
    name: str
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
