"""Reads feedback from another source (Healthwatch, NHS website, complaints...) from CSV.

Columns: `external_id` (required, the entry's id in its source), `organisation_id`,
`service_id`, `title`, `body`, and optionally `display_name`, `relationship`,
`experienced_at` (YYYY-MM), `individuals`, `patients`, `carers`, `staff`,
`assisted_by`, and the optional "about you" answers `age_band`, `sex`, `ethnic_group`,
`disability` (category codes as in candour_common.about_you, or `prefer_not_to_say`;
blank: not answered), and `language` (`en` or `cy`, the language the entry is written
in; blank or no column: `en`). Every row is checked before anything is imported; errors name the
line (the header is line 1) and the column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from candour_common.about_you import ANSWERS, PREFER_NOT_TO_SAY, Characteristic
from candour_common.events import (
    AuthorContact,
    Reach,
    Relationship,
    Source,
    StoryLanguage,
    Tags,
)
from candour_intake.adapters.directory_csv import RowError
from candour_intake.domain import AboutYou, SubmitStory, is_answer

REQUIRED = ("external_id", "organisation_id", "title", "body")
ABOUT_YOU_COLUMNS = tuple(c.value for c in Characteristic)
MAX_WORDS = 1000


class FeedbackRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    external_id: str = Field(min_length=1, max_length=100)
    organisation_id: str = Field(min_length=1, max_length=20)
    service_id: str | None = Field(default=None, max_length=40)
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=20000)
    display_name: str = Field(default="Anonymous", min_length=1, max_length=60)
    relationship: Relationship = Relationship.PATIENT
    experienced_at: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    individuals: int = Field(default=1, ge=1, le=100_000)
    patients: int = Field(default=0, ge=0, le=100_000)
    carers: int = Field(default=0, ge=0, le=100_000)
    staff: int = Field(default=0, ge=0, le=100_000)
    assisted_by: str | None = Field(default=None, max_length=80)
    age_band: str | None = None
    sex: str | None = None
    ethnic_group: str | None = None
    disability: str | None = None
    language: StoryLanguage = StoryLanguage.ENGLISH

    @field_validator(*ABOUT_YOU_COLUMNS)
    @classmethod
    def _offered_answer(cls, value: str | None, info: ValidationInfo) -> str | None:
        characteristic = Characteristic(str(info.field_name))
        if value is not None and not is_answer(characteristic, value):
            allowed = ", ".join([*ANSWERS[characteristic], PREFER_NOT_TO_SAY])
            raise ValueError(f"not one of the offered answers: {allowed}")
        return value

    @field_validator(
        "service_id", "experienced_at", "assisted_by", *ABOUT_YOU_COLUMNS, mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "individuals",
        "patients",
        "carers",
        "staff",
        "display_name",
        "relationship",
        "language",
        mode="before",
    )
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        from pydantic_core import PydanticUseDefault

        if isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()
        return value

    @field_validator("body")
    @classmethod
    def _at_most_1000_words(cls, body: str) -> str:
        if len(body.split()) > MAX_WORDS:
            raise ValueError(f"must be at most {MAX_WORDS} words")
        return body

    @model_validator(mode="after")
    def _roles_fit(self) -> FeedbackRow:
        if self.patients + self.carers + self.staff > self.individuals:
            raise ValueError("patients + carers + staff cannot exceed individuals")
        return self


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    line: int
    command: SubmitStory


class FeedbackFileError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(f"line {e.line}: {e.message}" for e in errors))
        self.errors = errors


def parse_feedback(text: str, *, source: Source) -> list[FeedbackEntry]:
    """Every row as a command, or FeedbackFileError listing every bad row (nothing partial)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise FeedbackFileError([RowError(1, f"missing columns: {', '.join(missing)}")])
    entries: list[FeedbackEntry] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue  # blank line
        try:
            row = FeedbackRow.model_validate({k: v for k, v in raw.items() if k is not None})
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"]) or "row"
                errors.append(RowError(line, f"{where}: {err['msg']}"))
            continue
        if row.external_id in seen:
            errors.append(
                RowError(
                    line, f"external_id {row.external_id!r} repeats line {seen[row.external_id]}"
                )
            )
            continue
        seen[row.external_id] = line
        entries.append(
            FeedbackEntry(
                line=line,
                command=SubmitStory(
                    title=row.title,
                    body=row.body,
                    organisation_id=row.organisation_id.upper(),
                    service_id=row.service_id,
                    author=AuthorContact(
                        display_name=row.display_name, relationship=row.relationship
                    ),
                    tags=Tags(),
                    experienced_at=row.experienced_at,
                    source=source,
                    external_id=row.external_id,
                    assisted_by=row.assisted_by,
                    represents=Reach(
                        individuals=row.individuals,
                        patients=row.patients,
                        carers=row.carers,
                        staff=row.staff,
                    ),
                    about_you=AboutYou(
                        age_band=row.age_band,
                        sex=row.sex,
                        ethnic_group=row.ethnic_group,
                        disability=row.disability,
                    ),
                    language=row.language,
                ),
            )
        )
    if errors:
        raise FeedbackFileError(errors)
    return entries
