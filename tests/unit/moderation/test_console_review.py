"""The console's redaction choices: highlighted segments and the approval they make."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    Relationship,
    StorySubmitted,
)
from candour_moderation.domain.model import QueueItem
from candour_moderation.entrypoints.review import accepted_text, approval, segments
from tests.unit.moderation.fakes import queue_item

pytestmark = pytest.mark.unit

BODY = "Dr Patel was kind. Email me at sam.t@example.org <b>please</b>."


def item(title: str = "Dr Patel helped", body: str = BODY) -> QueueItem:
    return queue_item(
        StorySubmitted(
            story_id=uuid.uuid4(),
            submitted_at=datetime.now(UTC),
            title=title,
            body=body,
            organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
            author=AuthorContact(display_name="Sam", relationship=Relationship.PATIENT),
        )
    )


def index_of(queued: QueueItem, text: str, field: str = "body") -> int:
    assert queued.screening is not None
    return next(
        i for i, r in enumerate(queued.screening.redactions) if r.text == text and r.field == field
    )


def test_segments_rebuild_the_text_and_mark_each_suggestion_once() -> None:
    queued = item()
    body = segments(queued, "body")
    assert "".join(s.text for s in body) == BODY
    marked = {s.text for s in body if s.redaction is not None}
    assert "sam.t@example.org" in marked
    assert any("Patel" in text for text in marked)
    title = segments(queued, "title")
    assert "".join(s.text for s in title) == "Dr Patel helped"


def test_a_story_without_suggestions_is_one_plain_segment() -> None:
    queued = item(title="Kind nurses", body="The nurses were kind.")
    assert segments(queued, "body") == [type(segments(queued, "body")[0])("The nurses were kind.")]


def test_every_suggestion_accepted_is_the_apis_apply_suggested() -> None:
    queued = item()
    assert queued.screening is not None
    every = range(len(queued.screening.redactions))
    command = approval(
        queued,
        moderator="mod-alice",
        criticality=2,
        accepted=every,
        edited_title=None,
        edited_body=None,
        acknowledge_safeguarding=False,
    )
    assert command.apply_suggested
    assert command.title is None
    assert command.body is None
    assert queued.published_text(command) == accepted_text(queued, every)


def test_an_undone_suggestion_keeps_the_authors_words_there() -> None:
    queued = item()
    assert queued.screening is not None
    email = index_of(queued, "sam.t@example.org")
    kept = set(range(len(queued.screening.redactions))) - {email}
    command = approval(
        queued,
        moderator="mod-alice",
        criticality=4,
        accepted=kept,
        edited_title=None,
        edited_body=None,
        acknowledge_safeguarding=False,
    )
    assert not command.apply_suggested
    title, body = queued.published_text(command)
    assert "sam.t@example.org" in body
    assert "Patel" not in body
    assert "Patel" not in title
    assert command.criticality == 4


def test_nothing_accepted_publishes_the_original_and_typed_text_wins() -> None:
    queued = item()
    command = approval(
        queued,
        moderator="mod-alice",
        criticality=0,
        accepted=(),
        edited_title="A better title",
        edited_body=None,
        acknowledge_safeguarding=True,
    )
    assert queued.published_text(command) == ("A better title", BODY)
    assert command.acknowledge_safeguarding
