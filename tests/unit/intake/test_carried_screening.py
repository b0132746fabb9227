"""Intake carries its screening on story.submitted (issue 18): what it screened is what
moderation screens (title, body, who helped write it, the author's name), so moderation
need not screen it again; a bulk import, which intake does not screen, carries none."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from candour_common.events import StoryScreening, StorySubmitted, screened_texts
from candour_intake.service_layer import handlers
from candour_screening import inputs_digest, screen
from tests.unit.intake.test_edit_story import edit
from tests.unit.intake.test_handlers import command, database, entries, events

pytestmark = pytest.mark.unit

SCREENER = "candour-screening 1.0+rules-a"
SERIOUS = "Since discharge I want to kill myself."


def screening_of(fields: Mapping[str, str], author_name: str | None) -> StoryScreening:
    """What intake's adapter makes (adapters/screening.py), with the real library."""
    return StoryScreening(
        screener=SCREENER,
        inputs_sha256=inputs_digest(fields, author_name),
        **screen(fields, author_name=author_name).to_json(),
    )


class RecordingScreen:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], str | None]] = []

    async def __call__(self, fields: Mapping[str, str], author_name: str | None) -> StoryScreening:
        self.calls.append((dict(fields), author_name))
        return screening_of(fields, author_name)


async def test_a_submission_carries_the_screening_of_its_own_text() -> None:
    db = await database()
    sent = command(body=SERIOUS)
    screening = screening_of(
        screened_texts(sent.title, sent.body, sent.assisted_by), sent.author.display_name
    )
    story, _ = await handlers.submit_story(db.uow(), sent, screening=screening)
    [event] = events(db, StorySubmitted)
    assert event.screening == screening
    assert event.screening.inputs_sha256 == inputs_digest(
        event.screened_texts(), event.author.display_name
    )
    assert story.safeguarding_level == "serious"
    # It survives the trip through JSON (the outbox, Kafka).
    again = StorySubmitted.model_validate_json(event.model_dump_json())
    assert again.screening == screening


async def test_a_screening_of_other_text_is_left_off() -> None:
    db = await database()
    other = screening_of(screened_texts("Another", "story", None), "Someone")
    await handlers.submit_story(db.uow(), command(), screening=other)
    [event] = events(db, StorySubmitted)
    assert event.screening is None


async def test_an_edit_is_screened_once_with_the_authors_name_and_carries_it() -> None:
    db = await database()
    story, token = await handlers.submit_story(db.uow(), command())
    own = RecordingScreen()
    edited = await handlers.edit_story(db.uow(), edit(story.id, token, body=SERIOUS), screen=own)
    assert own.calls == [
        ({"title": "Kind nurses, and a long wait", "body": SERIOUS, "assisted_by": ""}, "A patient")
    ]
    assert edited.safeguarding_level == "serious"
    _, again = events(db, StorySubmitted)
    assert again.version == 2
    assert again.screening is not None
    assert again.screening.safeguarding.level == "serious"
    assert again.screening.inputs_sha256 == inputs_digest(
        again.screened_texts(), again.author.display_name
    )


async def test_a_bulk_import_carries_no_screening() -> None:
    db = await database()
    await handlers.import_feedback(db.uow, entries("HW-1", "HW-2"), chunk=2)
    assert [e.screening for e in events(db, StorySubmitted)] == [None, None]
