"""story.submitted's `screening` (issue 18) is an additive, optional v1 field: a story
without it is as valid as before; one with it validates against the committed schema and
reads back as candour_screening's `Screening`, which is what moderation stores."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from candour_cli import contracts
from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    Relationship,
    StoryScreening,
    StorySubmitted,
)
from candour_common.topics import Topic
from candour_screening import Screening, inputs_digest, screen, screener_version

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / contracts.schema_path(Topic.STORY_SUBMITTED)).read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def submitted() -> StorySubmitted:
    return StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title="Ward 4",
        body="Dr Patel rang me on 07700 900123. Since discharge I want to kill myself.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        author=AuthorContact(
            display_name="Sam", relationship=Relationship.PATIENT, email="sam@example.org"
        ),
    )


def test_screening_is_optional_in_the_committed_schema() -> None:
    schema = json.loads((ROOT / contracts.schema_path(Topic.STORY_SUBMITTED)).read_text())
    assert "screening" in schema["properties"]
    assert "screening" not in schema.get("required", [])
    event = submitted()
    validator().validate(json.loads(event.model_dump_json()))
    assert StorySubmitted.model_validate_json(event.model_dump_json()).screening is None


def test_a_carried_screening_validates_and_reads_back_as_the_library_made_it() -> None:
    event = submitted()
    fields, author = event.screened_texts(), event.author.display_name
    made = screen(fields, author_name=author)
    carried = StoryScreening(
        screener=screener_version(), inputs_sha256=inputs_digest(fields, author), **made.to_json()
    )
    data = json.loads(event.model_copy(update={"screening": carried}).model_dump_json())
    validator().validate(data)
    back = StorySubmitted.model_validate(data).screening
    assert back is not None
    read = Screening.from_json(back.model_dump(mode="json", exclude={"screener", "inputs_sha256"}))
    assert read == made
    assert read.safeguarding.level.value == "serious" and read.redactions
