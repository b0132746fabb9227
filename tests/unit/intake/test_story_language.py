"""A story's language (issue 20) in story-intake, over the fakes: the API body, the
command, the stored story, story.submitted and the feedback import's column."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from candour_common.events import Source, StoryLanguage, StorySubmitted
from candour_intake.adapters.feedback_csv import FeedbackFileError, parse_feedback
from candour_intake.entrypoints.schemas import StoryIn
from candour_intake.entrypoints.submission import submit_command
from candour_intake.service_layer import handlers
from tests.unit.intake.test_handlers import command, database, events
from tests.unit.intake.test_validation import VALID

pytestmark = pytest.mark.unit


def test_the_api_body_takes_en_or_cy_and_defaults_to_english() -> None:
    assert StoryIn.model_validate(VALID).language is StoryLanguage.ENGLISH
    welsh = StoryIn.model_validate({**VALID, "language": "cy"})
    assert submit_command(welsh).language is StoryLanguage.WELSH
    for bad in ("fr", "CY", "Cymraeg", "", None):
        with pytest.raises(ValidationError) as caught:
            StoryIn.model_validate({**VALID, "language": bad})
        assert [e["loc"] for e in caught.value.errors()] == [("language",)]


async def test_the_story_and_its_event_carry_the_language() -> None:
    db = await database()
    welsh, _ = await handlers.submit_story(db.uow(), command(language=StoryLanguage.WELSH))
    english, _ = await handlers.submit_story(db.uow(), command())
    assert db.state.stories[welsh.id].story.language is StoryLanguage.WELSH
    assert db.state.stories[english.id].story.language is StoryLanguage.ENGLISH
    languages = {e.story_id: e.language for e in events(db, StorySubmitted)}
    assert languages == {welsh.id: StoryLanguage.WELSH, english.id: StoryLanguage.ENGLISH}


HEADER = "external_id,organisation_id,title,body"


def test_feedback_rows_may_say_their_language() -> None:
    text = (
        f"{HEADER},language\n"
        "HW-1,TAD,Nyrsys caredig,Roedd y nyrsys yn garedig.,cy\n"
        "HW-2,TAD,Kind nurses,The nurses were kind.,en\n"
        "HW-3,TAD,Kind nurses,The nurses were kind., \n"
    )
    entries = parse_feedback(text, source=Source.HEALTHWATCH)
    assert [e.command.language for e in entries] == [
        StoryLanguage.WELSH,
        StoryLanguage.ENGLISH,
        StoryLanguage.ENGLISH,
    ]
    without_column = parse_feedback(
        f"{HEADER}\nHW-4,TAD,A title,A story.\n", source=Source.NHS_WEBSITE
    )
    assert without_column[0].command.language is StoryLanguage.ENGLISH


def test_an_unknown_language_in_a_feedback_row_names_the_line_and_column() -> None:
    with pytest.raises(FeedbackFileError) as caught:
        parse_feedback(
            f"{HEADER},language\nHW-1,TAD,A title,A story.,fr\n", source=Source.HEALTHWATCH
        )
    [error] = caught.value.errors
    assert error.line == 2
    assert error.message.startswith("language:")
